//! Documents: the personal vault (uploads, the list, metadata and sharing, deletion,
//! downloads) and an application's attachments taken from it.

pub mod attachments;
pub mod vault;
