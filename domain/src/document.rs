//! Documents (SPEC §5): which file types we accept and how we recognise them from their
//! bytes, who a vault document is shared with, when an application's attachments may
//! change, and which required documents an application still lacks.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::application::Status;
use crate::catalog::ServicePolicy;
use crate::field_error::FieldError;
use crate::ids::{AccountId, ApplicationId, AttachmentId, DocumentId};
use crate::time::Instant;

/// An accepted file type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileType {
    Pdf,
    Jpg,
    Png,
    Docx,
    Xlsx,
}

impl FileType {
    pub const ALL: [FileType; 5] = [
        FileType::Pdf,
        FileType::Jpg,
        FileType::Png,
        FileType::Docx,
        FileType::Xlsx,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FileType::Pdf => "pdf",
            FileType::Jpg => "jpg",
            FileType::Png => "png",
            FileType::Docx => "docx",
            FileType::Xlsx => "xlsx",
        }
    }

    pub fn parse(s: &str) -> Option<FileType> {
        FileType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    pub fn media_type(self) -> &'static str {
        match self {
            FileType::Pdf => "application/pdf",
            FileType::Jpg => "image/jpeg",
            FileType::Png => "image/png",
            FileType::Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            FileType::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

/// What the first bytes of a file say it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sniffed {
    Known(FileType),
    /// A ZIP archive: DOCX and XLSX are ZIP packages, told apart by their parts.
    Zip,
    /// Something we do not accept, named for the error message (`gif`, `exe`, `unknown`…).
    Other(&'static str),
}

/// How many leading bytes [`sniff`] looks at.
pub const SNIFF_BYTES: usize = 16;

/// Recognises a file by its magic number, never by its name.
pub fn sniff(head: &[u8]) -> Sniffed {
    const SIGNATURES: &[(&[u8], Sniffed)] = &[
        (b"%PDF-", Sniffed::Known(FileType::Pdf)),
        (&[0xFF, 0xD8, 0xFF], Sniffed::Known(FileType::Jpg)),
        (b"\x89PNG\r\n\x1a\n", Sniffed::Known(FileType::Png)),
        (b"PK\x03\x04", Sniffed::Zip),
        (b"GIF87a", Sniffed::Other("gif")),
        (b"GIF89a", Sniffed::Other("gif")),
        (b"II*\x00", Sniffed::Other("tiff")),
        (b"MM\x00*", Sniffed::Other("tiff")),
        (b"BM", Sniffed::Other("bmp")),
        (b"MZ", Sniffed::Other("exe")),
        (b"\x7fELF", Sniffed::Other("elf")),
        (
            &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1],
            Sniffed::Other("ole2"),
        ),
        (b"Rar!", Sniffed::Other("rar")),
        (&[0x1F, 0x8B], Sniffed::Other("gzip")),
        (b"7z\xBC\xAF\x27\x1C", Sniffed::Other("7z")),
    ];
    if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        return Sniffed::Other("webp");
    }
    SIGNATURES
        .iter()
        .find(|(magic, _)| head.starts_with(magic))
        .map(|(_, kind)| *kind)
        .unwrap_or(Sniffed::Other("unknown"))
}

/// Names the OOXML package a ZIP archive is from the names of its parts: a Word document
/// has `word/document.xml`, a workbook `xl/workbook.xml`, both a `[Content_Types].xml`.
/// What else a package may hold is [`crate::package`]'s to say.
pub fn ooxml_kind<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<FileType, &'static str> {
    let (mut content_types, mut word, mut excel) = (false, false, false);
    for name in entries {
        match name {
            "[Content_Types].xml" => content_types = true,
            "word/document.xml" => word = true,
            "xl/workbook.xml" => excel = true,
            _ => {}
        }
    }
    match (content_types, word, excel) {
        (true, true, false) => Ok(FileType::Docx),
        (true, false, true) => Ok(FileType::Xlsx),
        _ => Err("zip"),
    }
}

