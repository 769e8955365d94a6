//! `cargo bench -p svcmodel-deploy --bench deploy`:
//!
//! 1. Deploying 50 local services in 5 waves of 10 (each service requires the whole
//!    wave before it; each is the example shop's demo service, health-checked over
//!    HTTP), against the critical path of their health checks: the sum over the waves
//!    of the slowest service's time to healthy. What deploy adds is the difference.
//! 2. The same 50 services as a landscape of two environments (each wave half in
//!    each, so every wave waits for the other environment's previous one), deployed
//!    in one run across both: what the waves across environments add.
//! 3. Observing 1,000 recorded services as `reconcile` does: the plan against the
//!    model, then for each record whether its process runs and a TCP health check.
//!
//! `BENCH_RUNS=3` sets the runs of each part. Needs python3 (the demo service).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use svcmodel_deploy::deploy::{self, Desired, Engine, Event, Options, Outcome};
use svcmodel_deploy::local::LocalEngine;
use svcmodel_deploy::state::{ServiceRecord, State, Store};
use svcmodel_targets::view::Input;

fn no_secrets(_: &str) -> Option<String> {
    None
}

fn model(waves: usize, per_wave: usize, base_port: u16) -> String {
    let demo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/shop/bin/demo-service");
    let demo = demo.to_string_lossy();
    let mut text = String::from("environment \"bench\" {\n  target = \"local\"\n}\n\n");
    for w in 0..waves {
        for k in 0..per_wave {
            let port = base_port + (w * per_wave + k) as u16;
            text.push_str(&format!(
                "service \"s{w}-{k}\" {{\n  version = \"1.0.0\"\n  run local {{\n    command = [\"{demo}\", \"--name=${{self.name}}\", \"--port=${{self.http.port}}\"]\n  }}\n  provides \"http\" {{ port = {port}, protocol = \"http\" }}\n  health {{\n    http     = \"http\"\n    path     = \"/healthz\"\n    interval = 1s\n  }}\n"
            ));
            if w > 0 {
                for j in 0..per_wave {
                    text.push_str(&format!("  requires \"s{}-{j}\"\n", w - 1));
                }
            }
            text.push_str("}\n\n");
        }
    }
    text
}

