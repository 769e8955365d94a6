//! Placement: which environment, and which failure domains, every service instance
//! runs in, decided by the model's rules, with the reason for each decision.
//!
//! Input: the model and its resolved systems (one per environment). Output: per
//! landscape (environments sharing a `tier`), a [`Placement`], or diagnostics that
//! name the smallest set of rules that cannot hold together.
//!
//! - `problem.rs` turns the model into items, edges, links and rules;
//! - `solve.rs` searches (greedy, local search, branch and bound);
//! - this file assigns failure domains, explains decisions and finds conflicts.

pub mod problem;
pub mod risk;
pub mod slo;
pub mod solve;

use std::collections::{BTreeMap, BTreeSet};

use svcmodel_model::placement::{Assignment, EnvironmentLoad, Placement};
use svcmodel_model::system::ResolvedSystem;
use svcmodel_model::{FailureDomainKind, Model, PolicyRule, Span};

pub use problem::{HOURS_PER_MONTH, Previous};

use crate::codes::Code;
use crate::diagnostic::Diagnostic;
pub use problem::{Problem, RuleId, landscapes};
pub use solve::{Limits, Outcome, Solution};

#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Nodes the branch and bound may visit per landscape.
    pub nodes: u64,
    /// Say in a sentence why each instance runs where it does (`Assignment::reason`).
    /// Only `svcmodel place` prints it: rendering and deploying skip the work.
    pub explain: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            nodes: 2_000_000,
            explain: true,
        }
    }
}

impl Options {
    /// For what never prints a reason: render, deploy, risk and slo.
    pub fn without_reasons() -> Options {
        Options {
            explain: false,
            ..Options::default()
        }
    }
}

/// One landscape, placed or not.
pub struct Placed<'a> {
    pub problem: Problem<'a>,
    pub solution: Option<Solution>,
    pub placement: Option<Placement>,
    /// Why there is no placement (errors).
    pub diagnostics: Vec<Diagnostic>,
    /// What the placement leaves at risk, by the environment it concerns (warnings).
    pub warnings: Vec<(String, Diagnostic)>,
}

/// Places every landscape of the model.
pub fn place<'a>(
    model: &'a Model,
    systems: &'a [ResolvedSystem],
    options: Options,
) -> Vec<Placed<'a>> {
    landscapes(model)
        .into_iter()
        .map(|(name, envs)| place_landscape(Problem::build(model, systems, &name, &envs), options))
        .collect()
}

/// Places every landscape of the model, keeping replicas on the failure domains of
/// `previous` while that spreads them as well.
pub fn place_from<'a>(
    model: &'a Model,
    systems: &'a [ResolvedSystem],
    options: Options,
    previous: &'a Previous,
) -> Vec<Placed<'a>> {
    landscapes(model)
        .into_iter()
        .map(|(name, envs)| {
            let mut problem = Problem::build(model, systems, &name, &envs);
            problem.start_from(previous);
            place_landscape(problem, options)
        })
        .collect()
}

