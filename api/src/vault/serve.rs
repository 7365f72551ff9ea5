//! Serving a stored file to a caller who may read it: a download by anyone but the file's
//! owner is audited first, then the bytes go out with ranges and validators.

use actix_web::{HttpRequest, HttpResponse};
use domain::document::FileType;
use domain::ids::AccountId;

use crate::auth::Actor;
use crate::error::ApiError;
use crate::state::State;
use crate::usecases::documents::vault as documents;
use crate::usecases::{Acting, Outcome};
use crate::vault::download;

/// A stored file about to be served.
pub struct StoredFile<'a> {
    pub sha256: &'a str,
    pub size_bytes: i64,
    pub file_type: FileType,
    pub name: &'a str,
}

/// Serves a file, first recording (as `kind`) a download by anyone but its `owner` — a
/// representative, a co-participant, an officer.
pub async fn serve(
    state: &State,
    actor: &Actor,
    req: &HttpRequest,
    owner: AccountId,
    target: String,
    kind: &'static str,
    file: StoredFile<'_>,
) -> Result<HttpResponse, ApiError> {
    if let Some(effects) = documents::download_audit(&Acting::from(actor), owner, target, kind) {
        state.run(move |_, _| Ok(Outcome::new((), effects))).await?;
    }
    let served = download::Content {
        sha256: file.sha256,
        size: u64::try_from(file.size_bytes).map_err(ApiError::internal)?,
        file_type: file.file_type,
        name: file.name,
    };
    download::respond(state.vault.store.as_ref(), req, served).await
}
