//! A downloaded file's body in the OpenAPI document: bytes of the media type the answer
//! names, which utoipa would otherwise describe as an array of integers (`Vec<u8>`).

use utoipa::ToSchema;

/// A file's bytes, in the media type the answer names (`Content-Type`).
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)] // only a schema: handlers stream the file itself
pub struct FileBytes(Vec<u8>);
