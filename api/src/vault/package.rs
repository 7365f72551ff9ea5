//! Opening an uploaded ZIP archive to see whether it is a DOCX or XLSX we may keep: the
//! central directory is read, then every part is inflated into nothing, within limits on
//! part count, total size and compression ratio, and checked by name and first bytes.
//! Nothing is extracted to disk. Declared sizes are checked first (cheap), but a zip bomb
//! can lie about them, so the bytes actually inflated are counted against the same limits.

use std::io::{Read, Seek};

use domain::document::{ooxml_kind, FileType};
use domain::package::{check_part_head, check_part_name, declares_macros, PackageRefusal};

/// The limits an upload's package is opened with (config `ooxml_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PackageLimits {
    /// Parts (files and folders) one package may have.
    pub max_parts: usize,
    /// Bytes all parts together may inflate to.
    pub max_uncompressed_bytes: u64,
    /// How many times its compressed size one part may inflate to.
    pub max_ratio: u64,
}

/// A part inflating past its ratio is refused only once it has produced this much, so
/// small, highly repetitive XML parts (styles, empty sheets) never trip the ratio.
const RATIO_GRACE_BYTES: u64 = 1024 * 1024;
/// How much of `[Content_Types].xml` is searched for macro content types.
const CONTENT_TYPES_LIMIT: usize = 1024 * 1024;
const CHUNK: usize = 64 * 1024;

/// What an archive turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum Opened {
    /// A DOCX or XLSX that passed every check.
    Package(FileType),
    /// Not an OOXML package we accept (named for the 415 answer).
    Other(&'static str),
    /// A DOCX or XLSX carrying something we refuse.
    Refused(PackageRefusal),
}

/// Opens `archive` (an uploaded file) and decides what it is.
pub fn open<R: Read + Seek>(archive: R, limits: PackageLimits) -> Opened {
    let mut zip = match zip::ZipArchive::new(archive) {
        Ok(zip) => zip,
        Err(_) => return Opened::Other("zip"),
    };
    if zip.len() > limits.max_parts {
        return Opened::Refused(PackageRefusal::TooManyParts {
            limit: limits.max_parts,
        });
    }
    let kind = match ooxml_kind(zip.file_names()) {
        Ok(kind) => kind,
        Err(what) => return Opened::Other(what),
    };
    match check(&mut zip, kind, limits) {
        Ok(()) => Opened::Package(kind),
        Err(refusal) => Opened::Refused(refusal),
    }
}

/// What the directory says the parts inflate to: refused before inflating anything when
/// the sum or a part's ratio is over the limits (the inflation below checks that it lied
/// about neither).
fn declared_sizes<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    limits: PackageLimits,
) -> Result<(), PackageRefusal> {
    let mut declared: u64 = 0;
    for index in 0..zip.len() {
        let part = zip.by_index_raw(index).map_err(|_| PackageRefusal::Unreadable)?;
        declared = declared.saturating_add(part.size());
        if declared > limits.max_uncompressed_bytes {
            return Err(PackageRefusal::TooLarge {
                limit: limits.max_uncompressed_bytes,
            });
        }
        if part.size() > RATIO_GRACE_BYTES && part.size() / part.compressed_size().max(1) > limits.max_ratio {
            return Err(PackageRefusal::Ratio {
                limit: limits.max_ratio,
            });
        }
    }
    Ok(())
}

fn check<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    kind: FileType,
    limits: PackageLimits,
) -> Result<(), PackageRefusal> {
    // Names first: they cost nothing to check and name the worst offenders.
    for name in zip.file_names() {
        check_part_name(kind, name)?;
    }
    declared_sizes(zip, limits)?;
    let mut inflated: u64 = 0;
    let mut buffer = vec![0u8; CHUNK];
    for index in 0..zip.len() {
        let mut part = zip.by_index(index).map_err(|_| PackageRefusal::Unreadable)?;
        let name = part.name().to_string();
        let ceiling = part
            .compressed_size()
            .max(1)
            .saturating_mul(limits.max_ratio)
            .max(RATIO_GRACE_BYTES);
        let keep_text = name == "[Content_Types].xml";
        let read = inflate(&mut part, &mut buffer, (limits, inflated, ceiling), keep_text)?;
        inflated += read.bytes;
        check_part_head(&name, &read.head)?;
        if keep_text && declares_macros(&read.text) {
            return Err(PackageRefusal::Macros(name));
        }
    }
    Ok(())
}

/// What inflating one part found: its size, its first bytes, and (when asked) its text.
struct Inflated {
    bytes: u64,
    head: Vec<u8>,
    text: Vec<u8>,
}

