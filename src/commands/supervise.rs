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
    let redactor = redactor();
    let mut delay = Duration::from_secs(1);
    loop {
        let started = Instant::now();
        let status = match run_once(program, args, &redactor) {
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

/// The secret values this service was given (the variables the local engine names in
/// `SVCMODEL_REDACT`), to mask in what it writes.
fn redactor() -> Option<svcmodel_deploy::secrets::Redactor> {
    let names = std::env::var(svcmodel_deploy::local::REDACT_VARIABLE).ok()?;
    let values: Vec<String> = names
        .split(',')
        .filter_map(|name| std::env::var(name).ok())
        .collect();
    let redactor = svcmodel_deploy::secrets::Redactor::new(values);
    (!redactor.is_empty()).then_some(redactor)
}

/// Runs the program once. Without secrets its output goes straight to the log; with
/// them, each line passes through the redactor first.
fn run_once(
    program: &str,
    args: &[String],
    redactor: &Option<svcmodel_deploy::secrets::Redactor>,
) -> std::io::Result<std::process::ExitStatus> {
    let Some(redactor) = redactor else {
        return Command::new(program).args(args).status();
    };
    use std::process::Stdio;
    let mut child = Command::new(program)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let relay = |from: Option<Box<dyn std::io::Read + Send>>, to_stderr: bool| {
        let redactor = redactor.clone();
        std::thread::spawn(move || {
            use std::io::{BufRead, Write};
            let Some(from) = from else { return };
            let mut reader = std::io::BufReader::new(from);
            let mut line = Vec::new();
            while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                let text = redactor.redact(&String::from_utf8_lossy(&line));
                let written = if to_stderr {
                    std::io::stderr().write_all(text.as_bytes())
                } else {
                    std::io::stdout().write_all(text.as_bytes())
                };
                if written.is_err() {
                    return;
                }
                line.clear();
            }
        })
    };
    let out = relay(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        false,
    );
    let err = relay(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        true,
    );
    let status = child.wait();
    let _ = out.join();
    let _ = err.join();
    status
}