pub fn place_landscape(problem: Problem<'_>, options: Options) -> Placed<'_> {
    let none = BTreeSet::new();
    let outcome = solve::solve(
        &problem,
        &none,
        Limits {
            nodes: options.nodes,
            feasibility_only: false,
        },
    );
    match outcome {
        Outcome::Found(solution) => {
            let placement = placement(&problem, &solution, options.explain);
            let warnings = degraded_spreads(&problem, &solution.env_of, &placement);
            Placed {
                problem,
                solution: Some(solution),
                placement: Some(placement),
                diagnostics: Vec::new(),
                warnings,
            }
        }
        Outcome::Infeasible => {
            let diagnostics = conflicts(&problem, options);
            Placed {
                problem,
                solution: None,
                placement: None,
                diagnostics,
                warnings: Vec::new(),
            }
        }
        Outcome::Unknown => {
            let mut d = Diagnostic::error(
                Code::PlacementUnknown,
                format!(
                    "no placement of landscape `{}` was found within {} search nodes",
                    problem.landscape, options.nodes
                ),
            );
            for env in &problem.envs {
                d = d.label(env.env.name.span, "an environment of this landscape");
            }
            let diagnostics = vec![d.help(
                "raise `--max-nodes`, loosen a rule (capacity, a latency budget, a spread), or split the landscape by `tier`",
            )];
            Placed {
                problem,
                solution: None,
                placement: None,
                diagnostics,
                warnings: Vec::new(),
            }
        }
    }
}

/// Why item `i`'s replicas got the failure domains they have in the environment
/// placement chose, one sentence each: the spread rules and how far each is met, the
/// tree the paths follow, and the domains out of service (`place --explain`).
pub fn domain_reasons(
    p: &Problem,
    env_of: &[usize],
    placement: &Placement,
    i: usize,
) -> Vec<String> {
    let e = env_of[i];
    let env = &p.envs[e];
    let item = &p.items[i];
    let replicas = &placement.assignments[i].replicas;
    let mut out = Vec::new();
    if env.domains.is_empty() {
        return out;
    }
    for &(kind, q) in &item.spreads[e] {
        let policy = &p.model.policies[q];
        let used: BTreeSet<&str> = replicas
            .iter()
            .filter_map(|r| r.get(kind.as_str()).map(String::as_str))
            .collect();
        let available = env.domains.get(&kind).map_or(0, Vec::len);
        let because = policy
            .because
            .as_ref()
            .map(|b| format!(" ({})", b.value))
            .unwrap_or_default();
        let soft = matches!(
            policy.rule,
            PolicyRule::Spread {
                weight: Some(_),
                ..
            }
        );
        let state = if item.degraded[e].contains(&q) {
            "degraded: too few are in service"
        } else if used.len() >= replicas.len().min(available) {
            "met"
        } else if soft {
            "preferred, not met"
        } else {
            "as far as the domains allow"
        };
        out.push(format!(
            "`{}` spreads it over {}s{because}: {} of {available} in service used, {state}",
            policy.name.value,
            kind.as_str(),
            used.len()
        ));
    }
    if item.spreads[e].is_empty() && replicas.len() > 1 {
        out.push(
            "no spread rule applies: its own replicas still go to the domains with the fewest of them, largest kind first, then the least loaded".to_string(),
        );
    }
    for &kind in env.parents.keys() {
        if let Some(parent) = env.env.parent_kind(kind) {
            out.push(format!(
                "{}s stand in {}s: each replica's path follows the tree",
                kind.as_str(),
                parent.as_str()
            ));
        }
    }
    if !env.env.out_of_service.is_empty() {
        out.push(format!(
            "out of service, so never chosen: {}, and what they hold",
            out_of_service_list(env)
        ));
    }
    out
}

/// The domains out of service in `env`, as a message names them: `` `a`, `b` ``.
fn out_of_service_list(env: &problem::Env) -> String {
    env.env
        .out_of_service
        .iter()
        .map(|d| format!("`{}`", d.value))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A warning for every spread rule that holds no longer because failure domains are
/// out of service, with the risk it leaves: the domain whose loss now stops the
/// service, if its replicas share one.
fn degraded_spreads(
    p: &Problem,
    env_of: &[usize],
    placement: &Placement,
) -> Vec<(String, Diagnostic)> {
    let mut out = Vec::new();
    for (i, item) in p.items.iter().enumerate() {
        let e = env_of[i];
        let env = &p.envs[e];
        for &q in &item.degraded[e] {
            let policy = &p.model.policies[q];
            let PolicyRule::Spread { over, .. } = &policy.rule else {
                continue;
            };
            let kind = over.value.as_str();
            let replicas = &placement.assignments[i].replicas;
            let shared: BTreeSet<&str> = replicas
                .iter()
                .filter_map(|r| r.get(kind).map(String::as_str))
                .collect();
            let risk = match shared.iter().next() {
                Some(only) if shared.len() == 1 => format!(
                    "its {} replicas share {kind} `{only}`: losing it stops `{}`",
                    replicas.len(),
                    item.name
                ),
                _ => format!("its replicas share fewer {kind}s than the rule asks"),
            };
            let lost = &env.env.out_of_service;
            let mut d = Diagnostic::error(
                Code::DegradedSpread,
                format!(
                    "`{}` cannot spread `{}` over {kind}s in `{}` while {} {} out of service; {risk}",
                    policy.name.value,
                    item.name,
                    env.name,
                    out_of_service_list(env),
                    if lost.len() == 1 { "is" } else { "are" }
                ),
            )
            .label(over.span, "this spread rule");
            d.severity = crate::diagnostic::Severity::Warning;
            for domain in &env.env.out_of_service {
                let label = if domain.span == env.env.name.span {
                    format!("`--lose {}`", domain.value)
                } else {
                    "out of service".to_string()
                };
                d = d.label(domain.span, label);
            }
            out.push((env.name.clone(), d.help(format!(
                "bring a {kind} back into service and re-run `svcmodel deploy`; to stop deploys instead, write `degraded = \"block\"` in the policy"
            ))));
        }
    }
    out
}

fn placement(p: &Problem, solution: &Solution, explain: bool) -> Placement {
    let domains = failure_domains(p, &solution.env_of);
    // Alone in its landscape, an instance's reason needs no comparison.
    let explainer = (explain && p.envs.len() > 1).then(|| Explainer::new(p, &solution.env_of));
    let assignments = p
        .items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let e = solution.env_of[i];
            Assignment {
                instance: item.name.clone(),
                service: item.service.clone(),
                environment: p.envs[e].name.clone(),
                replicas: domains[i].clone(),
                cost_per_hour: item.cost[e],
                unmet_preferences: item.unmet[e]
                    .iter()
                    .map(|&q| p.model.policies[q].name.value.clone())
                    .collect(),
                reason: match &explainer {
                    Some(explainer) => reason(explainer, i),
                    None if explain => format!(
                        "`{}` is the only environment of the landscape",
                        p.envs[e].name
                    ),
                    None => String::new(),
                },
            }
        })
        .collect();
    let loads = p
        .envs
        .iter()
        .enumerate()
        .map(|(e, env)| {
            let mut load = EnvironmentLoad {
                environment: env.name.clone(),
                millicpu: 0,
                memory_bytes: 0,
                capacity_millicpu: env.cpu_cap,
                capacity_memory_bytes: env.memory_cap,
                cost_per_hour: 0.0,
                storage_per_hour: 0.0,
            };
            for (i, item) in p.items.iter().enumerate() {
                if solution.env_of[i] == e
                    && let Some(size) = item.size[e]
                {
                    load.millicpu += size.total_cpu();
                    load.memory_bytes += size.total_memory();
                    load.cost_per_hour += item.cost[e];
                    load.storage_per_hour += item.storage_cost[e];
                }
            }
            load
        })
        .collect();
    let cost: f64 = p
        .items
        .iter()
        .enumerate()
        .map(|(i, item)| item.cost[solution.env_of[i]])
        .sum();
    let moves_once: f64 = p
        .items
        .iter()
        .enumerate()
        .map(|(i, item)| item.move_once[solution.env_of[i]])
        .sum();
    Placement {
        landscape: p.landscape.clone(),
        environments: p.envs.iter().map(|e| e.name.clone()).collect(),
        assignments,
        cost_per_hour: cost,
        penalty: (solution.objective - cost - moves_once / problem::HOURS_PER_MONTH).max(0.0),
        moves_once,
        objective: solution.objective,
        optimal: solution.optimal,
        lower_bound: solution.lower_bound,
        loads,
    }
}

