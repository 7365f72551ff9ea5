//! What an OOXML package (DOCX, XLSX) may carry: the parts of its format, and what we
//! refuse inside one — executables, macros, parts outside the format. Pure rules over part
//! names and first bytes; opening the archive within size limits is the vault's job.

use crate::document::FileType;

/// Why an OOXML package is refused. Each is a package an officer must never be handed.
#[derive(Clone, Debug, PartialEq, Eq, strum::EnumIter)]
pub enum PackageRefusal {
    /// More parts than the limit (a central directory made to exhaust us).
    TooManyParts { limit: usize },
    /// More bytes once uncompressed than the limit, declared or found while reading.
    TooLarge { limit: u64 },
    /// A part that inflates more than the limit allows (a zip bomb's signature).
    Ratio { limit: u64 },
    /// A program, by its name or by its first bytes.
    Executable(String),
    /// VBA macros or ActiveX controls, by part name or declared content type.
    Macros(String),
    /// A part where no DOCX or XLSX has one.
    ForeignPart(String),
    /// An entry we cannot read: encrypted, an unknown compression, or corrupt.
    Unreadable,
}

impl PackageRefusal {
    /// Every kind of refusal (limits and part names left at their defaults).
    pub fn all() -> impl Iterator<Item = PackageRefusal> {
        <PackageRefusal as strum::IntoEnumIterator>::iter()
    }

    /// The machine code of the refusal (problem+json `code`).
    pub fn code(&self) -> &'static str {
        match self {
            PackageRefusal::TooManyParts { .. } => "package_too_many_parts",
            PackageRefusal::TooLarge { .. } => "package_too_large",
            PackageRefusal::Ratio { .. } => "package_compression_ratio",
            PackageRefusal::Executable(_) => "package_executable",
            PackageRefusal::Macros(_) => "package_macros",
            PackageRefusal::ForeignPart(_) => "package_foreign_part",
            PackageRefusal::Unreadable => "package_unreadable",
        }
    }

    /// The offending part, when one part is to blame.
    pub fn part(&self) -> Option<&str> {
        match self {
            PackageRefusal::Executable(p) | PackageRefusal::Macros(p) | PackageRefusal::ForeignPart(p) => {
                Some(p)
            }
            _ => None,
        }
    }
}

/// Extensions of files that run when opened (Windows and scripting hosts, plus shell
/// scripts and Java archives): none has a place in an office document.
const EXECUTABLE_EXTENSIONS: &[&str] = &[
    "exe",
    "dll",
    "com",
    "scr",
    "pif",
    "cpl",
    "sys",
    "drv",
    "ocx",
    "msi",
    "msp",
    "mst",
    "bat",
    "cmd",
    "js",
    "jse",
    "vbs",
    "vbe",
    "wsf",
    "wsh",
    "wsc",
    "ps1",
    "psm1",
    "psd1",
    "hta",
    "jar",
    "lnk",
    "reg",
    "inf",
    "scf",
    "sh",
    "msc",
    "application",
    "gadget",
    "appx",
    "msix",
];

/// The top-level folders every OOXML package may have: relationships, properties,
/// custom XML data, sensitivity labels and digital signatures.
const SHARED_FOLDERS: &[&str] = &["_rels", "docProps", "docMetadata", "customXml", "_xmlsignatures"];

/// The one top-level file of every package.
const CONTENT_TYPES: &str = "[Content_Types].xml";

/// The folder holding a package's own content.
fn content_folder(kind: FileType) -> Option<&'static str> {
    match kind {
        FileType::Docx => Some("word"),
        FileType::Xlsx => Some("xl"),
        _ => None,
    }
}

fn extension(name: &str) -> Option<String> {
    let file = name.rsplit('/').next().unwrap_or(name);
    file.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase())
}

