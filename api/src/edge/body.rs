//! Reading a request body at the edge without taking it from the handler: the bytes read
//! are put back in front of whatever was not read, so the extractor behind sees the body
//! whole. Nothing past `limit` is buffered; the extractor refuses a longer body with 413.

use actix_web::dev::{Payload, ServiceRequest};
use actix_web::web::{Bytes, BytesMut};
use actix_web::HttpMessage;
use futures_util::StreamExt;

/// The first bytes of a body; `complete` when that is all of it.
pub struct Peeked {
    pub bytes: Bytes,
    pub complete: bool,
}

pub async fn peek(req: &mut ServiceRequest, limit: usize) -> Result<Peeked, actix_web::Error> {
    let mut payload = req.take_payload();
    let mut body = BytesMut::new();
    let mut complete = true;
    while let Some(chunk) = payload.next().await {
        body.extend_from_slice(&chunk?);
        if body.len() > limit {
            complete = false;
            break;
        }
    }
    let bytes = body.freeze();
    let head = bytes.clone();
    let stream = futures_util::stream::once(async move { Ok(head) }).chain(payload);
    req.set_payload(Payload::Stream {
        payload: Box::pin(stream),
    });
    Ok(Peeked { bytes, complete })
}
