//! Placement: exact against exhaustive search on small generated models, and each
//! kind of rule moving a service the way it should.

// Tests may unwrap: a failure is the test failing.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::fmt::Write as _;

use proptest::prelude::*;
use svcmodel_compiler::compile_system_str;
use svcmodel_compiler::place::{self, Problem, solve};

/// A small generated model: environments in one landscape, services with sizes, data
/// classes, requirements with latency and bandwidth, `near`, and policies of every kind.
#[derive(Debug, Clone)]
struct Spec {
    envs: Vec<EnvSpec>,
    services: Vec<ServiceSpec>,
    prefer_cloud_weight: Option<u32>,
    pii_on_premises: bool,
    spread_critical_over_zones: bool,
}

#[derive(Debug, Clone)]
struct EnvSpec {
    onprem: bool,
    zones: usize,
    cpu: u32,
    cpu_rate: u32,
    link_latency: Option<u32>,
    link_bandwidth: Option<u32>,
}

#[derive(Debug, Clone)]
struct ServiceSpec {
    cpu: u32,
    replicas: u32,
    pii: bool,
    critical: bool,
    /// Requirements on earlier services: (index, latency ms, bandwidth Mbps).
    requires: Vec<(usize, Option<u32>, Option<u32>)>,
    near: Option<usize>,
}

fn spec() -> impl Strategy<Value = Spec> {
    let env = (
        any::<bool>(),
        0usize..4,
        6u32..30,
        1u32..6,
        prop::option::of(1u32..8),
        prop::option::of(prop::sample::select(vec![100u32, 300, 1000])),
    )
        .prop_map(
            |(onprem, zones, cpu, cpu_rate, link_latency, link_bandwidth)| EnvSpec {
                onprem,
                zones,
                cpu,
                cpu_rate,
                link_latency,
                link_bandwidth,
            },
        );
    let service = (
        1u32..4,
        1u32..3,
        prop::bool::weighted(0.3),
        prop::bool::weighted(0.3),
        prop::collection::vec(
            (
                0usize..6,
                prop::option::of(prop::sample::select(vec![1u32, 5, 10])),
                prop::option::of(prop::sample::select(vec![100u32, 400])),
            ),
            0..3,
        ),
        prop::option::weighted(0.2, 0usize..6),
    )
        .prop_map(
            |(cpu, replicas, pii, critical, requires, near)| ServiceSpec {
                cpu,
                replicas,
                pii,
                critical,
                requires,
                near,
            },
        );
    (
        prop::collection::vec(env, 1..4),
        prop::collection::vec(service, 1..7),
        prop::option::of(1u32..20),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(envs, services, prefer_cloud_weight, pii_on_premises, spread_critical_over_zones)| {
                Spec {
                    envs,
                    services,
                    prefer_cloud_weight,
                    pii_on_premises,
                    spread_critical_over_zones,
                }
            },
        )
}

