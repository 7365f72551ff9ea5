//! Receiving a file: the multipart body is streamed into a temporary file while it is
//! hashed and counted, so the bytes are held in memory once, a chunk at a time, and an
//! upload over the limit is refused the moment it crosses it. The type is then decided
//! from the bytes alone, and what a browser or an office suite could be made to run is
//! refused: a PDF that is also an HTML page, a DOCX or XLSX carrying programs or macros
//! (see [`super::package`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use actix_multipart::{Field, Multipart, MultipartError};
use domain::document::{pdf_carries_markup, sniff, FileType, Sniffed, PDF_MARKUP_REGION, SNIFF_BYTES};
use domain::package::PackageRefusal;
use futures_util::TryStreamExt;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::package::{self, Opened, PackageLimits};
use super::Vault;
use crate::blocking::blocking_io;
use crate::error::ApiError;

/// Chunks are gathered up to this size before each write, so a write is one trip to
/// the blocking pool rather than one per network packet.
const WRITE_BUFFER: usize = 256 * 1024;
/// The largest text field (document type, access level, a date) we read.
const TEXT_FIELD_LIMIT: usize = 2048;
/// The leading bytes kept for deciding the type and searching a PDF for markup.
const HEAD_BYTES: usize = if PDF_MARKUP_REGION > SNIFF_BYTES {
    PDF_MARKUP_REGION
} else {
    SNIFF_BYTES
};

/// A complete uploaded file in the staging directory; removed when dropped, unless a
/// crash comes first (the orphan sweep removes what a crash leaves).
#[derive(Debug)]
pub struct Staged {
    pub path: PathBuf,
    pub sha256: String,
    pub size: u64,
    pub declared_name: Option<String>,
    /// The type its bytes show, or the name of what they are instead.
    pub detected: Result<FileType, &'static str>,
}

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A file being written; its temporary file goes away if the upload stops half-way.
struct Partial {
    path: PathBuf,
    file: Option<std::fs::File>,
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Partial {
    async fn create(dir: &Path) -> Result<Partial, ApiError> {
        let path = dir.join(format!("{}.part", uuid::Uuid::now_v7()));
        let target = path.clone();
        let file = blocking_io(move || std::fs::File::create_new(target))
            .await
            .map_err(ApiError::internal)?;
        Ok(Partial {
            path,
            file: Some(file),
        })
    }

    async fn write(&mut self, chunk: Vec<u8>) -> Result<(), ApiError> {
        let mut file = self
            .file
            .take()
            .ok_or_else(|| ApiError::internal("staging file closed"))?;
        let file = blocking_io(move || file.write_all(&chunk).map(|()| file))
            .await
            .map_err(ApiError::internal)?;
        self.file = Some(file);
        Ok(())
    }

    /// Flushes to disk (the bytes must be durable before a row may point at them).
    async fn finish(mut self) -> Result<PathBuf, ApiError> {
        let file = self
            .file
            .take()
            .ok_or_else(|| ApiError::internal("staging file closed"))?;
        blocking_io(move || file.sync_all())
            .await
            .map_err(ApiError::internal)?;
        Ok(std::mem::take(&mut self.path))
    }
}

pub fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
        "file_too_large",
        format!("A file may be at most {limit} bytes."),
    )
    .with_context(json!({ "max_bytes": limit }))
}

fn multipart_error(e: MultipartError) -> ApiError {
    match e {
        MultipartError::ContentTypeMissing
        | MultipartError::ContentTypeParse
        | MultipartError::ContentTypeIncompatible => ApiError::new(
            actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the file as multipart/form-data.",
        ),
        other => ApiError::bad_request(
            "malformed_multipart",
            format!("The multipart body is malformed: {other}."),
        ),
    }
}

/// 422: the bytes are of an accepted type but carry something we refuse.
fn refused(code: &'static str, detail: impl Into<String>, context: serde_json::Value) -> ApiError {
    ApiError::new(actix_web::http::StatusCode::UNPROCESSABLE_ENTITY, code, detail).with_context(context)
}