/// The model's desired services for the local engine.
fn desired(text: &str) -> Vec<Desired> {
    let compilation = svcmodel_compiler::compile_system_str("bench.svc", text);
    assert!(
        !compilation.has_errors(),
        "{:?}",
        compilation.diagnostics.first()
    );
    let Some(resolution) = compilation.resolution.as_ref() else {
        panic!("no resolution");
    };
    let system = &resolution.systems[0];
    let Some(local) = svcmodel_targets::builtin::built_in("local") else {
        panic!("no local target");
    };
    let mut problems = Vec::new();
    let view = svcmodel_targets::view::build(
        &Input {
            model: &compilation.model,
            system,
            file_dirs: &[],
            root_dir: "",
            template_files: &BTreeMap::new(),
            only: &[],
            placed: None,
        },
        &local.manifest,
        &mut problems,
    );
    assert!(problems.is_empty(), "{problems:?}");
    let waves = deploy::wave_names(system);
    deploy::desired_local(&view.services, &waves)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The sum over the waves of the slowest service's time to healthy: what no deploy
/// can beat.
fn critical_path(outcomes: &[Outcome], desired: &[Desired]) -> f64 {
    let mut slowest: BTreeMap<usize, f64> = BTreeMap::new();
    for outcome in outcomes {
        let wave = desired
            .iter()
            .find(|d| d.name == outcome.name)
            .map_or(0, |d| d.wave);
        let s = slowest.entry(wave).or_default();
        *s = s.max(outcome.seconds);
    }
    slowest.values().sum()
}

fn print_deploy(title: &str, totals: Vec<f64>, paths: Vec<f64>) {
    let (total, path) = (median(totals), median(paths));
    println!("{title}");
    println!(
        "  median {:.0} ms; critical path of health checks {:.0} ms; deploy's own share {:.0} ms ({:.0}%)",
        total * 1000.0,
        path * 1000.0,
        (total - path) * 1000.0,
        (total - path) / total * 100.0
    );
}

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let dir = std::env::temp_dir().join(format!("svcmodel-bench-{}", std::process::id()));
    let store = Store::new(&dir);

    // 1. Deploy 50 services in 5 waves.
    let desired_50 = desired(&model(5, 10, 26000));
    let engine = LocalEngine {
        logs: store.log_dir("bench").expect("a path-safe name"),
        lookup: &no_secrets,
        supervisor: None,
    };
    let options = Options {
        deadline: Duration::from_secs(60),
        rollback: true,
        delete: true,
        repair_unhealthy: false,
        redactor: Default::default(),
    };
    let quiet = |_: Event| {};
    let mut totals = Vec::new();
    let mut paths = Vec::new();
    for _ in 0..runs {
        let mut state = State::new("bench", "local");
        let start = Instant::now();
        let report = deploy::deploy(
            &store,
            &mut state,
            &desired_50,
            &BTreeMap::new(),
            &engine,
            &options,
            &quiet,
        )
        .unwrap_or_else(|e| panic!("deploy: {e}"));
        let total = start.elapsed().as_secs_f64();
        assert!(report.ok, "{:?}", report.outcomes.iter().find(|o| !o.ok));
        totals.push(total);
        paths.push(critical_path(&report.outcomes, &desired_50));
        deploy::destroy(&store, &mut state, &engine, &quiet)
            .unwrap_or_else(|e| panic!("destroy: {e}"));
    }
    print_deploy(
        &format!("deploy: 50 local services in 5 waves, {runs} runs"),
        totals,
        paths,
    );

    // 2. The same services over two environments, in one run.
    let engine_b = LocalEngine {
        logs: store.log_dir("bench-b").expect("a path-safe name"),
        lookup: &no_secrets,
        supervisor: None,
    };
    let (in_a, in_b): (Vec<Desired>, Vec<Desired>) = desired_50
        .iter()
        .cloned()
        .partition(|d| d.name.ends_with(['0', '2', '4', '6', '8']));
    let no_hashes = BTreeMap::new();
    let mut totals = Vec::new();
    let mut paths = Vec::new();
    for _ in 0..runs {
        let mut state_a = State::new("bench", "local");
        let mut state_b = State::new("bench-b", "local");
        let start = Instant::now();
        let mut sites = [
            deploy::Site {
                store: &store,
                state: &mut state_a,
                desired: &in_a,
                hashes: &no_hashes,
                engine: &engine,
            },
            deploy::Site {
                store: &store,
                state: &mut state_b,
                desired: &in_b,
                hashes: &no_hashes,
                engine: &engine_b,
            },
        ];
        let reports = deploy::deploy_sites(&mut sites, &options, &|_, _| {})
            .unwrap_or_else(|e| panic!("deploy: {e}"));
        let total = start.elapsed().as_secs_f64();
        let outcomes: Vec<Outcome> = reports.into_iter().flat_map(|r| r.outcomes).collect();
        assert!(outcomes.iter().all(|o| o.ok), "{outcomes:?}");
        totals.push(total);
        paths.push(critical_path(&outcomes, &desired_50));
        deploy::destroy(&store, &mut state_a, &engine, &quiet)
            .unwrap_or_else(|e| panic!("destroy: {e}"));
        deploy::destroy(&store, &mut state_b, &engine_b, &quiet)
            .unwrap_or_else(|e| panic!("destroy: {e}"));
    }
    print_deploy(
        &format!("deploy: the same 50 services over 2 environments in one run, {runs} runs"),
        totals,
        paths,
    );

    // 3. Observe 1,000 recorded services.
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            drop(stream);
        }
    });
    let own = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let start_ticks = own[own.rfind(')').unwrap_or(0) + 2..]
        .split_whitespace()
        .nth(19)
        .unwrap_or("0")
        .to_string();
    let engine_id = format!("pid:{}:{start_ticks}", std::process::id());
    let desired_1000 = desired(&model(1, 1000, 30000));
    let mut state = State::new("bench", "local");
    for d in &desired_1000 {
        let mut spec = d.spec.clone();
        spec["health"] = serde_json::json!({ "kind": "tcp", "port": port, "timeout_seconds": 1 });
        state.services.insert(
            d.name.clone(),
            ServiceRecord {
                service: d.service.clone(),
                version: d.version.clone(),
                model_hash: d.model_hash.clone(),
                engine_id: engine_id.clone(),
                spec,
                revision: 1,
                deployed_at: 0,
            },
        );
    }
    let mut times = Vec::new();
    for _ in 0..runs.max(5) {
        let start = Instant::now();
        let plan = deploy::plan("bench", Some(&state), &desired_1000, &BTreeMap::new());
        let mut healthy = 0;
        for record in state.services.values() {
            if engine.alive(&record.engine_id)
                && engine.check(&record.engine_id, &record.spec).is_ok()
            {
                healthy += 1;
            }
        }
        times.push(start.elapsed().as_secs_f64());
        assert_eq!(healthy, 1000);
        assert_eq!(plan.items.len(), 1000);
    }
    println!(
        "reconcile: 1,000 recorded services (plan, process check, TCP health check): median {:.0} ms",
        median(times) * 1000.0
    );
    let _ = std::fs::remove_dir_all(&dir);
}