/// How much of a PDF's beginning is searched for HTML: browsers sniff a document's type
/// from its first bytes (the WHATWG algorithm reads 1,445), so markup there could make a
/// browser render an uploaded "PDF" as a page with scripts.
pub const PDF_MARKUP_REGION: usize = 8 * 1024;

/// Whether the start of a PDF carries HTML markup (a PDF/HTML polyglot). Tags count only
/// as whole names (`<script`, then a space, `>` or `/`), so PDF's own `<<` dictionaries
/// and `<hex>` strings never match.
pub fn pdf_carries_markup(head: &[u8]) -> bool {
    const TAGS: &[&[u8]] = &[
        b"html",
        b"head",
        b"body",
        b"script",
        b"iframe",
        b"svg",
        b"meta",
        b"object",
        b"embed",
        b"form",
        b"style",
        b"img",
        b"link",
        b"base",
        b"!doctype",
    ];
    let region = &head[..head.len().min(PDF_MARKUP_REGION)];
    region.iter().enumerate().any(|(at, byte)| {
        *byte == b'<'
            && TAGS.iter().any(|tag| {
                let rest = &region[at + 1..];
                rest.len() > tag.len()
                    && rest[..tag.len()].eq_ignore_ascii_case(tag)
                    && matches!(
                        rest[tag.len()],
                        b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' | b'>' | b'/'
                    )
            })
    })
}

/// The file types accepted when no service narrows them.
pub fn default_file_types() -> Vec<FileType> {
    FileType::ALL.to_vec()
}

/// The types a service accepts (unknown names in the catalog are ignored).
pub fn service_file_types(allowed: &[String]) -> Vec<FileType> {
    allowed.iter().filter_map(|t| FileType::parse(t)).collect()
}

/// Characters that change how text around them is shown without being seen themselves:
/// bidirectional controls (which make `invoice\u{202E}fdp.exe` read as `invoiceexe.pdf`),
/// zero-width and byte-order marks, and line and paragraph separators.
fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'
            | '\u{200B}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// A declared file name made safe to show and to put in a header: the last path
/// component only, no control or invisible formatting characters, at most 255
/// characters. It is never a path.
pub fn display_name(declared: &str) -> String {
    let base = declared.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control() && !invisible(*c))
        .take(255)
        .collect::<String>()
        .trim()
        .to_string();
    match clean.as_str() {
        "" | "." | ".." => "document".into(),
        _ => clean,
    }
}

/// A document type (`passport_scan`, `photo`…): what the paper is, as services name it.
pub fn check_doc_type(doc_type: &str) -> Result<(), FieldError> {
    let valid = (1..=64).contains(&doc_type.len())
        && doc_type
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(FieldError::invalid_format(
            "doc_type",
            "1–64 lowercase letters, digits and underscores.",
        ))
    }
}

/// Who, besides the owner and the owner's representatives, a vault document may be
/// given to: no one, applications for the listed services, or any agency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessLevel {
    Private,
    Services,
    Agencies,
}

impl AccessLevel {
    pub const ALL: [AccessLevel; 3] = [AccessLevel::Private, AccessLevel::Services, AccessLevel::Agencies];

    pub fn as_str(self) -> &'static str {
        match self {
            AccessLevel::Private => "private",
            AccessLevel::Services => "services",
            AccessLevel::Agencies => "agencies",
        }
    }

    pub fn parse(s: &str) -> Option<AccessLevel> {
        AccessLevel::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

/// A vault document's sharing: the level and, for `services`, which services.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sharing {
    pub level: AccessLevel,
    pub services: Vec<String>,
}

impl Sharing {
    pub fn private() -> Sharing {
        Sharing {
            level: AccessLevel::Private,
            services: vec![],
        }
    }