pub(crate) fn refused_package(refusal: &PackageRefusal) -> ApiError {
    let detail = match refusal {
        PackageRefusal::TooManyParts { limit } => format!("The package has more than {limit} parts."),
        PackageRefusal::TooLarge { limit } => format!("The package inflates to more than {limit} bytes."),
        PackageRefusal::Ratio { limit } => {
            format!("A part of the package inflates to more than {limit} times its compressed size.")
        }
        PackageRefusal::Executable(_) => "The package carries a program.".into(),
        PackageRefusal::Macros(_) => "The package carries macros or ActiveX controls.".into(),
        PackageRefusal::ForeignPart(_) => "The package has a part that no DOCX or XLSX has.".into(),
        PackageRefusal::Unreadable => "A part of the package cannot be read (encrypted or corrupt).".into(),
    };
    // The part's name comes from the archive: shown without control characters, shortened.
    let part = refusal.part().map(|p| {
        p.chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect::<String>()
    });
    refused(refusal.code(), detail, json!({ "part": part }))
}

/// Streams the `file` field into the vault's staging directory, refusing it once it
/// passes `limit` bytes, then decides what it is.
pub async fn stage(field: Field, vault: &Vault, limit: u64) -> Result<Staged, ApiError> {
    let declared_name = field
        .content_disposition()
        .and_then(|d| d.get_filename())
        .map(str::to_string);
    let mut partial = Partial::create(&vault.staging).await?;
    let mut hasher = Sha256::new();
    let mut head = Vec::with_capacity(HEAD_BYTES);
    let mut size: u64 = 0;
    let mut pending = Vec::with_capacity(WRITE_BUFFER);
    let mut field = field;
    while let Some(chunk) = field.try_next().await.map_err(multipart_error)? {
        size += chunk.len() as u64;
        if size > limit {
            return Err(too_large(limit));
        }
        if head.len() < HEAD_BYTES {
            let take = (HEAD_BYTES - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
        }
        hasher.update(&chunk);
        pending.extend_from_slice(&chunk);
        if pending.len() >= WRITE_BUFFER {
            partial
                .write(std::mem::replace(&mut pending, Vec::with_capacity(WRITE_BUFFER)))
                .await?;
        }
    }
    if size == 0 {
        return Err(ApiError::field("file", "empty_file", "The file is empty."));
    }
    partial.write(pending).await?;
    let path = partial.finish().await?;
    let staged = Staged {
        path,
        sha256: hex::encode(hasher.finalize()),
        size,
        declared_name,
        detected: Err("unknown"),
    };
    detect(staged, &head, vault.packages).await
}

/// Decides the type from the bytes; a ZIP archive is opened to see which package it is.
/// A refused file is answered 422 and its staged copy goes with it.
async fn detect(mut staged: Staged, head: &[u8], limits: PackageLimits) -> Result<Staged, ApiError> {
    staged.detected = match sniff(head) {
        Sniffed::Known(FileType::Pdf) if pdf_carries_markup(head) => {
            return Err(refused(
                "pdf_polyglot",
                format!("The PDF carries HTML markup in its first {PDF_MARKUP_REGION} bytes."),
                json!({ "searched_bytes": PDF_MARKUP_REGION }),
            ));
        }
        Sniffed::Known(file_type) => Ok(file_type),
        Sniffed::Other(what) => Err(what),
        Sniffed::Zip => {
            let path = staged.path.clone();
            let opened = blocking_io(move || {
                let archive = std::io::BufReader::new(std::fs::File::open(path)?);
                Ok(package::open(archive, limits))
            })
            .await
            .map_err(ApiError::internal)?;
            match opened {
                Opened::Package(file_type) => Ok(file_type),
                Opened::Other(what) => Err(what),
                Opened::Refused(refusal) => return Err(refused_package(&refusal)),
            }
        }
    };
    Ok(staged)
}

/// A short text field's value.
pub async fn text(field: Field) -> Result<String, ApiError> {
    let name = field.name().unwrap_or_default().to_string();
    let mut value = Vec::new();
    let mut field = field;
    while let Some(chunk) = field.try_next().await.map_err(multipart_error)? {
        if value.len() + chunk.len() > TEXT_FIELD_LIMIT {
            return Err(ApiError::field(
                "body",
                "field_too_long",
                format!("`{name}` is too long."),
            ));
        }
        value.extend_from_slice(&chunk);
    }
    String::from_utf8(value)
        .map_err(|_| ApiError::field("body", "invalid_utf8", format!("`{name}` is not UTF-8 text.")))
}

/// The next part of the body.
pub async fn next_field(body: &mut Multipart) -> Result<Option<Field>, ApiError> {
    body.try_next().await.map_err(multipart_error)
}
