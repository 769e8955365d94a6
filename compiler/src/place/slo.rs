//! Service levels of a placed landscape: the availability of each entry point composed
//! over everything it requires, and its latency along request paths, against the
//! targets of the system's `slo`.
//!
//! - A service is up when one replica is up. Replicas fail independently only when
//!   they sit in different failure domains: the independent copies of a service are
//!   the fewest distinct domains its replicas use over every kind its environment
//!   declares (one, when it declares none). With per-replica availability `a` and `k`
//!   independent copies, the service is up `1 - (1 - a)^k` of the time.
//! - An entry point is up when it and everything it requires, directly or not, is up:
//!   the product over that closure.
//! - A request path's latency is bounded by the declared budget of each hop (or the
//!   network latency of the hop between environments where no budget is declared).

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::Serialize;
use svcmodel_model::placement::Placement;

use super::problem::{Problem, duration_text};
use super::risk::entrypoints;

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SloReport {
    pub landscape: String,
    /// The target availability in percent, from the system's `slo`.
    pub availability_target: Option<f64>,
    /// The target latency in milliseconds.
    pub latency_target_ms: Option<f64>,
    pub entrypoints: Vec<EntrypointLevel>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct EntrypointLevel {
    pub name: String,
    /// In percent.
    pub availability: f64,
    pub availability_met: Option<bool>,
    /// Services counted as always up: they declare no `availability`.
    pub unknown_availability: Vec<String>,
    /// The services that cost the most availability, worst first.
    pub weakest: Vec<ServiceLevel>,
    /// The slowest request path by its latency bound.
    pub slowest_path: Vec<String>,
    /// The bound along that path, in milliseconds: declared budgets, or the network
    /// latency where a hop declares none.
    pub latency_bound_ms: f64,
    /// Network latency alone along that path, in milliseconds.
    pub network_ms: f64,
    pub latency_met: Option<bool>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ServiceLevel {
    pub service: String,
    /// In percent.
    pub availability: f64,
    pub replicas: u32,
    /// Replicas in distinct failure domains (what counts as independent).
    pub independent: u32,
    /// Its share of the entry point's unavailability, in percent.
    pub share: f64,
}

pub fn slo(p: &Problem, placement: &Placement, env_of: &[usize]) -> SloReport {
    let target = p.model.systems.first().and_then(|s| s.slo.as_ref());
    let availability_target = target.and_then(|t| t.availability.as_ref().map(|a| a.value));
    let latency_target_ms =
        target.and_then(|t| t.latency_ns.as_ref().map(|l| l.value as f64 / 1e6));
    let levels: Vec<(f64, u32, u32)> = (0..p.items.len())
        .map(|i| level(p, placement, env_of, i))
        .collect();
    let entrypoints = entrypoints(p)
        .into_iter()
        .map(|entry| {
            let closure = closure(p, entry);
            let availability: f64 = closure.iter().map(|&i| levels[i].0).product();
            let unknown_availability = closure
                .iter()
                .filter(|&&i| p.items[i].availability.is_none())
                .map(|&i| p.items[i].name.clone())
                .collect();
            let total_down: f64 = closure.iter().map(|&i| 1.0 - levels[i].0).sum();
            let mut weakest: Vec<ServiceLevel> = closure
                .iter()
                // What costs less than a thousandth of the downtime is not a weak link.
                .filter(|&&i| total_down > 0.0 && (1.0 - levels[i].0) / total_down >= 0.001)
                .map(|&i| ServiceLevel {
                    service: p.items[i].name.clone(),
                    availability: percent(levels[i].0),
                    replicas: levels[i].1,
                    independent: levels[i].2,
                    share: if total_down > 0.0 {
                        round((1.0 - levels[i].0) / total_down * 100.0, 1)
                    } else {
                        0.0
                    },
                })
                .collect();
            weakest.sort_by(|a, b| {
                a.availability
                    .total_cmp(&b.availability)
                    .then(a.service.cmp(&b.service))
            });
            weakest.truncate(5);
            let (path, bound, network) = slowest_path(p, env_of, entry);
            EntrypointLevel {
                name: p.items[entry].name.clone(),
                availability: percent(availability),
                availability_met: availability_target.map(|t| availability * 100.0 >= t - 1e-12),
                unknown_availability,
                weakest,
                slowest_path: path.iter().map(|&i| p.items[i].name.clone()).collect(),
                latency_bound_ms: round(bound as f64 / 1e6, 3),
                network_ms: round(network as f64 / 1e6, 3),
                latency_met: latency_target_ms.map(|t| bound as f64 / 1e6 <= t),
            }
        })
        .collect();
    SloReport {
        landscape: p.landscape.clone(),
        availability_target,
        latency_target_ms,
        entrypoints,
    }
}

/// Availability of one service as placed, its replicas, and how many are independent.
fn level(p: &Problem, placement: &Placement, env_of: &[usize], i: usize) -> (f64, u32, u32) {
    let replicas = &placement.assignments[i].replicas;
    let env = &p.envs[env_of[i]];
    let independent = env
        .domains
        .keys()
        .map(|kind| {
            replicas
                .iter()
                .filter_map(|r| r.get(kind.as_str()))
                .collect::<BTreeSet<_>>()
                .len()
        })
        .min()
        .unwrap_or(1)
        .max(1) as u32;
    let a = p.items[i].availability.unwrap_or(1.0);
    let up = 1.0 - (1.0 - a).powi(independent as i32);
    (up, replicas.len() as u32, independent)
}

/// The item and everything it requires, directly or not.
fn closure(p: &Problem, from: usize) -> Vec<usize> {
    let mut seen = BTreeSet::from([from]);
    let mut stack = vec![from];
    while let Some(i) = stack.pop() {
        for edge in p.edges.iter().filter(|e| e.from == i) {
            if seen.insert(edge.to) {
                stack.push(edge.to);
            }
        }
    }
    seen.into_iter().collect()
}

/// The request path from `from` with the largest latency bound (ties: the larger
/// network latency, then the first edge declared). Longest paths are memoised per
/// service, so large graphs cost linear time; an edge back into the path being walked
/// (a mutual call, `ordering = false`) is not followed.
fn slowest_path(p: &Problem, env_of: &[usize], from: usize) -> (Vec<usize>, u64, u64) {
    // best[i]: (bound, network, next) of the slowest path starting at i.
    let mut best: Vec<Option<(u64, u64, Option<usize>)>> = vec![None; p.items.len()];
    let mut on_path = vec![false; p.items.len()];
    let mut out_edges: Vec<Vec<usize>> = vec![Vec::new(); p.items.len()];
    for (x, edge) in p.edges.iter().enumerate() {
        out_edges[edge.from].push(x);
    }
    fn visit(
        p: &Problem,
        env_of: &[usize],
        out_edges: &[Vec<usize>],
        i: usize,
        best: &mut Vec<Option<(u64, u64, Option<usize>)>>,
        on_path: &mut Vec<bool>,
    ) -> (u64, u64) {
        if let Some((bound, network, _)) = best[i] {
            return (bound, network);
        }
        on_path[i] = true;
        let mut here = (0, 0, None);
        for &x in &out_edges[i] {
            let edge = &p.edges[x];
            if on_path[edge.to] {
                continue;
            }
            let hop = p.latency(env_of[edge.from], env_of[edge.to]).unwrap_or(0);
            let (bound, network) = visit(p, env_of, out_edges, edge.to, best, on_path);
            let candidate = (bound + edge.latency.unwrap_or(hop), network + hop);
            if candidate > (here.0, here.1) {
                here = (candidate.0, candidate.1, Some(edge.to));
            }
        }
        on_path[i] = false;
        best[i] = Some(here);
        (here.0, here.1)
    }
    let (bound, network) = visit(p, env_of, &out_edges, from, &mut best, &mut on_path);
    let mut path = vec![from];
    let mut at = from;
    while let Some(Some((_, _, Some(next)))) = best.get(at) {
        if path.contains(next) {
            break;
        }
        path.push(*next);
        at = *next;
    }
    (path, bound, network)
}

fn percent(fraction: f64) -> f64 {
    round(fraction * 100.0, 6)
}

fn round(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
}

/// `120ms`, for messages.
pub fn ms_text(ms: f64) -> String {
    duration_text((ms * 1e6) as u64)
}
