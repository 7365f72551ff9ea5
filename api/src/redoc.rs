//! Redoc at `/docs`: a second reader of the served OpenAPI document beside Swagger UI, for
//! reading rather than trying. Its bundle is compiled in (`api/assets/redoc`), so it works
//! offline; like Swagger UI it is no API operation and stays out of the document.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

/// No inline script: the bundle finds the `<redoc>` element and loads the document itself,
/// so the page's policy (`edge::headers`) keeps `script-src 'self'`.
const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Kabinet API reference</title>
</head>
<body>
<redoc spec-url="/api-docs/openapi.json"></redoc>
<script src="/docs/redoc.standalone.js"></script>
</body>
</html>
"#;

/// Redoc 2.5.2's standalone bundle, as published on npm (see its README for why and how).
const BUNDLE: &[u8] = include_bytes!("../assets/redoc/redoc.standalone.js");

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/docs", web::get().to(page))
        .service(web::redirect("/docs/", "/docs"))
        .route("/docs/redoc.standalone.js", web::get().to(bundle));
}

async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(PAGE)
}

async fn bundle() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/javascript; charset=utf-8"))
        .body(BUNDLE)
}
