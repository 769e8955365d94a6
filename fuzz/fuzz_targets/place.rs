//! Any model that compiles, placed: placement, its explanations, risk and slo never
//! panic, and every placement found meets every rule. Seed it with the bank joined
//! into one file (see fuzz/README.md).
#![no_main]

use std::collections::BTreeSet;

use libfuzzer_sys::fuzz_target;
use svcmodel_compiler::place;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let compilation = svcmodel_compiler::compile_system_str("main.svc", &text);
    let Some(resolution) = compilation.resolution.as_ref() else {
        return;
    };
    if compilation.has_errors() {
        return;
    }
    let options = place::Options { nodes: 20_000 };
    for placed in place::place(&compilation.model, &resolution.systems, options) {
        let (Some(solution), Some(placement)) = (&placed.solution, &placed.placement) else {
            assert!(!placed.diagnostics.is_empty(), "no placement and no diagnostic");
            continue;
        };
        let p = &placed.problem;
        let broken = place::solve::violations(p, &BTreeSet::new(), &solution.env_of);
        assert!(broken.is_empty(), "the placement breaks {broken:?}");
        for i in 0..p.items.len() {
            let _ = place::verdicts(p, &solution.env_of, i);
        }
        let _ = place::risk::risk(p, placement, &solution.env_of);
        let _ = place::slo::slo(p, placement, &solution.env_of);
    }
});
