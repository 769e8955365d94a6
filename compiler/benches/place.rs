//! `cargo bench -p svcmodel-compiler --bench place`: placement of generated models
//! (`generate::model` plus `generate::landscape`): building the problem, the search
//! and the explanations, for N services over K environments. Resolution is done once,
//! for the first environment, and shared by all K (the generated rules resolve the
//! same everywhere), so the figures are placement's alone.
//!
//! `BENCH_PLACE=10000x20,500x12` picks the sizes; `BENCH_RUNS=3` the runs per size;
//! `BENCH_SEED=7` the generator's seed (42).
//! `BENCH_EXPORT=DIR` also writes each size's problem as JSON with svcmodel's
//! objective, for `bench/place_optimum.py` to compare against an exact MILP solver.

use std::path::{Path, PathBuf};
use std::time::Instant;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use svcmodel_compiler::load::MemoryLoader;
use svcmodel_compiler::place::{self, Problem};
use svcmodel_compiler::{SystemRequest, compile_system, generate};

fn main() {
    let sizes =
        std::env::var("BENCH_PLACE").unwrap_or_else(|_| "500x12,2000x20,10000x20".to_string());
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    println!(
        "{:>7} {:>4} {:>9} {:>11} {:>10} {:>10} {:>12} {:>8} {:>9}",
        "services",
        "envs",
        "instances",
        "median_ms",
        "min_ms",
        "build_ms",
        "objective",
        "optimal",
        "gap_bound"
    );
    for size in sizes.split(',') {
        let Some((n, k)) = size.split_once('x') else {
            continue;
        };
        let (Ok(n), Ok(k)) = (n.parse::<usize>(), k.parse::<usize>()) else {
            continue;
        };
        run(n, k, runs);
    }
}

fn run(n: usize, k: usize, runs: usize) {
    let seed: u64 = std::env::var("BENCH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(42);
    let generated = generate::model(n, seed);
    let mut loader = MemoryLoader::new();
    for (path, text) in &generated.files {
        loader = loader.with_file(Path::new("/m").join(path), text.as_str());
    }
    loader = loader.with_file(
        "/m/system/environments.svc",
        generate::landscape(n, k, seed),
    );
    let compilation = compile_system(
        &loader,
        &SystemRequest {
            entries: vec![PathBuf::from("/m/system")],
            root: PathBuf::from("/m"),
            display_base: PathBuf::from("/m"),
            environment: Some("e0".to_string()),
            ..Default::default()
        },
    );
    assert!(
        !compilation.has_errors(),
        "{:?}",
        compilation.diagnostics.first()
    );
    let first = compilation.resolution.as_ref().expect("resolved").systems[0].clone();
    let systems: Vec<_> = (0..k)
        .map(|e| {
            let mut system = first.clone();
            system.environment = Some(format!("e{e}"));
            system
        })
        .collect();
    let envs: Vec<usize> = (0..k).collect();
    let mut times = Vec::new();
    let mut build = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        let problem = Problem::build(&compilation.model, &systems, "prod", &envs);
        build.push(start.elapsed().as_secs_f64() * 1000.0);
        let placed = place::place_landscape(problem, place::Options::default());
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        last = Some(placed);
    }
    times.sort_by(f64::total_cmp);
    build.sort_by(f64::total_cmp);
    let Some(placed) = last else { return };
    let instances = placed.problem.items.len();
    match &placed.placement {
        Some(placement) => {
            println!(
                "{n:>7} {k:>4} {instances:>9} {:>11.1} {:>10.1} {:>10.1} {:>12.4} {:>8} {:>8.3}%",
                times[times.len() / 2],
                times[0],
                build[build.len() / 2],
                placement.objective,
                placement.optimal,
                (placement.objective - placement.lower_bound) / placement.objective.max(1e-9)
                    * 100.0
            );
        }
        None => println!(
            "{n:>7} {k:>4} {instances:>9} no placement: {:?}",
            placed.diagnostics.first().map(|d| &d.message)
        ),
    }
    if let Ok(dir) = std::env::var("BENCH_EXPORT") {
        let path = Path::new(&dir).join(format!("place-{n}x{k}-seed{seed}.json"));
        let mut json = placed.problem.export();
        if let (Some(map), Some(placement)) = (json.as_object_mut(), &placed.placement) {
            map.insert("svcmodel_objective".to_string(), placement.objective.into());
            map.insert("svcmodel_optimal".to_string(), placement.optimal.into());
            if let Some(solution) = &placed.solution {
                map.insert(
                    "svcmodel_env_of".to_string(),
                    solution.env_of.clone().into(),
                );
            }
        }
        if let Err(e) = std::fs::write(&path, json.to_string()) {
            eprintln!("cannot write {}: {e}", path.display());
        }
    }
}
