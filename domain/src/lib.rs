//! Kabinet's domain: identifiers, value objects and the rules of the product.
//! Pure code — no I/O, no HTTP, no SQL — so every rule is testable on its own.

pub mod access;
pub mod account;
pub mod actions;
pub mod application;
pub mod attempts;
pub mod audit;
pub mod catalog;
pub mod delegation;
pub mod document;
pub mod field_error;
pub mod form;
pub mod ids;
pub mod joint;
pub mod login;
pub mod merkle;
pub mod names;
pub mod notice;
pub mod organisation;
pub mod package;
pub mod person;
pub mod rate;
pub mod search;
pub mod stream;
pub mod template;
pub mod time;
