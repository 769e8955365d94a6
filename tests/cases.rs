//! UI tests: every folder under `tests/cases/` is a small project. Its `main.svc` starts
//! with a comment line `# args: ...` giving the command (default `check main.svc`);
//! the exit code, stdout and stderr are snapshot-tested.

// Tests may unwrap: a failure is the test failing.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;

fn args_of(dir: &Path) -> Vec<String> {
    let main = std::fs::read_to_string(dir.join("main.svc")).unwrap_or_default();
    match main.lines().next().and_then(|l| l.strip_prefix("# args:")) {
        Some(args) => args.split_whitespace().map(str::to_string).collect(),
        None => vec!["check".to_string(), "main.svc".to_string()],
    }
}

#[test]
fn cases() {
    let root = support::repo().join("tests/cases");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .expect("tests/cases exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(
        dirs.len() >= 10,
        "expected the case folders, found {}",
        dirs.len()
    );
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let args = args_of(&dir);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = support::svcmodel(&dir, &args);
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(support::repo().join("tests/snapshots/cases"));
        settings.set_prepend_module_to_snapshot(false);
        settings.set_description(format!("svcmodel {}", args.join(" ")));
        settings.bind(|| insta::assert_snapshot!(name, output.transcript()));
    }
}
