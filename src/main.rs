//! The `svcmodel` command line: argument parsing and dispatch; each command lives in
//! `commands/`. Only this crate (and, later, the deployers) touches the outside world.

mod cli;
mod commands;
mod exit;
mod fs_loader;
mod output;
mod view;

use clap::Parser;

/// The compiler allocates many small nodes; mimalloc makes large models compile
/// markedly faster than the system allocator (see `cargo bench`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = cli::Cli::parse();
    let code = commands::run(cli);
    std::process::exit(code as i32);
}
