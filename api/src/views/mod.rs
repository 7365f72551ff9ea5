//! Request and response bodies shared by more than one route module (or by the demo).

pub mod accepted;
pub mod applications;
pub mod catalog;
pub mod confirmations;
pub mod csv_rows;
pub mod file;
pub mod profile;
