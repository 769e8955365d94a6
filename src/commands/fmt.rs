//! `svcmodel fmt`: rewrite model files in the canonical layout.
//!
//! A file with syntax errors is never rewritten. The output is parsed again and must
//! format to itself before anything is written; a write goes to a temporary file in the
//! same folder, then renames over the original, so a crash never leaves half a file.

use std::io::Read;
use std::path::{Path, PathBuf};

use svcmodel_compiler::diagnostic::Diagnostics;
use svcmodel_compiler::source::{SourceFile, SourceMap};
use svcmodel_compiler::{fmt, syntax};

use crate::cli::Color;
use crate::exit::Exit;
use crate::output;

/// The formatted text, or the diagnostics that stop formatting.
fn format_text(name: &str, text: &str, color: Color) -> Result<String, Exit> {
    let mut sources = SourceMap::new();
    let id = sources.add(SourceFile::new(name, text));
    let mut diagnostics = Diagnostics::default();
    let file = syntax::parse(text, id, &mut diagnostics);
    if diagnostics.has_errors() {
        output::print_human(&diagnostics.into_sorted(), &sources, color);
        return Err(Exit::ModelErrors);
    }
    let formatted = fmt::format_file(&file);
    let mut again = Diagnostics::default();
    let reparsed = syntax::parse(&formatted, id, &mut again);
    if again.has_errors() || fmt::format_file(&reparsed) != formatted {
        eprintln!(
            "error: svcmodel's formatter produced unstable output for `{name}`; the file is left unchanged"
        );
        eprintln!("help: this is a bug in svcmodel; please report it with the file");
        return Err(Exit::Failure);
    }
    Ok(formatted)
}

pub fn run(paths: &[PathBuf], check: bool, stdin: bool, color: Color) -> Exit {
    if stdin {
        let mut text = String::new();
        if let Err(error) = std::io::stdin().read_to_string(&mut text) {
            eprintln!("error: cannot read standard input: {error}");
            return Exit::Failure;
        }
        return match format_text("<stdin>", &text, color) {
            Ok(formatted) => {
                print!("{formatted}");
                Exit::Success
            }
            Err(exit) => exit,
        };
    }
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
    for path in &files {
        let name = path
            .strip_prefix(&cwd)
            .unwrap_or(path)
            .display()
            .to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) => {
                eprintln!("error: cannot read `{name}`: {error}");
                worst = Exit::Failure;
                continue;
            }
        };
        let formatted = match format_text(&name, &text, color) {
            Ok(formatted) => formatted,
            Err(exit) => {
                if worst == Exit::Success || exit == Exit::Failure {
                    worst = exit;
                }
                continue;
            }
        };
        if formatted == text {
            continue;
        }
        unformatted += 1;
        if check {
            println!("{name}");
        } else if let Err(error) = super::write_atomically(path, &formatted) {
            eprintln!("error: cannot write `{name}`: {error}");
            worst = Exit::Failure;
        } else {
            println!("formatted {name}");
        }
    }
    if worst != Exit::Success {
        return worst;
    }
    if check && unformatted > 0 {
        eprintln!(
            "error: {} not formatted; run `svcmodel fmt` to fix",
            output::plural(unformatted, "file")
        );
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
