//! The deploy orchestrator with an engine that updates in place (as Kubernetes does):
//! an update never stops the running revision first, what only the old revision held
//! is pruned once the new one is healthy, and a failed update goes back by applying
//! the previous revision over it.
//!
//! The engine here is an inventory in memory: it stands for no real platform and
//! tests only the orchestrator's order of calls. The Kubernetes engine itself needs a
//! cluster, which this machine does not have (docs/deploy.md says what is untested).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use svcmodel_deploy::deploy::{self, Desired, Engine, Mark, Options};
use svcmodel_deploy::state::{State, Store};

/// Objects by name, and every call in order. An engine id is `NAME@REVISION`.
#[derive(Default)]
struct Inventory {
    objects: Mutex<BTreeMap<String, String>>,
    calls: Mutex<Vec<String>>,
    /// Revisions whose health check fails.
    broken: Vec<String>,
}

impl Inventory {
    fn log(&self, call: String) {
        self.calls.lock().expect("not poisoned").push(call);
    }

    fn calls(&self) -> Vec<String> {
        std::mem::take(&mut *self.calls.lock().expect("not poisoned"))
    }
}

impl Engine for Inventory {
    fn start(&self, desired: &Desired, _mark: &Mark) -> Result<String, deploy::EngineError> {
        let revision = desired.spec["revision"].as_str().unwrap_or("?").to_string();
        let id = format!("{}@{revision}", desired.name);
        self.log(format!("apply {id}"));
        self.objects
            .lock()
            .expect("not poisoned")
            .insert(desired.name.clone(), revision);
        Ok(id)
    }

    fn stop(&self, engine_id: &str) -> Result<(), deploy::EngineError> {
        self.log(format!("delete {engine_id}"));
        let name = engine_id.split('@').next().unwrap_or_default();
        self.objects.lock().expect("not poisoned").remove(name);
        Ok(())
    }

    fn alive(&self, engine_id: &str) -> bool {
        let (name, revision) = engine_id.split_once('@').unwrap_or_default();
        self.objects.lock().expect("not poisoned").get(name) == Some(&revision.to_string())
    }

    fn wait_healthy(
        &self,
        id: &str,
        spec: &serde_json::Value,
        _: Duration,
    ) -> Result<(), deploy::EngineError> {
        self.check(id, spec)
    }

    fn check(&self, engine_id: &str, _spec: &serde_json::Value) -> Result<(), deploy::EngineError> {
        let revision = engine_id.split('@').nth(1).unwrap_or_default();
        if self.broken.iter().any(|b| b == revision) {
            Err(format!("{engine_id} is not ready").into())
        } else {
            Ok(())
        }
    }

    fn usage(&self, _: &str) -> Option<deploy::Usage> {
        None
    }

    fn in_place(&self) -> bool {
        true
    }

    fn prune(&self, old: &str, new: &str) {
        self.log(format!("prune {old} keeping {new}"));
    }
}

fn desired(name: &str, revision: &str) -> Desired {
    Desired {
        name: name.to_string(),
        instance: name.to_string(),
        service: name.to_string(),
        version: "1.0.0".to_string(),
        model_hash: revision.to_string(),
        spec: serde_json::json!({ "revision": revision, "env": { "REVISION": revision } }),
        wave: 0,
        secrets: Vec::new(),
    }
}

fn options() -> Options {
    Options {
        deadline: Duration::from_secs(1),
        rollback: true,
        delete: true,
        repair_unhealthy: false,
        redactor: Default::default(),
    }
}

#[test]
fn updates_apply_over_the_running_revision_and_prune_after_health() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let store = Store::new(dir.path());
    let mut state = State::new("prod", "kubernetes");
    let engine = Inventory::default();
    let no_hashes = BTreeMap::new();
    let run = |state: &mut State, revision: &str| {
        deploy::deploy(
            &store,
            state,
            &[desired("orders", revision)],
            &no_hashes,
            &engine,
            &options(),
            &|_| {},
        )
        .expect("the state saves")
    };

    assert!(run(&mut state, "r1").ok);
    assert_eq!(engine.calls(), ["apply orders@r1"]);

    assert!(run(&mut state, "r2").ok);
    assert_eq!(
        engine.calls(),
        ["apply orders@r2", "prune orders@r1 keeping orders@r2"],
        "an update never deletes the running revision first"
    );
    assert_eq!(state.services["orders"].engine_id, "orders@r2");

    assert!(run(&mut state, "r2").ok);
    assert!(
        engine.calls().is_empty(),
        "an unchanged model applies nothing"
    );
}