    /// `services` names services exactly when the level is `services`.
    pub fn new(level: AccessLevel, services: Vec<String>) -> Result<Sharing, FieldError> {
        match (level, services.is_empty()) {
            (AccessLevel::Services, true) => Err(FieldError::new(
                "services",
                "required",
                "Name at least one service for the `services` access level.",
            )),
            (AccessLevel::Private | AccessLevel::Agencies, false) => Err(FieldError::new(
                "services",
                "not_allowed",
                "Services are listed only with the `services` access level.",
            )),
            _ => Ok(Sharing { level, services }),
        }
    }

    /// Whether the owner's consent covers giving this document to `service`'s agency.
    /// A private document must be shared first: attaching is a disclosure to the state.
    pub fn shares_with(&self, service: &str) -> bool {
        match self.level {
            AccessLevel::Private => false,
            AccessLevel::Services => self.services.iter().any(|s| s == service),
            AccessLevel::Agencies => true,
        }
    }
}

/// How an application's attachments may change in its current status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachmentWindow {
    /// A draft: attach and remove freely.
    Open,
    /// After submission, where the applicant may still add papers (an information request,
    /// or a service that allows edits): a new attachment of a type already frozen becomes
    /// its next version, the frozen one is kept.
    Versioned,
    /// Nothing changes.
    Closed,
}

pub fn attachment_window(status: Status, policy: &ServicePolicy) -> AttachmentWindow {
    match status {
        Status::Draft => AttachmentWindow::Open,
        Status::NeedsInfo => AttachmentWindow::Versioned,
        Status::Submitted | Status::Resubmitted if policy.editable_after_submit => {
            AttachmentWindow::Versioned
        }
        _ => AttachmentWindow::Closed,
    }
}

/// The required document types not among `attached` (in the service's order).
pub fn missing_documents<'a>(required: &'a [String], attached: &[String]) -> Vec<&'a str> {
    required
        .iter()
        .filter(|r| !attached.contains(r))
        .map(String::as_str)
        .collect()
}

/// The required papers an application's attachments do not fill, in the service's
/// order. `attached` pairs each attachment's paper type with its file's SHA-256. One
/// file fills one paper (a scan attached as passport, photo and receipt at once fills
/// just one of them) unless `one_file_many_papers`: the papers and the files are matched
/// one to one (a maximum bipartite matching, by augmenting paths), so the answer does not
/// depend on the order things were attached in.
pub fn unfilled_papers<'a>(
    required: &'a [String],
    attached: &[(&str, &str)],
    one_file_many_papers: bool,
) -> Vec<&'a str> {
    if one_file_many_papers {
        let types: Vec<String> = attached.iter().map(|(t, _)| t.to_string()).collect();
        return missing_documents(required, &types);
    }
    let mut files: Vec<&str> = attached.iter().map(|(_, f)| *f).collect();
    files.sort_unstable();
    files.dedup();
    // For each paper, the files that could fill it.
    let fits: Vec<Vec<usize>> = required
        .iter()
        .map(|paper| {
            let mut fit: Vec<usize> = attached
                .iter()
                .filter(|(t, _)| *t == paper.as_str())
                .filter_map(|(_, f)| files.binary_search(f).ok())
                .collect();
            fit.dedup();
            fit
        })
        .collect();
    let mut holder: Vec<Option<usize>> = vec![None; files.len()];
    for paper in 0..required.len() {
        let mut seen = vec![false; files.len()];
        augment(paper, &fits, &mut holder, &mut seen);
    }
    let filled: Vec<usize> = holder.iter().flatten().copied().collect();
    required
        .iter()
        .enumerate()
        .filter(|(paper, _)| !filled.contains(paper))
        .map(|(_, t)| t.as_str())
        .collect()
}