/// Inflates one part in chunks, refusing it as soon as it passes what is left of the
/// package's budget (`limits` less the `inflated` parts before it) or its own ratio
/// `ceiling`; keeps its first four bytes and, with `keep_text`, the head of its text.
fn inflate(
    part: &mut impl Read,
    buffer: &mut [u8],
    (limits, inflated, ceiling): (PackageLimits, u64, u64),
    keep_text: bool,
) -> Result<Inflated, PackageRefusal> {
    let mut read = Inflated {
        bytes: 0,
        head: Vec::with_capacity(4),
        text: Vec::new(),
    };
    // Never more than one byte past what is left of the budget: that byte is enough to
    // know the part lied, and a bomb is never inflated further than that.
    let budget = limits.max_uncompressed_bytes - inflated;
    let mut bounded = part.take(budget.saturating_add(1));
    loop {
        let n = bounded.read(buffer).map_err(|_| PackageRefusal::Unreadable)?;
        if n == 0 {
            return Ok(read);
        }
        let chunk = &buffer[..n];
        if read.head.len() < 4 {
            read.head
                .extend_from_slice(&chunk[..chunk.len().min(4 - read.head.len())]);
        }
        if keep_text && read.text.len() < CONTENT_TYPES_LIMIT {
            read.text
                .extend_from_slice(&chunk[..chunk.len().min(CONTENT_TYPES_LIMIT - read.text.len())]);
        }
        read.bytes += n as u64;
        if read.bytes > budget {
            return Err(PackageRefusal::TooLarge {
                limit: limits.max_uncompressed_bytes,
            });
        }
        if read.bytes > ceiling {
            return Err(PackageRefusal::Ratio {
                limit: limits.max_ratio,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};

    use super::*;

    const LIMITS: PackageLimits = PackageLimits {
        max_parts: 100,
        max_uncompressed_bytes: 8 * 1024 * 1024,
        max_ratio: 100,
    };

    fn archive(parts: &[(&str, &[u8])], method: zip::CompressionMethod) -> Cursor<Vec<u8>> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default().compression_method(method);
        for (name, bytes) in parts {
            zip.start_file(*name, options).unwrap_or_else(|e| panic!("{e}"));
            zip.write_all(bytes).unwrap_or_else(|e| panic!("{e}"));
        }
        let mut cursor = zip.finish().unwrap_or_else(|e| panic!("{e}"));
        cursor.set_position(0);
        cursor
    }

    const DOCX: [(&str, &[u8]); 2] = [
        ("[Content_Types].xml", b"<Types/>"),
        ("word/document.xml", b"<w/>"),
    ];

    #[test]
    fn a_plain_package_passes() {
        let zip = archive(&DOCX, zip::CompressionMethod::Deflated);
        assert_eq!(open(zip, LIMITS), Opened::Package(FileType::Docx));
    }

    #[test]
    fn a_part_lying_about_its_size_is_stopped_at_the_limit() {
        let zeros = vec![0u8; 9 * 1024 * 1024];
        let parts = [DOCX[0], DOCX[1], ("word/media/big.bin", zeros.as_slice())];
        let mut bytes = archive(&parts, zip::CompressionMethod::Deflated).into_inner();
        // Rewrite the declared size of every entry (local and central headers) to 1 byte.
        for at in 0..bytes.len().saturating_sub(30) {
            match &bytes[at..at + 4] {
                b"PK\x03\x04" => bytes[at + 22..at + 26].copy_from_slice(&1u32.to_le_bytes()),
                b"PK\x01\x02" => bytes[at + 24..at + 28].copy_from_slice(&1u32.to_le_bytes()),
                _ => {}
            }
        }
        let limits = PackageLimits {
            max_ratio: 100_000,
            ..LIMITS
        };
        assert_eq!(
            open(Cursor::new(bytes), limits),
            Opened::Refused(PackageRefusal::TooLarge {
                limit: LIMITS.max_uncompressed_bytes
            })
        );
    }

    #[test]
    fn a_program_renamed_as_a_picture_is_refused() {
        let parts = [
            DOCX[0],
            DOCX[1],
            ("word/media/image1.png", b"MZ\x90\0rest".as_slice()),
        ];
        let zip = archive(&parts, zip::CompressionMethod::Stored);
        assert_eq!(
            open(zip, LIMITS),
            Opened::Refused(PackageRefusal::Executable("word/media/image1.png".into()))
        );
    }

    #[test]
    fn macro_content_types_are_refused_whatever_the_parts_are_called() {
        let types = b"<Override ContentType=\"application/vnd.ms-word.document.macroEnabled.main+xml\"/>";
        let parts = [("[Content_Types].xml", types.as_slice()), DOCX[1]];
        let zip = archive(&parts, zip::CompressionMethod::Deflated);
        assert_eq!(
            open(zip, LIMITS),
            Opened::Refused(PackageRefusal::Macros("[Content_Types].xml".into()))
        );
    }

    #[test]
    fn too_many_parts_are_refused_before_reading_any() {
        let limits = PackageLimits {
            max_parts: 1,
            ..LIMITS
        };
        let zip = archive(&DOCX, zip::CompressionMethod::Stored);
        assert_eq!(
            open(zip, limits),
            Opened::Refused(PackageRefusal::TooManyParts { limit: 1 })
        );
    }
}
