//! One module per command.

mod check;
mod explain;
mod fmt;

use std::path::{Path, PathBuf};

use crate::cli::{Cli, Command};
use crate::exit::Exit;

pub fn run(cli: Cli) -> Exit {
    match cli.command {
        Command::Check {
            paths,
            model,
            format,
        } => check::run(&paths, model.root.as_deref(), format, cli.color),
        Command::Fmt {
            paths,
            check,
            stdin,
        } => fmt::run(&paths, check, stdin, cli.color),
        Command::Explain { code, list } => explain::run(code.as_deref(), list),
    }
}

/// The paths named on the command line, made absolute; the current folder if none.
pub fn entries(paths: &[PathBuf], cwd: &Path) -> Vec<PathBuf> {
    if paths.is_empty() {
        return vec![cwd.to_path_buf()];
    }
    paths.iter().map(|p| cwd.join(p)).collect()
}

/// The project root: `--root`, else the nearest folder above the first entry that holds
/// `svcmodel.toml`, else the current folder (or the entry's folder if it lies outside).
pub fn project_root(root: Option<&Path>, entries: &[PathBuf], cwd: &Path) -> PathBuf {
    if let Some(root) = root {
        return cwd.join(root);
    }
    let first = entries
        .first()
        .map(|e| std::fs::canonicalize(e).unwrap_or_else(|_| e.clone()));
    if let Some(first) = &first {
        let start = if first.is_dir() {
            Some(first.as_path())
        } else {
            first.parent()
        };
        let mut dir = start;
        while let Some(d) = dir {
            if d.join("svcmodel.toml").is_file() {
                return d.to_path_buf();
            }
            dir = d.parent();
        }
    }
    let cwd_canonical = std::fs::canonicalize(cwd).unwrap_or_else(|_| cwd.to_path_buf());
    match first {
        Some(first) if !first.starts_with(&cwd_canonical) => {
            if first.is_dir() {
                first
            } else {
                first.parent().map(Path::to_path_buf).unwrap_or(first)
            }
        }
        _ => cwd_canonical,
    }
}

pub fn current_dir() -> PathBuf {
    std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))
}