/// Checks one part of a `kind` package by its name alone.
pub fn check_part_name(kind: FileType, name: &str) -> Result<(), PackageRefusal> {
    let lower = name.to_ascii_lowercase();
    let file = lower.rsplit('/').next().unwrap_or(&lower);
    let macros = file == "vbaproject.bin"
        || file == "vbadata.xml"
        || file.starts_with("vbaprojectsignature")
        || lower.split('/').any(|segment| segment == "activex");
    if macros {
        return Err(PackageRefusal::Macros(name.to_string()));
    }
    if extension(name).is_some_and(|ext| EXECUTABLE_EXTENSIONS.contains(&ext.as_str())) {
        return Err(PackageRefusal::Executable(name.to_string()));
    }
    let foreign = || PackageRefusal::ForeignPart(name.to_string());
    // Names are paths inside the archive: anything that could climb out of it or mean a
    // different path on another system is outside the format whatever folder it names.
    if name.starts_with('/')
        || name.contains('\\')
        || name.contains('\0')
        || name.split('/').any(|segment| segment == "..")
    {
        return Err(foreign());
    }
    if name == CONTENT_TYPES {
        return Ok(());
    }
    let Some((top, _)) = name.split_once('/') else {
        return Err(foreign());
    };
    let allowed = SHARED_FOLDERS.contains(&top) || content_folder(kind) == Some(top);
    if allowed {
        Ok(())
    } else {
        Err(foreign())
    }
}

/// Checks a part by its first bytes: a Windows (MZ) or Linux (ELF) program is an
/// executable whatever it is called.
pub fn check_part_head(name: &str, head: &[u8]) -> Result<(), PackageRefusal> {
    if head.starts_with(b"MZ") || head.starts_with(b"\x7fELF") {
        return Err(PackageRefusal::Executable(name.to_string()));
    }
    Ok(())
}

/// Whether `[Content_Types].xml` declares macro-enabled content (the content types of
/// DOCM/XLSM main parts and of VBA projects), however the parts are named.
pub fn declares_macros(content_types: &[u8]) -> bool {
    let text = String::from_utf8_lossy(content_types).to_ascii_lowercase();
    ["macroenabled", "vbaproject", "activex"]
        .iter()
        .any(|marker| text.contains(marker))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parts_of_the_format_pass() {
        for name in [
            "[Content_Types].xml",
            "_rels/.rels",
            "docProps/core.xml",
            "word/document.xml",
            "word/media/image1.png",
            "word/_rels/document.xml.rels",
            "customXml/item1.xml",
            "word/",
        ] {
            assert_eq!(check_part_name(FileType::Docx, name), Ok(()), "{name}");
        }
        assert_eq!(
            check_part_name(FileType::Xlsx, "xl/worksheets/sheet1.xml"),
            Ok(())
        );
    }

    #[test]
    fn programs_macros_and_strangers_are_refused() {
        let refused = |kind, name| check_part_name(kind, name).map_err(|r| r.code());
        assert_eq!(
            refused(FileType::Docx, "word/media/setup.EXE"),
            Err("package_executable")
        );
        assert_eq!(refused(FileType::Docx, "word/run.ps1"), Err("package_executable"));
        assert_eq!(
            refused(FileType::Docx, "word/vbaProject.bin"),
            Err("package_macros")
        );
        assert_eq!(
            refused(FileType::Xlsx, "xl/activeX/activeX1.xml"),
            Err("package_macros")
        );
        assert_eq!(refused(FileType::Docx, "notes.txt"), Err("package_foreign_part"));
        assert_eq!(
            refused(FileType::Docx, "xl/workbook.xml"),
            Err("package_foreign_part")
        );
        assert_eq!(
            refused(FileType::Docx, "word/../../evil.xml"),
            Err("package_foreign_part")
        );
        assert_eq!(
            refused(FileType::Docx, "/word/document.xml"),
            Err("package_foreign_part")
        );
        assert_eq!(
            check_part_head("word/media/image1.png", b"MZ\x90\0"),
            Err(PackageRefusal::Executable("word/media/image1.png".into()))
        );
        assert_eq!(check_part_head("word/media/image1.png", b"\x89PNG"), Ok(()));
    }

    #[test]
    fn macro_content_types_are_seen() {
        assert!(declares_macros(
            b"<Override ContentType=\"application/vnd.ms-word.document.macroEnabled.main+xml\"/>"
        ));
        assert!(!declares_macros(
            b"<Override ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/>"
        ));
    }
}