/// Finds a file for `paper`, moving papers already holding a file to another of theirs.
fn augment(paper: usize, fits: &[Vec<usize>], holder: &mut [Option<usize>], seen: &mut [bool]) -> bool {
    for &file in &fits[paper] {
        if seen[file] {
            continue;
        }
        seen[file] = true;
        let free = match holder[file] {
            None => true,
            Some(other) => augment(other, fits, holder, seen),
        };
        if free {
            holder[file] = Some(paper);
            return true;
        }
    }
    false
}

/// A retention date must lie in the future when it is set.
pub fn check_retention(retain_until: NaiveDate, today: NaiveDate) -> Result<(), FieldError> {
    if retain_until > today {
        Ok(())
    } else {
        Err(FieldError::new(
            "retain_until",
            "out_of_range",
            "The retention date must be in the future.",
        ))
    }
}

/// A document in its owner's vault.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    pub id: DocumentId,
    pub owner: AccountId,
    pub uploaded_by: AccountId,
    pub name: String,
    pub doc_type: String,
    pub file_type: FileType,
    pub size_bytes: i64,
    pub sha256: String,
    pub sharing: Sharing,
    pub retain_until: Option<NaiveDate>,
    pub version: i64,
    pub created_at: Instant,
    pub updated_at: Instant,
}

