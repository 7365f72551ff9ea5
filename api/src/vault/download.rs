//! Serving stored bytes over HTTP: `ETag` (the content hash), conditional requests,
//! single byte ranges, and a `Content-Disposition` that carries any file name safely.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use domain::document::FileType;

use super::BlobStore;
use crate::error::ApiError;

/// What is being served.
pub struct Content<'a> {
    pub sha256: &'a str,
    pub size: u64,
    pub file_type: FileType,
    pub name: &'a str,
}

/// A `Range` that lies outside the file (answered with 416).
#[derive(Debug, PartialEq, Eq)]
pub struct Unsatisfiable;

/// The requested byte range, from a `Range` header (RFC 9110 §14): `None` for the whole
/// file, including for forms we do not serve partially (several ranges).
pub fn requested_range(value: &str, size: u64) -> Result<Option<std::ops::Range<u64>>, Unsatisfiable> {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let (start, end) = spec.split_once('-').ok_or(Unsatisfiable)?;
    let (start, end) = (start.trim(), end.trim());
    let range = match (start.is_empty(), end.is_empty()) {
        (false, _) => {
            let first: u64 = start.parse().map_err(|_| Unsatisfiable)?;
            let last: u64 = if end.is_empty() {
                size.saturating_sub(1)
            } else {
                end.parse::<u64>()
                    .map_err(|_| Unsatisfiable)?
                    .min(size.saturating_sub(1))
            };
            if first >= size || last < first {
                return Err(Unsatisfiable);
            }
            first..last + 1
        }
        (true, false) => {
            let suffix: u64 = end.parse().map_err(|_| Unsatisfiable)?;
            if suffix == 0 || size == 0 {
                return Err(Unsatisfiable);
            }
            size - suffix.min(size)..size
        }
        (true, true) => return Err(Unsatisfiable),
    };
    Ok(Some(range))
}

/// `attachment; filename="…"; filename*=UTF-8''…` (RFC 6266): an ASCII stand-in for old
/// clients and the exact name percent-encoded for the rest.
pub fn disposition(name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' => c,
            _ => '_',
        })
        .collect();
    let mut encoded = String::new();
    for byte in name.bytes() {
        match byte {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'!'
            | b'#'
            | b'$'
            | b'&'
            | b'+'
            | b'-'
            | b'.'
            | b'^'
            | b'_'
            | b'`'
            | b'|'
            | b'~' => encoded.push(byte as char),
            other => encoded.push_str(&format!("%{other:02X}")),
        }
    }
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

fn header_text(req: &HttpRequest, name: header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Answers a download: 304 when the client's copy is current, 206 for a range, 200 else.
pub async fn respond(
    store: &dyn BlobStore,
    req: &HttpRequest,
    content: Content<'_>,
) -> Result<HttpResponse, ApiError> {
    let etag = format!("\"{}\"", content.sha256);
    let matches = |value: &str| value.split(',').any(|t| t.trim() == etag || t.trim() == "*");
    if header_text(req, header::IF_NONE_MATCH).is_some_and(matches) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .finish());
    }
    // `If-Range` naming another version asks for the whole file.
    let range_applies = header_text(req, header::IF_RANGE).is_none_or(|v| v.trim() == etag);
    let range = match header_text(req, header::RANGE).filter(|_| range_applies) {
        Some(value) => requested_range(value, content.size).map_err(|Unsatisfiable| {
            ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "range_not_satisfiable",
                format!("The file has {} bytes.", content.size),
            )
            .with_header(header::CONTENT_RANGE, format!("bytes */{}", content.size))
        })?,
        None => None,
    };
    let body = store
        .read(content.sha256, range.clone())
        .await
        .map_err(ApiError::internal)?;
    let mut response = match &range {
        Some(r) => {
            let mut partial = HttpResponse::PartialContent();
            partial.insert_header((
                header::CONTENT_RANGE,
                format!("bytes {}-{}/{}", r.start, r.end - 1, content.size),
            ));
            partial
        }
        None => HttpResponse::Ok(),
    };
    let length = range.map(|r| r.end - r.start).unwrap_or(content.size);
    // Cleaned again on the way out: a name stored before the rules grew stricter is
    // offered to the browser's save dialog without invisible formatting all the same.
    let name = domain::document::display_name(content.name);
    let disposition = HeaderValue::from_str(&disposition(&name)).map_err(ApiError::internal)?;
    Ok(response
        .content_type(content.file_type.media_type())
        .insert_header((header::CONTENT_DISPOSITION, disposition))
        .insert_header((header::ETAG, etag))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        // Personal papers: browsers may keep them only for this user and must revalidate.
        .insert_header((header::CACHE_CONTROL, "private, no-cache"))
        .no_chunking(length)
        .streaming(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(requested_range("bytes=0-99", 1000), Ok(Some(0..100)));
        assert_eq!(requested_range("bytes=900-", 1000), Ok(Some(900..1000)));
        assert_eq!(requested_range("bytes=-100", 1000), Ok(Some(900..1000)));
        assert_eq!(requested_range("bytes=990-2000", 1000), Ok(Some(990..1000)));
        assert_eq!(requested_range("bytes=0-1,5-6", 1000), Ok(None));
        assert_eq!(requested_range("items=0-1", 1000), Ok(None));
        assert_eq!(requested_range("bytes=1000-", 1000), Err(Unsatisfiable));
        assert_eq!(requested_range("bytes=5-1", 1000), Err(Unsatisfiable));
        assert_eq!(requested_range("bytes=x-1", 1000), Err(Unsatisfiable));
        assert_eq!(requested_range("bytes=-0", 1000), Err(Unsatisfiable));
    }

    #[test]
    fn names_are_encoded_for_the_header() {
        assert_eq!(
            disposition("паспорт \"1\".pdf"),
            "attachment; filename=\"_______ _1_.pdf\"; filename*=UTF-8''%D0%BF%D0%B0%D1%81%D0%BF%D0%BE%D1%80%D1%82%20%221%22.pdf"
        );
        assert!(HeaderValue::from_str(&disposition("a\r\nb")).is_ok());
    }
}
