//! What an uploaded file may carry (issue 14, E.15), on both backends: a DOCX or XLSX is
//! opened within limits and refused with programs, macros or foreign parts in it, a zip
//! bomb is refused even when it lies about its size, a PDF that is also a web page is
//! refused, and file names lose the characters that disguise them.

use std::io::Write;
use std::sync::OnceLock;

use reqwest::Method;
use serde_json::{json, Value};

use crate::db_test;
use crate::support::{json, problem, Backend, TestApp};

const DOCX_PARTS: [(&str, &[u8]); 3] = [
    (
        "[Content_Types].xml",
        b"<Types><Override PartName=\"/word/document.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/></Types>",
    ),
    ("_rels/.rels", b"<Relationships/>"),
    ("word/document.xml", b"<w:document/>"),
];

/// A deflated DOCX (as Word writes them) with `extra` parts.
fn docx(extra: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in DOCX_PARTS.iter().chain(extra) {
        zip.start_file(*name, options).unwrap_or_else(|e| panic!("{e}"));
        zip.write_all(bytes).unwrap_or_else(|e| panic!("{e}"));
    }
    zip.finish().unwrap_or_else(|e| panic!("{e}")).into_inner()
}

/// A DOCX whose one extra part is 1 GiB of zeros, about 1 MiB compressed: written a chunk
/// at a time, so only the compressed archive is ever in memory. Built once per run.
fn zip_bomb() -> &'static [u8] {
    static BOMB: OnceLock<Vec<u8>> = OnceLock::new();
    BOMB.get_or_init(|| {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options =
            zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in DOCX_PARTS {
            zip.start_file(name, options).unwrap_or_else(|e| panic!("{e}"));
            zip.write_all(bytes).unwrap_or_else(|e| panic!("{e}"));
        }
        zip.start_file("word/media/image1.png", options)
            .unwrap_or_else(|e| panic!("{e}"));
        let zeros = vec![0u8; 1024 * 1024];
        for _ in 0..1024 {
            zip.write_all(&zeros).unwrap_or_else(|e| panic!("{e}"));
        }
        zip.finish().unwrap_or_else(|e| panic!("{e}")).into_inner()
    })
}

/// `archive` with every entry's declared uncompressed size rewritten to 1 byte (local and
/// central headers), as a bomb that lies about itself would be.
fn lying_about_sizes(archive: &[u8]) -> Vec<u8> {
    let mut bytes = archive.to_vec();
    let mut at = 0;
    while at + 30 <= bytes.len() {
        match &bytes[at..at + 4] {
            b"PK\x03\x04" => bytes[at + 22..at + 26].copy_from_slice(&1u32.to_le_bytes()),
            b"PK\x01\x02" => bytes[at + 24..at + 28].copy_from_slice(&1u32.to_le_bytes()),
            _ => {}
        }
        at += 1;
    }
    bytes
}

async fn documents_of(app: &TestApp, token: &str) -> Vec<Value> {
    let listed = json(
        app.send(Method::GET, "/api/v1/documents", token, None, None)
            .await,
        200,
    )
    .await;
    listed["items"].as_array().cloned().unwrap_or_default()
}

async fn a_zip_bomb_is_refused_even_when_it_lies_about_its_size(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, _, token) = app.confirmed_citizen().await;
    let bomb = zip_bomb();
    assert!(
        bomb.len() < 4 * 1024 * 1024,
        "the bomb fits under the upload limit"
    );

    // Declared honestly: refused from the central directory alone.
    let honest = problem(
        app.upload(&token, "", bomb.to_vec(), "report.docx", &[]).await,
        422,
    )
    .await;
    assert_eq!(honest["code"], "package_too_large", "{honest}");

    // Declared as 1 byte a part: refused once inflating passes a limit, not at 1 GiB.
    let liar = problem(
        app.upload(&token, "", lying_about_sizes(bomb), "report.docx", &[])
            .await,
        422,
    )
    .await;
    let code = liar["code"].as_str().unwrap_or_default();
    assert!(
        ["package_too_large", "package_compression_ratio"].contains(&code),
        "{liar}"
    );
    assert!(documents_of(&app, &token).await.is_empty());
    // Nothing of either upload stays in storage or staging.
    assert_eq!(app.stored_files(), Vec::<std::path::PathBuf>::new());
}
db_test!(a_zip_bomb_is_refused_even_when_it_lies_about_its_size);

