//! How lines look and which are printed: output mode, timestamps and their zone, colour
//! (flag × `NO_COLOR` × terminal), palettes, `--template`, highlights and line filters.

use std::sync::Arc;

use regex::bytes::Regex as BytesRegex;

use crate::cli::{Args, ColorChoice, Env, MinLevel, OutputFormat, Timestamps};
use crate::config::parse::{compile, compile_bytes_set};
use crate::error::{Error, Result};
use crate::render::color::Palette;
use crate::render::filter::LineFilter;
use crate::render::format::{OutputMode, RenderSettings};
use crate::render::level::Level;
use crate::render::template::LineTemplate;
use crate::render::time::TimestampFormat;

/// The rendering of a run. `show_namespace`: more than one namespace can appear.
pub(crate) fn resolve(args: &Args, env: &Env, show_namespace: bool) -> Result<RenderSettings> {
    let timezone = match args.timezone.as_deref() {
        None => env.timezone.clone(),
        Some(name) => jiff::tz::TimeZone::get(name).map_err(|_| {
            Error::usage(format!(
                "unknown --timezone '{name}': give an IANA name such as UTC or Europe/Berlin"
            ))
        })?,
    };
    let color = decide_color(args.color, env, env.stdout_is_terminal);
    let mode = match args.output {
        // There is no pod to prefix a line of standard input: the message alone.
        OutputFormat::Default if args.stdin => OutputMode::Raw,
        OutputFormat::Default => OutputMode::Default,
        OutputFormat::Raw => OutputMode::Raw,
        OutputFormat::Json => OutputMode::Json,
        OutputFormat::Extjson => OutputMode::Extjson,
        OutputFormat::Ppextjson => OutputMode::Ppextjson,
    };
    let template_source = match (&args.template_file, &args.template) {
        (Some(path), _) => {
            let source = std::fs::read_to_string(path).map_err(|e| {
                Error::usage(format!(
                    "cannot read --template-file '{}': {e}",
                    path.display()
                ))
            })?;
            Some((source, format!("--template-file '{}'", path.display())))
        }
        (None, Some(source)) => Some((source.clone(), "--template".to_string())),
        (None, None) => None,
    };
    let compile_template = |color: bool| {
        template_source
            .as_ref()
            .map(|(source, origin)| {
                LineTemplate::compile(source.clone(), origin, color, timezone.clone()).map(Arc::new)
            })
            .transpose()
    };
    let template = compile_template(color)?;
    // Files never get colour: the same template, its colour helpers plain.
    let file_template = match (&args.output_dir, &template) {
        (Some(_), Some(_)) if color => compile_template(false)?,
        (Some(_), t) => t.clone(),
        (None, _) => None,
    };
    Ok(RenderSettings {
        mode,
        timestamps: args.timestamps.map(|t| match t {
            Timestamps::Default => TimestampFormat::Default,
            Timestamps::Short => TimestampFormat::Short,
        }),
        color,
        color_stderr: decide_color(args.color, env, env.stderr_is_terminal),
        show_namespace,
        highlight: highlight(args)?.map(Arc::new),
        palette: palette(args)?,
        template,
        file_template,
        timezone,
    })
}

/// `--include`, `--exclude` and `--level`.
pub(crate) fn filter(args: &Args) -> Result<LineFilter> {
    Ok(LineFilter {
        include: compile_bytes_set("--include", &args.include)?,
        exclude: compile_bytes_set("--exclude", &args.exclude)?,
        min_level: args.level.map(|l| match l {
            MinLevel::Trace => Level::Trace,
            MinLevel::Debug => Level::Debug,
            MinLevel::Info => Level::Info,
            MinLevel::Warn => Level::Warn,
            MinLevel::Error => Level::Error,
            MinLevel::Fatal => Level::Fatal,
        }),
    })
}

/// `-H` patterns, and `-i` ones: stern highlights include matches too.
fn highlight(args: &Args) -> Result<Option<BytesRegex>> {
    let mut all: Vec<&str> = Vec::new();
    for (flag, list) in [
        ("--highlight", &args.highlight),
        ("--include", &args.include),
    ] {
        for p in list {
            compile(flag, p)?;
            all.push(p);
        }
    }
    if all.is_empty() {
        return Ok(None);
    }
    let joined = all
        .iter()
        .map(|p| format!("(?:{p})"))
        .collect::<Vec<_>>()
        .join("|");
    BytesRegex::new(&joined)
        .map(Some)
        .map_err(|e| Error::usage(format!("invalid --highlight patterns: {e}")))
}

/// `--pod-colors`, `--container-colors` and `--diff-container`, validated as stern does:
/// container colours need pod colours, default to them, and pair up one to one.
fn palette(args: &Args) -> Result<Palette> {
    let (pods, containers) = (&args.pod_colors, &args.container_colors);
    if pods.is_empty() && !containers.is_empty() {
        return Err(Error::usage(
            "--container-colors needs --pod-colors: the two lists pair up",
        ));
    }
    let pods = pods
        .iter()
        .map(|c| parse_sgr("--pod-colors", c))
        .collect::<Result<Vec<_>>>()?;
    let containers = if containers.is_empty() {
        pods.clone()
    } else {
        containers
            .iter()
            .map(|c| parse_sgr("--container-colors", c))
            .collect::<Result<Vec<_>>>()?
    };
    if pods.len() != containers.len() {
        return Err(Error::usage(format!(
            "--pod-colors has {} colours and --container-colors {}: give both the same number",
            pods.len(),
            containers.len()
        )));
    }
    Ok(Palette::new(
        pods.into_iter().zip(containers).collect(),
        args.diff_container,
    ))
}

/// One SGR colour: numbers 0..=255 separated by ';' (`91`, `1;4;31`, `38;2;255;97;136`).
fn parse_sgr(flag: &str, value: &str) -> Result<String> {
    let parts: Vec<&str> = value.split(';').map(str::trim).collect();
    if parts.iter().any(|p| p.parse::<u8>().is_err()) {
        return Err(Error::usage(format!(
            "invalid {flag} colour '{value}': give SGR numbers separated by ';', e.g. 91 or 38;2;255;97;136"
        )));
    }
    Ok(parts.join(";"))
}

/// Colour when asked to, or when the stream is a terminal that wants it
/// (NO_COLOR: <https://no-color.org>, CLICOLOR_FORCE, TERM=dumb).
pub(crate) fn decide_color(choice: ColorChoice, env: &Env, is_terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            if env.var("NO_COLOR").is_some_and(|v| !v.is_empty()) {
                return false;
            }
            if env
                .var("CLICOLOR_FORCE")
                .is_some_and(|v| !v.is_empty() && v != "0")
            {
                return true;
            }
            is_terminal && env.var("TERM") != Some("dumb")
        }
    }
}
