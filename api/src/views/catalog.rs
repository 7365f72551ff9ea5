//! A service as the catalog shows it and as admins write it (the demo seeds it too).

use domain::catalog::{check_code, Service, ServiceLevel, ServicePolicy};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::error::{from_field_error, ApiError};

/// A service as the catalog shows it (and as admins write it).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "code": "passport-replacement", "name_ru": "Замена паспорта гражданина РФ",
    "name_en": "Replacement of the Russian internal passport",
    "description": "Замена паспорта по достижении 20 и 45 лет, при смене ФИО или порче.",
    "level": "federal", "region": null, "agency_code": "mvd",
    "form_schema": {"type": "object", "properties": {"reason": {"type": "string", "enum": ["age_20", "age_45", "name_change"]}}, "required": ["reason"]},
    "required_documents": ["passport_scan", "photo"], "allowed_file_types": ["pdf", "jpg", "png"],
    "max_file_bytes": 5242880, "processing_days": 10, "editable_after_submit": true,
    "cancellable_in_review": false, "co_applicants_allowed": false, "appeal_window_days": 30,
    "restore_window_days": 30, "fee_kopecks": 150000, "forward_to": ["gibdd"],
    "file_fills_several_papers": false, "version": 1
}))]
pub struct ServiceBody {
    pub code: String,
    pub name_ru: String,
    pub name_en: String,
    #[serde(default)]
    pub description: String,
    /// `federal`, `regional` or `municipal`.
    pub level: String,
    pub region: Option<String>,
    pub agency_code: String,
    /// JSON Schema (2020-12) of the application form.
    #[schema(value_type = Object)]
    pub form_schema: Value,
    #[serde(default)]
    pub required_documents: Vec<String>,
    #[serde(default)]
    pub allowed_file_types: Vec<String>,
    pub max_file_bytes: i64,
    pub processing_days: i64,
    pub editable_after_submit: bool,
    pub cancellable_in_review: bool,
    pub co_applicants_allowed: bool,
    pub appeal_window_days: i64,
    pub restore_window_days: i64,
    /// The fee in kopecks.
    pub fee_kopecks: i64,
    /// Other agencies able to handle its applications: officers forward only there (the
    /// owning agency is not listed; an application never returns to an agency it left).
    #[serde(default)]
    pub forward_to: Vec<String>,
    /// One file may fill several required papers; by default each needs its own file.
    #[serde(default)]
    pub file_fills_several_papers: bool,
    /// Read-only: the version for `If-Match`.
    #[serde(default)]
    pub version: i64,
}

impl From<&Service> for ServiceBody {
    fn from(s: &Service) -> Self {
        ServiceBody {
            code: s.code.clone(),
            name_ru: s.name_ru.clone(),
            name_en: s.name_en.clone(),
            description: s.description.clone(),
            level: s.level.as_str().into(),
            region: s.region.clone(),
            agency_code: s.agency_code.clone(),
            form_schema: s.form_schema.clone(),
            required_documents: s.required_documents.clone(),
            allowed_file_types: s.allowed_file_types.clone(),
            max_file_bytes: s.max_file_bytes,
            processing_days: s.policy.processing_days,
            editable_after_submit: s.policy.editable_after_submit,
            cancellable_in_review: s.policy.cancellable_in_review,
            co_applicants_allowed: s.policy.co_applicants_allowed,
            appeal_window_days: s.policy.appeal_window_days,
            restore_window_days: s.policy.restore_window_days,
            fee_kopecks: s.policy.fee_kopecks,
            forward_to: s.policy.forward_to.clone(),
            file_fills_several_papers: s.policy.file_fills_several_papers,
            version: s.version,
        }
    }
}

const FILE_TYPES: [&str; 5] = ["pdf", "jpg", "png", "docx", "xlsx"];

impl ServiceBody {
    /// Checks every field and builds the domain value.
    pub fn into_service(self) -> Result<Service, ApiError> {
        check_code(&self.code).map_err(from_field_error)?;
        let level = ServiceLevel::parse(&self.level)
            .ok_or_else(|| ApiError::field("level", "invalid_value", "federal, regional or municipal"))?;
        if level != ServiceLevel::Federal && self.region.as_deref().is_none_or(str::is_empty) {
            return Err(ApiError::field(
                "region",
                "required",
                "Regional and municipal services name their region.",
            ));
        }
        for (field, text) in [("name_ru", &self.name_ru), ("name_en", &self.name_en)] {
            if text.trim().is_empty() {
                return Err(ApiError::field(field, "required", format!("{field} is required")));
            }
        }
        crate::forms::check_schema(&self.form_schema)
            .map_err(|e| ApiError::field("form_schema", "invalid_schema", e))?;
        self.check_files()?;
        let policy = ServicePolicy {
            editable_after_submit: self.editable_after_submit,
            cancellable_in_review: self.cancellable_in_review,
            co_applicants_allowed: self.co_applicants_allowed,
            appeal_window_days: self.appeal_window_days,
            restore_window_days: self.restore_window_days,
            fee_kopecks: self.fee_kopecks,
            processing_days: self.processing_days,
            forward_to: self.forward_to,
            file_fills_several_papers: self.file_fills_several_papers,
        };
        policy.check().map_err(from_field_error)?;
        if policy.forward_to.contains(&self.agency_code) {
            return Err(ApiError::field(
                "forward_to",
                "invalid_value",
                "The owning agency handles the service already: list only the others.",
            ));
        }
        Ok(Service {
            code: self.code,
            name_ru: self.name_ru.trim().into(),
            name_en: self.name_en.trim().into(),
            description: self.description,
            level,
            region: self.region.filter(|_| level != ServiceLevel::Federal),
            agency_code: self.agency_code,
            form_schema: self.form_schema,
            required_documents: self.required_documents,
            allowed_file_types: self.allowed_file_types,
            max_file_bytes: self.max_file_bytes,
            policy,
            version: self.version,
        })
    }

    /// The file rules: known types, and a size limit up to 50 MiB.
    fn check_files(&self) -> Result<(), ApiError> {
        if let Some(bad) = self
            .allowed_file_types
            .iter()
            .find(|t| !FILE_TYPES.contains(&t.as_str()))
        {
            return Err(ApiError::field(
                "allowed_file_types",
                "invalid_value",
                format!("{bad:?} is not one of {FILE_TYPES:?}"),
            ));
        }
        if !(1..=50 * 1024 * 1024).contains(&self.max_file_bytes) {
            return Err(ApiError::field(
                "max_file_bytes",
                "out_of_range",
                "Between 1 byte and 50 MiB.",
            ));
        }
        Ok(())
    }
}
