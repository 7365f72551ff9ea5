//! The catalogue of machine codes: every `code` a problem+json answer can carry, with the
//! statuses it comes with and what it means. The spec's `Problem.code` enum and the README
//! table are generated from it; the tests below hold the sources and the README to it.

use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

/// One machine code of the HTTP contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Code {
    pub code: &'static str,
    /// The statuses it is answered with; empty for the framework's catch-all (any other 4xx).
    pub statuses: &'static [u16],
    pub meaning: &'static str,
}

/// Declares the catalogue, one code a line: `"code" [statuses] "meaning",`.
macro_rules! catalogue {
    ($($code:literal [$($status:literal),*] $meaning:literal,)*) => {
        /// Every code, sorted by name. The wire strings are a contract: never rename one.
        pub const CATALOGUE: &[Code] = &[$(Code { code: $code, statuses: &[$($status),*], meaning: $meaning }),*];
    };
}

catalogue! {
    "account_locked" [429] "Too many failed logins: the account is locked for a while (`Retry-After`).",
    "action_not_covered" [403] "The delegation does not cover this action.",
    "already_attached" [409] "The document is already attached to this application.",
    "already_confirmed" [409] "This has already been confirmed.",
    "already_decided" [409] "The request has already been approved or rejected.",
    "already_exists" [409] "An identical request created this a moment ago.",
    "already_invited" [409] "This person already has an open invitation to the application.",
    "already_participant" [409] "This person already takes part in the application.",
    "already_signed" [409] "The caller already signed this version.",
    "appeal_used" [409] "The one appeal of this decision has been made.",
    "appeal_window_closed" [409] "The time to appeal the decision has passed.",
    "application_closed" [409] "The application is cancelled or closed: nobody joins it.",
    "attachment_frozen" [409] "The attachment was submitted and can no longer be removed.",
    "attachments_closed" [409] "The application accepts no attachments in its status.",
    "audit_record_pending" [409] "The audit record is not sealed into the tree yet: ask again shortly.",
    "bad_idempotency_key" [400] "The `Idempotency-Key` header is malformed.",
    "bad_request" [400] "The framework could not understand the request.",
    "busy" [503] "Too many password checks are in progress; retry after `Retry-After`.",
    "checkpoint_not_found" [404] "No signed checkpoint of the audit tree has that size.",
    "code_attempts_exceeded" [409] "Too many wrong one-time codes: ask for a new one.",
    "conflict_of_interest" [403] "The officer may not decide an application that is their own business.",
    "contact_unavailable" [409] "The e-mail or phone belongs to another account.",
    "cors_refused" [403] "The request's `Origin` is not allowed.",
    "database_unavailable" [503] "The database is not reachable; retry shortly.",
    "delegation_expired" [403, 409] "The delegation has expired.",
    "delegation_not_active" [409] "The delegation is not in a state that allows this.",
    "delegation_not_in_force" [409] "The delegation is not in force now.",
    "delegation_pending" [403] "The delegation is not accepted yet, or not yet valid.",
    "delegation_revoked" [403] "The principal revoked the delegation.",
    "document_not_shared" [409] "A vault document is not (or no longer) shared with the application's service.",
    "documents_missing" [409] "Documents the request asked for are missing.",
    "factor_locked" [429] "Too many wrong second-factor codes: locked for a while (`Retry-After`).",
    "file_too_large" [413] "The uploaded file is larger than allowed (`context.max_bytes`).",
    "forward_loop" [409] "The application would go back to an agency that passed it on.",
    "idempotency_key_in_use" [409] "A request with this `Idempotency-Key` is still being processed.",
    "if_match_required" [428] "The operation requires `If-Match` with the current `ETag`.",
    "internal_error" [500] "An unexpected failure; the detail is in the server's log.",
    "invalid_code" [401] "The one-time code is wrong, expired or used up.",
    "invalid_credentials" [401] "The login or password is wrong.",
    "invalid_mfa_token" [401] "The second-factor token is wrong or expired: log in again.",
    "invalid_on_behalf_of" [400] "`X-On-Behalf-Of` is not an account or organisation id.",
    "invalid_refresh_token" [401] "The refresh token is not valid: log in again.",
    "invalid_ticket" [401] "The event-stream ticket is unknown, used or expired.",
    "invalid_token" [401] "The access token is malformed, expired or revoked.",
    "invalid_transition" [409] "The application's status does not allow this event (`context.allowed`).",
    "invitation_answered" [409] "The invitation has already been answered.",
    "invitation_expired" [409] "The invitation has expired; ask for a new one.",
    "ip_not_allowed" [403] "The caller's network address is not allowed for this account.",
    "level_too_low" [403] "The account's identity level is too low for this action.",
    "malformed_json" [400] "The body is not valid JSON.",
    "malformed_multipart" [400] "The multipart body is malformed.",
    "method_not_allowed" [405] "The path exists but not with this method (`Allow`).",
    "metrics_token_required" [401] "`/metrics` needs its bearer token.",
    "mfa_already_enabled" [409] "A second factor is already enabled.",
    "mfa_not_enabled" [409] "No second factor is enabled.",
    "mfa_not_started" [409] "Confirming a second factor that was not started.",
    "migrations_pending" [503] "The database schema is behind the code (`/ready`).",
    "missing_token" [401] "No bearer token was sent.",
    "needs_principal_confirmation" [403] "Allowed only as a request the principal approves.",
    "not_a_draft" [409] "Only a draft allows this.",
    "not_applicant" [403] "Only the application's applicant may do this.",
    "not_assignee" [403] "Another officer took the application.",
    "not_author" [403] "Only the comment's author may edit it.",
    "not_cancellable" [409] "The application can no longer be cancelled.",
    "not_copyable" [409] "Only an expired application can be copied into a new one.",
    "not_delegated" [403] "`X-On-Behalf-Of` names someone who never delegated to the caller.",
    "not_due" [409] "The deadline has not passed yet.",
    "not_editable" [409] "The application cannot be edited in its status.",
    "not_found" [404] "No such resource, or it is not visible to the caller.",
    "not_signable" [409] "Signing is open in the draft and while the agency asks for information.",
    "organisation_exists" [409] "An organisation with this registration number exists.",
    "organisation_not_pending" [409] "The organisation has already been verified or rejected.",
    "organisation_not_verified" [403] "The organisation is not verified.",
    "package_compression_ratio" [422] "A part of the DOCX/XLSX inflates suspiciously (a zip bomb).",
    "package_executable" [422] "The DOCX/XLSX carries a program (`context.part`).",
    "package_foreign_part" [422] "The DOCX/XLSX has a part no such file has (`context.part`).",
    "package_macros" [422] "The DOCX/XLSX carries macros or ActiveX controls (`context.part`).",
    "package_too_large" [422] "The DOCX/XLSX inflates to more than the limit.",
    "package_too_many_parts" [422] "The DOCX/XLSX has more parts than the limit.",
    "package_unreadable" [422] "A part of the DOCX/XLSX is encrypted or corrupt.",
    "participant_role" [403] "The caller's role on the application does not include this.",
    "participants_fixed" [409] "After submission nobody becomes or stops being a co-applicant.",
    "payload_too_large" [413] "The body is larger than allowed.",
    "pdf_polyglot" [422] "The PDF carries HTML markup near its start.",
    "range_not_satisfiable" [416] "The requested byte range lies outside the file.",
    "rate_limited" [429] "Too many requests; retry after `Retry-After`.",
    "reauthentication_failed" [403] "The password given to confirm this is wrong.",
    "redelegation_not_allowed" [403] "A representative may not pass the powers on.",
    "refresh_token_expired" [401] "The refresh token has expired: log in again.",
    "refresh_token_reused" [401] "A rotated refresh token came back: the session is ended.",
    "registration_conflict" [409] "The registration cannot go through with these details.",
    "request_refused" [] "Any other 4xx the framework answers.",
    "request_timeout" [503] "The server took too long to answer; retry.",
    "required_documents_missing" [409] "The service requires documents that are not attached.",
    "restore_window_closed" [409] "The time to restore the cancelled application has passed.",
    "role_required" [403] "The caller's role does not allow this action.",
    "self_invitation" [403] "A representative may not make themselves a party to the principal's application.",
    "service_exists" [409] "A service with this code exists.",
    "service_gone" [409] "The service no longer exists.",
    "service_not_covered" [403] "The delegation does not cover this service.",
    "session_revoked" [401] "The session was ended (logout, or from another device).",
    "signatures_missing" [409] "Co-applicants have not all signed the current version.",
    "signed_content_locked" [409] "Signed content changes only when the agency asks.",
    "simulated_crash" [503] "Test builds only: a crash injected into an upload.",
    "snils_taken" [409] "Another account holds this SNILS.",
    "stale_version" [412] "`If-Match` names an older version (`context` has the current one).",
    "term_change_closed" [409] "The proposed change of the delegation's term was already answered.",
    "token_expired" [401] "The access token has expired: refresh it.",
    "too_many_streams" [429] "Too many open event streams.",
    "tree_size_out_of_range" [422] "The audit tree does not have that many records (`context.tree_size`).",
    "two_factor_required" [403] "The action needs an account with a second factor.",
    "unauthorized" [401] "Authentication is required.",
    "unreadable_body" [400] "The body could not be read.",
    "unsupported_file_type" [415] "The file is of a type that is not accepted.",
    "unsupported_media_type" [415] "The request's `Content-Type` is not accepted.",
    "validation_failed" [422] "Some fields are invalid: see `errors` (each with its own `code`).",
    "write_conflict" [409] "Another change was written at the same moment; retry.",
}

