//! `cargo bench -p svcmodel-compiler --bench compile`: parse, lower, resolve (versions,
//! instances, values), graph and cycle check of generated models of 1k to 100k
//! services, from memory (no disk). Each size runs in its own process so its peak
//! memory (VmHWM) is its own. Prints a table and the growth ratios t(4n)/t(n).
//!
//! `BENCH_SIZES=1000,4000` picks sizes; `BENCH_RUNS=5` the runs per size;
//! `BENCH_FRONT_END_ONLY=1` times load, parse and lower alone.

use std::path::{Path, PathBuf};

// The allocator the `svcmodel` binary uses, so the figures are the CLI's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::time::Instant;

use svcmodel_compiler::load::MemoryLoader;
use svcmodel_compiler::{SystemRequest, compile_system, generate};

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Runs one size: prints `n median_ms min_ms peak_kib instances`.
fn child(n: usize, runs: usize) {
    let generated = generate::model(n, 42);
    let mut loader = MemoryLoader::new();
    for (path, text) in &generated.files {
        loader = loader.with_file(Path::new("/m").join(path), text.as_str());
    }
    loader = loader.with_file("/m/values.toml", generated.values.as_str());
    let request = SystemRequest {
        entries: vec![PathBuf::from("/m/system")],
        root: PathBuf::from("/m"),
        display_base: PathBuf::from("/m"),
        values_files: vec![PathBuf::from("/m/values.toml")],
        ..Default::default()
    };
    let before = peak_rss_kib();
    let mut times = Vec::new();
    let mut instances = 0;
    for _ in 0..runs {
        let start = Instant::now();
        if std::env::var_os("BENCH_FRONT_END_ONLY").is_some() {
            // Load, parse and lower only: to see what resolution adds.
            let result = svcmodel_compiler::compile(
                &loader,
                &request.entries,
                &request.root,
                &request.display_base,
            );
            times.push(start.elapsed().as_secs_f64() * 1000.0);
            instances = result.model.services.len();
            continue;
        }
        let result = compile_system(&loader, &request);
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        assert!(
            result.diagnostics.is_empty(),
            "the generated model has diagnostics"
        );
        instances = result
            .resolution
            .map_or(0, |r| r.systems[0].instances.len());
    }
    times.sort_by(f64::total_cmp);
    let peak = peak_rss_kib();
    println!(
        "{n} {:.1} {:.1} {peak} {before} {instances}",
        times[times.len() / 2],
        times[0]
    );
}

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    if let Some(n) = std::env::var("BENCH_CHILD")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        child(n, runs);
        return;
    }
    let sizes: Vec<usize> = std::env::var("BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 4_000, 10_000, 40_000, 100_000]);
    let exe = std::env::current_exe().expect("the bench knows its own path");
    println!(
        "compile (load, parse, lower, resolve, values, graph) of generated models, {runs} runs each"
    );
    println!(
        "{:>8} {:>10} {:>12} {:>10} {:>14} {:>10}",
        "services", "instances", "median (ms)", "min (ms)", "peak RSS (MiB)", "per 1k"
    );
    let mut results: Vec<(usize, f64, f64)> = Vec::new();
    for n in sizes {
        let output = std::process::Command::new(&exe)
            .env("BENCH_CHILD", n.to_string())
            .env("BENCH_RUNS", runs.to_string())
            .output()
            .expect("the bench can run itself");
        let line = String::from_utf8_lossy(&output.stdout);
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 6 {
            eprintln!(
                "size {n} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            continue;
        }
        let median: f64 = fields[1].parse().unwrap_or(0.0);
        let min: f64 = fields[2].parse().unwrap_or(0.0);
        let peak: f64 = fields[3].parse::<f64>().unwrap_or(0.0) / 1024.0;
        println!(
            "{n:>8} {:>10} {median:>12.1} {min:>10.1} {peak:>14.1} {:>10.2}",
            fields[5],
            median / (n as f64 / 1000.0)
        );
        results.push((n, median, min));
    }
    for &(n, t, best) in &results {
        if let Some(&(_, t4, best4)) = results.iter().find(|(m, _, _)| *m == 4 * n) {
            println!(
                "t({})/t({n}) = {:.2} by median, {:.2} by best run",
                4 * n,
                t4 / t,
                best4 / best
            );
        }
    }
}
