//! The per-line functions, for the benchmarks (`crates/ktail-bench`,
//! `examples/format_cost.rs`): split a stream, parse a line, filter it and render it
//! exactly as a run built from the same flags would. Not a stable API.

use crate::cli::{Args, Env};
use crate::config::Settings;
use crate::error::Result;
use crate::render::filter::LineFilter;
use crate::render::format::RenderSettings;

pub use crate::render::Origin;
pub use crate::render::format::TargetFormat;
pub use crate::render::time::parse_rfc3339_second;
pub use crate::tail::lines::{Line, LineSplitter, Part, parse_line};

/// The line filter and the rendering of a run.
pub struct LineRenderer {
    filter: LineFilter,
    render: RenderSettings,
}

impl LineRenderer {
    /// As `ktail ARGS` would build them in `env`.
    pub fn new(args: &Args, env: &Env) -> Result<LineRenderer> {
        let settings = Settings::resolve(args, env)?;
        Ok(LineRenderer {
            filter: settings.tail.filter,
            render: settings.render,
        })
    }

    /// Whether `--include`, `--exclude` and `--level` keep the line.
    pub fn keeps(&self, message: &[u8]) -> bool {
        self.filter.keeps(message)
    }

    /// The rendering of one container's lines on stdout.
    pub fn target(&self, origin: &Origin<'_>) -> TargetFormat {
        self.render.target(origin)
    }
}
