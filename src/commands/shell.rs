//! `svcmodel completions SHELL` and `svcmodel man`: both generated from the clap
//! definitions in `cli.rs`, so they never drift from `--help`.

use std::path::Path;

use clap::CommandFactory;
use svcmodel_compiler::codes::Code;
use svcmodel_compiler::diagnostic::Diagnostic;

use crate::cli::Cli;
use crate::exit::Exit;
use crate::output;

pub fn completions(shell: clap_complete::Shell) -> Exit {
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "svcmodel", &mut std::io::stdout());
    Exit::Success
}

/// The main page to standard output, or every page into `out`.
pub fn man(out: Option<&Path>) -> Exit {
    let command = Cli::command();
    let written = match out {
        None => clap_mangen::Man::new(command).render(&mut std::io::stdout().lock()),
        Some(dir) => write_pages(&command, dir),
    };
    match written {
        Ok(()) => Exit::Success,
        Err(error) => {
            output::exit_if_closed_pipe(&error);
            output::failure(
                Diagnostic::error(
                    Code::CannotWrite,
                    format!(
                        "cannot write the man pages into `{}`: {error}",
                        out.map_or_else(|| "standard output".into(), |d| d.display().to_string())
                    ),
                )
                .help("choose a folder you can write with --out"),
            );
            Exit::Failure
        }
    }
}

/// `svcmodel.1`, then `svcmodel-COMMAND.1` for every command people use (and
/// `svcmodel-state-adopt.1` for the commands under `state`).
fn write_pages(command: &clap::Command, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    // A page is named `svcmodel-deploy`, and its synopsis shows how it is run:
    // `svcmodel deploy`.
    let page = |command: &clap::Command, words: &[&str]| {
        command
            .clone()
            .display_name(words.join("-"))
            .bin_name(words.join(" "))
    };
    let mut pages = vec![("svcmodel".to_string(), command.clone())];
    for sub in command.get_subcommands().filter(|c| !c.is_hide_set()) {
        let words = ["svcmodel", sub.get_name()];
        for nested in sub.get_subcommands().filter(|c| !c.is_hide_set()) {
            let words = [words[0], words[1], nested.get_name()];
            pages.push((words.join("-"), page(nested, &words)));
        }
        pages.push((words.join("-"), page(sub, &words)));
    }
    for (name, page) in pages {
        let mut text = Vec::new();
        clap_mangen::Man::new(page).render(&mut text)?;
        std::fs::write(dir.join(format!("{name}.1")), text)?;
    }
    Ok(())
}
