//! The committed contract equals the served one, and every operation is documented.

use serde_json::Value;

use crate::db_test;
use crate::support::{Backend, TestApp};

async fn committed_spec_equals_served_spec(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let served: Value = app
        .get("/api-docs/openapi.json")
        .await
        .json()
        .await
        .unwrap_or_default();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/openapi.json");
    let committed: Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_default()).unwrap_or_default();
    assert!(
        committed.is_object(),
        "openapi/openapi.json is missing or not JSON: run `make openapi`"
    );
    assert_eq!(
        served, committed,
        "openapi/openapi.json is stale: run `make openapi` and commit it"
    );
}
db_test!(committed_spec_equals_served_spec);

#[test]
fn every_operation_is_documented() {
    let spec = serde_json::to_value(api::spec()).unwrap_or_default();
    let paths = spec["paths"].as_object().cloned().unwrap_or_default();
    assert!(!paths.is_empty());
    let mut operation_ids = std::collections::HashSet::new();
    for (path, item) in paths {
        for (method, operation) in item.as_object().cloned().unwrap_or_default() {
            let name = format!("{method} {path}");
            let id = operation["operationId"].as_str().unwrap_or_default().to_string();
            assert!(!id.is_empty(), "{name} has no operationId");
            assert!(
                operation_ids.insert(id.clone()),
                "{name}: duplicate operationId {id}"
            );
            assert!(
                operation["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{name} has no tag"
            );
            assert!(
                operation["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{name} has no summary"
            );
            let responses = operation["responses"].as_object().cloned().unwrap_or_default();
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{name} documents no success"
            );
            let secured = operation.get("security").is_some();
            if secured {
                assert!(
                    responses.contains_key("401"),
                    "{name} is secured but documents no 401"
                );
            }
            if path.starts_with("/api/v1") {
                assert!(
                    responses.keys().any(|s| s.starts_with('4')),
                    "{name} documents no error response"
                );
            }
        }
    }
    let schemes = spec["components"]["securitySchemes"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    assert!(schemes.contains_key("bearer") && schemes.contains_key("oauth2"));
}

/// Response links are what schemathesis' stateful phase follows: each is spelled as OpenAPI
/// spells it (`operationId`, never utoipa's `operation_id`), names an operation the document
/// has, and passes only parameters that operation takes.
#[test]
fn links_name_existing_operations_and_their_parameters() {
    let spec = serde_json::to_value(api::spec()).unwrap_or_default();
    let mut operations = std::collections::HashMap::new();
    for item in spec["paths"]
        .as_object()
        .cloned()
        .unwrap_or_default()
        .into_values()
    {
        for operation in item.as_object().cloned().unwrap_or_default().into_values() {
            let id = operation["operationId"].as_str().unwrap_or_default().to_string();
            let parameters: Vec<String> = operation["parameters"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .filter_map(|p| p["name"].as_str().map(str::to_string))
                .collect();
            operations.insert(id, parameters);
        }
    }
    let mut links = 0;
    for (path, item) in spec["paths"].as_object().cloned().unwrap_or_default() {
        for (method, operation) in item.as_object().cloned().unwrap_or_default() {
            for (status, response) in operation["responses"].as_object().cloned().unwrap_or_default() {
                for (name, link) in response["links"].as_object().cloned().unwrap_or_default() {
                    links += 1;
                    let at = format!("{method} {path} {status} link {name}");
                    for snake in ["operation_id", "operation_ref", "request_body"] {
                        assert!(
                            link.get(snake).is_none(),
                            "{at}: `{snake}` is not OpenAPI's spelling"
                        );
                    }
                    let target = link["operationId"].as_str().unwrap_or_default();
                    let Some(parameters) = operations.get(target) else {
                        panic!("{at}: no operation `{target}`");
                    };
                    for parameter in link["parameters"].as_object().cloned().unwrap_or_default().keys() {
                        assert!(
                            parameters.contains(parameter),
                            "{at}: `{target}` takes no parameter `{parameter}`"
                        );
                    }
                }
            }
        }
    }
    assert!(links > 0, "the document declares no links");
}
