//! One module per command.

mod audit;
mod check;
mod deploy;
mod explain;
mod fmt;
mod graph;
mod init;
mod place;
mod render;
mod report;
mod shell;
mod supervise;
mod system;

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::cli::{Cli, Command, StateCommand};
use crate::exit::Exit;

pub fn run(cli: Cli) -> Exit {
    crate::output::set_verbosity(match (cli.quiet, cli.verbose) {
        (true, _) => crate::output::Verbosity::Quiet,
        (_, true) => crate::output::Verbosity::Verbose,
        _ => crate::output::Verbosity::Normal,
    });
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
            format,
        } => fmt::run(&paths, check, stdin, format, cli.color),
        Command::Explain { code, list, format } => explain::run(code.as_deref(), list, format),
        Command::Completions { shell } => shell::completions(shell),
        Command::Report { system, format } => report::run(&system, format, cli.color),
        Command::Init { dir, target, port } => init::run(&dir, &target, port),
        Command::Man { out } => shell::man(out.as_deref()),
        Command::Compile { system, format } => system::compile(&system, format, cli.color),
        Command::Graph { system, format } => graph::run(&system, format, cli.color),
        Command::Place {
            system,
            explain,
            max_nodes,
            lose,
            without,
            diff,
            format,
        } => place::run(
            &system,
            explain.as_deref(),
            max_nodes,
            &place::WhatIf {
                lose,
                without,
                diff,
            },
            format,
            cli.color,
        ),
        Command::Risk {
            system,
            lose,
            without,
            format,
        } => place::risk(
            &system,
            &place::WhatIf::assuming(lose, without),
            format,
            cli.color,
        ),
        Command::Slo {
            system,
            lose,
            without,
            format,
        } => place::slo(
            &system,
            &place::WhatIf::assuming(lose, without),
            format,
            cli.color,
        ),
        Command::Why {
            service,
            system,
            format,
        } => system::why(&service, &system, format, cli.color),
        Command::Describe {
            service,
            system,
            format,
        } => system::describe(&service, &system, format, cli.color),
        Command::Impact {
            service,
            system,
            format,
        } => system::impact(&service, &system, format, cli.color),
        Command::Lock {
            system,
            update,
            format,
        } => system::lock(&system, &update, format, cli.color),
        Command::Schema { name } => system::schema(name),
        Command::Plan {
            system,
            operations,
            detailed_exitcode,
            format,
        } => {
            let exit = deploy::plan(&system, operations, format, cli.color);
            match (detailed_exitcode, exit) {
                (true, Exit::Changes) => Exit::DetailedChanges,
                (true, Exit::Success) => Exit::Success,
                (true, _) => Exit::ModelErrors,
                (false, Exit::Changes) => Exit::Success,
                (false, other) => other,
            }
        }
        Command::Audit {
            paths,
            root,
            environment,
            last,
            format,
        } => audit::run(&audit::AuditArgs {
            paths: &paths,
            root: root.as_deref(),
            environment: environment.as_deref(),
            last,
            format,
        }),
        Command::Deploy {
            system,
            yes,
            no_rollback,
            timeout,
            lock_timeout,
            format,
        } => deploy::deploy(&deploy::DeployArgs {
            command: "deploy",
            system: &system,
            yes,
            repair_unhealthy: false,
            rollback: !no_rollback,
            timeout,
            lock_timeout,
            format,
            color: cli.color,
        }),
        Command::Status { system, format } => deploy::status(&system, format, cli.color),
        Command::Reconcile {
            system,
            fix,
            yes,
            write_values,
            timeout,
            lock_timeout,
            format,
        } => deploy::reconcile(&deploy::ReconcileArgs {
            system: &system,
            fix,
            write_values: write_values.as_deref(),
            yes,
            timeout,
            lock_timeout,
            format,
            color: cli.color,
        }),
        Command::Destroy {
            system,
            yes,
            lock_timeout,
            format,
        } => deploy::destroy(&system, yes, lock_timeout, format, cli.color),
        Command::Supervise { restart, command } => supervise::run(&restart, &command),
        Command::State {
            command:
                StateCommand::Adopt {
                    system,
                    lock_timeout,
                    format,
                },
        } => deploy::adopt(&system, lock_timeout, format, cli.color),
        Command::State {
            command:
                StateCommand::Unlock {
                    id,
                    force,
                    environment,
                    root,
                    format,
                },
        } => deploy::unlock(
            root.as_deref(),
            if force {
                deploy::Unlock::Force(environment.unwrap_or_default())
            } else {
                deploy::Unlock::Id(id.unwrap_or_default())
            },
            format,
        ),
        Command::Render {
            system,
            output,
            stdout,
            target,
            services,
            view,
            format,
        } => render::run(&render::RenderArgs {
            system: &system,
            output: output.as_deref(),
            stdout,
            target: target.as_deref(),
            services: &services,
            view,
            format,
            color: cli.color,
        }),
    }
}

/// The paths named on the command line, made absolute; the current folder if none.
pub fn entries(paths: &[PathBuf], cwd: &Path) -> Vec<PathBuf> {
    if paths.is_empty() {
        return vec![cwd.to_path_buf()];
    }
    paths.iter().map(|p| cwd.join(p)).collect()
}

/// Where a project's `.svcmodel/` (state, locks, logs) lives: `--root`, else the
/// nearest folder above the first entry that holds `svcmodel.toml`, else the first
/// entry's own folder. Never the current folder as such: one model has one state,
/// wherever a command is run from.
pub fn state_root(root: Option<&Path>, entries: &[PathBuf], cwd: &Path) -> PathBuf {
    let project = project_root(root, entries, cwd);
    if root.is_some() || project.join("svcmodel.toml").is_file() {
        return project;
    }
    match entries
        .first()
        .map(|e| std::fs::canonicalize(e).unwrap_or_else(|_| e.clone()))
    {
        Some(first) if first.is_dir() => first,
        Some(first) => first.parent().map(Path::to_path_buf).unwrap_or(project),
        None => project,
    }
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

/// Replaces `path` with `text`: a temporary file in the same folder, synced, then
/// renamed over it, so a crash never leaves half a file. A symlink at `path` is
/// replaced, never followed.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{file_name}.svcmodel-fmt.{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        if let Ok(metadata) = std::fs::metadata(path) {
            file.set_permissions(metadata.permissions())?;
        }
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}
