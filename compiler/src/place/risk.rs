//! Risk of concentration: for every environment and failure domain of a placed
//! landscape, what stops if it is lost (directly, and through what requires it);
//! single points of failure; how concentrated the critical services are.
//!
//! A service stops when all its replicas are lost, or when a service it requires has
//! stopped (every `requires` is a call it needs, `ordering` or not).

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::Serialize;
use svcmodel_model::Criticality;
use svcmodel_model::placement::Placement;

use super::problem::Problem;

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RiskReport {
    pub landscape: String,
    /// The system's entry points.
    pub entrypoints: Vec<String>,
    /// One per environment, then one per failure domain.
    pub losses: Vec<Loss>,
    pub single_points_of_failure: Vec<SinglePoint>,
    pub concentration: Vec<Concentration>,
}

/// What losing one environment or failure domain does.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Loss {
    pub environment: String,
    /// `environment`, `zone`, `cluster`, `rack` or `hypervisor`.
    pub kind: String,
    /// The failure domain's name; the environment's for a whole environment.
    pub name: String,
    /// Services with every replica there.
    pub stopped: Vec<String>,
    /// Services that lose some replicas and keep running: name, replicas lost, replicas.
    pub degraded: Vec<Degraded>,
    /// Services that stop because something they require stopped, with that service.
    pub stopped_through: Vec<Through>,
    /// Entry points that stop.
    pub entrypoints_down: Vec<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Degraded {
    pub service: String,
    pub lost: u32,
    pub replicas: u32,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Through {
    pub service: String,
    /// The stopped service it requires.
    pub requires: String,
}

/// A failure domain whose loss alone stops an entry point.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SinglePoint {
    pub environment: String,
    pub kind: String,
    pub name: String,
    /// The services whose every replica is there.
    pub services: Vec<String>,
    pub entrypoints_down: Vec<String>,
}

/// How the replicas of critical services spread over one kind of failure domain of
/// one environment.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Concentration {
    pub environment: String,
    pub kind: String,
    /// Critical replicas in the environment.
    pub critical_replicas: u32,
    /// The domain holding the most of them, and how many.
    pub busiest: String,
    pub busiest_replicas: u32,
    /// `busiest_replicas / critical_replicas`.
    pub busiest_share: f64,
    /// Critical services with every replica in one domain of this kind.
    pub not_spread: Vec<String>,
}

pub fn risk(p: &Problem, placement: &Placement, env_of: &[usize]) -> RiskReport {
    let entrypoints = entrypoints(p);
    let mut losses = Vec::new();
    for (e, env) in p.envs.iter().enumerate() {
        let lost: Vec<u32> = (0..p.items.len())
            .map(|i| {
                if env_of[i] == e {
                    replicas(placement, p, i)
                } else {
                    0
                }
            })
            .collect();
        losses.push(loss(
            p,
            placement,
            &entrypoints,
            &env.name,
            "environment",
            &env.name,
            &lost,
        ));
    }
    for (e, env) in p.envs.iter().enumerate() {
        for (kind, domains) in &env.domains {
            for domain in domains {
                let lost: Vec<u32> = (0..p.items.len())
                    .map(|i| {
                        if env_of[i] != e {
                            return 0;
                        }
                        placement.assignments[i]
                            .replicas
                            .iter()
                            .filter(|r| r.get(kind.as_str()) == Some(domain))
                            .count() as u32
                    })
                    .collect();
                losses.push(loss(
                    p,
                    placement,
                    &entrypoints,
                    &env.name,
                    kind.as_str(),
                    domain,
                    &lost,
                ));
            }
        }
    }
    let single_points_of_failure = losses
        .iter()
        .filter(|l| l.kind != "environment" && !l.entrypoints_down.is_empty())
        .map(|l| SinglePoint {
            environment: l.environment.clone(),
            kind: l.kind.clone(),
            name: l.name.clone(),
            services: l.stopped.clone(),
            entrypoints_down: l.entrypoints_down.clone(),
        })
        .collect();
    let mut concentration = Vec::new();
    for (e, env) in p.envs.iter().enumerate() {
        for (kind, domains) in &env.domains {
            let mut count: BTreeMap<&str, u32> = domains.iter().map(|d| (d.as_str(), 0)).collect();
            let mut total = 0;
            let mut not_spread = Vec::new();
            for (i, item) in p.items.iter().enumerate() {
                if env_of[i] != e || item.criticality != Criticality::Critical {
                    continue;
                }
                let used: BTreeSet<&str> = placement.assignments[i]
                    .replicas
                    .iter()
                    .filter_map(|r| r.get(kind.as_str()).map(String::as_str))
                    .collect();
                for r in &placement.assignments[i].replicas {
                    if let Some(d) = r.get(kind.as_str())
                        && let Some(c) = count.get_mut(d.as_str())
                    {
                        *c += 1;
                        total += 1;
                    }
                }
                if used.len() < 2 {
                    not_spread.push(item.name.clone());
                }
            }
            if total == 0 {
                continue;
            }
            let (busiest, most) = count
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map(|(d, c)| (d.to_string(), *c))
                .unwrap_or_default();
            concentration.push(Concentration {
                environment: env.name.clone(),
                kind: kind.as_str().to_string(),
                critical_replicas: total,
                busiest,
                busiest_replicas: most,
                busiest_share: (f64::from(most) / f64::from(total) * 1000.0).round() / 1000.0,
                not_spread,
            });
        }
    }
    RiskReport {
        landscape: p.landscape.clone(),
        entrypoints: entrypoints
            .iter()
            .map(|&i| p.items[i].name.clone())
            .collect(),
        losses,
        single_points_of_failure,
        concentration,
    }
}