#[test]
fn a_failed_update_applies_the_previous_revision_back_and_a_failed_create_is_deleted() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let store = Store::new(dir.path());
    let mut state = State::new("prod", "kubernetes");
    let engine = Inventory {
        broken: vec!["r2".to_string()],
        ..Default::default()
    };
    let no_hashes = BTreeMap::new();
    let run = |state: &mut State, services: &[Desired]| {
        deploy::deploy(
            &store,
            state,
            services,
            &no_hashes,
            &engine,
            &options(),
            &|_| {},
        )
        .expect("the state saves")
    };

    assert!(run(&mut state, &[desired("orders", "r1")]).ok);
    engine.calls();

    let report = run(
        &mut state,
        &[desired("orders", "r2"), desired("stock", "r2")],
    );
    assert!(!report.ok && report.rolled_back);
    let mut calls = engine.calls();
    // The two services of the wave run in parallel: their calls interleave.
    calls.sort();
    assert_eq!(
        calls,
        [
            "apply orders@r1",
            "apply orders@r2",
            "apply stock@r2",
            "delete stock@r2",
            "prune orders@r2 keeping orders@r1",
        ],
        "orders goes back to r1 by an apply, stock (new) is deleted"
    );
    assert_eq!(state.services["orders"].engine_id, "orders@r1");
    assert!(!state.services.contains_key("stock"));
    assert_eq!(
        engine.objects.lock().expect("not poisoned").clone(),
        BTreeMap::from([("orders".to_string(), "r1".to_string())])
    );
    let saved = store
        .load("prod")
        .expect("the state parses")
        .expect("the state exists");
    assert_eq!(saved.services["orders"].engine_id, "orders@r1");
}

/// A start whose record cannot be saved fails that start: the wave is rolled back, so
/// nothing runs that the state does not record. The engine here makes the state file
/// unwritable the moment it starts something (a folder where the file goes).
#[test]
fn a_start_that_cannot_be_recorded_fails_and_is_rolled_back() {
    struct Sabotage<'a> {
        inner: Inventory,
        state_file: &'a std::path::Path,
    }
    impl Engine for Sabotage<'_> {
        fn start(&self, desired: &Desired, mark: &Mark) -> Result<String, deploy::EngineError> {
            let _ = std::fs::remove_file(self.state_file);
            std::fs::create_dir_all(self.state_file.join("blocked")).expect("a folder");
            self.inner.start(desired, mark)
        }
        fn stop(&self, engine_id: &str) -> Result<(), deploy::EngineError> {
            self.inner.stop(engine_id)
        }
        fn alive(&self, engine_id: &str) -> bool {
            self.inner.alive(engine_id)
        }
        fn wait_healthy(
            &self,
            id: &str,
            spec: &serde_json::Value,
            d: Duration,
        ) -> Result<(), deploy::EngineError> {
            self.inner.wait_healthy(id, spec, d)
        }
        fn check(&self, id: &str, spec: &serde_json::Value) -> Result<(), deploy::EngineError> {
            self.inner.check(id, spec)
        }
        fn usage(&self, _: &str) -> Option<deploy::Usage> {
            None
        }
    }
    let dir = tempfile::tempdir().expect("a temporary folder");
    let store = Store::new(dir.path());
    let state_file = store.state_path("prod");
    let engine = Sabotage {
        inner: Inventory::default(),
        state_file: &state_file,
    };
    let mut state = State::new("prod", "local");
    let result = deploy::deploy(
        &store,
        &mut state,
        &[desired("orders", "r1")],
        &BTreeMap::new(),
        &engine,
        &options(),
        &|_| {},
    );
    // The run ends in an error or a failed report; either way nothing runs unrecorded.
    if let Ok(report) = &result {
        assert!(!report.ok, "{report:?}");
        let message = report.outcomes[0].message.as_deref().unwrap_or_default();
        assert!(message.contains("cannot be recorded"), "{message}");
    }
    assert_eq!(
        engine.inner.calls(),
        ["apply orders@r1", "delete orders@r1"],
        "what could not be recorded is stopped again"
    );
    assert!(
        engine
            .inner
            .objects
            .lock()
            .expect("not poisoned")
            .is_empty()
    );
}
