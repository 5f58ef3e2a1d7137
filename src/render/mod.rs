//! How a log line looks.

pub mod format;
pub mod level;
pub mod template;
