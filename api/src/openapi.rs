//! The OpenAPI document's fixed parts: info, security schemes, tags and the reusable
//! problem responses. Operations are collected from the handlers as routes are registered,
//! so a route cannot exist without its spec entry.

use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, ClientCredentials, Flow, HttpAuthScheme, HttpBuilder, OAuth2, Scopes, SecurityScheme,
};
use utoipa::{Modify, OpenApi, ToResponse};

use crate::error::{FieldProblem, Problem};

macro_rules! problem_response {
    ($name:ident, $description:literal, $status:literal, $code:literal, $detail:literal) => {
        #[derive(ToResponse)]
        #[response(
                                                    description = $description,
                                                    content_type = "application/problem+json",
                                                    example = json!({
                                                        "type": concat!("urn:kabinet:problem:", $code),
                                                        "title": $description,
                                                        "status": $status,
                                                        "detail": $detail,
                                                        "code": $code
                                                    })
                                                )]
        #[allow(dead_code)] // exists only as an OpenAPI component
        pub struct $name(Problem);
    };
}

problem_response!(
    BadRequest,
    "Bad Request",
    400,
    "malformed_json",
    "The body is not valid JSON."
);
problem_response!(
    Unauthorized,
    "Unauthorized",
    401,
    "invalid_token",
    "The access token is missing, malformed, expired or revoked."
);
problem_response!(
    Forbidden,
    "Forbidden",
    403,
    "role_required",
    "Your role does not allow this action."
);
problem_response!(
    NotFound,
    "Not Found",
    404,
    "not_found",
    "No such resource, or it is not visible to you."
);
problem_response!(
    Conflict,
    "Conflict",
    409,
    "invalid_transition",
    "The resource is not in a state that allows this."
);
problem_response!(
    PreconditionFailed,
    "Precondition Failed",
    412,
    "stale_version",
    "Someone changed this resource since you read it; reload and retry."
);
problem_response!(
    PreconditionRequired,
    "Precondition Required",
    428,
    "if_match_required",
    "Send If-Match with the ETag you read."
);
problem_response!(
    PayloadTooLarge,
    "Payload Too Large",
    413,
    "payload_too_large",
    "The body exceeds the allowed size."
);
problem_response!(
    UnsupportedMediaType,
    "Unsupported Media Type",
    415,
    "unsupported_media_type",
    "Send application/json."
);
problem_response!(
    TooManyRequests,
    "Too Many Requests",
    429,
    "account_locked",
    "Too many failed attempts; try again later."
);
problem_response!(
    Busy,
    "Service Unavailable: busy",
    503,
    "busy",
    "Too many password checks are in progress; try again shortly (see Retry-After)."
);
problem_response!(
    TooManyStreams,
    "Too Many Requests: too many streams",
    429,
    "too_many_streams",
    "You already have 5 event streams open; close one first (see Retry-After)."
);
problem_response!(
    ServiceUnavailable,
    "Service Unavailable",
    503,
    "database_unavailable",
    "The database is not reachable; try again shortly."
);

/// 422: the request was well-formed JSON but some fields are invalid.
#[derive(ToResponse)]
#[response(
    description = "Unprocessable Content",
    content_type = "application/problem+json",
    example = json!({
        "type": "urn:kabinet:problem:validation_failed",
        "title": "Unprocessable Content",
        "status": 422,
        "detail": "Some fields are invalid.",
        "code": "validation_failed",
        "errors": [{"field": "login", "code": "required", "message": "login is required"}]
    })
)]
#[allow(dead_code)]
pub struct Unprocessable(Problem);

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Kabinet API",
        description = "Public-services personal cabinet built around joint handling of matters: \
citizens, their representatives, co-applicants, notaries and agency officers work on the same \
applications, each with exactly the rights given to them, and every step is recorded.\n\n\
Errors are RFC 9457 `application/problem+json` with a machine `code`. No text, in a body, \
a query or a path, may hold the NUL character U+0000: it is refused with 422 `nul_character`.",
        // The API's own version (CHANGELOG.md): its major moves with every breaking
        // change, which `make api-diff` enforces against openapi/released/openapi.json.
        version = "1.0.0",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
        contact(name = "Kabinet API maintainers", email = "api@kabinet.example")
    ),
    // Relative: the paths are absolute (`/api/v1/…`, `/health`), so `/` means "the origin
    // that served this document" — right for every deployment, port and proxy, which a
    // fixed host such as http://localhost:8080 would be for one laptop only.
    servers(
        (url = "/", description = "The server that serves this document (the same origin as `/api-docs/openapi.json` and Swagger UI)")
    ),
    modifiers(&SecuritySchemes),
    components(
        schemas(Problem, FieldProblem),
        responses(
            BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PreconditionFailed,
            PreconditionRequired, PayloadTooLarge,
            UnsupportedMediaType, Unprocessable, TooManyRequests, TooManyStreams, ServiceUnavailable,
            Busy
        )
    ),
    tags(
        (name = "service", description = "Liveness, readiness, metrics and signing keys"),
        (name = "accounts", description = "Registration, the profile, second factors and contacts"),
        (name = "auth", description = "Logging in, tokens, sessions and password reset"),
        (name = "catalog", description = "The service catalog"),
        (name = "applications", description = "Applications (заявления) from the applicant's side, with their attachments"),
        (name = "officer", description = "The agency queue and decisions"),
        (name = "joint", description = "Joint work on an application: participants and invitations, comments, signatures, and requests between participants"),
        (name = "documents", description = "The personal document vault: uploads, metadata and sharing, downloads"),
        (name = "templates", description = "Saved application templates"),
        (name = "organisations", description = "Organisations as principals: head and employees"),
        (name = "delegations", description = "Delegation of powers, acting on behalf (X-On-Behalf-Of) and confirmations"),
        (name = "events", description = "Live events of applications (Server-Sent Events), resumable with Last-Event-ID"),
        (name = "audit", description = "The audit log: an RFC 9162 Merkle tree with signed checkpoints, inclusion and consistency proofs")
    )
)]
pub struct ApiDoc;

