//! Blocking work (diesel, argon2, file I/O) runs on actix's blocking pool, so the
//! workers that serve requests never wait on it.

use actix_web::web;

use crate::error::ApiError;

/// Runs blocking `work` off the actix workers, keeping the tracing span.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let span = tracing::Span::current();
    web::block(move || span.in_scope(work)).await?
}

/// Runs blocking file work off the actix workers.
pub async fn blocking_io<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    web::block(work).await.map_err(std::io::Error::other)?
}
