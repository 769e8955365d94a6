//! `svcmodel audit`: what runs asked of the engines, read back from the audit log
//! (`.svcmodel/audit.jsonl`, written by `svcmodel_deploy::audit::Audited`).

use std::path::{Path, PathBuf};

use serde::Serialize;
use svcmodel_compiler::codes::Code;
use svcmodel_compiler::diagnostic::Diagnostic;
use svcmodel_deploy::audit::{self, Entry};

use crate::cli::{Color, Format};
use crate::exit::Exit;
use crate::output;

pub struct AuditArgs<'a> {
    pub paths: &'a [PathBuf],
    pub root: Option<&'a Path>,
    pub environment: Option<&'a str>,
    pub last: bool,
    pub format: Format,
}

/// What `svcmodel audit --format json` prints.
#[derive(Serialize, schemars::JsonSchema)]
pub struct AuditOutput {
    /// The version of this shape.
    format: u32,
    /// The log read.
    log: String,
    /// Oldest first.
    entries: Vec<Entry>,
}

pub fn run(args: &AuditArgs) -> Exit {
    output::set_mode(args.format, Color::Auto);
    let cwd = super::current_dir();
    let path = super::state_root(args.root, args.paths, &cwd)
        .join(".svcmodel")
        .join(audit::FILE);
    let mut entries = match audit::read(&path) {
        Ok(entries) => entries,
        Err(e) => {
            output::failure(
                Diagnostic::error(
                    Code::StateUnusable,
                    format!("cannot read the audit log `{}`: {e}", path.display()),
                )
                .help("make the file readable, then run the command again"),
            );
            return Exit::Failure;
        }
    };
    if let Some(environment) = args.environment {
        entries.retain(|e| e.environment == environment);
    }
    if args.last
        && let Some(run) = entries.last().map(|e| e.run.clone())
    {
        entries.retain(|e| e.run == run);
    }
    match args.format {
        Format::Json => output::print_json(&AuditOutput {
            format: 1,
            log: path.display().to_string(),
            entries,
        }),
        Format::Human if entries.is_empty() => {
            crate::say!(
                "no engine operations recorded in `{}`{}",
                path.display(),
                args.environment
                    .map(|e| format!(" for environment `{e}`"))
                    .unwrap_or_default()
            );
        }
        Format::Human => print!("{}", text(&entries)),
    }
    Exit::Success
}

/// The entries by run, each call with its operations under it.
fn text(entries: &[Entry]) -> String {
    let mut out = String::new();
    let mut run = None;
    for entry in entries {
        if run != Some(&entry.run) {
            run = Some(&entry.run);
            out.push_str(&format!(
                "run {} (`svcmodel {}`), from {}:\n",
                entry.run, entry.command, entry.time
            ));
        }
        let what = match &entry.service {
            Some(service) => format!("{}/{service}", entry.environment),
            None => entry.environment.clone(),
        };
        let result = match (&entry.code, &entry.message) {
            _ if entry.ok && entry.call == "start" => match &entry.engine_id {
                Some(id) => format!("ok, runs as {id}"),
                None => "ok".to_string(),
            },
            _ if entry.ok => "ok".to_string(),
            (Some(code), Some(message)) => format!("failed [{code}]: {message}"),
            _ => "failed".to_string(),
        };
        out.push_str(&format!(
            "  {}  {} {what}: {result}\n",
            entry.time, entry.call
        ));
        for operation in &entry.operations {
            out.push_str(&format!(
                "      {} {}\n",
                operation.operation, operation.object
            ));
        }
    }
    out
}