/// Adds the answers every operation of a kind can give, so no handler has to list them
/// and none can forget: bodies can be malformed (400), too large (413), of the wrong media
/// type (415) or invalid (422); so can query parameters (422); secured operations can be
/// refused a token (401) or an action (403); a path can name nothing the caller may see
/// (404); a write with `If-Match` can be stale (412) or lack it (428); any write can lose
/// a race with another one and be asked to retry (409 `write_conflict`); and any operation
/// can meet an unavailable database (503).
pub fn add_common_responses(openapi: &mut utoipa::openapi::OpenApi) {
    use actix_web::http::Method;
    use utoipa::openapi::{Ref, RefOr};
    for (path, item) in openapi.paths.paths.iter_mut() {
        let operations = [
            (&mut item.get, Method::GET),
            (&mut item.post, Method::POST),
            (&mut item.put, Method::PUT),
            (&mut item.patch, Method::PATCH),
            (&mut item.delete, Method::DELETE),
        ];
        for (operation, method) in operations {
            let Some(operation) = operation else {
                continue;
            };
            let authenticated = operation.security.as_ref().is_some_and(|s| !s.is_empty());
            for (status, name) in common_responses(operation, &method, path) {
                operation
                    .responses
                    .responses
                    .entry(status.to_string())
                    .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
            }
            if authenticated {
                operation
                    .parameters
                    .get_or_insert_with(Vec::new)
                    .push(on_behalf_of());
            }
        }
    }
}

/// Response links spelled as OpenAPI spells them. utoipa 5.5 serializes a link's
/// `operation_id`, `operation_ref` and `request_body` in snake case, which no reader of the
/// document (schemathesis' stateful phase, Spectral, Swagger UI) recognises; each is moved
/// into the link's extensions under its camel-case name, which serialize flattened.
pub fn camel_case_links(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::RefOr;
    for item in openapi.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for operation in operations.into_iter().flatten() {
            for response in operation.responses.responses.values_mut() {
                let RefOr::T(response) = response else { continue };
                for link in response.links.values_mut() {
                    let RefOr::T(link) = link else { continue };
                    let mut moved = utoipa::openapi::extensions::Extensions::default();
                    for (name, value) in [
                        ("operationId", std::mem::take(&mut link.operation_id)),
                        ("operationRef", std::mem::take(&mut link.operation_ref)),
                    ] {
                        if !value.is_empty() {
                            moved.insert(name.to_string(), value.into());
                        }
                    }
                    if let Some(body) = link.request_body.take() {
                        moved.insert("requestBody".to_string(), body);
                    }
                    link.extensions.get_or_insert_with(Default::default).merge(moved);
                }
            }
        }
    }
}

/// A page's items (`Page<T>`, published as `Page_T`) refer to `T`'s component instead of
/// repeating it inline, as utoipa does with a generic's argument: one definition per type,
/// and none published but unused (the queue's `QueueItem` was).
pub fn refer_page_items(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::schema::{ArrayItems, Schema};
    use utoipa::openapi::{Ref, RefOr};
    let Some(components) = openapi.components.as_mut() else {
        return;
    };
    let pages: Vec<(String, String)> = components
        .schemas
        .keys()
        .filter_map(|name| Some((name.clone(), name.strip_prefix("Page_")?.to_string())))
        .filter(|(_, item)| components.schemas.contains_key(item))
        .collect();
    for (page, item) in pages {
        if let Some(RefOr::T(Schema::Object(page))) = components.schemas.get_mut(&page) {
            if let Some(RefOr::T(Schema::Array(items))) = page.properties.get_mut("items") {
                items.items = ArrayItems::RefOrSchema(Box::new(RefOr::Ref(Ref::from_schema_name(item))));
            }
        }
    }
}