/// The failure domains of every replica. Kinds nested in one another form a chain
/// (room > rack > host) and a replica gets one path down it, never a rack of one room
/// with a host of another; a kind declared as a list is a chain of its own. Along a
/// chain each replica goes to the leaf whose domains hold the fewest replicas of the
/// same service and of the same spread rules: first at the kinds a spread rule names,
/// then from the largest kind down, then the least loaded. Replicas of one service are
/// always spread, rule or not.
fn failure_domains(p: &Problem, env_of: &[usize]) -> Vec<Vec<BTreeMap<String, String>>> {
    let mut out: Vec<Vec<BTreeMap<String, String>>> = p
        .items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let replicas = item.size[env_of[i]].map_or(1, |s| s.replicas);
            vec![BTreeMap::new(); replicas as usize]
        })
        .collect();
    for (e, env) in p.envs.iter().enumerate() {
        let mut members: Vec<usize> = (0..p.items.len()).filter(|&i| env_of[i] == e).collect();
        members.sort_by(|&a, &b| {
            let spread = |i: usize| p.items[i].spreads[e].is_empty();
            let cpu = |i: usize| p.items[i].size[e].map_or(0, |s| s.millicpu);
            spread(a)
                .cmp(&spread(b))
                .then(cpu(b).cmp(&cpu(a)))
                .then(a.cmp(&b))
        });
        for chain in DomainChain::all(env) {
            chain.assign(p, e, &members, &mut out);
        }
    }
    out
}

/// Kinds nested in one another, from the largest down, and every path through them.
struct DomainChain<'p> {
    kinds: Vec<FailureDomainKind>,
    /// Per level, the domains' names.
    names: Vec<&'p [String]>,
    /// Per leaf (a domain of the last kind), its domain's index at every level.
    paths: Vec<Vec<usize>>,
}

impl<'p> DomainChain<'p> {
    fn all(env: &'p problem::Env) -> Vec<DomainChain<'p>> {
        let mut chains: Vec<DomainChain> = Vec::new();
        for (&kind, domains) in &env.domains {
            if domains.is_empty() {
                continue;
            }
            match chains.last_mut() {
                Some(chain) if env.parents.contains_key(&kind) => {
                    chain.kinds.push(kind);
                    chain.names.push(domains);
                }
                _ => chains.push(DomainChain {
                    kinds: vec![kind],
                    names: vec![domains],
                    paths: Vec::new(),
                }),
            }
        }
        for chain in &mut chains {
            chain.paths = chain.leaf_paths(env);
        }
        chains
    }

    /// Each leaf's path, found by walking up its parents; a leaf whose parents are not
    /// all declared (already an error of the model) is left out.
    fn leaf_paths(&self, env: &problem::Env) -> Vec<Vec<usize>> {
        let last = self.kinds.len() - 1;
        let index_of = |level: usize, name: &str| self.names[level].iter().position(|n| n == name);
        (0..self.names[last].len())
            .filter_map(|leaf| {
                let mut path = vec![0; self.kinds.len()];
                path[last] = leaf;
                for level in (0..last).rev() {
                    let child = &self.names[level + 1][path[level + 1]];
                    let parent = env.parents.get(&self.kinds[level + 1])?.get(child)?;
                    path[level] = index_of(level, parent)?;
                }
                Some(path)
            })
            .collect()
    }

    /// The leaf a recorded path (`room-a/a-r01/a-hv01`) ends in, if every domain of
    /// this chain on the way is in the path and the leaf is still in service.
    fn leaf_of(&self, path: &str) -> Option<usize> {
        let parts: Vec<&str> = path.split('/').collect();
        self.paths.iter().position(|levels| {
            levels
                .iter()
                .enumerate()
                .all(|(level, &d)| parts.contains(&self.names[level][d].as_str()))
        })
    }

    fn assign(
        &self,
        p: &Problem,
        e: usize,
        members: &[usize],
        out: &mut [Vec<BTreeMap<String, String>>],
    ) {
        if self.paths.is_empty() {
            return;
        }
        let levels = self.kinds.len();
        let mut load: Vec<Vec<u64>> = self.names.iter().map(|n| vec![0; n.len()]).collect();
        // Per spread rule, its replicas in each domain of the rule's kind.
        let mut by_rule: BTreeMap<usize, Vec<u32>> = BTreeMap::new();
        for &i in members {
            let item = &p.items[i];
            // Per level, the spread rules over that kind.
            let rules: Vec<Vec<usize>> = self
                .kinds
                .iter()
                .map(|kind| {
                    item.spreads[e]
                        .iter()
                        .filter(|(k, _)| k == kind)
                        .map(|(_, q)| *q)
                        .collect()
                })
                .collect();
            // The kinds a rule names decide first, then the rest from the largest down.
            let mut order: Vec<usize> = (0..levels).collect();
            order.sort_by_key(|&level| rules[level].is_empty());
            let mut own: Vec<Vec<u32>> = self.names.iter().map(|n| vec![0; n.len()]).collect();
            // Where each replica was, as leaves of this chain still in service.
            let was: Vec<Option<usize>> = p
                .previous
                .and_then(|previous| previous.get(&p.envs[e].name))
                .and_then(|instances| instances.get(&item.name))
                .map(|paths| paths.iter().map(|path| self.leaf_of(path)).collect())
                .unwrap_or_default();
            for (k, replica) in out[i].iter_mut().enumerate() {
                let crowding = |path: &Vec<usize>, level: usize| {
                    let d = path[level];
                    let ruled: u32 = rules[level]
                        .iter()
                        .map(|q| by_rule.get(q).map_or(0, |c| c[d]))
                        .sum();
                    ruled + own[level][d]
                };
                let Some(best) = (0..self.paths.len()).min_by(|&a, &b| {
                    let (pa, pb) = (&self.paths[a], &self.paths[b]);
                    order
                        .iter()
                        .map(|&l| crowding(pa, l).cmp(&crowding(pb, l)))
                        .chain(order.iter().map(|&l| load[l][pa[l]].cmp(&load[l][pb[l]])))
                        .find(|o| o.is_ne())
                        .unwrap_or(std::cmp::Ordering::Equal)
                        .then(a.cmp(&b))
                }) else {
                    continue;
                };
                // Stay where it was while that spreads it as well as the best choice
                // does, kind by kind: a lost host moves only its own replicas.
                let stays = |leaf: usize| {
                    order
                        .iter()
                        .all(|&l| crowding(&self.paths[leaf], l) == crowding(&self.paths[best], l))
                };
                let leaf = match was.get(k).copied().flatten() {
                    Some(leaf) if stays(leaf) => leaf,
                    _ => best,
                };
                let path = &self.paths[leaf];
                for level in 0..levels {
                    let d = path[level];
                    own[level][d] += 1;
                    load[level][d] += item.size[e].map_or(0, |s| s.millicpu);
                    for q in &rules[level] {
                        by_rule
                            .entry(*q)
                            .or_insert_with(|| vec![0; self.names[level].len()])[d] += 1;
                    }
                    replica.insert(
                        self.kinds[level].as_str().to_string(),
                        self.names[level][d].clone(),
                    );
                }
            }
        }
    }
}

/// A replica's failure domains as one path, from the largest kind down:
/// `room-a/cl-a/a-r01/a-hv01`, `eu-central-1a` (as `svcmodel.lock` records it).
pub fn replica_path(replica: &BTreeMap<String, String>) -> String {
    FailureDomainKind::ALL
        .iter()
        .filter_map(|k| replica.get(k.as_str()).map(String::as_str))
        .collect::<Vec<_>>()
        .join("/")
}

/// What explaining a placement needs, computed once: the blocks of items that must
/// share an environment, each environment's load and each link's traffic.
pub struct Explainer<'p> {
    p: &'p Problem<'p>,
    env_of: &'p [usize],
    blocks: Vec<Vec<usize>>,
    block_of: Vec<usize>,
    cpu: Vec<u64>,
    memory: Vec<u64>,
    bandwidth: Vec<u64>,
    group_count: Vec<Vec<usize>>,
    /// Per item: the `near` rules, edges and groups it is part of.
    nears_of: Vec<Vec<usize>>,
    edges_of: Vec<Vec<usize>>,
    groups_of: Vec<Vec<usize>>,
}

