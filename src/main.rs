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
    quiet_on_closed_pipe();
    let cli = cli::Cli::parse();
    let code = commands::run(cli);
    std::process::exit(code.code());
}

/// `svcmodel schema check | head` closes standard output early: `println!` then panics
/// with "Broken pipe". A reader that stopped reading is not an error of svcmodel's, so
/// it ends quietly with the exit code a shell gives a process killed by SIGPIPE
/// (141), as other tools do. Any other panic keeps the default report.
fn quiet_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}
