//! `cargo bench -p svcmodel-targets --bench render`: rendering a generated model of
//! 10k services (plus the catalog instances they pull in) with each built-in target:
//! view building, templates and escaping, from memory (the model is compiled once,
//! untimed; nothing is written to disk).
//!
//! `BENCH_SIZE=10000` sets the model size; `BENCH_RUNS=5` the runs per target;
//! `BENCH_TARGETS=kubernetes,compose` the targets. `view_ms` is one build of the view
//! alone (the rest of the median is templates and escaping).

use std::path::{Path, PathBuf};
use std::time::Instant;

use svcmodel_compiler::load::MemoryLoader;
use svcmodel_compiler::{SystemRequest, compile_system, generate};
use svcmodel_targets::view::Input;
use svcmodel_targets::{builtin, render};

// The allocator the `svcmodel` binary uses, so the figures are the CLI's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let n: usize = env_or("BENCH_SIZE", 10_000);
    let runs: usize = env_or("BENCH_RUNS", 5);
    // `local` and `systemd` run one copy per host, and the generated services share
    // ports and have no command: those targets refuse the model, as they should.
    let targets: String = env_or("BENCH_TARGETS", "kubernetes,compose,nomad".to_string());
    let generated = generate::model(n, 42);
    let mut loader = MemoryLoader::new();
    for (path, text) in &generated.files {
        loader = loader.with_file(Path::new("/m").join(path), text.as_str());
    }
    loader = loader.with_file("/m/values.toml", generated.values.as_str());
    let compilation = compile_system(
        &loader,
        &SystemRequest {
            entries: vec![PathBuf::from("/m/system")],
            root: PathBuf::from("/m"),
            display_base: PathBuf::from("/m"),
            values_files: vec![PathBuf::from("/m/values.toml")],
            ..Default::default()
        },
    );
    assert!(!compilation.has_errors(), "the generated model has errors");
    let Some(resolution) = compilation.resolution.as_ref() else {
        panic!("the generated model did not resolve");
    };
    let system = &resolution.systems[0];
    println!(
        "render: model of {n} services, {} instances, {runs} runs per target",
        system.instances.len()
    );
    println!("target        median_ms   min_ms   view_ms   files      MiB");
    for name in targets.split(',') {
        let Some(target) = builtin::built_in(name) else {
            panic!("no built-in target `{name}`");
        };
        let input = Input {
            model: &compilation.model,
            system,
            file_dirs: &[],
            root_dir: "",
            template_files: &Default::default(),
            only: &[],
            placed: None,
        };
        let start = Instant::now();
        let mut problems = Vec::new();
        let view = svcmodel_targets::view::build(&input, &target.manifest, &mut problems);
        let build_ms = start.elapsed().as_secs_f64() * 1000.0;
        drop(view);
        let mut times = Vec::new();
        let mut files = 0;
        let mut bytes = 0;
        for _ in 0..runs {
            let start = Instant::now();
            let rendered = render(&input, &target);
            times.push(start.elapsed().as_secs_f64() * 1000.0);
            assert!(
                !rendered.has_errors(),
                "{name}: {:?}",
                rendered.problems.first()
            );
            files = rendered.files.len();
            bytes = rendered
                .files
                .iter()
                .map(|f| f.contents.len())
                .sum::<usize>();
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{name:<12} {:>10.1} {:>8.1} {build_ms:>9.1} {files:>7} {:>8.1}",
            times[times.len() / 2],
            times[0],
            bytes as f64 / (1024.0 * 1024.0)
        );
    }
}