/// The failures every operation of this shape can answer, whatever its handler does.
fn common_responses(
    operation: &utoipa::openapi::path::Operation,
    method: &actix_web::http::Method,
    path: &str,
) -> Vec<(&'static str, &'static str)> {
    use utoipa::openapi::path::ParameterIn;
    let parameters = operation.parameters.clone().unwrap_or_default();
    let has = |place: ParameterIn| parameters.iter().any(|p| p.parameter_in == place);
    let mut common = vec![("503", "ServiceUnavailable")];
    if operation.request_body.is_some() {
        common.extend([
            ("400", "BadRequest"),
            ("413", "PayloadTooLarge"),
            ("415", "UnsupportedMediaType"),
            ("422", "Unprocessable"),
        ]);
    }
    if has(ParameterIn::Query) {
        common.push(("422", "Unprocessable"));
    }
    if has(ParameterIn::Path) {
        common.push(("404", "NotFound"));
    }
    if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
        common.extend([
            ("400", "BadRequest"),
            ("401", "Unauthorized"),
            ("403", "Forbidden"),
        ]);
    }
    // A key reused with another request is 422 `idempotency_key_reused`, body or not.
    if parameters
        .iter()
        .any(|p| p.name.eq_ignore_ascii_case("Idempotency-Key"))
    {
        common.push(("422", "Unprocessable"));
    }
    if parameters.iter().any(|p| p.name.eq_ignore_ascii_case("If-Match")) {
        common.extend([("412", "PreconditionFailed"), ("428", "PreconditionRequired")]);
    }
    if *method != actix_web::http::Method::GET {
        common.push(("409", "Conflict"));
    }
    if crate::edge::limits::limited(method, path) {
        common.push(("429", "TooManyRequests"));
    }
    common
}

/// `X-On-Behalf-Of`: every authenticated operation can be called for a principal.
fn on_behalf_of() -> utoipa::openapi::path::Parameter {
    use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ParameterBuilder::new()
        .name("X-On-Behalf-Of")
        .parameter_in(ParameterIn::Header)
        .required(utoipa::openapi::Required::False)
        .description(Some(
            "Act for this principal (account id) under a delegation; checked on every request.",
        ))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String).format(Some(
            utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Uuid),
        ))))
        .build()
}

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("Access token from POST /api/v1/auth/login"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "stream_ticket",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "ticket",
                "Event streams only: a single-use ticket from POST /api/v1/events/tickets, for a browser's EventSource",
            ))),
        );
        components.add_security_scheme(
            "oauth2",
            SecurityScheme::OAuth2(OAuth2::with_description(
                [Flow::ClientCredentials(ClientCredentials::new(
                    "/oauth/token",
                    Scopes::new(),
                ))],
                "Regional portals: client credentials issued by an admin",
            )),
        );
    }
}

/// Component names are global in the document while Rust names are per module: two
/// `ToSchema` types of one name would publish under one component, and the generator keeps
/// one of them silently (once the comment endpoints were documented with the officer's
/// decision note). Every schema type's published name must be unique.
#[cfg(test)]
mod unique_names {
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                sources(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }

    /// The published name of each `ToSchema` type in `text`: its `#[schema(as = …)]`, or
    /// the type's own name.
    fn published(text: &str) -> Vec<String> {
        let mut names = Vec::new();
        let mut lines = text.lines().map(str::trim);
        while let Some(line) = lines.next() {
            if !(line.starts_with("#[derive(") && line.contains("ToSchema")) {
                continue;
            }
            let mut renamed = None;
            for next in lines.by_ref() {
                if let Some(rest) = next.strip_prefix("#[schema(as = ") {
                    renamed = rest.split([')', ',']).next().map(str::trim).map(str::to_string);
                }
                let declared = [
                    "pub struct ",
                    "pub enum ",
                    "struct ",
                    "enum ",
                    "pub(crate) struct ",
                    "pub(crate) enum ",
                ]
                .iter()
                .find_map(|p| next.strip_prefix(p));
                if let Some(rest) = declared {
                    let own = rest
                        .split(|c: char| !c.is_alphanumeric() && c != '_')
                        .next()
                        .unwrap_or_default();
                    names.push(renamed.take().unwrap_or_else(|| own.to_string()));
                    break;
                }
            }
        }
        names
    }

    #[test]
    fn no_two_schema_types_publish_under_one_name() {
        let mut files = Vec::new();
        sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
        let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            for name in published(&text) {
                seen.entry(name).or_default().push(file.display().to_string());
            }
        }
        assert!(
            seen.len() > 50,
            "the scan found the schema types ({})",
            seen.len()
        );
        let clashes: Vec<_> = seen.iter().filter(|(_, files)| files.len() > 1).collect();
        assert!(
            clashes.is_empty(),
            "one component name for several types: {clashes:?}"
        );
    }

    #[test]
    fn the_scan_sees_renames_and_clashes() {
        let text = "#[derive(Serialize, ToSchema)]\n#[schema(as = Note)]\npub struct CommentBody {\n}\n#[derive(ToSchema)]\nenum Kind {}\n";
        assert_eq!(published(text), vec!["Note".to_string(), "Kind".to_string()]);
    }
}