/// A document as an application carries it.
#[derive(Clone, Debug, PartialEq)]
pub struct Attachment {
    pub id: AttachmentId,
    pub application: ApplicationId,
    pub document: DocumentId,
    pub doc_type: String,
    pub name: String,
    pub file_type: FileType,
    pub size_bytes: i64,
    pub sha256: String,
    pub revision: i64,
    pub supersedes: Option<AttachmentId>,
    pub attached_by: AccountId,
    pub created_at: Instant,
    pub frozen_at: Option<Instant>,
    pub superseded_at: Option<Instant>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_bytes() {
        assert_eq!(sniff(b"%PDF-1.7\n"), Sniffed::Known(FileType::Pdf));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0"), Sniffed::Known(FileType::Png));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Sniffed::Known(FileType::Jpg));
        assert_eq!(sniff(b"PK\x03\x04rest"), Sniffed::Zip);
        assert_eq!(sniff(b"GIF89a..."), Sniffed::Other("gif"));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Sniffed::Other("webp"));
        assert_eq!(sniff(b"hello"), Sniffed::Other("unknown"));
        assert_eq!(sniff(b""), Sniffed::Other("unknown"));
    }

    #[test]
    fn office_packages_are_told_apart_by_their_parts() {
        let docx = ["[Content_Types].xml", "_rels/.rels", "word/document.xml"];
        let xlsx = [
            "[Content_Types].xml",
            "xl/workbook.xml",
            "xl/worksheets/sheet1.xml",
        ];
        assert_eq!(ooxml_kind(docx), Ok(FileType::Docx));
        assert_eq!(ooxml_kind(xlsx), Ok(FileType::Xlsx));
        assert_eq!(ooxml_kind(["word/document.xml"]), Err("zip"));
        assert_eq!(ooxml_kind(["a.txt"]), Err("zip"));
    }

    #[test]
    fn html_at_the_start_of_a_pdf_is_seen() {
        assert!(pdf_carries_markup(b"%PDF-1.7\n<html><script>alert(1)</script>"));
        assert!(pdf_carries_markup(b"%PDF-1.4\n%\xE2\xE3\n<!DOCTYPE html>\n"));
        assert!(pdf_carries_markup(b"%PDF-1.4\n<SCRIPT src=x>"));
        assert!(!pdf_carries_markup(
            b"%PDF-1.7\n1 0 obj << /Type /Catalog >> <a1b2> <headed"
        ));
        let mut late = b"%PDF-1.7\n".to_vec();
        late.extend(std::iter::repeat_n(b'x', PDF_MARKUP_REGION));
        late.extend(b"<html>");
        assert!(!pdf_carries_markup(&late));
    }

    #[test]
    fn declared_names_never_become_paths() {
        assert_eq!(display_name("../../etc/passwd"), "passwd");
        assert_eq!(display_name("C:\\Users\\me\\паспорт.pdf"), "паспорт.pdf");
        assert_eq!(display_name("a\u{0}b\r\n.pdf"), "ab.pdf");
        assert_eq!(display_name("invoice\u{202E}fdp.exe"), "invoicefdp.exe");
        assert_eq!(display_name("\u{2067}a\u{200F}b\u{FEFF}.pdf"), "ab.pdf");
        assert_eq!(display_name(".."), "document");
        assert_eq!(display_name(""), "document");
        assert_eq!(display_name(&"x".repeat(400)).chars().count(), 255);
    }

    #[test]
    fn sharing_decides_what_may_be_attached() {
        let listed =
            Sharing::new(AccessLevel::Services, vec!["passport".into()]).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(listed.shares_with("passport"));
        assert!(!listed.shares_with("tax"));
        assert!(!Sharing::private().shares_with("passport"));
        assert!(Sharing::new(AccessLevel::Agencies, vec![])
            .map(|s| s.shares_with("tax"))
            .unwrap_or(false));
        assert!(Sharing::new(AccessLevel::Services, vec![]).is_err());
        assert!(Sharing::new(AccessLevel::Private, vec!["passport".into()]).is_err());
    }

    #[test]
    fn attachments_follow_the_status() {
        let strict = ServicePolicy {
            editable_after_submit: false,
            ..ServicePolicy::default()
        };
        let lenient = ServicePolicy::default();
        assert_eq!(attachment_window(Status::Draft, &strict), AttachmentWindow::Open);
        assert_eq!(
            attachment_window(Status::NeedsInfo, &strict),
            AttachmentWindow::Versioned
        );
        assert_eq!(
            attachment_window(Status::Submitted, &strict),
            AttachmentWindow::Closed
        );
        assert_eq!(
            attachment_window(Status::Submitted, &lenient),
            AttachmentWindow::Versioned
        );
        assert_eq!(
            attachment_window(Status::InReview, &lenient),
            AttachmentWindow::Closed
        );
    }

    #[test]
    fn missing_documents_keep_the_services_order() {
        let required = vec!["passport_scan".to_string(), "photo".into(), "receipt".into()];
        assert_eq!(
            missing_documents(&required, &["photo".into()]),
            vec!["passport_scan", "receipt"]
        );
        assert!(missing_documents(&required, &required).is_empty());
    }

    #[test]
    fn one_file_fills_one_paper() {
        let required = vec!["passport_scan".to_string(), "photo".into(), "receipt".into()];
        let one_pdf = [("passport_scan", "aa"), ("photo", "aa"), ("receipt", "aa")];
        assert_eq!(
            unfilled_papers(&required, &one_pdf, false),
            vec!["photo", "receipt"]
        );
        assert!(unfilled_papers(&required, &one_pdf, true).is_empty());
        let three = [("passport_scan", "aa"), ("photo", "bb"), ("receipt", "cc")];
        assert!(unfilled_papers(&required, &three, false).is_empty());
    }

    /// A file attached for two papers does not block a second file that fits only one of
    /// them: the matching moves it, whatever order things were attached in.
    #[test]
    fn the_matching_does_not_depend_on_order() {
        let required = vec!["passport_scan".to_string(), "photo".into()];
        let attached = [("passport_scan", "aa"), ("photo", "aa"), ("passport_scan", "bb")];
        assert!(unfilled_papers(&required, &attached, false).is_empty());
        let reversed = [("passport_scan", "bb"), ("photo", "aa"), ("passport_scan", "aa")];
        assert!(unfilled_papers(&required, &reversed, false).is_empty());
        let twice = vec!["photo".to_string(), "photo".into()];
        assert_eq!(unfilled_papers(&twice, &[("photo", "aa")], false), vec!["photo"]);
        assert!(unfilled_papers(&twice, &[("photo", "aa"), ("photo", "bb")], false).is_empty());
    }
}
