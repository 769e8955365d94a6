//! Reconcile against an engine in memory: every kind of drift, each pointing where the
//! model declares what was expected, and tuning advice from the usage an engine reports.
//! The CLI tests (tests/deploy.rs) meet the same on real processes.

// Tests may unwrap: a failure is the test failing.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use svcmodel_compiler::compile_system_str;
use svcmodel_deploy::deploy::{self, Desired, Engine, Mark};
use svcmodel_deploy::reconcile::{self, DriftKind};
use svcmodel_deploy::state::{ServiceRecord, State};
use svcmodel_targets::builtin;
use svcmodel_targets::view::Input;

const MODEL: &str = r#"
environment "dev" {
  target = "local"
}

service "api" {
  version = "2.0.0"
  run local {
    command = ["./bin/api"]
  }
  param "workers" { type = int, default = 4 }
  config {
    env "WORKERS" = param.workers
  }
  provides "http" { port = 8080, protocol = "http" }
  health { http = "http", path = "/healthz" }
  resources { cpu = 500m, memory = 256Mi }
}

service "worker" {
  version = "1.0.0"
  run local {
    command = ["./bin/worker"]
  }
  requires "api"
}
"#;

/// What runs, by engine id: alive or not, healthy or not, and its usage.
#[derive(Default)]
struct Memory {
    alive: BTreeSet<String>,
    unhealthy: BTreeMap<String, String>,
    usage: BTreeMap<String, deploy::Usage>,
}

impl Engine for Memory {
    fn start(&self, _: &Desired, _: &Mark) -> Result<String, deploy::EngineError> {
        Err("reconcile never starts anything".to_string().into())
    }
    fn stop(&self, _: &str) -> Result<(), deploy::EngineError> {
        Err("reconcile never stops anything".to_string().into())
    }
    fn alive(&self, engine_id: &str) -> bool {
        self.alive.contains(engine_id)
    }
    fn wait_healthy(
        &self,
        id: &str,
        spec: &serde_json::Value,
        _: Duration,
    ) -> Result<(), deploy::EngineError> {
        self.check(id, spec)
    }
    fn check(&self, engine_id: &str, _: &serde_json::Value) -> Result<(), deploy::EngineError> {
        match self.unhealthy.get(engine_id) {
            Some(why) => Err(why.clone().into()),
            None => Ok(()),
        }
    }
    fn usage(&self, engine_id: &str) -> Option<deploy::Usage> {
        self.usage.get(engine_id).copied()
    }
}

/// The model's desired services, and a state recording each of them as deployed
/// exactly so, with engine id `ID-NAME`.
fn setup(model: &str) -> (svcmodel_compiler::SystemCompilation, Vec<Desired>, State) {
    let compilation = compile_system_str("main.svc", model);
    assert!(!compilation.has_errors(), "{:?}", compilation.diagnostics);
    let system = &compilation.resolution.as_ref().unwrap().systems[0];
    let target = builtin::built_in("local").unwrap();
    let input = Input {
        model: &compilation.model,
        system,
        file_dirs: &[],
        root_dir: "",
        template_files: &Default::default(),
        only: &[],
        placed: None,
    };
    let mut problems = Vec::new();
    let view = svcmodel_targets::view::build(&input, &target.manifest, &mut problems);
    assert!(problems.iter().all(|p| p.warning), "{problems:?}");
    let desired = deploy::desired_local(&view.services, &deploy::wave_names(system));
    let mut state = State::new("dev", "local");
    for d in &desired {
        state.services.insert(
            d.name.clone(),
            ServiceRecord {
                service: d.service.clone(),
                version: d.version.clone(),
                model_hash: d.model_hash.clone(),
                engine_id: format!("ID-{}", d.name),
                spec: d.spec.clone(),
                revision: 1,
                deployed_at: svcmodel_deploy::state::now(),
            },
        );
    }
    (compilation, desired, state)
}

fn drifts(
    compilation: &svcmodel_compiler::SystemCompilation,
    desired: &[Desired],
    state: Option<&State>,
    engine: &Memory,
) -> Vec<reconcile::Drift> {
    let system = &compilation.resolution.as_ref().unwrap().systems[0];
    let hashes = BTreeMap::new();
    let moved = BTreeMap::new();
    let input = reconcile::Input {
        model: &compilation.model,
        system,
        environment: "dev",
        target: "local",
        desired,
        hashes: &hashes,
        moved: &moved,
    };
    reconcile::drifts(&input, state, engine)
}