/// The statuses of a code as the README and the spec print them.
pub fn statuses(code: &Code) -> String {
    if code.statuses.is_empty() {
        return "4xx".into();
    }
    code.statuses
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The schema of `Problem.code`: the catalogue as an enum, each value's status and meaning
/// in `x-enum-descriptions` (in the same order).
pub fn schema() -> Object {
    let descriptions: Vec<String> = CATALOGUE
        .iter()
        .map(|c| format!("{}: {}", statuses(c), c.meaning))
        .collect();
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(
            "Machine-readable error code, stable across releases: one of the catalogue \
             (`x-enum-descriptions` gives each code's statuses and meaning, in order). \
             A later minor version may add codes: treat an unknown one by its status.",
        ))
        .enum_values(Some(CATALOGUE.iter().map(|c| c.code)))
        .extensions(Some(
            ExtensionsBuilder::new()
                .add("x-enum-descriptions", serde_json::json!(descriptions))
                .build(),
        ))
        .build()
}

/// The README's table of codes.
pub fn markdown_table() -> String {
    let mut table = String::from("| code | status | meaning |\n| --- | --- | --- |\n");
    for c in CATALOGUE {
        table.push_str(&format!("| `{}` | {} | {} |\n", c.code, statuses(c), c.meaning));
    }
    table
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    use actix_web::http::StatusCode;
    use regex::Regex;

    use super::*;
    use crate::error::ApiError;

    /// A code as some source answers it; no status for the framework's catch-all.
    type Answer = (String, Option<u16>);

    const CONSTRUCTORS: &str = "new|unauthorized|forbidden|bad_request|conflict|unavailable";

    /// Call sites whose code is not a literal (file under `src/`, first such argument), each
    /// covered below: by the helper's literal calls, the status table of the safety net, or
    /// by walking the domain enum it comes from. A new one fails the scan until covered.
    const INDIRECT: &[(&str, &str)] = &[
        ("error.rs", "code"),
        ("error.rs", "denial.code()"),
        ("http_errors.rs", "status"),
        ("usecases/applications/refusals.rs", "code"),
        ("usecases/joint/mod.rs", "refusal.code()"),
        ("usecases/sessions/refresh.rs", "code"),
        ("vault/upload.rs", "code"),
    ];

    fn regex(pattern: &str) -> Regex {
        Regex::new(pattern).unwrap_or_else(|e| panic!("{e}"))
    }

    fn status_named(name: &str) -> u16 {
        (100..600)
            .filter_map(|n| StatusCode::from_u16(n).ok())
            .find(|s| {
                s.canonical_reason()
                    .is_some_and(|r| r.to_uppercase().replace([' ', '-'], "_") == name)
            })
            .map(|s| s.as_u16())
            .unwrap_or_else(|| panic!("no status named {name}"))
    }

    fn constructor_status(constructor: &str, named: Option<&str>) -> u16 {
        match (constructor, named) {
            ("unauthorized", _) => 401,
            ("forbidden", _) => 403,
            ("bad_request", _) => 400,
            ("conflict", _) => 409,
            ("unavailable", _) => 503,
            (_, Some(name)) => status_named(name),
            (other, None) => panic!("ApiError::{other} without a named status"),
        }
    }

    fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for path in entries.flatten().map(|entry| entry.path()) {
            if path.is_dir() {
                rust_files(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }

    /// The codes the api's sources pass as literals, and the call sites that pass
    /// something else.
    fn scan_sources() -> (BTreeSet<Answer>, BTreeSet<(String, String)>) {
        let status = r"(?:(?:actix_web::http::)?StatusCode::([A-Z_]+),\s*)?";
        let call = regex(&format!(
            r#"(?:ApiError|Self)::({CONSTRUCTORS})\(\s*{status}(?:"([a-z0-9_]+)"|([^,\s][^,]*),)"#
        ));
        let tuple = regex(r#"(?:StatusCode::([A-Z_]+)|_) => \(\s*"([a-z0-9_]+)","#);
        let helper = regex(&format!(
            r"fn (\w+)\(code: &'static str[^{{]*\{{\s*(?:ApiError|Self)::({CONSTRUCTORS})\(\s*{status}"
        ));
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        rust_files(&root, &mut files);
        let (mut answers, mut indirect) = (BTreeSet::new(), BTreeSet::new());
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            // Test modules close each file; their codes are made up.
            let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or_default();
            let name = file
                .strip_prefix(&root)
                .unwrap_or(&file)
                .to_string_lossy()
                .replace('\\', "/");
            for c in call.captures_iter(text) {
                // `Self::` is ApiError only in its own file.
                if c[0].starts_with("Self::") && name != "error.rs" {
                    continue;
                }
                if let Some(code) = c.get(3) {
                    let status = constructor_status(&c[1], c.get(2).map(|m| m.as_str()));
                    answers.insert((code.as_str().to_string(), Some(status)));
                } else if let Some(other) = c.get(4) {
                    indirect.insert((name.clone(), other.as_str().trim().to_string()));
                }
            }
            // The safety net's table from status to code (its indirect call site).
            if name == "http_errors.rs" {
                for t in tuple.captures_iter(text) {
                    answers.insert((t[2].to_string(), t.get(1).map(|s| status_named(s.as_str()))));
                }
            }
            for h in helper.captures_iter(text) {
                let status = constructor_status(&h[2], h.get(3).map(|m| m.as_str()));
                let calls = regex(&format!(r#"\b{}\(\s*"([a-z0-9_]+)""#, &h[1]));
                for c in calls.captures_iter(text) {
                    answers.insert((c[1].to_string(), Some(status)));
                }
            }
        }
        (answers, indirect)
    }

    fn answer(error: ApiError) -> Answer {
        (error.code().to_string(), Some(error.status().as_u16()))
    }

    /// What the typed refusals of the domain become on the wire, through the api's own
    /// mapping (which chooses the status by variant).
    fn refusal_answers() -> BTreeSet<Answer> {
        use domain::application::{Reason, Refusal, Status};
        let reasons = Reason::all().map(|reason| {
            let refusal = Refusal {
                reason,
                message: String::new(),
                allowed: Vec::new(),
            };
            crate::usecases::applications::refusals::refused(refusal, Status::Draft)
        });
        let joint = domain::joint::Refusal::all().map(crate::usecases::joint::refused);
        let denials = domain::access::Denial::all().map(ApiError::from);
        let packages = domain::package::PackageRefusal::all()
            .map(|refusal| crate::vault::upload::refused_package(&refusal));
        reasons
            .chain(joint)
            .chain(denials)
            .chain(packages)
            .map(answer)
            .collect()
    }

    fn catalogued() -> BTreeSet<Answer> {
        let mut answers = BTreeSet::new();
        for c in CATALOGUE {
            if c.statuses.is_empty() {
                answers.insert((c.code.to_string(), None));
            }
            for status in c.statuses {
                answers.insert((c.code.to_string(), Some(*status)));
            }
        }
        answers
    }

    #[test]
    fn the_catalogue_is_sorted_and_has_each_code_once() {
        let names: Vec<&str> = CATALOGUE.iter().map(|c| c.code).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted);
        assert!(CATALOGUE.iter().all(|c| !c.meaning.is_empty()));
    }

    /// Every code the sources answer is in the catalogue with that status, and every
    /// entry of the catalogue is answered somewhere: it lists what Kabinet says, no more.
    #[test]
    fn the_catalogue_is_exactly_what_the_code_answers() {
        let (mut answers, indirect) = scan_sources();
        let expected: BTreeSet<(String, String)> = INDIRECT
            .iter()
            .map(|(f, a)| (f.to_string(), a.to_string()))
            .collect();
        assert_eq!(
            indirect, expected,
            "a code passed as something other than a literal: cover its source in this test"
        );
        answers.extend(refusal_answers());
        let catalogue = catalogued();
        let missing: Vec<_> = answers.difference(&catalogue).collect();
        assert!(
            missing.is_empty(),
            "answered but not in api/src/codes.rs: {missing:?}"
        );
        let unused: Vec<_> = catalogue.difference(&answers).collect();
        assert!(
            unused.is_empty(),
            "in api/src/codes.rs but never answered: {unused:?}"
        );
    }

    /// The scan is only as good as its patterns: each form of call is seen.
    #[test]
    fn the_scan_sees_each_form_of_call() {
        let (answers, _) = scan_sources();
        for (code, status) in [
            ("not_found", Some(404)),            // Self::new with a status, in error.rs
            ("invalid_credentials", Some(401)),  // ApiError::unauthorized
            ("account_locked", Some(429)),       // ApiError::new(StatusCode::…)
            ("refresh_token_reused", Some(401)), // a helper taking the code
            ("pdf_polyglot", Some(422)),         // a helper naming its status
            ("request_refused", None),           // the safety net's catch-all
        ] {
            assert!(answers.contains(&(code.to_string(), status)), "{code} {status:?}");
        }
    }

    /// The README's table is generated: `KABINET_BLESS=1 cargo test -p kabinet-api codes`
    /// rewrites it after a change to the catalogue.
    #[test]
    fn the_readme_lists_the_catalogue() {
        const BEGIN: &str = "<!-- error codes: generated from api/src/codes.rs -->\n";
        const END: &str = "<!-- end of error codes -->";
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
        let readme = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("README.md: {e}"));
        let Some(start) = readme.find(BEGIN).map(|at| at + BEGIN.len()) else {
            panic!("README.md lacks the line {BEGIN:?}");
        };
        let Some(end) = readme[start..].find(END).map(|at| start + at) else {
            panic!("README.md lacks the line {END:?}");
        };
        let table = markdown_table();
        if std::env::var_os("KABINET_BLESS").is_some() {
            let blessed = format!("{}{table}{}", &readme[..start], &readme[end..]);
            std::fs::write(&path, blessed).unwrap_or_else(|e| panic!("README.md: {e}"));
        } else {
            assert!(
                readme[start..end] == table,
                "README's error codes differ from api/src/codes.rs: run KABINET_BLESS=1 cargo test -p kabinet-api codes"
            );
        }
    }

    #[test]
    fn the_spec_offers_the_catalogue_as_the_problem_code() {
        let spec = serde_json::to_value(crate::spec()).unwrap_or_default();
        let code = &spec["components"]["schemas"]["Problem"]["properties"]["code"];
        let names: Vec<&str> = CATALOGUE.iter().map(|c| c.code).collect();
        assert_eq!(code["enum"], serde_json::json!(names));
        let described = code["x-enum-descriptions"].as_array().map(Vec::len);
        assert_eq!(described, Some(CATALOGUE.len()));
    }
}
