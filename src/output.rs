//! Printing diagnostics: human (miette) on stderr, or JSON on stdout.

use std::io::IsTerminal;

use serde::Serialize;
use svcmodel_compiler::diagnostic::{self, Diagnostic, JsonDiagnostic, RenderOptions, Severity};
use svcmodel_compiler::source::SourceMap;

use crate::cli::Color;

pub fn render_options(color: Color) -> RenderOptions {
    let color = match color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let width = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(100);
    RenderOptions { color, width }
}

pub fn print_human(diagnostics: &[Diagnostic], sources: &SourceMap, color: Color) {
    // `--quiet`: errors only.
    let shown: Vec<Diagnostic>;
    let diagnostics = if quiet() {
        shown = diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .cloned()
            .collect();
        &shown[..]
    } else {
        diagnostics
    };
    eprint!(
        "{}",
        diagnostic::render_all(diagnostics, sources, render_options(color))
    );
}

/// Ends the run quietly with 141, as SIGPIPE would, when `error` is a reader that
/// stopped reading (`| head`): the same end as `main`'s panic hook gives.
pub fn exit_if_closed_pipe(error: &std::io::Error) {
    if error.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(141);
    }
}

/// How much a run says on standard error beyond its errors: `-q` or `-v`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

static VERBOSITY: std::sync::OnceLock<Verbosity> = std::sync::OnceLock::new();

pub fn set_verbosity(verbosity: Verbosity) {
    let _ = VERBOSITY.set(verbosity);
}

/// `-q`: errors only; no progress, notes or warnings.
pub fn quiet() -> bool {
    VERBOSITY.get() == Some(&Verbosity::Quiet)
}

/// `-v`: also how long each stage took, and each engine operation as it runs.
pub fn verbose() -> bool {
    VERBOSITY.get() == Some(&Verbosity::Verbose)
}

/// A line for a person on standard error (progress, a note, what was written), unless
/// `-q`.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        if !$crate::output::quiet() {
            eprintln!($($arg)*);
        }
    };
}

/// A line only `-v` prints, with how long `since` ago the stage began.
pub fn timing(stage: &str, since: std::time::Instant) {
    if verbose() {
        eprintln!(
            "{stage} in {:.1} ms",
            since.elapsed().as_secs_f64() * 1000.0
        );
    }
}

pub fn count(diagnostics: &[Diagnostic]) -> (usize, usize) {
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    (errors, diagnostics.len() - errors)
}

pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// What `svcmodel check --format json` prints: every diagnostic and a summary of the
/// model. The commands that resolve the system print the same report, without the
/// summary, when the model has errors.
#[derive(Serialize, schemars::JsonSchema)]
pub struct DiagnosticsReport<'a, S: Serialize> {
    /// No diagnostic is an error.
    pub ok: bool,
    pub errors: usize,
    pub warnings: usize,
    /// Sorted by file and position.
    pub diagnostics: Vec<JsonDiagnostic>,
    #[serde(flatten)]
    pub summary: &'a S,
}

pub fn print_json<T: Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(error) => eprintln!("error: cannot write JSON: {error}"),
    }
}

/// Prints diagnostics as the JSON report, with `summary` fields beside them.
pub fn print_json_diagnostics<S: Serialize>(
    diagnostics: &[Diagnostic],
    sources: &SourceMap,
    summary: &S,
) {
    let (errors, warnings) = count(diagnostics);
    print_json(&DiagnosticsReport {
        ok: errors == 0,
        errors,
        warnings,
        diagnostics: diagnostics
            .iter()
            .map(|d| JsonDiagnostic::new(d, sources))
            .collect(),
        summary,
    });
}

/// The closing line on standard error when a model has errors.
pub fn print_error_summary(errors: usize, model_files: usize) {
    eprintln!(
        "error: the model has {} in {}",
        plural(errors, "error"),
        plural(model_files, "model file")
    );
}

/// How the running command prints failures: set once, where the command reads its
/// flags, so that every failure deep inside it (the engine, the state, the machine)
/// reaches the user the same way.
static MODE: std::sync::OnceLock<(crate::cli::Format, Color)> = std::sync::OnceLock::new();

pub fn set_mode(format: crate::cli::Format, color: Color) {
    let _ = MODE.set((format, color));
}

/// Whether this run prints JSON (`--format json`), as `set_mode` was told.
pub fn json_mode() -> bool {
    MODE.get()
        .is_some_and(|(format, _)| *format == crate::cli::Format::Json)
}

/// Prints a failure that is not the model's (the engine, the state, the machine) as a
/// coded diagnostic: on standard error as a compiler would, or under `--format json`
/// as the JSON diagnostics report on standard output.
pub fn failure(diagnostic: Diagnostic) {
    let (format, color) = MODE
        .get()
        .copied()
        .unwrap_or((crate::cli::Format::Human, Color::Auto));
    let sources = SourceMap::new();
    match format {
        crate::cli::Format::Json => {
            #[derive(Serialize)]
            struct NoSummary {}
            print_json_diagnostics(std::slice::from_ref(&diagnostic), &sources, &NoSummary {});
        }
        crate::cli::Format::Human => {
            print_human(std::slice::from_ref(&diagnostic), &sources, color)
        }
    }
}
