//! Every command's `--format json` output against its published schema in
//! `docs/schema/`, on the examples: check, fmt, why, impact, lock, explain, and plan,
//! status, reconcile, destroy and state unlock without anything running.
//!
//! The others are checked where they run: compile, graph and render in
//! tests/system.rs; place, risk and slo in tests/place.rs. deploy needs services that
//! start, so tests/deploy.rs checks it (with status, reconcile and destroy while the
//! shop runs) on real processes.

// Tests may unwrap: a failure is the test failing.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;

use support::{Output, Project, repo, svcmodel, validate};

fn parse(output: &Output) -> serde_json::Value {
    serde_json::from_str(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}):\n{}",
            output.transcript()
        )
    })
}

/// Runs svcmodel in `dir`, checks the exit code and the output against `schema`.
fn run(dir: &Path, args: &[&str], code: i32, schema: &str) -> serde_json::Value {
    let output = svcmodel(dir, args);
    assert_eq!(output.code, code, "{args:?}:\n{}", output.transcript());
    let json = parse(&output);
    validate(schema, &json);
    // The deploying commands' shapes became version 2 when they took several
    // environments at once.
    let version = match schema {
        "plan" | "deploy" | "status" | "reconcile" | "destroy" => 2,
        _ => 1,
    };
    assert_eq!(json["format"], version, "{args:?}: no `format` field");
    json
}