fn model_text(spec: &Spec) -> String {
    let mut out = String::new();
    for (i, e) in spec.envs.iter().enumerate() {
        let provider = if e.onprem { "onprem" } else { "aws" };
        writeln!(out, "environment \"e{i}\" {{").unwrap();
        writeln!(
            out,
            "  target = \"kubernetes\"\n  provider = \"{provider}\"\n  tier = \"prod\""
        )
        .unwrap();
        if e.zones > 0 {
            let zones: Vec<String> = (0..e.zones).map(|z| format!("\"e{i}z{z}\"")).collect();
            writeln!(
                out,
                "  failure_domains = {{ zone = [{}] }}",
                zones.join(", ")
            )
            .unwrap();
        }
        writeln!(out, "  capacity = {{ cpu = {}, memory = 1Ti }}", e.cpu).unwrap();
        writeln!(
            out,
            "  cost = {{ cpu_hour = 0.0{}, memory_gib_hour = 0.001 }}",
            e.cpu_rate
        )
        .unwrap();
        // A link to the next environment, so some pairs have none.
        if i + 1 < spec.envs.len() && (e.link_latency.is_some() || e.link_bandwidth.is_some()) {
            write!(out, "  link \"e{}\" {{", i + 1).unwrap();
            if let Some(l) = e.link_latency {
                write!(out, " latency = {l}ms").unwrap();
            }
            if let Some(b) = e.link_bandwidth {
                write!(
                    out,
                    "{} bandwidth = {b}Mbps",
                    if e.link_latency.is_some() { "," } else { "" }
                )
                .unwrap();
            }
            writeln!(out, " }}").unwrap();
        }
        writeln!(out, "}}\n").unwrap();
    }
    for (i, s) in spec.services.iter().enumerate() {
        writeln!(
            out,
            "service \"s{i}\" {{\n  version = \"1.0.0\"\n  image = \"x/s{i}:1\""
        )
        .unwrap();
        writeln!(out, "  resources {{ cpu = {}, memory = 1Gi }}", s.cpu).unwrap();
        writeln!(out, "  replicas = {}", s.replicas).unwrap();
        if s.critical {
            writeln!(out, "  criticality = \"critical\"").unwrap();
        }
        if s.pii {
            writeln!(out, "  data {{ classification = \"pii\" }}").unwrap();
        }
        let mut required = BTreeSet::new();
        for (target, latency, bandwidth) in &s.requires {
            if *target >= i || !required.insert(*target) {
                continue;
            }
            write!(out, "  requires \"s{target}\" {{").unwrap();
            let mut parts = Vec::new();
            if let Some(l) = latency {
                parts.push(format!("latency = {l}ms"));
            }
            if let Some(b) = bandwidth {
                parts.push(format!("bandwidth = {b}Mbps"));
            }
            writeln!(out, " {} }}", parts.join(", ")).unwrap();
        }
        if let Some(n) = s.near
            && n < i
        {
            writeln!(out, "  near \"s{n}\"").unwrap();
        }
        writeln!(out, "}}\n").unwrap();
    }
    if spec.pii_on_premises {
        out.push_str("policy \"pii\" {\n  when = service.data.classification == \"pii\"\n  require = environment.provider == \"onprem\"\n}\n");
    }
    if let Some(w) = spec.prefer_cloud_weight {
        writeln!(
            out,
            "policy \"cloud\" {{\n  prefer = environment.provider == \"aws\"\n  weight = 0.0{w}\n}}"
        )
        .unwrap();
    }
    if spec.spread_critical_over_zones {
        out.push_str("policy \"spread\" {\n  when = service.criticality == \"critical\"\n  spread = \"zone\"\n}\n");
    }
    out
}

