//! The `svcmodel` command line: argument parsing and dispatch; each command lives in
//! `commands/`. Only this crate (and, later, the deployers) touches the outside world.

mod cli;
mod commands;
mod exit;
mod fs_loader;
mod output;
mod view;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    let code = commands::run(cli);
    std::process::exit(code as i32);
}