fn examples() -> std::path::PathBuf {
    repo().join("examples")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The example shop (and the ECS templates its `cloud` environment needs) in a
/// temporary project, so that its `.svcmodel/` state and lockfile are its own.
fn shop_copy() -> Project {
    let project = Project::new();
    project.file("svcmodel.toml", "");
    copy_dir(&examples().join("shop"), &project.path().join("shop"));
    copy_dir(
        &examples().join("templates"),
        &project.path().join("templates"),
    );
    project
}

#[test]
fn check_json_matches_its_schema() {
    for example in ["bank", "shop"] {
        let output = svcmodel(&examples(), &["check", "--format", "json", example]);
        assert_eq!(output.code, 0, "{}", output.transcript());
        let json = parse(&output);
        validate("check", &json);
        assert_eq!(json["ok"], true);
        assert!(json["services"].as_u64().unwrap() > 0);
    }
    // A model with errors: the same shape, the diagnostics in it.
    let project = Project::new();
    project.file("main.svc", "service \"orders\" {\n  version = \"1.0.0\"\n");
    let output = project.run(&["check", "--format", "json", "main.svc"]);
    assert_eq!(output.code, 1, "{}", output.transcript());
    assert!(output.stderr.is_empty(), "{}", output.stderr);
    let json = parse(&output);
    validate("check", &json);
    assert_eq!(json["ok"], false);
    assert!(!json["diagnostics"].as_array().unwrap().is_empty());
}

#[test]
fn why_and_impact_json_match_their_schemas() {
    let why = run(
        &examples(),
        &["why", "--format", "json", "postgres", "bank"],
        0,
        "why",
    );
    let systems = why["systems"].as_array().unwrap();
    assert_eq!(systems.len(), 3, "one per environment of the bank");
    let test = systems
        .iter()
        .find(|s| s["environment"] == "aws-test")
        .unwrap();
    let postgres = &test["instances"][0];
    assert_eq!(postgres["version"], "16.2.0");
    assert_eq!(postgres["version_reason"]["choice"], "locked");
    assert_eq!(
        postgres["version_reason"]["policies"][0]["policy"],
        "postgres-16-in-test"
    );
    assert!(
        postgres["chains"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!(["web-banking", "accounts", "postgres"]))
    );
    let redis = run(
        &examples(),
        &[
            "why",
            "--format",
            "json",
            "redis",
            "-e",
            "dc-frankfurt",
            "bank",
        ],
        0,
        "why",
    );
    assert_eq!(
        redis["systems"][0]["instances"].as_array().unwrap().len(),
        2
    );
    run(
        &examples(),
        &["why", "--format", "json", "products", "shop"],
        0,
        "why",
    );

    let impact = run(
        &examples(),
        &[
            "impact", "--format", "json", "postgres", "-e", "aws-test", "bank",
        ],
        0,
        "impact",
    );
    let affected = &impact["systems"][0]["instances"][0]["affected"];
    assert!(
        affected
            .as_array()
            .unwrap()
            .contains(&serde_json::json!({"name": "web-banking", "distance": 2})),
        "{affected}"
    );
    run(
        &examples(),
        &["impact", "--format", "json", "storefront", "shop"],
        0,
        "impact",
    );

    // A name that is not part of the system is a usage error (exit 2), reported as
    // the coded JSON report.
    let unknown = svcmodel(
        &examples(),
        &["why", "--format", "json", "postgress", "bank"],
    );
    assert_eq!(unknown.code, 2, "{}", unknown.transcript());
    let report: serde_json::Value = serde_json::from_str(&unknown.stdout).unwrap();
    assert_eq!(
        report["diagnostics"][0]["code"], "E0501",
        "{}",
        unknown.stdout
    );
    assert_eq!(report["diagnostics"][0]["help"], "did you mean `postgres`?");
}

#[test]
fn explain_json_matches_its_schema() {
    let one = run(
        &examples(),
        &["explain", "--format", "json", "E0402"],
        0,
        "explain",
    );
    assert_eq!(one["code"], "E0402");
    assert!(one["wrong"].as_str().unwrap().contains("512MB"));
    assert!(one["right"].as_str().unwrap().contains("512Mi"));
    let list = run(
        &examples(),
        &["explain", "--list", "--format", "json"],
        0,
        "explain",
    );
    let human = svcmodel(&examples(), &["explain", "--list"]);
    assert_eq!(
        list["codes"].as_array().unwrap().len(),
        human.stdout.lines().count()
    );
    let unknown = svcmodel(&examples(), &["explain", "--format", "json", "E9999"]);
    assert_eq!(unknown.code, 2, "{}", unknown.transcript());
}

#[test]
fn lock_json_says_what_it_wrote() {
    let project = shop_copy();
    std::fs::remove_file(project.path().join("shop/svcmodel.lock")).unwrap();
    let first = run(
        project.path(),
        &["lock", "--format", "json", "shop"],
        0,
        "lock",
    );
    assert_eq!(first["written"], true);
    assert_eq!(first["lockfile"], "shop/svcmodel.lock");
    assert_eq!(
        first["pins"].as_array().unwrap().len(),
        10,
        "5 services in 2 environments"
    );
    let again = run(
        project.path(),
        &["lock", "--format", "json", "shop"],
        0,
        "lock",
    );
    assert_eq!(again["written"], false);
    assert_eq!(again["pins"], first["pins"]);
}

#[test]
fn fmt_json_lists_every_file() {
    let project = Project::new();
    let clean = "service \"orders\" {\n  version = \"1.0.0\"\n}\n";
    project.file("clean.svc", clean).file(
        "messy.svc",
        "service  \"orders\"   {\n    version=\"1.0.0\"\n}\n",
    );
    let check = run(
        project.path(),
        &["fmt", "--check", "--format", "json", "."],
        3,
        "fmt",
    );
    assert_eq!(check["check"], true);
    assert_eq!(
        check["files"],
        serde_json::json!([
            {"path": "clean.svc", "unformatted": false, "changed": false, "diagnostics": [], "error": null},
            {"path": "messy.svc", "unformatted": true, "changed": false, "diagnostics": [], "error": null},
        ])
    );
    let fix = run(project.path(), &["fmt", "--format", "json", "."], 0, "fmt");
    assert_eq!(fix["files"][1]["changed"], true);
    assert_eq!(project.read("messy.svc"), clean);

    // A file with syntax errors is left untouched; its diagnostics are in the JSON.
    project.file("broken.svc", "service \"orders\" {\n");
    let broken = run(project.path(), &["fmt", "--format", "json", "."], 1, "fmt");
    assert!(broken["files"][0]["diagnostics"][0]["code"].is_string());
    assert!(
        broken["files"][2]["diagnostics"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn plan_status_reconcile_destroy_and_unlock_json_without_anything_running() {
    // plan needs no engine: the bank's aws-test (Docker) environment, never deployed.
    let plan = run(
        &examples(),
        &["plan", "-e", "aws-test", "--format", "json", "bank"],
        0,
        "plan",
    );
    assert!(
        plan["environments"][0]["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["action"] == "create")
    );

    // The shop's local environment, with no recorded state: nothing runs, nothing starts.
    let project = shop_copy();
    let status = run(
        project.path(),
        &["status", "-e", "local", "--format", "json", "shop"],
        0,
        "status",
    );
    assert_eq!(status["environments"][0]["serial"], serde_json::Value::Null);
    assert_eq!(
        status["environments"][0]["services"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    assert!(
        status["environments"][0]["services"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["running"] == false && s["configuration"] == "not deployed")
    );
    let reconcile = run(
        project.path(),
        &["reconcile", "-e", "local", "--format", "json", "shop"],
        5,
        "reconcile",
    );
    let drift = reconcile["environments"][0]["drift"].as_array().unwrap();
    assert_eq!(drift.len(), 5);
    assert!(
        drift
            .iter()
            .all(|d| d["kind"] == "missing" && d["diagnostic"]["code"] == "E0801")
    );
    let destroy = run(
        project.path(),
        &[
            "destroy", "-e", "local", "--yes", "--format", "json", "shop",
        ],
        0,
        "destroy",
    );
    assert_eq!(destroy["environments"][0]["removed"], serde_json::json!([]));

    // A lock left by a run on another machine.
    project.file(
        ".svcmodel/state/local.lock",
        r#"{"id": "0123456789ab", "environment": "local", "operation": "deploy", "who": "ci", "pid": 1, "host": "build-agent-7", "since": 0}"#,
    );
    let unlock = run(
        project.path(),
        &["state", "unlock", "0123456789ab", "--format", "json"],
        0,
        "state-unlock",
    );
    assert_eq!(unlock["released"]["host"], "build-agent-7");
    let again = project.run(&["state", "unlock", "0123456789ab", "--format", "json"]);
    assert_eq!(again.code, 2, "{}", again.transcript());
}