impl<'p> Explainer<'p> {
    pub fn new(p: &'p Problem<'p>, env_of: &'p [usize]) -> Explainer<'p> {
        let (blocks, block_of) = solve::blocks(p, &BTreeSet::new());
        let mut cpu = vec![0; p.envs.len()];
        let mut memory = vec![0; p.envs.len()];
        for (i, item) in p.items.iter().enumerate() {
            if let Some(size) = item.size[env_of[i]] {
                cpu[env_of[i]] += size.total_cpu();
                memory[env_of[i]] += size.total_memory();
            }
        }
        let mut bandwidth = vec![0; p.links.len()];
        for edge in &p.edges {
            let (e, f) = (env_of[edge.from], env_of[edge.to]);
            if e != f
                && let Some(l) = p.link_of[e][f]
            {
                bandwidth[l] += edge.bandwidth.unwrap_or(0);
            }
        }
        let group_count = p
            .groups
            .iter()
            .map(|g| {
                let mut count = vec![0; p.envs.len()];
                for &i in &g.items {
                    count[env_of[i]] += 1;
                }
                count
            })
            .collect();
        let mut nears_of = vec![Vec::new(); p.items.len()];
        for (n, near) in p.nears.iter().enumerate() {
            nears_of[near.item].push(n);
            nears_of[near.target].push(n);
        }
        let mut edges_of = vec![Vec::new(); p.items.len()];
        for (x, edge) in p.edges.iter().enumerate() {
            edges_of[edge.from].push(x);
            edges_of[edge.to].push(x);
        }
        let mut groups_of = vec![Vec::new(); p.items.len()];
        for (g, group) in p.groups.iter().enumerate() {
            for &i in &group.items {
                groups_of[i].push(g);
            }
        }
        Explainer {
            nears_of,
            edges_of,
            groups_of,
            p,
            env_of,
            blocks,
            block_of,
            cpu,
            memory,
            bandwidth,
            group_count,
        }
    }

    /// The rules moving `block` (all of it) to `e` would break, everything else
    /// staying: only what touches the block is looked at.
    fn move_violations(&self, block: &[usize], e: usize) -> Vec<RuleId> {
        let p = self.p;
        let members: BTreeSet<usize> = block.iter().copied().collect();
        let inside = |i: usize| members.contains(&i);
        let mut out = BTreeSet::new();
        let touching = |lists: &[Vec<usize>]| -> BTreeSet<usize> {
            block
                .iter()
                .flat_map(|&i| lists[i].iter().copied())
                .collect()
        };
        for n in touching(&self.nears_of) {
            let near = &p.nears[n];
            if inside(near.item) != inside(near.target) {
                let other = if inside(near.item) {
                    near.target
                } else {
                    near.item
                };
                if self.env_of[other] != e {
                    out.insert(RuleId::Near(n));
                }
            }
        }
        let mut extra: BTreeMap<usize, i64> = BTreeMap::new();
        for x in touching(&self.edges_of) {
            let edge = &p.edges[x];
            if inside(edge.from) == inside(edge.to) {
                continue;
            }
            let (mine, other) = if inside(edge.from) {
                (edge.from, edge.to)
            } else {
                (edge.to, edge.from)
            };
            let (before, f) = (self.env_of[mine], self.env_of[other]);
            if before != f
                && let Some(l) = p.link_of[before][f]
            {
                *extra.entry(l).or_default() -= edge.bandwidth.unwrap_or(0) as i64;
            }
            if e == f {
                continue;
            }
            match p.link_of[e][f] {
                None => {
                    if edge.needs_link() {
                        out.insert(RuleId::Reach(x));
                    }
                }
                Some(l) => {
                    if edge
                        .latency
                        .is_some_and(|b| p.links[l].latency.unwrap_or(0) > b)
                    {
                        out.insert(RuleId::Latency(x));
                    }
                    *extra.entry(l).or_default() += edge.bandwidth.unwrap_or(0) as i64;
                }
            }
        }
        for (l, delta) in extra {
            if delta > 0
                && p.links[l]
                    .bandwidth
                    .is_some_and(|b| self.bandwidth[l] as i64 + delta > b as i64)
            {
                out.insert(RuleId::Bandwidth(l));
            }
        }
        let (mut cpu, mut memory) = (0, 0);
        for &i in block {
            if self.env_of[i] != e
                && let Some(size) = p.items[i].size[e]
            {
                cpu += size.total_cpu();
                memory += size.total_memory();
            }
        }
        let env = &p.envs[e];
        if (cpu > 0 && env.cpu_cap.is_some_and(|c| self.cpu[e] + cpu > c))
            || (memory > 0 && env.memory_cap.is_some_and(|c| self.memory[e] + memory > c))
        {
            out.insert(RuleId::Capacity(e));
        }
        for g in touching(&self.groups_of) {
            let group = &p.groups[g];
            let moving = group
                .items
                .iter()
                .filter(|&&i| inside(i) && self.env_of[i] != e)
                .count();
            if moving > 0
                && self.group_count[g][e] + moving > 1
                && env.spread_fails(group.over, group.block_degraded)
            {
                out.insert(RuleId::Policy(group.policy));
            }
        }
        out.into_iter().collect()
    }
}

/// What decided an item's environment, in one sentence.
fn reason(x: &Explainer, i: usize) -> String {
    let p = x.p;
    let env_of = x.env_of;
    let item = &p.items[i];
    let e = env_of[i];
    let verdicts = x.verdicts(i);
    let alternatives: Vec<&Verdict> = verdicts.iter().filter(|v| v.environment != e).collect();
    if alternatives.is_empty() {
        return format!(
            "`{}` is the only environment of the landscape",
            p.envs[e].name
        );
    }
    if alternatives.iter().all(|v| v.kind == VerdictKind::Ruled) {
        let why = alternatives
            .iter()
            .map(|v| format!("not `{}`: {}", p.envs[v.environment].name, v.text))
            .collect::<Vec<_>>()
            .join("; ");
        return format!("the only environment its rules allow; {why}");
    }
    // The best alternative the rules would allow on its own: why not there.
    let best = alternatives
        .iter()
        .filter(|v| v.kind != VerdictKind::Ruled)
        .min_by(|a, b| {
            item.objective(a.environment)
                .total_cmp(&item.objective(b.environment))
                .then(a.environment.cmp(&b.environment))
        });
    match best {
        Some(v) => format!("not `{}`: {}", p.envs[v.environment].name, v.text),
        None => String::new(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerdictKind {
    Chosen,
    /// A rule forbids it whatever else is placed.
    Ruled,
    /// It would break a rule with what is placed (near, latency, capacity, bandwidth).
    Blocked,
    /// Allowed, but the objective is worse.
    Costlier,
}

/// Why one environment was chosen or not for one item.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub environment: usize,
    pub kind: VerdictKind,
    pub text: String,
    /// The rules behind it, for spans.
    pub rules: Vec<RuleId>,
}

/// Every environment of the landscape for item `i`, with why it was or was not
/// chosen: what moving it there, with the items that must share its environment
/// (`near`, or a latency budget no link meets), would break or cost while everything
/// else stays.
pub fn verdicts(p: &Problem, env_of: &[usize], i: usize) -> Vec<Verdict> {
    Explainer::new(p, env_of).verdicts(i)
}

impl Explainer<'_> {
    pub fn verdicts(&self, i: usize) -> Vec<Verdict> {
        let p = self.p;
        let env_of = self.env_of;
        let together: Vec<usize> = self.blocks[self.block_of[i]].clone();
        let item = &p.items[i];
        let here = env_of[i];
        let money = |x: f64| format!("{x:.3}/h");
        let sum = |e: usize, f: &dyn Fn(&problem::Item, usize) -> f64| -> f64 {
            together.iter().map(|&j| f(&p.items[j], e)).sum()
        };
        let with = if together.len() > 1 {
            format!(
                " (with {}, which must share its environment)",
                together
                    .iter()
                    .filter(|&&j| j != i)
                    .map(|&j| format!("`{}`", p.items[j].name))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            String::new()
        };
        (0..p.envs.len())
        .map(|e| {
            if e == here {
                let mut text = format!("chosen: {}", money(item.cost[e]));
                if item.move_once[e] > 0.0 {
                    text.push_str(&format!(
                        ", moved from `{}` for {:.2} once",
                        item.previous_env.map_or("", |w| p.envs[w].name.as_str()),
                        item.move_once[e]
                    ));
                } else if item.previous_env == Some(e) {
                    text.push_str(", where it ran (svcmodel.lock)");
                }
                if !item.unmet[e].is_empty() {
                    text.push_str(&format!(
                        ", leaving {} unmet",
                        item.unmet[e]
                            .iter()
                            .map(|&q| format!("`{}`", p.model.policies[q].name.value))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                return Verdict {
                    environment: e,
                    kind: VerdictKind::Chosen,
                    text,
                    rules: Vec::new(),
                };
            }
            // Its own rules first, then those of what must go with it.
            let ruled: Vec<(usize, &problem::Rejection)> = std::iter::once(i)
                .chain(together.iter().copied().filter(|&j| j != i))
                .flat_map(|j| p.items[j].rejections[e].iter().map(move |r| (j, r)))
                .collect();
            if !ruled.is_empty() {
                // One sentence per rule: its own, then for what must go with it.
                let mut sentences: Vec<(RuleId, Vec<&str>, &str)> = Vec::new();
                for (j, r) in &ruled {
                    let who = if *j == i { "" } else { p.items[*j].name.as_str() };
                    match sentences.iter_mut().find(|(rule, _, _)| *rule == r.rule) {
                        Some((_, names, _)) => {
                            if !who.is_empty() && !names.contains(&who) && !names.contains(&"") {
                                names.push(who);
                            }
                        }
                        None => sentences.push((r.rule, vec![who], r.text.as_str())),
                    }
                }
                let text = sentences
                    .iter()
                    .map(|(_, names, text)| {
                        if names.contains(&"") {
                            text.to_string()
                        } else {
                            let names: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
                            format!("it must run with {}, and {text}", names.join(" and "))
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                return Verdict {
                    environment: e,
                    kind: VerdictKind::Ruled,
                    text,
                    rules: sentences.iter().map(|(rule, _, _)| *rule).collect(),
                };
            }
            let broken = self.move_violations(&together, e);
            if !broken.is_empty() {
                let text = broken
                    .iter()
                    .map(|r| blocked_text(p, env_of, &together, i, e, *r))
                    .collect::<Vec<_>>()
                    .join("; ");
                return Verdict {
                    environment: e,
                    kind: VerdictKind::Blocked,
                    text: format!("{text}{with}"),
                    rules: broken,
                };
            }
            let cost_here = sum(here, &|x, f| x.cost[f]);
            let cost_there = sum(e, &|x, f| x.cost[f]);
            // A cost with the part that pays for data, when there is one.
            let priced = |cost: f64, f: usize| {
                let storage = sum(f, &|x, g| x.storage_cost[g]);
                if storage > 0.0 {
                    format!("{} (storage {})", money(cost), money(storage))
                } else {
                    money(cost)
                }
            };
            let gained: Vec<String> = together
                .iter()
                .flat_map(|&j| {
                    let x = &p.items[j];
                    x.unmet[e]
                        .iter()
                        .filter(|q| !x.unmet[here].contains(q))
                        .copied()
                        .collect::<Vec<_>>()
                })
                .collect::<BTreeSet<usize>>()
                .into_iter()
                .map(|q| {
                    let policy = &p.model.policies[q];
                    let weight = match &policy.rule {
                        PolicyRule::Prefer { weight, .. } => *weight,
                        PolicyRule::Spread {
                            weight: Some(weight),
                            ..
                        } => *weight,
                        _ => 0.0,
                    };
                    format!("`{}` (weight {weight})", policy.name.value)
                })
                .collect();
            let chosen = &p.envs[here].name;
            // A move's one-off cost, where the lock's placement ran it elsewhere.
            let moving = sum(e, &|x, f| x.move_once[f]);
            let running = |f: usize| sum(f, &|x, g| x.cost[g] + x.penalty[g]);
            let text = if moving > sum(here, &|x, f| x.move_once[f])
                && running(e) + 1e-9 < running(here)
            {
                format!(
                    "{} there against {} in `{chosen}`, where it ran (svcmodel.lock): moving costs {:.2} once, more than it would save in a month ({:.2}){with}",
                    priced(cost_there, e),
                    priced(cost_here, here),
                    moving,
                    (running(here) - running(e)) * problem::HOURS_PER_MONTH
                )
            } else if !gained.is_empty() {
                format!(
                    "it would leave {} unmet; {} there against {} in `{chosen}`{with}",
                    gained.join(", "),
                    priced(cost_there, e),
                    priced(cost_here, here)
                )
            } else if (cost_there - cost_here).abs() < 1e-9 {
                format!(
                    "as cheap as `{chosen}` ({}); the environment declared first wins the tie{with}",
                    money(cost_here)
                )
            } else {
                format!(
                    "{} there against {} in `{chosen}`{with}",
                    priced(cost_there, e),
                    priced(cost_here, here)
                )
            };
            Verdict {
                environment: e,
                kind: VerdictKind::Costlier,
                text,
                rules: Vec::new(),
            }
        })
        .collect()
    }
}

/// Why moving `i` with the items it must stay with (`moving`) to `e` breaks `rule`,
/// naming the ends of the rule itself: a budget between two other services of the
/// block is theirs, not `i`'s.
fn blocked_text(
    p: &Problem,
    env_of: &[usize],
    moving: &[usize],
    i: usize,
    e: usize,
    rule: RuleId,
) -> String {
    let name = &p.envs[e].name;
    let env_name = |x: usize| &p.envs[x].name;
    let inside = |k: usize| k == i || moving.contains(&k);
    match rule {
        RuleId::Near(n) => {
            let near = &p.nears[n];
            // The end that would move, and the one that stays.
            let (mine, other) = if inside(near.item) {
                (near.item, near.target)
            } else {
                (near.target, near.item)
            };
            if near.item == mine {
                format!(
                    "`{}` is kept near `{}` (in `{}`): `near` keeps it with its data, not in `{name}`",
                    p.items[mine].name,
                    p.items[other].name,
                    env_name(env_of[other])
                )
            } else {
                format!(
                    "`{}` (in `{}`) is declared near `{}`, so it stays there, not in `{name}`",
                    p.items[other].name,
                    env_name(env_of[other]),
                    p.items[mine].name
                )
            }
        }
        RuleId::Latency(x) | RuleId::Reach(x) => {
            let edge = &p.edges[x];
            let other = if inside(edge.from) {
                edge.to
            } else {
                edge.from
            };
            let f = env_of[other];
            let arrow = format!(
                "`{}` → `{}`",
                p.items[edge.from].name, p.items[edge.to].name
            );
            match (rule, p.latency(e, f)) {
                (RuleId::Reach(_), _) | (_, None) => format!(
                    "{arrow} would cross from `{name}` to `{}`, and no link joins them to carry its {}",
                    env_name(f),
                    if edge.latency.is_some() {
                        "latency budget"
                    } else {
                        "bandwidth"
                    }
                ),
                (_, Some(latency)) => format!(
                    "{arrow} allows {} and the link from `{name}` to `{}` takes {}",
                    problem::duration_text(edge.latency.unwrap_or(0)),
                    env_name(f),
                    problem::duration_text(latency)
                ),
            }
        }
        RuleId::Capacity(_) => format!("`{name}` has no room left for it"),
        RuleId::Bandwidth(l) => {
            let link = &p.links[l];
            format!(
                "the link between `{}` and `{}` has no bandwidth left for it",
                env_name(link.a),
                env_name(link.b)
            )
        }
        RuleId::Policy(q) => format!(
            "`{}` allows only one of its services per {} and `{name}` has one already",
            p.model.policies[q].name.value,
            match &p.model.policies[q].rule {
                PolicyRule::Spread { over, .. } => over.value.as_str(),
                _ => "failure domain",
            }
        ),
        RuleId::Resolution => format!("`{}` does not resolve in `{name}`", p.items[i].name),
        RuleId::OutOfService(_) => format!("`{name}` is out of service"),
    }
}

/// The span that declares a rule, and a label for it.
pub fn rule_label(p: &Problem, rule: RuleId) -> Option<(Span, String)> {
    Some(match rule {
        RuleId::Policy(q) => {
            let policy = &p.model.policies[q];
            let because = policy
                .because
                .as_ref()
                .map(|b| format!(": {}", b.value))
                .unwrap_or_default();
            (
                policy.name.span,
                format!("policy `{}`{because}", policy.name.value),
            )
        }
        RuleId::Near(n) => {
            let near = &p.nears[n];
            (
                near.span,
                format!(
                    "`{}` must run near `{}`",
                    p.items[near.item].name, p.items[near.target].name
                ),
            )
        }
        RuleId::Latency(x) => {
            let edge = &p.edges[x];
            let fastest = p.links.iter().filter_map(|l| l.latency).min();
            (
                edge.span,
                format!(
                    "`{}` → `{}` within {}{}",
                    p.items[edge.from].name,
                    p.items[edge.to].name,
                    problem::duration_text(edge.latency.unwrap_or(0)),
                    fastest
                        .map(|f| format!(" (the fastest link takes {})", problem::duration_text(f)))
                        .unwrap_or_default()
                ),
            )
        }
        RuleId::Reach(x) => {
            let edge = &p.edges[x];
            (
                edge.span,
                format!(
                    "`{}` → `{}` has a {}: across environments only over a link",
                    p.items[edge.from].name,
                    p.items[edge.to].name,
                    if edge.latency.is_some() {
                        "latency budget"
                    } else {
                        "bandwidth"
                    }
                ),
            )
        }
        RuleId::Capacity(e) => {
            let env = &p.envs[e];
            let span = env
                .env
                .capacity
                .as_ref()
                .and_then(|c| c.span)
                .unwrap_or(env.env.name.span);
            // What can run nowhere else must fit here.
            let (mut cpu, mut memory) = (0, 0);
            for item in &p.items {
                let only_here = (0..p.envs.len())
                    .all(|f| (f == e) == (item.rejections[f].is_empty() && item.size[f].is_some()));
                if let (true, Some(size)) = (only_here, item.size[e]) {
                    cpu += size.total_cpu();
                    memory += size.total_memory();
                }
            }
            let holds = [
                env.cpu_cap.map(|c| format!("{} cpu", problem::cpu_text(c))),
                env.memory_cap.map(problem::memory_text),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" and ");
            let needs = if cpu > 0 || memory > 0 {
                format!(
                    "; what can run nowhere else needs {} cpu and {}",
                    problem::cpu_text(cpu),
                    problem::memory_text(memory)
                )
            } else {
                String::new()
            };
            (span, format!("`{}` holds {holds}{needs}", env.name))
        }
        RuleId::Bandwidth(l) => {
            let link = &p.links[l];
            (
                link.span,
                format!(
                    "the bandwidth between `{}` and `{}`",
                    p.envs[link.a].name, p.envs[link.b].name
                ),
            )
        }
        RuleId::Resolution => return None,
        RuleId::OutOfService(e) => {
            let env = p.envs[e].env;
            match env.out_of_service.first() {
                Some(first) if !env.lost => (first.span, "out of service".to_string()),
                _ => (
                    env.name.span,
                    format!("`{}` is out of service", env.name.value),
                ),
            }
        }
    })
}

/// Why a landscape has no placement: for an instance no environment allows, the rules
/// that rule out each environment; otherwise the smallest set of rules found that
/// cannot hold together (each rule dropped in turn, kept only if the rest can then be
/// met).
pub fn conflicts(p: &Problem, options: Options) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for item in &p.items {
        if (0..p.envs.len()).any(|e| item.rejections[e].is_empty() && item.size[e].is_some()) {
            continue;
        }
        let mut rules: Vec<RuleId> = Vec::new();
        for e in 0..p.envs.len() {
            if let Some(r) = item.rejections[e]
                .iter()
                .find(|r| r.rule != RuleId::Resolution)
                .or(item.rejections[e].first())
                && !rules.contains(&r.rule)
            {
                rules.push(r.rule);
            }
        }
        let envs = p
            .envs
            .iter()
            .map(|e| format!("`{}`", e.name))
            .collect::<Vec<_>>()
            .join(", ");
        let mut d = Diagnostic::error(
            Code::NoEnvironment,
            format!(
                "`{}` can run in no environment of landscape `{}` ({envs})",
                item.name, p.landscape
            ),
        )
        .label(item.span, "this service");
        let mut unresolved = Vec::new();
        for e in 0..p.envs.len() {
            for r in &item.rejections[e] {
                if let Some((span, _)) = rule_label(p, r.rule) {
                    d = d.label(span, format!("rules out `{}`: {}", p.envs[e].name, r.text));
                } else {
                    unresolved.push(r.text.clone());
                }
            }
        }
        let mut help =
            "change one of these rules, or add an environment that meets them all".to_string();
        if !unresolved.is_empty() {
            help = format!("{help} ({})", unresolved.join("; "));
        }
        out.push(d.help(help));
    }
    if !out.is_empty() {
        return out;
    }
    let candidates = candidate_rules(p);
    let limits = Limits {
        nodes: options.nodes.min(200_000),
        feasibility_only: true,
    };
    let mut kept: Vec<RuleId> = candidates.clone();
    let mut disabled: BTreeSet<RuleId> = BTreeSet::new();
    let mut exact = true;
    // Each rule tried costs a search: on large landscapes, the rules the best attempt
    // breaks instead.
    if candidates.len() > 400 || p.items.len() * candidates.len() > 2_000_000 {
        kept = solve::best_attempt(p);
        exact = false;
    } else {
        for rule in &candidates {
            let mut trial = disabled.clone();
            trial.insert(*rule);
            match solve::solve(p, &trial, limits) {
                Outcome::Infeasible => {
                    disabled = trial;
                    kept.retain(|r| r != rule);
                }
                Outcome::Found(_) => {}
                Outcome::Unknown => exact = false,
            }
        }
    }
    let message = match kept.len() {
        1 => format!(
            "no placement of landscape `{}` meets this rule",
            p.landscape
        ),
        n => format!(
            "no placement of landscape `{}` meets these {n} rules together",
            p.landscape
        ),
    };
    let mut d = Diagnostic::error(Code::PlacementConflict, message);
    for rule in &kept {
        if let Some((span, text)) = rule_label(p, *rule) {
            d = d.label(span, text);
        }
        // A link's bandwidth binds only through the requirements that would cross
        // it: name each one that needs more than the link carries on its own.
        if let RuleId::Bandwidth(l) = rule {
            let link = &p.links[*l];
            // Those that alone need more than it carries; else every one with a
            // bandwidth, as they need more together.
            let alone = |needed: u64| link.bandwidth.is_some_and(|carried| needed > carried);
            let any_alone = p.edges.iter().any(|e| e.bandwidth.is_some_and(alone));
            for edge in &p.edges {
                let Some(needed) = edge.bandwidth else {
                    continue;
                };
                if alone(needed) || !any_alone {
                    d = d.label(
                        edge.span,
                        format!(
                            "`{}` → `{}` needs {} across `{}` and `{}`",
                            p.items[edge.from].name,
                            p.items[edge.to].name,
                            svcmodel_model::quantity::format(
                                svcmodel_model::QuantityKind::Bandwidth,
                                needed
                            ),
                            p.envs[link.a].name,
                            p.envs[link.b].name
                        ),
                    );
                }
            }
        }
    }
    let help = if let [RuleId::Capacity(_)] = kept.as_slice() {
        "raise the capacity, or give the services fewer replicas or smaller resources"
    } else if kept.len() == 1 {
        "loosen this rule"
    } else if exact {
        "loosen one of these rules: without any one of them the others can be met"
    } else {
        "loosen one of these rules (the search gave up on some rules, so the set may not be the smallest)"
    };
    out.push(d.help(help));
    out
}

fn candidate_rules(p: &Problem) -> Vec<RuleId> {
    let mut rules: BTreeSet<RuleId> = BTreeSet::new();
    for item in &p.items {
        for r in item.rejections.iter().flatten() {
            if !matches!(r.rule, RuleId::Resolution | RuleId::OutOfService(_)) {
                rules.insert(r.rule);
            }
        }
    }
    for group in &p.groups {
        rules.insert(RuleId::Policy(group.policy));
    }
    for n in 0..p.nears.len() {
        rules.insert(RuleId::Near(n));
    }
    for (x, edge) in p.edges.iter().enumerate() {
        if edge.needs_link() {
            rules.insert(RuleId::Reach(x));
        }
        if edge.latency.is_some() {
            rules.insert(RuleId::Latency(x));
        }
    }
    for (e, env) in p.envs.iter().enumerate() {
        if env.cpu_cap.is_some() || env.memory_cap.is_some() {
            rules.insert(RuleId::Capacity(e));
        }
    }
    for (l, link) in p.links.iter().enumerate() {
        if link.bandwidth.is_some() {
            rules.insert(RuleId::Bandwidth(l));
        }
    }
    rules.into_iter().collect()
}
