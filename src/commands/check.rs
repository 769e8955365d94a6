//! `svcmodel check`: parse, lower and check; print diagnostics and a summary.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cli::{Color, Format};
use crate::exit::Exit;
use crate::fs_loader::FsLoader;
use crate::output::{self, plural};

/// The model `check` read.
#[derive(Serialize, schemars::JsonSchema)]
pub struct Summary {
    /// Model files read, imports included.
    files: usize,
    /// `system` blocks.
    systems: usize,
    environments: usize,
    /// Service definitions (every version counts).
    services: usize,
    policies: usize,
}

/// What `svcmodel check --format json` prints.
pub type CheckOutput = output::DiagnosticsReport<'static, Summary>;

pub fn run(paths: &[PathBuf], root: Option<&Path>, format: Format, color: Color) -> Exit {
    let cwd = super::current_dir();
    let entries = super::entries(paths, &cwd);
    let root = super::project_root(root, &entries, &cwd);
    let compilation = svcmodel_compiler::compile(&FsLoader, &entries, &root, &cwd);
    let model = &compilation.model;
    let summary = Summary {
        files: compilation.sources.len(),
        systems: model.systems.len(),
        environments: model.environments.len(),
        services: model.services.len(),
        policies: model.policies.len(),
    };
    let (errors, _) = output::count(&compilation.diagnostics);
    match format {
        Format::Json => {
            output::print_json_diagnostics(&compilation.diagnostics, &compilation.sources, &summary)
        }
        Format::Human => {
            output::print_human(&compilation.diagnostics, &compilation.sources, color);
            if errors > 0 {
                output::print_error_summary(errors, summary.files);
            } else {
                println!(
                    "ok: {}, {}, {}, {}",
                    plural(summary.files, "file"),
                    plural(summary.services, "service"),
                    plural(summary.environments, "environment"),
                    plural(summary.policies, "policy").replace("policys", "policies")
                );
            }
        }
    }
    if errors > 0 {
        Exit::ModelErrors
    } else {
        Exit::Success
    }
}