/// The text a span covers in the model.
fn at(span: svcmodel_model::Span) -> &'static str {
    &MODEL[span.start as usize..span.end as usize]
}

fn running() -> Memory {
    Memory {
        alive: ["ID-api", "ID-worker"].map(String::from).into(),
        ..Default::default()
    }
}

#[test]
fn what_runs_as_modelled_has_no_drift() {
    let (compilation, desired, state) = setup(MODEL);
    assert_eq!(drifts(&compilation, &desired, Some(&state), &running()), []);
}

#[test]
fn nothing_deployed_is_missing_at_each_declaration() {
    let (compilation, desired, _) = setup(MODEL);
    let found = drifts(&compilation, &desired, None, &running());
    let kinds: Vec<(&str, DriftKind, &str)> = found
        .iter()
        .map(|d| (d.service.as_str(), d.kind, at(d.labels[0].0)))
        .collect();
    assert_eq!(
        kinds,
        [
            ("api", DriftKind::Missing, "\"api\""),
            ("worker", DriftKind::Missing, "\"worker\"")
        ]
    );
}

#[test]
fn stopped_unhealthy_and_extra_services_are_told_apart() {
    let (compilation, desired, mut state) = setup(MODEL);
    let mut engine = running();
    engine.alive.remove("ID-worker");
    engine
        .unhealthy
        .insert("ID-api".to_string(), "HTTP 503".to_string());
    let mut gone = state.services["worker"].clone();
    gone.engine_id = "ID-old".to_string();
    state.services.insert("old".to_string(), gone);
    let found = drifts(&compilation, &desired, Some(&state), &engine);
    let kinds: Vec<(&str, DriftKind)> =
        found.iter().map(|d| (d.service.as_str(), d.kind)).collect();
    assert_eq!(
        kinds,
        [
            ("api", DriftKind::Unhealthy),
            ("worker", DriftKind::Stopped),
            ("old", DriftKind::Extra)
        ]
    );
    assert!(
        found[0].message.contains("HTTP 503"),
        "{}",
        found[0].message
    );
    assert_eq!(
        at(found[0].labels[0].0),
        "health { http = \"http\", path = \"/healthz\" }"
    );
    assert!(
        found[1].help.contains(".svcmodel/logs/dev/worker.log"),
        "{}",
        found[1].help
    );
    assert!(found[2].labels.is_empty());
}

#[test]
fn a_changed_value_and_version_point_at_their_declarations() {
    let (compilation, desired, mut state) = setup(MODEL);
    let api = state.services.get_mut("api").unwrap();
    api.version = "1.9.0".to_string();
    api.spec["env"]["WORKERS"] = "2".into();
    let found = drifts(&compilation, &desired, Some(&state), &running());
    let kinds: Vec<DriftKind> = found.iter().map(|d| d.kind).collect();
    assert_eq!(kinds, [DriftKind::VersionChanged, DriftKind::ConfigChanged]);
    assert_eq!(at(found[0].labels[0].0), "\"2.0.0\"");
    assert!(
        found[1]
            .message
            .contains("env.WORKERS is 2 where it runs, the model wants 4"),
        "{}",
        found[1].message
    );
    // The value comes from the parameter's default: the label is on it.
    assert_eq!(at(found[1].labels[0].0), "4");
}

#[test]
fn advice_follows_the_usage_the_engine_reports() {
    let (compilation, _, mut state) = setup(MODEL);
    let system = &compilation.resolution.as_ref().unwrap().systems[0];
    // 250 MiB of 256 Mi, and 0.5 cores of 500m for an hour.
    let mut engine = running();
    engine.usage.insert(
        "ID-api".to_string(),
        deploy::Usage {
            memory_bytes: 250 << 20,
            cpu_seconds: 1800.0,
        },
    );
    state.services.get_mut("api").unwrap().deployed_at = svcmodel_deploy::state::now() - 3600;
    let advice = reconcile::advice(system, Some(&state), &engine);
    let lines: Vec<(&str, &str, &str, &str)> = advice
        .iter()
        .map(|a| {
            (
                a.service.as_str(),
                a.resource,
                a.declared.as_str(),
                a.advised.as_str(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("api", "memory", "256Mi", "375Mi"),
            ("api", "cpu", "500m", "750m")
        ]
    );
    assert_eq!(at(advice[0].span.unwrap()), "256Mi");
}
