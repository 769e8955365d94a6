//! Shell completions and man pages, as a shell and `man` use them.

// Tests may unwrap: a failure is the test failing.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;

use support::{repo, svcmodel};

/// The commands people use, as `svcmodel --help` lists them.
fn commands() -> Vec<String> {
    let help = svcmodel(&repo(), &["--help"]);
    assert_eq!(help.code, 0);
    help.stdout
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        // A wrapped description goes on further indented.
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

/// What bash offers after `line` (the word being completed last), with the script
/// `svcmodel completions bash` prints loaded.
fn bash_completes(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let words: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}'; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE=\"${{COMP_WORDS[*]}}\"; COMP_POINT=${{#COMP_LINE}}; _svcmodel svcmodel \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        words.join(" "),
        words.len() - 1
    );
    let output = Command::new("bash")
        .args(["--norc", "-c", &program])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completes_commands_flags_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let bash = svcmodel(&repo(), &["completions", "bash"]);
    assert_eq!(bash.code, 0, "{}", bash.stderr);
    let script = dir.path().join("svcmodel.bash");
    std::fs::write(&script, &bash.stdout).unwrap();
    let check = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert!(check.status.success(), "not valid bash");

    let offered = bash_completes(&script, &["svcmodel", "de"]);
    assert!(offered.contains(&"deploy".to_string()), "{offered:?}");
    assert!(offered.contains(&"destroy".to_string()), "{offered:?}");
    assert!(!offered.contains(&"plan".to_string()), "{offered:?}");
    let flags = bash_completes(&script, &["svcmodel", "plan", "--op"]);
    assert_eq!(flags, ["--operations"]);
    let formats = bash_completes(&script, &["svcmodel", "reconcile", "--format", ""]);
    for format in ["human", "json", "markdown", "junit"] {
        assert!(formats.contains(&format.to_string()), "{formats:?}");
    }
}

#[test]
fn every_shell_gets_every_command() {
    let commands = commands();
    assert!(commands.len() > 20, "{commands:?}");
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let script = svcmodel(&repo(), &["completions", shell]);
        assert_eq!(script.code, 0, "{shell}: {}", script.stderr);
        for command in &commands {
            assert!(
                script.stdout.contains(command.as_str()),
                "{shell} does not complete `{command}`"
            );
        }
    }
    let unknown = svcmodel(&repo(), &["completions", "tcsh"]);
    assert_eq!(unknown.code, 2);
}

/// The flags every command takes, documented once on the main page.
const GLOBAL: [&str; 3] = ["--color", "--quiet", "--verbose"];

/// `man -l PAGE`, as a reader sees it, and what `man` warned about.
fn read_page(page: &std::path::Path) -> (String, String) {
    let output = Command::new("man")
        .arg("-l")
        .arg(page)
        .env("MANWIDTH", "100")
        .env("MANPAGER", "cat")
        .env("GROFF_NO_SGR", "1")
        .output()
        .unwrap();
    assert!(output.status.success(), "man -l {}", page.display());
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn man_pages_cover_every_command_and_flag() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man1");
    let written = svcmodel(&repo(), &["man", "--out", out.to_str().unwrap()]);
    assert_eq!(written.code, 0, "{}", written.stderr);

    let (main, warnings) = read_page(&out.join("svcmodel.1"));
    assert_eq!(warnings, "");
    assert!(
        main.contains("svcmodel - Model a system of services"),
        "{main}"
    );
    // The global flags are on the main page; each command's page has its own flags.
    for global in GLOBAL {
        assert!(main.contains(global), "{global}: {main}");
    }
    for command in commands() {
        let page = out.join(format!("svcmodel-{command}.1"));
        assert!(page.is_file(), "no page for `{command}`");
        let (text, warnings) = read_page(&page);
        assert_eq!(warnings, "", "{command}");
        assert!(
            text.contains(&format!("svcmodel {command}")),
            "the synopsis of `{command}` shows how it is run:\n{text}"
        );
        let help = svcmodel(&repo(), &[command.as_str(), "--help"]);
        let flags: Vec<&str> = help
            .stdout
            .split_whitespace()
            .filter(|w| w.starts_with("--") && w.len() > 2)
            .filter(|w| !GLOBAL.iter().any(|g| w.starts_with(g)))
            .map(|w| w.trim_end_matches([',', '.', ')', '`']))
            .collect();
        for flag in flags {
            let name = flag.split(['=', '[', '<']).next().unwrap();
            assert!(
                text.contains(name),
                "the page of `{command}` lacks `{name}`"
            );
        }
    }
    assert!(out.join("svcmodel-state-adopt.1").is_file());
    assert!(
        !out.join("svcmodel-supervise.1").exists(),
        "hidden commands have no page"
    );

    // Without --out, the main page goes to standard output.
    let page = svcmodel(&repo(), &["man"]);
    assert!(page.stdout.contains(".TH svcmodel 1"), "{}", page.stdout);
}