/// The system's entry points among the items; every item without a consumer when the
/// system declares none.
pub fn entrypoints(p: &Problem) -> Vec<usize> {
    let declared: Vec<&str> = p
        .model
        .systems
        .iter()
        .flat_map(|s| s.entrypoints.iter().map(|e| e.value.as_str()))
        .collect();
    if !declared.is_empty() {
        return (0..p.items.len())
            .filter(|&i| declared.contains(&p.items[i].name.as_str()))
            .collect();
    }
    let required: BTreeSet<usize> = p.edges.iter().map(|e| e.to).collect();
    (0..p.items.len())
        .filter(|i| !required.contains(i))
        .collect()
}

fn replicas(placement: &Placement, p: &Problem, i: usize) -> u32 {
    let _ = p;
    placement.assignments[i].replicas.len() as u32
}

fn loss(
    p: &Problem,
    placement: &Placement,
    entrypoints: &[usize],
    environment: &str,
    kind: &str,
    name: &str,
    lost: &[u32],
) -> Loss {
    let n = p.items.len();
    let mut down = vec![false; n];
    let mut stopped = Vec::new();
    let mut degraded = Vec::new();
    for i in 0..n {
        let total = replicas(placement, p, i);
        if lost[i] == 0 {
            continue;
        }
        if lost[i] >= total {
            down[i] = true;
            stopped.push(p.items[i].name.clone());
        } else {
            degraded.push(Degraded {
                service: p.items[i].name.clone(),
                lost: lost[i],
                replicas: total,
            });
        }
    }
    // Through dependencies, until nothing more stops.
    let mut stopped_through = Vec::new();
    loop {
        let mut changed = false;
        for edge in &p.edges {
            if down[edge.to] && !down[edge.from] {
                down[edge.from] = true;
                changed = true;
                stopped_through.push(Through {
                    service: p.items[edge.from].name.clone(),
                    requires: p.items[edge.to].name.clone(),
                });
            }
        }
        if !changed {
            break;
        }
    }
    stopped_through.sort_by(|a, b| a.service.cmp(&b.service));
    Loss {
        environment: environment.to_string(),
        kind: kind.to_string(),
        name: name.to_string(),
        stopped,
        degraded,
        stopped_through,
        entrypoints_down: entrypoints
            .iter()
            .filter(|&&i| down[i])
            .map(|&i| p.items[i].name.clone())
            .collect(),
    }
}
