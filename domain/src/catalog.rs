//! The service catalog's rules: what a service is, at which level of government, and the
//! policy flags that shape its applications' lifecycle.

use serde::{Deserialize, Serialize};

use crate::field_error::FieldError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceLevel {
    Federal,
    Regional,
    Municipal,
}

impl ServiceLevel {
    pub const ALL: [ServiceLevel; 3] = [
        ServiceLevel::Federal,
        ServiceLevel::Regional,
        ServiceLevel::Municipal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ServiceLevel::Federal => "federal",
            ServiceLevel::Regional => "regional",
            ServiceLevel::Municipal => "municipal",
        }
    }

    pub fn parse(s: &str) -> Option<ServiceLevel> {
        ServiceLevel::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

/// The flags of SPEC §3 that the state machine consults.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicePolicy {
    /// The applicant may edit after submission, until review starts.
    pub editable_after_submit: bool,
    /// The applicant may cancel while the application is in review.
    pub cancellable_in_review: bool,
    pub co_applicants_allowed: bool,
    /// Days after a rejection during which the applicant may appeal (30, config).
    pub appeal_window_days: i64,
    /// Days after a cancellation during which the applicant may restore (30, config).
    pub restore_window_days: i64,
    /// The fee, in kopecks.
    pub fee_kopecks: i64,
    /// Normative processing time; the queue flags applications past it as overdue.
    pub processing_days: i64,
    /// Other agencies able to handle its applications: forwarding goes only there.
    pub forward_to: Vec<String>,
    /// One file may fill several required papers (a single scan holding them all). By
    /// default each required paper needs a file of its own.
    pub file_fills_several_papers: bool,
}

impl Default for ServicePolicy {
    fn default() -> Self {
        ServicePolicy {
            editable_after_submit: true,
            cancellable_in_review: false,
            co_applicants_allowed: false,
            appeal_window_days: 30,
            restore_window_days: 30,
            fee_kopecks: 0,
            processing_days: 30,
            forward_to: vec![],
            file_fills_several_papers: false,
        }
    }
}

/// A service of the catalog.
#[derive(Clone, Debug, PartialEq)]
pub struct Service {
    pub code: String,
    pub name_ru: String,
    pub name_en: String,
    pub description: String,
    pub level: ServiceLevel,
    /// The region (for regional and municipal services), e.g. `77`.
    pub region: Option<String>,
    /// The agency that handles its applications.
    pub agency_code: String,
    /// JSON Schema of the application form.
    pub form_schema: serde_json::Value,
    /// Document types an application must carry before submission.
    pub required_documents: Vec<String>,
    /// Accepted upload types (`pdf`, `jpg`, `png`, `docx`, `xlsx`).
    pub allowed_file_types: Vec<String>,
    pub max_file_bytes: i64,
    pub policy: ServicePolicy,
    pub version: i64,
}

/// A government agency (ведомство).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Agency {
    pub code: String,
    pub name: String,
    pub level: ServiceLevel,
    pub region: Option<String>,
}

/// A service code: lowercase letters, digits and hyphens, 3 to 64 characters.
pub fn check_code(code: &str) -> Result<(), FieldError> {
    let valid = (3..=64).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !code.starts_with('-');
    if valid {
        Ok(())
    } else {
        Err(FieldError::invalid_format(
            "code",
            "3–64 lowercase letters, digits and hyphens.",
        ))
    }
}

impl ServicePolicy {
    pub fn check(&self) -> Result<(), FieldError> {
        let windows = [
            ("appeal_window_days", self.appeal_window_days),
            ("restore_window_days", self.restore_window_days),
            ("processing_days", self.processing_days),
        ];
        for (field, days) in windows {
            if !(1..=3650).contains(&days) {
                return Err(FieldError::new(field, "out_of_range", "Between 1 and 3650 days."));
            }
        }
        let mut listed = self.forward_to.clone();
        listed.sort();
        listed.dedup();
        if listed.len() != self.forward_to.len() {
            return Err(FieldError::new(
                "forward_to",
                "invalid_value",
                "An agency is listed twice.",
            ));
        }
        if self.fee_kopecks < 0 {
            return Err(FieldError::new(
                "fee_kopecks",
                "out_of_range",
                "A fee cannot be negative.",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_policies_are_checked() {
        assert!(check_code("passport-replacement").is_ok());
        assert!(check_code("Passport").is_err());
        assert!(check_code("ab").is_err());
        assert!(check_code("-abc").is_err());
        assert!(ServicePolicy::default().check().is_ok());
        let bad = ServicePolicy {
            appeal_window_days: 0,
            ..ServicePolicy::default()
        };
        assert_eq!(bad.check().map_err(|e| e.field), Err("appeal_window_days"));
    }
}