async fn packages_carrying_programs_macros_or_foreign_parts_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, _, token) = app.confirmed_citizen().await;

    let refusals: [(&str, Vec<u8>, &str, Option<&str>); 5] = [
        (
            "an .exe part",
            docx(&[("word/embeddings/setup.exe", b"MZ\x90\x00\x03")]),
            "package_executable",
            Some("word/embeddings/setup.exe"),
        ),
        (
            "a program named as a picture",
            docx(&[("word/media/image1.png", b"MZ\x90\x00\x03\x00\x00\x00")]),
            "package_executable",
            Some("word/media/image1.png"),
        ),
        (
            "a script",
            docx(&[("word/payload.js", b"WScript.Shell")]),
            "package_executable",
            Some("word/payload.js"),
        ),
        (
            "VBA macros",
            docx(&[("word/vbaProject.bin", b"\xd0\xcf\x11\xe0")]),
            "package_macros",
            Some("word/vbaProject.bin"),
        ),
        (
            "a part outside the format",
            docx(&[("payload/readme.txt", b"hello")]),
            "package_foreign_part",
            Some("payload/readme.txt"),
        ),
    ];
    for (what, bytes, code, part) in refusals {
        let refused = problem(app.upload(&token, "", bytes, "letter.docx", &[]).await, 422).await;
        assert_eq!(refused["code"], code, "{what}: {refused}");
        assert_eq!(refused["context"]["part"], json!(part), "{what}");
    }
    assert!(documents_of(&app, &token).await.is_empty());

    // The same package without them is a DOCX like any other.
    let clean = json(
        app.upload(
            &token,
            "",
            docx(&[("docProps/core.xml", b"<cp/>")]),
            "letter.docx",
            &[],
        )
        .await,
        201,
    )
    .await;
    assert_eq!(clean["file_type"], "docx");
}
db_test!(packages_carrying_programs_macros_or_foreign_parts_are_refused);

async fn a_pdf_that_is_also_a_web_page_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, _, token) = app.confirmed_citizen().await;
    let polyglots: [&[u8]; 3] = [
        b"%PDF-1.7\n<html><body><script>fetch('/api/v1/me')</script></body></html>\n%%EOF",
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<</Type/Catalog>>\nendobj\n<!DOCTYPE html><p>hi",
        b"%PDF-1.7\n<SVG onload=alert(1)>",
    ];
    for bytes in polyglots {
        let refused = problem(
            app.upload(&token, "", bytes.to_vec(), "statement.pdf", &[]).await,
            422,
        )
        .await;
        assert_eq!(refused["code"], "pdf_polyglot", "{refused}");
    }
    assert!(documents_of(&app, &token).await.is_empty());
    // PDF's own syntax (dictionaries, hex strings) is no markup.
    let plain = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /ID [<a1b2c3>] >>\nendobj\n%%EOF".to_vec();
    let stored = json(app.upload(&token, "", plain, "statement.pdf", &[]).await, 201).await;
    assert_eq!(stored["file_type"], "pdf");
}
db_test!(a_pdf_that_is_also_a_web_page_is_refused);

async fn file_names_lose_the_characters_that_disguise_them(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, _, token) = app.confirmed_citizen().await;
    // Shown as "invoiceexe.pdf" by a bidi-aware display, this is a name ending in ".exe".
    let disguised = "invoice\u{202E}fdp.exe";
    let pdf = b"%PDF-1.7\n%%EOF".to_vec();
    let stored = json(app.upload(&token, "", pdf, disguised, &[]).await, 201).await;
    assert_eq!(stored["name"], "invoicefdp.exe");
    let id = stored["id"].as_str().unwrap_or_default().to_string();

    let path = format!("/api/v1/documents/{id}");
    let read = json(app.send(Method::GET, &path, &token, None, None).await, 200).await;
    assert_eq!(read["name"], "invoicefdp.exe");
    let download = app
        .client
        .get(app.url(&format!("{path}/content")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(download.status(), 200);
    let disposition = download
        .headers()
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        disposition,
        "attachment; filename=\"invoicefdp.exe\"; filename*=UTF-8''invoicefdp.exe"
    );

    // A rename is cleaned the same way: isolates, marks, zero-width characters.
    let version = read["version"].as_i64().unwrap_or_default();
    let renamed = json(
        app.send(
            Method::PATCH,
            &path,
            &token,
            Some(version),
            Some(json!({"name": "\u{2067}scan\u{200F}\u{200B}\u{2069}.pdf"})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(renamed["name"], "scan.pdf");
}
db_test!(file_names_lose_the_characters_that_disguise_them);
