//! `svcmodel fmt`: rewrite model files in the canonical layout.
//!
//! A file with syntax errors is never rewritten. The output is parsed again and must
//! format to itself before anything is written; a write goes to a temporary file in the
//! same folder, then renames over the original, so a crash never leaves half a file.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;
use svcmodel_compiler::codes::Code;
use svcmodel_compiler::diagnostic::{Diagnostic, Diagnostics, JsonDiagnostic};
use svcmodel_compiler::source::{SourceFile, SourceMap};
use svcmodel_compiler::{fmt, syntax};

use crate::cli::{Color, Format};
use crate::exit::Exit;
use crate::output;

/// What `svcmodel fmt --format json` prints: every file named, and what became of it.
#[derive(Serialize, schemars::JsonSchema)]
pub struct FmtOutput {
    /// The version of this shape.
    format: u32,
    /// `--check` was given: nothing was changed.
    check: bool,
    /// Every model file named (folders: every `.svc` file below them), sorted.
    files: Vec<FileOutput>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct FileOutput {
    /// Relative to the current folder where possible.
    path: String,
    /// The file is not in the canonical layout (it was, before a rewrite).
    unformatted: bool,
    /// svcmodel rewrote the file; never with `--check`.
    changed: bool,
    /// The syntax errors that kept the file untouched, or why it could not be read or
    /// written (E0201, E0205), in the shape `check` uses.
    diagnostics: Vec<JsonDiagnostic>,
    /// Why the file could not be read, written or formatted; `null` if nothing went
    /// wrong.
    error: Option<String>,
}

/// Why a file is not formatted.
enum Problem {
    /// Syntax errors: the file is left as it is (exit 1).
    Syntax(Vec<Diagnostic>, SourceMap),
    /// The formatter's output does not format to itself: a bug (exit 4).
    Unstable(String),
}

impl Problem {
    fn exit(&self) -> Exit {
        match self {
            Problem::Syntax(..) => Exit::ModelErrors,
            Problem::Unstable(_) => Exit::Failure,
        }
    }

    fn print(&self, color: Color) {
        match self {
            Problem::Syntax(diagnostics, sources) => {
                output::print_human(diagnostics, sources, color);
            }
            Problem::Unstable(message) => output::failure(
                Diagnostic::error(Code::InternalError, message.clone())
                    .help("this is a bug in svcmodel: report it with the file; the file was left as it was"),
            ),
        }
    }
}

/// The formatted text, or what stops formatting.
fn format_text(name: &str, text: &str) -> Result<String, Problem> {
    let mut sources = SourceMap::new();
    let id = sources.add(SourceFile::new(name, text));
    let mut diagnostics = Diagnostics::default();
    let file = syntax::parse(text, id, &mut diagnostics);
    if diagnostics.has_errors() {
        return Err(Problem::Syntax(diagnostics.into_sorted(), sources));
    }
    let formatted = fmt::format_file(&file);
    let mut again = Diagnostics::default();
    let reparsed = syntax::parse(&formatted, id, &mut again);
    if again.has_errors() || fmt::format_file(&reparsed) != formatted {
        return Err(Problem::Unstable(format!(
            "svcmodel's formatter produced unstable output for `{name}`; the file is left unchanged"
        )));
    }
    Ok(formatted)
}

pub fn run(paths: &[PathBuf], check: bool, stdin: bool, format: Format, color: Color) -> Exit {
    output::set_mode(format, color);
    if stdin {
        let mut text = String::new();
        if let Err(error) = std::io::stdin().read_to_string(&mut text) {
            output::failure(
                Diagnostic::error(
                    Code::CannotRead,
                    format!("cannot read standard input: {error}"),
                )
                .help("pipe a model file into `svcmodel fmt --stdin`"),
            );
            return Exit::Failure;
        }
        return match format_text("<stdin>", &text) {
            Ok(formatted) => {
                print!("{formatted}");
                Exit::Success
            }
            Err(problem) => {
                problem.print(color);
                problem.exit()
            }
        };
    }
    let json = format == Format::Json;
    let cwd = super::current_dir();
    let mut files = Vec::new();
    for entry in super::entries(paths, &cwd) {
        if entry.is_dir() {
            collect(&entry, &mut files);
        } else {
            files.push(entry);
        }
    }
    files.sort();
    let mut worst = Exit::Success;
    let mut unformatted = 0;
    let mut outputs = Vec::new();
    for path in &files {
        let name = path
            .strip_prefix(&cwd)
            .unwrap_or(path)
            .display()
            .to_string();
        let mut file = FileOutput {
            path: name.clone(),
            unformatted: false,
            changed: false,
            diagnostics: Vec::new(),
            error: None,
        };
        let mut fail = |file: &mut FileOutput, code: Code, message: String| {
            let diagnostic = Diagnostic::error(code, message.clone())
                .help("check that the file exists and that you may read and write it");
            if json {
                file.diagnostics
                    .push(JsonDiagnostic::new(&diagnostic, &SourceMap::new()));
            } else {
                output::failure(diagnostic);
            }
            file.error = Some(message);
            worst = Exit::Failure;
        };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) => {
                fail(
                    &mut file,
                    Code::CannotRead,
                    format!("cannot read `{name}`: {error}"),
                );
                outputs.push(file);
                continue;
            }
        };
        match format_text(&name, &text) {
            Ok(formatted) if formatted == text => {}
            Ok(formatted) => {
                unformatted += 1;
                file.unformatted = true;
                if check {
                    if !json {
                        println!("{name}");
                    }
                } else if let Err(error) = super::write_atomically(path, &formatted) {
                    fail(
                        &mut file,
                        Code::CannotWrite,
                        format!("cannot write `{name}`: {error}"),
                    );
                } else {
                    file.changed = true;
                    if !json {
                        println!("formatted {name}");
                    }
                }
            }
            Err(problem) => {
                let exit = problem.exit();
                if worst == Exit::Success || exit == Exit::Failure {
                    worst = exit;
                }
                match (&problem, json) {
                    (_, false) => problem.print(color),
                    (Problem::Syntax(diagnostics, sources), true) => {
                        file.diagnostics = diagnostics
                            .iter()
                            .map(|d| JsonDiagnostic::new(d, sources))
                            .collect();
                    }
                    (Problem::Unstable(message), true) => file.error = Some(message.clone()),
                }
            }
        }
        outputs.push(file);
    }
    if json {
        output::print_json(&FmtOutput {
            format: 1,
            check,
            files: outputs,
        });
    }
    if worst != Exit::Success {
        return worst;
    }
    if check && unformatted > 0 {
        if !json {
            eprintln!(
                "error: {} not formatted; run `svcmodel fmt` to fix",
                output::plural(unformatted, "file")
            );
        }
        return Exit::NeedsFormatting;
    }
    Exit::Success
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        // Symlinks are not followed: formatting never writes outside the named folders.
        if kind.is_dir() {
            collect(&path, files);
        } else if kind.is_file() && path.extension().is_some_and(|e| e == "svc") {
            files.push(path);
        }
    }
}