/// The best objective over every assignment of items to environments, by brute force.
fn exhaustive(p: &Problem) -> Option<f64> {
    let n = p.items.len();
    let k = p.envs.len();
    let none = BTreeSet::new();
    let mut best: Option<f64> = None;
    let mut env_of = vec![0usize; n];
    loop {
        if solve::violations(p, &none, &env_of).is_empty() {
            let value = solve::objective(p, &env_of);
            if best.is_none_or(|b| value < b) {
                best = Some(value);
            }
        }
        // Next assignment, as a number in base k.
        let mut i = 0;
        loop {
            if i == n {
                return best;
            }
            env_of[i] += 1;
            if env_of[i] < k {
                break;
            }
            env_of[i] = 0;
            i += 1;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// On every small model the search finds a placement exactly when one exists, it
    /// meets every rule, and its objective is the optimum.
    #[test]
    fn placement_is_exact_on_small_models(spec in spec()) {
        let text = model_text(&spec);
        let compilation = compile_system_str("main.svc", &text);
        prop_assert!(!compilation.has_errors(), "{text}\n{:?}", compilation.diagnostics);
        let systems = &compilation.resolution.as_ref().unwrap().systems;
        for (name, envs) in place::landscapes(&compilation.model) {
            let problem = Problem::build(&compilation.model, systems, &name, &envs);
            let best = exhaustive(&problem);
            let none = BTreeSet::new();
            let outcome = solve::solve(&problem, &none, solve::Limits { nodes: 10_000_000, feasibility_only: false });
            match (outcome, best) {
                (solve::Outcome::Found(solution), Some(best)) => {
                    prop_assert!(solution.optimal);
                    prop_assert_eq!(solve::violations(&problem, &none, &solution.env_of), vec![]);
                    prop_assert!((solution.objective - best).abs() < 1e-6, "search {} against exhaustive {best}\n{text}", solution.objective);
                    prop_assert!((solve::objective(&problem, &solution.env_of) - solution.objective).abs() < 1e-6);
                }
                (solve::Outcome::Infeasible, None) => {
                    // And the explanation names rules whose removal makes it placeable.
                    let diagnostics = place::conflicts(&problem, place::Options::default());
                    prop_assert!(!diagnostics.is_empty());
                }
                (outcome, best) => prop_assert!(false, "search {outcome:?} against exhaustive {best:?}\n{text}"),
            }
        }
    }
}

/// Places the model and returns where each named service runs.
fn placed(text: &str) -> Vec<(String, String)> {
    let compilation = compile_system_str("main.svc", text);
    assert!(!compilation.has_errors(), "{:?}", compilation.diagnostics);
    let systems = &compilation.resolution.as_ref().unwrap().systems;
    let mut out = Vec::new();
    for p in place::place(&compilation.model, systems, Default::default()) {
        assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
        for a in &p.placement.unwrap().assignments {
            out.push((a.instance.clone(), a.environment.clone()));
        }
    }
    out
}

fn env_of(text: &str, service: &str) -> String {
    placed(text)
        .into_iter()
        .find(|(s, _)| s == service)
        .map(|(_, e)| e)
        .unwrap()
}

/// Two environments in one landscape: `dc` is cheaper than `cloud`, linked with 6 ms.
const BASE: &str = r#"
environment "dc" {
  target          = "kubernetes"
  provider        = "onprem"
  tier            = "prod"
  failure_domains = { hypervisor = ["hv1", "hv2"] }
  capacity        = { cpu = 8, memory = 64Gi }
  cost            = { cpu_hour = 0.02, memory_gib_hour = 0.002 }
  link "cloud" { latency = 6ms, bandwidth = 1Gbps }
}

environment "cloud" {
  target          = "kubernetes"
  provider        = "aws"
  tier            = "prod"
  failure_domains = { zone = ["z1", "z2", "z3"] }
  capacity        = { cpu = 64, memory = 256Gi }
  cost            = { cpu_hour = 0.05, memory_gib_hour = 0.005 }
}

service "db" {
  version   = "1.0.0"
  image     = "x/db:1"
  resources { cpu = 2, memory = 4Gi }
  data { classification = "confidential" }
}

service "api" {
  version   = "1.0.0"
  image     = "x/api:1"
  resources { cpu = 1, memory = 1Gi }
  replicas  = 2
  requires "db" {}
}
"#;

#[test]
fn the_cheapest_environment_wins_when_no_rule_decides() {
    assert_eq!(env_of(BASE, "db"), "dc");
    assert_eq!(env_of(BASE, "api"), "dc");
}

#[test]
fn require_and_forbid_move_a_service() {
    let required = format!(
        "{BASE}\npolicy \"api-in-cloud\" {{\n  when = service.name == \"api\"\n  require = environment.provider == \"aws\"\n}}\n"
    );
    assert_eq!(env_of(&required, "api"), "cloud");
    assert_eq!(env_of(&required, "db"), "dc");
    let forbidden = format!(
        "{BASE}\npolicy \"no-db-on-premises\" {{\n  when = service.name == \"db\"\n  forbid = environment.provider == \"onprem\"\n}}\n"
    );
    assert_eq!(env_of(&forbidden, "db"), "cloud");
}

#[test]
fn a_preference_moves_a_service_only_when_it_outweighs_the_cost() {
    // api in the cloud costs 2 x (0.03 + 0.003) = 0.066/h more.
    let weak = format!(
        "{BASE}\npolicy \"cloud\" {{\n  when = service.name == \"api\"\n  prefer = environment.provider == \"aws\"\n  weight = 0.05\n}}\n"
    );
    assert_eq!(env_of(&weak, "api"), "dc");
    let strong = weak.replace("weight = 0.05", "weight = 0.07");
    assert_eq!(env_of(&strong, "api"), "cloud");
}

#[test]
fn a_spread_rule_needs_the_failure_domains() {
    let spread = format!(
        "{BASE}\npolicy \"api-across-zones\" {{\n  services = [\"api\"]\n  spread = \"zone\"\n}}\n"
    );
    assert_eq!(env_of(&spread, "api"), "cloud");
}

#[test]
fn capacity_moves_what_does_not_fit() {
    // 4 cores in dc, 2 per hypervisor: db (2) and api (3 x 1) do not both fit. Keeping
    // api saves 3 x 0.033/h, keeping db 0.072/h: api stays, db moves.
    let small = BASE
        .replace(
            "capacity        = { cpu = 8, memory = 64Gi }",
            "capacity        = { cpu = 4, memory = 64Gi }",
        )
        .replace("replicas  = 2", "replicas  = 3");
    let placed = placed(&small);
    let in_dc: Vec<&str> = placed
        .iter()
        .filter(|(_, e)| e == "dc")
        .map(|(s, _)| s.as_str())
        .collect();
    assert_eq!(in_dc, ["api"]);
    // A replica larger than one hypervisor's share cannot run there at all.
    let big = small.replace(
        "resources { cpu = 2, memory = 4Gi }",
        "resources { cpu = 3, memory = 4Gi }",
    );
    assert_eq!(env_of(&big, "db"), "cloud");
}

#[test]
fn a_latency_budget_pulls_a_consumer_to_its_dependency() {
    let pinned = format!(
        "{}\npolicy \"db-in-cloud\" {{\n  when = service.name == \"db\"\n  require = environment.provider == \"aws\"\n}}\n",
        BASE.replace("requires \"db\" {}", "requires \"db\" { latency = 2ms }")
    );
    assert_eq!(env_of(&pinned, "db"), "cloud");
    assert_eq!(env_of(&pinned, "api"), "cloud");
    // A budget the link meets leaves api where it is cheapest.
    let loose = pinned.replace("latency = 2ms", "latency = 10ms");
    assert_eq!(env_of(&loose, "api"), "dc");
}

#[test]
fn near_keeps_a_service_with_its_data() {
    let pinned = format!(
        "{}\npolicy \"db-in-cloud\" {{\n  when = service.name == \"db\"\n  require = environment.provider == \"aws\"\n}}\n",
        BASE.replace("requires \"db\" {}", "requires \"db\" {}\n  near \"db\"")
    );
    assert_eq!(env_of(&pinned, "api"), "cloud");
}

#[test]
fn bandwidth_keeps_a_heavy_dependency_on_one_side() {
    let pinned = format!(
        "{}\npolicy \"db-in-cloud\" {{\n  when = service.name == \"db\"\n  require = environment.provider == \"aws\"\n}}\n",
        BASE.replace(
            "requires \"db\" {}",
            "requires \"db\" { bandwidth = 2Gbps }"
        )
    );
    assert_eq!(env_of(&pinned, "api"), "cloud");
    let light = pinned.replace("bandwidth = 2Gbps", "bandwidth = 500Mbps");
    assert_eq!(env_of(&light, "api"), "dc");
}

#[test]
fn without_a_link_only_a_dependency_without_budget_or_bandwidth_crosses() {
    let unlinked = format!(
        "{}\npolicy \"db-in-cloud\" {{\n  when = service.name == \"db\"\n  require = environment.provider == \"aws\"\n}}\n",
        BASE.replace(
            "  link \"cloud\" { latency = 6ms, bandwidth = 1Gbps }\n",
            ""
        )
    );
    assert_eq!(env_of(&unlinked, "api"), "dc");
    let budget = unlinked.replace("requires \"db\" {}", "requires \"db\" { latency = 50ms }");
    assert_eq!(env_of(&budget, "api"), "cloud");
    let bandwidth = unlinked.replace(
        "requires \"db\" {}",
        "requires \"db\" { bandwidth = 1Mbps }",
    );
    assert_eq!(env_of(&bandwidth, "api"), "cloud");
}

#[test]
fn the_same_model_always_gives_the_same_placement() {
    // Every service costs the same everywhere: only the order decides, never chance.
    let text = BASE.replace(
        "cpu_hour = 0.05, memory_gib_hour = 0.005",
        "cpu_hour = 0.02, memory_gib_hour = 0.002",
    );
    let first = placed(&text);
    assert_eq!(
        first,
        [
            ("api".to_string(), "dc".to_string()),
            ("db".to_string(), "dc".to_string())
        ]
    );
    for _ in 0..5 {
        assert_eq!(placed(&text), first);
    }
}

/// A generated landscape (300 services over 6 environments, every kind of rule):
/// placed within every rule, and the same placement twice.
#[test]
fn a_generated_landscape_is_placed_within_every_rule_and_the_same_twice() {
    use std::path::{Path, PathBuf};
    use svcmodel_compiler::generate;
    use svcmodel_compiler::load::MemoryLoader;
    let generated = generate::model(300, 3);
    let mut loader = MemoryLoader::new();
    for (path, text) in &generated.files {
        loader = loader.with_file(Path::new("/m").join(path), text.as_str());
    }
    loader = loader.with_file("/m/system/environments.svc", generate::landscape(300, 6, 3));
    let compilation = svcmodel_compiler::compile_system(
        &loader,
        &svcmodel_compiler::SystemRequest {
            entries: vec![PathBuf::from("/m/system")],
            root: PathBuf::from("/m"),
            display_base: PathBuf::from("/m"),
            ..Default::default()
        },
    );
    assert!(
        !compilation.has_errors(),
        "{:?}",
        compilation.diagnostics.first()
    );
    let systems = &compilation.resolution.as_ref().unwrap().systems;
    assert_eq!(systems.len(), 6);
    let envs: Vec<usize> = (0..6).collect();
    let place = || {
        let problem = Problem::build(&compilation.model, systems, "prod", &envs);
        let placed = place::place_landscape(problem, place::Options::default());
        assert!(
            placed.diagnostics.is_empty(),
            "{:?}",
            placed.diagnostics.first()
        );
        let env_of = placed.solution.unwrap().env_of;
        assert_eq!(
            solve::violations(&placed.problem, &BTreeSet::new(), &env_of),
            vec![]
        );
        env_of
    };
    let first = place();
    assert_eq!(place(), first);
    // The rules have effect: some services are not in the cheapest environment.
    assert!(first.iter().collect::<BTreeSet<_>>().len() > 1);
    // Without reasons (render, deploy): the same placement, and no sentence worked out.
    let problem = Problem::build(&compilation.model, systems, "prod", &envs);
    let quiet = place::place_landscape(problem, place::Options::without_reasons());
    let quiet = quiet.placement.unwrap();
    let problem = Problem::build(&compilation.model, systems, "prod", &envs);
    let explained = place::place_landscape(problem, place::Options::default());
    let explained = explained.placement.unwrap();
    assert!(quiet.assignments.iter().all(|a| a.reason.is_empty()));
    assert!(explained.assignments.iter().all(|a| !a.reason.is_empty()));
    let environments = |p: &svcmodel_model::placement::Placement| {
        p.assignments
            .iter()
            .map(|a| {
                (
                    a.instance.clone(),
                    a.environment.clone(),
                    a.replicas.clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(environments(&quiet), environments(&explained));
}

#[test]
fn environments_sharing_a_tier_are_one_landscape_and_one_without_a_tier_is_alone() {
    let compilation = compile_system_str(
        "main.svc",
        "environment \"prod\" {\n  target = \"local\"\n}\nenvironment \"a\" {\n  target = \"local\"\n  tier = \"prod\"\n}\nenvironment \"b\" {\n  target = \"local\"\n  tier = \"prod\"\n}\n",
    );
    assert!(!compilation.has_errors(), "{:?}", compilation.diagnostics);
    // `prod` has no tier: it is not part of the landscape of tier `prod`.
    assert_eq!(
        place::landscapes(&compilation.model),
        vec![
            ("prod".to_string(), vec![0]),
            ("prod".to_string(), vec![1, 2]),
        ]
    );
}

/// A generated data centre as a tree (zone > cluster > rack > hypervisor, any of the
/// levels left out) and services with replicas, each perhaps spread over one kind.
#[derive(Debug, Clone)]
struct TreeSpec {
    /// Per level kept, the number of children each parent of the level above has
    /// (the first: the number of roots).
    fanout: Vec<(&'static str, Vec<usize>)>,
    /// (replicas, the kind a rule spreads it over)
    services: Vec<(u32, Option<usize>)>,
}

fn tree_spec() -> impl Strategy<Value = TreeSpec> {
    (
        prop::sample::subsequence(vec!["zone", "cluster", "rack", "hypervisor"], 1..=4),
        prop::collection::vec(prop::collection::vec(1usize..4, 1..20), 4),
        prop::collection::vec((1u32..6, prop::option::of(0usize..4)), 1..4),
    )
        .prop_map(|(kinds, counts, services)| {
            // Each level's parents are the domains of the level above.
            let mut parents = 1;
            let fanout = kinds
                .iter()
                .zip(counts)
                .enumerate()
                .map(|(level, (kind, mut children))| {
                    // At most 8 leaves in all, so exhaustive search stays small.
                    children.resize(parents, 1);
                    if level == 0 {
                        children[0] = children[0].max(2);
                    }
                    while children.iter().sum::<usize>() > 8 {
                        let most = (0..children.len()).max_by_key(|&c| children[c]).unwrap();
                        children[most] -= 1;
                    }
                    parents = children.iter().sum();
                    (*kind, children)
                })
                .collect();
            let services = services
                .into_iter()
                .map(|(replicas, rule)| (replicas, rule.map(|r| r % kinds.len())))
                .collect();
            TreeSpec { fanout, services }
        })
}

/// The model, and per level each domain's name and parent's index.
fn tree_model(spec: &TreeSpec) -> (String, Vec<Vec<(String, usize)>>) {
    let mut levels: Vec<Vec<(String, usize)>> = Vec::new();
    let mut text =
        String::from("environment \"dc\" {\n  target = \"kubernetes\"\n  failure_domains = {\n");
    for (level, (kind, children)) in spec.fanout.iter().enumerate() {
        let mut domains = Vec::new();
        for (parent, &count) in children.iter().enumerate() {
            for _ in 0..count {
                domains.push((format!("{kind}-{}", domains.len()), parent));
            }
        }
        if level == 0 {
            let names: Vec<String> = domains.iter().map(|(n, _)| format!("\"{n}\"")).collect();
            writeln!(text, "    {kind} = [{}]", names.join(", ")).unwrap();
        } else {
            let above = &levels[level - 1];
            let entries: Vec<String> = above
                .iter()
                .enumerate()
                .map(|(p, (parent, _))| {
                    let names: Vec<String> = domains
                        .iter()
                        .filter(|(_, of)| *of == p)
                        .map(|(n, _)| format!("\"{n}\""))
                        .collect();
                    format!("{parent} = [{}]", names.join(", "))
                })
                .collect();
            writeln!(text, "    {kind} = {{ {} }}", entries.join(", ")).unwrap();
        }
        levels.push(domains);
    }
    text.push_str("  }\n}\n");
    for (s, (replicas, rule)) in spec.services.iter().enumerate() {
        writeln!(
            text,
            "service \"s{s}\" {{\n  version = \"1.0.0\"\n  image = \"s{s}:1\"\n  replicas = {replicas}\n}}"
        )
        .unwrap();
        if let Some(level) = rule {
            writeln!(
                text,
                "policy \"spread-s{s}\" {{\n  services = [\"s{s}\"]\n  spread = \"{}\"\n}}",
                spec.fanout[*level].0
            )
            .unwrap();
        }
    }
    (text, levels)
}

/// How crowded one service's replicas are, level by level in the order that decides:
/// the level its rule names first, then from the largest down. Each entry is the most
/// replicas any one domain of the level holds; smaller is better, earlier counts more.
fn crowding(levels: &[Vec<(String, usize)>], rule: Option<usize>, leaves: &[usize]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..levels.len()).collect();
    order.sort_by_key(|&l| Some(l) != rule);
    order
        .iter()
        .map(|&level| {
            let mut count = vec![0usize; levels[level].len()];
            for &leaf in leaves {
                // Walk up from the leaf to this level.
                let mut d = leaf;
                for l in (level + 1..levels.len()).rev() {
                    d = levels[l][d].1;
                }
                count[d] += 1;
            }
            count.into_iter().max().unwrap_or(0)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// In a tree of failure domains every replica gets one consistent path, and each
    /// service's replicas are spread as evenly as exhaustive search over every choice
    /// of leaves can spread them, at the kind its rule names first, then from the top.
    #[test]
    fn replicas_follow_the_tree_and_spread_as_well_as_exhaustive_search(spec in tree_spec()) {
        let (text, levels) = tree_model(&spec);
        let compilation = compile_system_str("main.svc", &text);
        prop_assert!(!compilation.has_errors(), "{text}\n{:?}", compilation.diagnostics);
        let systems = &compilation.resolution.as_ref().unwrap().systems;
        let placed = place::place(&compilation.model, systems, Default::default());
        let placement = placed[0].placement.as_ref().unwrap();
        let kinds: Vec<&str> = spec.fanout.iter().map(|(k, _)| *k).collect();
        let leaf_count = levels.last().unwrap().len();
        for (s, (replicas, rule)) in spec.services.iter().enumerate() {
            let assignment = placement.assignments.iter().find(|a| a.instance == format!("s{s}")).unwrap();
            prop_assert_eq!(assignment.replicas.len(), *replicas as usize);
            let mut leaves = Vec::new();
            for replica in &assignment.replicas {
                // Each domain's parent is the replica's domain one level up.
                let index: Vec<usize> = kinds
                    .iter()
                    .enumerate()
                    .map(|(l, k)| levels[l].iter().position(|(n, _)| *n == replica[*k]).unwrap())
                    .collect();
                for l in 1..kinds.len() {
                    prop_assert_eq!(levels[l][index[l]].1, index[l - 1], "{:?} leaves the tree\n{}", replica, text);
                }
                leaves.push(index[kinds.len() - 1]);
            }
            // Every multiset of leaves, by brute force (at most 8 leaves, 5 replicas).
            let mut best: Option<Vec<usize>> = None;
            let mut choice = vec![0usize; *replicas as usize];
            loop {
                let value = crowding(&levels, *rule, &choice);
                if best.as_ref().is_none_or(|b| value < *b) {
                    best = Some(value);
                }
                let mut i = 0;
                while i < choice.len() {
                    choice[i] += 1;
                    if choice[i] < leaf_count { break; }
                    choice[i] = 0;
                    i += 1;
                }
                if i == choice.len() { break; }
            }
            prop_assert_eq!(crowding(&levels, *rule, &leaves), best.unwrap(), "s{}\n{}\n{:?}", s, text, assignment.replicas);
        }
    }
}

/// A data centre as a tree (two rooms, a cluster each, two racks per cluster, two
/// hosts per rack) and a spare environment beside it, with services whose loads make
/// the greedy assignment sensitive to everything else placed there.
const STABLE: &str = r#"
environment "dc" {
  target = "kubernetes"
  tier   = "prod"
  cost   = { cpu_hour = 0.01 }
  failure_domains = {
    zone       = ["room-a", "room-b"]
    cluster    = { room-a = ["cl-a"], room-b = ["cl-b"] }
    rack       = { cl-a = ["a-r01", "a-r02"], cl-b = ["b-r01", "b-r02"] }
    hypervisor = {
      a-r01 = ["a-hv01", "a-hv02"], a-r02 = ["a-hv03", "a-hv04"]
      b-r01 = ["b-hv01", "b-hv02"], b-r02 = ["b-hv03", "b-hv04"]
    }
  }
}

environment "spare" {
  target          = "kubernetes"
  tier            = "prod"
  cost            = { cpu_hour = 0.05 }
  failure_domains = { zone = ["s1", "s2"] }
}

policy "critical-across-rooms" {
  when   = service.criticality == "critical"
  spread = "zone"
}
"#;

fn stable_model(extra: &str) -> String {
    let mut text = format!("{STABLE}{extra}");
    for (i, (cpu, replicas)) in [(4, 3), (3, 2), (2, 4), (1, 2), (2, 3), (1, 1)]
        .iter()
        .enumerate()
    {
        let critical = if i % 2 == 0 { "critical" } else { "medium" };
        writeln!(
            text,
            "service \"s{i}\" {{\n  version = \"1.0.0\"\n  image = \"s{i}:1\"\n  criticality = \"{critical}\"\n  replicas = {replicas}\n  resources {{\n    cpu = {cpu}\n  }}\n}}"
        )
        .unwrap();
    }
    text
}

/// Where every replica runs: environment and path, by instance.
fn placement_of(
    text: &str,
    previous: &place::Previous,
) -> (place::Previous, Vec<(String, String, Vec<String>)>) {
    let compilation = compile_system_str("main.svc", text);
    assert!(
        !compilation.has_errors(),
        "{text}\n{:?}",
        compilation.diagnostics
    );
    let systems = &compilation.resolution.as_ref().unwrap().systems;
    let mut recorded = place::Previous::new();
    let mut rows = Vec::new();
    for p in place::place_from(&compilation.model, systems, Default::default(), previous) {
        for a in &p.placement.unwrap().assignments {
            let paths: Vec<String> = a.replicas.iter().map(place::replica_path).collect();
            recorded
                .entry(a.environment.clone())
                .or_default()
                .insert(a.instance.clone(), paths.clone());
            rows.push((a.instance.clone(), a.environment.clone(), paths));
        }
    }
    (recorded, rows)
}

/// Removing one host re-pins only the replicas that were on it, when placement starts
/// from where they were; from scratch, others move too (what the lock prevents).
#[test]
fn removing_a_host_repins_only_the_replicas_that_were_on_it() {
    let before_text = stable_model("");
    let (previous, before) = placement_of(&before_text, &place::Previous::new());
    let after_text =
        before_text.replace(r#"a-r01 = ["a-hv01", "a-hv02"]"#, r#"a-r01 = ["a-hv02"]"#);
    let (_, after) = placement_of(&after_text, &previous);
    let mut moved_elsewhere = 0;
    for ((name, env, old), (_, env_now, new)) in before.iter().zip(&after) {
        assert_eq!(env, env_now, "{name} changed environment");
        for (k, (o, n)) in old.iter().zip(new).enumerate() {
            if o.ends_with("/a-hv01") {
                assert_ne!(o, n, "{name} replica {k} is still on the removed host");
            } else {
                assert_eq!(
                    o, n,
                    "{name} replica {k} moved though its host stays: {old:?} → {new:?}"
                );
            }
        }
    }
    // Without the previous placement the greedy assignment moves others too.
    let (_, fresh) = placement_of(&after_text, &place::Previous::new());
    for ((_, _, old), (_, _, new)) in before.iter().zip(&fresh) {
        moved_elsewhere += old
            .iter()
            .zip(new)
            .filter(|(o, n)| !o.ends_with("/a-hv01") && o != n)
            .count();
    }
    assert!(
        moved_elsewhere > 0,
        "the model does not show the churn it guards against"
    );
}

/// A policy that must move two services moves only those two: every other replica
/// keeps its environment and its failure domains.
#[test]
fn a_policy_that_moves_two_services_moves_only_those_two() {
    let before_text = stable_model("");
    let (previous, before) = placement_of(&before_text, &place::Previous::new());
    let policies = r#"
policy "s0-out-of-dc" {
  when   = service.name == "s0"
  forbid = environment.name == "dc"
}

policy "s3-out-of-dc" {
  when   = service.name == "s3"
  forbid = environment.name == "dc"
}
"#;
    let (_, after) = placement_of(&stable_model(policies), &previous);
    for ((name, env, old), (_, env_now, new)) in before.iter().zip(&after) {
        if name == "s0" || name == "s3" {
            assert_eq!(env_now, "spare", "{name}");
        } else {
            assert_eq!(
                (env, old),
                (env_now, new),
                "{name} moved though no rule asks it to"
            );
        }
    }
}
