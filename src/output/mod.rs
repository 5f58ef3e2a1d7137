//! The only writer of stdout, stderr and files.

pub mod files;
pub mod sanitize;
pub mod writer;
