//! `svcmodel supervise --restart POLICY -- PROGRAM ARGS...`: what the local engine
//! runs for each service, so the model's restart policy holds for processes too.
//!
//! It runs the program (same environment, folder and output) and, when it ends,
//! starts it again as the policy says: `always` whatever the exit, `on_failure` unless
//! it exited 0, `never` not at all. Restarts back off from 1 s to 30 s, and the delay
//! resets once the program has run for a minute. The supervisor and the program share
//! a process group, so stopping the service (SIGTERM to the group) ends both; the
//! supervisor needs no signal handler for that.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::exit::Exit;

pub fn run(restart: &str, command: &[String]) -> Exit {
    let Some((program, args)) = command.split_first() else {
        eprintln!("svcmodel supervise: no command");
        return Exit::Usage;
    };
    if !matches!(restart, "always" | "on_failure" | "never") {
        eprintln!("svcmodel supervise: unknown restart policy `{restart}`");
        return Exit::Usage;
    }
    let mut delay = Duration::from_secs(1);
    loop {
        let started = Instant::now();
        let status = match Command::new(program).args(args).status() {
            Ok(status) => status,
            Err(e) => {
                eprintln!("svcmodel supervise: cannot start `{program}`: {e}");
                return Exit::Failure;
            }
        };
        let again = match restart {
            "always" => true,
            "on_failure" => !status.success(),
            _ => false,
        };
        if !again {
            return if status.success() {
                Exit::Success
            } else {
                Exit::Failure
            };
        }
        if started.elapsed() > Duration::from_secs(60) {
            delay = Duration::from_secs(1);
        }
        eprintln!(
            "svcmodel supervise: `{program}` ended ({status}); restarting in {} s (restart = \"{restart}\")",
            delay.as_secs()
        );
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_secs(30));
    }
}
