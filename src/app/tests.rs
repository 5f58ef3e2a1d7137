//! In-process tests of the orchestration.
