//! Request and response bodies shared by more than one route module.

pub mod profile;
