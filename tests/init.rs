//! `svcmodel init`: a first project that checks, is formatted, renders for every
//! target, and deploys on `local` as it is, through the real binary.

// Tests may unwrap: a failure is the test failing.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;

use support::svcmodel;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    reply
}

/// Destroys what a test deployed, even when it fails.
struct Deployed<'a>(&'a Path);

impl Drop for Deployed<'_> {
    fn drop(&mut self) {
        let _ = svcmodel(self.0, &["destroy", "--yes", "project"]);
    }
}

#[test]
fn init_then_deploy_runs_a_first_service_on_a_fresh_folder() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port().to_string();
    let init = svcmodel(dir.path(), &["init", "project", "--port", &port]);
    assert_eq!(init.code, 0, "{}", init.transcript());
    assert!(
        init.stderr.contains("svcmodel deploy -e local project"),
        "{}",
        init.stderr
    );
    for command in [&["check", "project"][..], &["fmt", "--check", "project"]] {
        let output = svcmodel(dir.path(), command);
        assert_eq!(output.code, 0, "{command:?}: {}", output.transcript());
    }

    let _deployed = Deployed(dir.path());
    // -v: each engine operation as it runs.
    let deploy = svcmodel(dir.path(), &["-v", "deploy", "-e", "local", "project"]);
    assert_eq!(deploy.code, 0, "{}", deploy.transcript());
    assert!(
        deploy.stderr.contains(
            "engine: start process group python3 -m http.server --bind 127.0.0.1 --directory public"
        ),
        "{}",
        deploy.stderr
    );
    assert!(
        deploy
            .stderr
            .contains("read, checked and resolved 1 model file"),
        "{}",
        deploy.stderr
    );
    let port: u16 = port.parse().unwrap();
    assert!(get(port, "/").contains("hello from svcmodel"));
    // It serves its own folder, never the project's state and key.
    assert!(get(port, "/.svcmodel/key").starts_with("HTTP/1.0 404"));
    let status = svcmodel(dir.path(), &["reconcile", "-e", "local", "project"]);
    assert_eq!(status.code, 0, "{}", status.transcript());
    // -q: nothing but errors on standard error.
    let destroy = svcmodel(
        dir.path(),
        &["-q", "destroy", "-e", "local", "--yes", "project"],
    );
    assert_eq!(destroy.code, 0, "{}", destroy.transcript());
    assert_eq!(destroy.stderr, "", "quiet");

    // A second init never overwrites.
    let again = svcmodel(dir.path(), &["init", "project"]);
    assert_eq!(again.code, 4, "{}", again.transcript());
    assert!(again.stderr.contains("error[E0205]"), "{}", again.stderr);
}

#[test]
fn init_writes_a_project_every_target_renders() {
    for target in ["kubernetes", "compose", "swarm", "nomad", "systemd"] {
        let dir = tempfile::tempdir().unwrap();
        let init = svcmodel(dir.path(), &["init", "--target", target]);
        assert_eq!(init.code, 0, "{target}: {}", init.transcript());
        let model = std::fs::read_to_string(dir.path().join("main.svc")).unwrap();
        assert!(
            model.contains(&format!("target      = \"{target}\"")),
            "{model}"
        );
        for command in [&["check"][..], &["fmt", "--check"], &["render", "--stdout"]] {
            let output = svcmodel(dir.path(), command);
            assert_eq!(
                output.code,
                0,
                "{target} {command:?}: {}",
                output.transcript()
            );
            assert!(
                !output.stderr.contains("error"),
                "{target} {command:?}: {}",
                output.stderr
            );
        }
    }
    let unknown = svcmodel(
        tempfile::tempdir().unwrap().path(),
        &["init", "--target", "ecs"],
    );
    assert_eq!(unknown.code, 2, "{}", unknown.transcript());
    assert!(
        unknown.stderr.contains("error[E0508]"),
        "{}",
        unknown.stderr
    );
}
