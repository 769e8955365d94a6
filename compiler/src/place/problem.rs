//! The placement problem of one landscape, built from the model and the resolved
//! systems: items (instances) with their sizes, costs and unary verdicts per
//! environment, dependency edges with latency budgets and bandwidth, `near` pairs,
//! links between environments and spread groups.
//!
//! Every hard rule has a [`RuleId`]: the search can be run with any set of rules
//! switched off, which is how an infeasible model is explained (the smallest set of
//! rules that cannot hold together).

use std::collections::{BTreeMap, BTreeSet};

use svcmodel_model::eval::{Context, holds};
use svcmodel_model::system::ResolvedSystem;
use svcmodel_model::{Environment, FailureDomainKind, Model, PolicyRule, Span};

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// A rule that can decide or forbid a placement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RuleId {
    /// A policy (`require`, `forbid`, `spread`), by index in `Model::policies`.
    Policy(usize),
    /// `near` of an item, by index into [`Problem::nears`].
    Near(usize),
    /// The latency budget of a dependency, by index into [`Problem::edges`].
    Latency(usize),
    /// A dependency with a latency budget or a bandwidth crosses environments only
    /// over a declared link.
    Reach(usize),
    /// The capacity of an environment (by index into [`Problem::envs`]).
    Capacity(usize),
    /// The bandwidth of a link, by index into [`Problem::links`].
    Bandwidth(usize),
    /// The instance is not part of this environment's resolution (its versions or
    /// requirements resolve differently there). Never switched off.
    Resolution,
    /// The environment (by index into [`Problem::envs`]) is out of service as a whole,
    /// or every domain of one of its kinds is. Never switched off: it is a fact.
    OutOfService(usize),
}

/// Why an item cannot run in an environment whatever else is placed.
#[derive(Debug, Clone)]
pub struct Rejection {
    pub rule: RuleId,
    pub text: String,
}

#[derive(Debug, Clone, Copy)]
pub struct Size {
    pub replicas: u32,
    /// Per replica.
    pub millicpu: u64,
    /// Per replica.
    pub memory: u64,
}

impl Size {
    pub fn total_cpu(&self) -> u64 {
        self.millicpu * u64::from(self.replicas)
    }
    pub fn total_memory(&self) -> u64 {
        self.memory * u64::from(self.replicas)
    }
}

pub struct Env<'a> {
    pub env: &'a Environment,
    pub name: String,
    pub system: Option<&'a ResolvedSystem>,
    pub cpu_cap: Option<u64>,
    pub memory_cap: Option<u64>,
    pub cpu_hour: f64,
    pub memory_gib_hour: f64,
    pub storage_gib_month: f64,
    pub egress_gib: f64,
    pub move_replica: f64,
    pub domains: BTreeMap<FailureDomainKind, Vec<String>>,
    /// For a kind declared nested: each domain's parent, a domain of the kind before
    /// it in `domains`.
    pub parents: BTreeMap<FailureDomainKind, BTreeMap<String, String>>,
    /// Per kind, the domains declared, in service or not: a spread that only the
    /// domains out of service break is degraded, not impossible.
    pub declared: BTreeMap<FailureDomainKind, usize>,
}

impl Env<'_> {
    /// Whether a spread rule over `kind` keeps two of its services (or two replicas of
    /// one) out of this environment: fewer than two domains of the kind are in
    /// service, and either fewer than two are declared or the rule blocks when
    /// degraded.
    pub fn spread_fails(&self, kind: FailureDomainKind, block_degraded: bool) -> bool {
        let in_service = self.domains.get(&kind).map_or(0, Vec::len);
        let declared = self.declared.get(&kind).copied().unwrap_or(0);
        in_service < 2 && (declared < 2 || block_degraded || in_service == 0)
    }
}

/// The failure domains of `env` still in service, per kind: not out of service, not
/// nested in one that is, and, for a kind something is nested in, holding at least one
/// domain in service.
fn in_service(env: &Environment) -> BTreeMap<FailureDomainKind, Vec<String>> {
    let lost: BTreeSet<&str> = env
        .out_of_service
        .iter()
        .map(|d| d.value.as_str())
        .collect();
    let mut kept: BTreeMap<FailureDomainKind, Vec<String>> = env
        .failure_domains
        .iter()
        .map(|(kind, domains)| {
            let names = domains
                .iter()
                .map(|d| d.value.clone())
                .filter(|n| !lost.contains(n.as_str()))
                .collect();
            (*kind, names)
        })
        .collect();
    let nested: Vec<(FailureDomainKind, FailureDomainKind)> = kept
        .keys()
        .filter_map(|&kind| Some((kind, env.parent_kind(kind)?)))
        .collect();
    let parent_of = |kind: &FailureDomainKind, domain: &str| {
        env.domain_parents
            .get(kind)
            .and_then(|p| p.get(domain))
            .cloned()
    };
    // Down the tree: nothing stands in a domain out of service.
    for (kind, parent_kind) in &nested {
        let up: BTreeSet<String> = kept
            .get(parent_kind)
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        if let Some(domains) = kept.get_mut(kind) {
            domains.retain(|d| parent_of(kind, d).is_some_and(|p| up.contains(&p)));
        }
    }
    // Up the tree: a domain with nothing left in it holds nothing.
    for (kind, parent_kind) in nested.iter().rev() {
        let holding: BTreeSet<String> = kept
            .get(kind)
            .into_iter()
            .flatten()
            .filter_map(|d| parent_of(kind, d))
            .collect();
        if let Some(parents) = kept.get_mut(parent_kind) {
            parents.retain(|p| holding.contains(p));
        }
    }
    kept
}

/// A month of cost, as cloud providers bill it: 730 hours.
pub const HOURS_PER_MONTH: f64 = 730.0;

/// Why nothing can be placed in `env`, if nothing can: it is lost as a whole, or
/// every domain of a kind it declares is out of service.
fn out_of_service(env: &Env) -> Option<String> {
    if env.env.lost {
        return Some(format!("`{}` is out of service (`--lose`)", env.name));
    }
    env.declared
        .iter()
        .find(|(kind, n)| **n > 0 && env.domains.get(kind).is_none_or(Vec::is_empty))
        .map(|(kind, _)| {
            format!(
                "every {} of `{}` is out of service",
                kind.as_str(),
                env.name
            )
        })
}

/// `capacity`, less the share of the domains out of service: of each kind, the part
/// still in service; the smallest part counts.
fn capacity_in_service(
    capacity: Option<u64>,
    declared: &BTreeMap<FailureDomainKind, usize>,
    kept: &BTreeMap<FailureDomainKind, Vec<String>>,
) -> Option<u64> {
    let capacity = capacity?;
    let scaled = declared
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(kind, n)| {
            let left = kept.get(kind).map_or(0, Vec::len) as u128;
            (u128::from(capacity) * left / *n as u128) as u64
        })
        .min()
        .unwrap_or(capacity);
    Some(scaled)
}

pub struct Item {
    pub name: String,
    pub service: String,
    /// Per environment: the size there, `None` when the environment's resolution does
    /// not hold the instance.
    pub size: Vec<Option<Size>>,
    /// Per environment: cost per hour, storage included.
    pub cost: Vec<f64>,
    /// Per environment: the part of `cost` that pays for its data.
    pub storage_cost: Vec<f64>,
    /// The size of its data, in GiB, per replica.
    pub data_gib: f64,
    /// Where the previous placement (`svcmodel.lock`) ran it, in this landscape.
    pub previous_env: Option<usize>,
    /// Per environment: what moving there from `previous_env` costs once (its
    /// replicas at the new environment's `move_replica`, its data at the old one's
    /// `egress_gib`); zero where it ran, and without a previous placement.
    pub move_once: Vec<f64>,
    /// Per environment: the weights of unmet `prefer` rules, and which.
    pub penalty: Vec<f64>,
    pub unmet: Vec<Vec<usize>>,
    /// Per environment: what rules it out.
    pub rejections: Vec<Vec<Rejection>>,
    /// Per environment: the spread rules that apply (kind, policy).
    pub spreads: Vec<Vec<(FailureDomainKind, usize)>>,
    /// Per environment: the spread rules that only domains out of service break there
    /// (placed there, it runs with a warning).
    pub degraded: Vec<Vec<usize>>,
    pub criticality: svcmodel_model::Criticality,
    /// Availability of one replica, as a fraction (0.999), where declared.
    pub availability: Option<f64>,
    pub span: Span,
}

impl Item {
    /// Cost plus penalty in environment `e`, plus a move's one-off cost spread over
    /// a month: a move is made when it saves more in a month than it costs once.
    pub fn objective(&self, e: usize) -> f64 {
        self.cost[e] + self.penalty[e] + self.move_once[e] / HOURS_PER_MONTH
    }
}

pub struct Edge {
    pub from: usize,
    pub to: usize,
    pub latency: Option<u64>,
    pub bandwidth: Option<u64>,
    pub span: Span,
}

impl Edge {
    /// Whether crossing environments needs a link: a latency budget or a bandwidth
    /// can only be met over a declared link. Without either, any two environments of
    /// a landscape reach each other.
    pub fn needs_link(&self) -> bool {
        self.latency.is_some() || self.bandwidth.is_some()
    }
}

pub struct Near {
    pub item: usize,
    pub target: usize,
    pub span: Span,
}

pub struct Link {
    pub a: usize,
    pub b: usize,
    pub latency: Option<u64>,
    pub bandwidth: Option<u64>,
    pub span: Span,
}

/// Services named together in one spread rule: two of them may share an environment
/// only if it has at least two failure domains of the kind.
pub struct Group {
    pub policy: usize,
    pub over: FailureDomainKind,
    /// `degraded = "block"`: domains out of service count as missing.
    pub block_degraded: bool,
    pub items: Vec<usize>,
}

pub struct Problem<'a> {
    pub model: &'a Model,
    pub landscape: String,
    pub envs: Vec<Env<'a>>,
    pub items: Vec<Item>,
    pub edges: Vec<Edge>,
    pub nears: Vec<Near>,
    pub links: Vec<Link>,
    pub groups: Vec<Group>,
    /// `link_of[e][f]`: the link between two environments.
    pub link_of: Vec<Vec<Option<usize>>>,
    /// Where the replicas were (`svcmodel.lock`'s `[placement]`); `None`: start afresh.
    pub previous: Option<&'a Previous>,
}

/// Where replicas were (`svcmodel.lock`'s `[placement]`): by environment, by instance,
/// each replica's failure-domain path.
pub type Previous = BTreeMap<String, BTreeMap<String, Vec<String>>>;

/// The landscapes of a model: environments that share a `tier` are placed together;
/// an environment without a tier is a landscape of its own. In the order of the first
/// environment of each.
pub fn landscapes(model: &Model) -> Vec<(String, Vec<usize>)> {
    // The name, the members, and whether a tier made it: an environment without a
    // tier is alone, even when another environment's tier has its name.
    let mut out: Vec<(String, Vec<usize>, bool)> = Vec::new();
    for (i, env) in model.environments.iter().enumerate() {
        match &env.tier {
            Some(tier) => match out
                .iter_mut()
                .find(|(name, _, tiered)| *tiered && *name == tier.value)
            {
                Some((_, members, _)) => members.push(i),
                None => out.push((tier.value.clone(), vec![i], true)),
            },
            None => out.push((env.name.value.clone(), vec![i], false)),
        }
    }
    out.into_iter()
        .map(|(name, members, _)| (name, members))
        .collect()
}

impl<'a> Problem<'a> {
    /// The problem of the landscape made of `environments` (indices into
    /// `model.environments`), from their resolved systems.
    pub fn build(
        model: &'a Model,
        systems: &'a [ResolvedSystem],
        landscape: &str,
        environments: &[usize],
    ) -> Problem<'a> {
        let envs: Vec<Env<'a>> = environments
            .iter()
            .map(|&i| {
                let env = &model.environments[i];
                let name = env.name.value.clone();
                let declared = env
                    .failure_domains
                    .iter()
                    .map(|(kind, domains)| (*kind, domains.len()))
                    .collect();
                let domains = in_service(env);
                Env {
                    env,
                    system: systems
                        .iter()
                        .find(|s| s.environment.as_deref() == Some(name.as_str())),
                    name,
                    cpu_cap: capacity_in_service(
                        env.capacity.as_ref().and_then(|c| c.millicpu),
                        &declared,
                        &domains,
                    ),
                    memory_cap: capacity_in_service(
                        env.capacity.as_ref().and_then(|c| c.memory_bytes),
                        &declared,
                        &domains,
                    ),
                    cpu_hour: env.cost.as_ref().and_then(|c| c.cpu_hour).unwrap_or(0.0),
                    memory_gib_hour: env
                        .cost
                        .as_ref()
                        .and_then(|c| c.memory_gib_hour)
                        .unwrap_or(0.0),
                    storage_gib_month: env
                        .cost
                        .as_ref()
                        .and_then(|c| c.storage_gib_month)
                        .unwrap_or(0.0),
                    egress_gib: env.cost.as_ref().and_then(|c| c.egress_gib).unwrap_or(0.0),
                    move_replica: env
                        .cost
                        .as_ref()
                        .and_then(|c| c.move_replica)
                        .unwrap_or(0.0),
                    domains,
                    parents: env.domain_parents.clone(),
                    declared,
                }
            })
            .collect();
        let by_name: Vec<BTreeMap<&str, usize>> = envs
            .iter()
            .map(|e| {
                e.system
                    .map(|s| {
                        s.instances
                            .iter()
                            .enumerate()
                            .map(|(k, i)| (i.name.as_str(), k))
                            .collect()
                    })
                    .unwrap_or_default()
            })
            .collect();
        let mut names: Vec<String> = envs
            .iter()
            .filter_map(|e| e.system)
            .flat_map(|s| s.instances.iter().map(|i| i.name.clone()))
            .collect();
        names.sort();
        names.dedup();
        let index: BTreeMap<&str, usize> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        let mut problem = Problem {
            model,
            landscape: landscape.to_string(),
            items: Vec::with_capacity(names.len()),
            edges: Vec::new(),
            nears: Vec::new(),
            links: Vec::new(),
            groups: Vec::new(),
            link_of: vec![vec![None; envs.len()]; envs.len()],
            previous: None,
            envs,
        };
        for name in &names {
            let item = problem.item(name, &by_name);
            problem.items.push(item);
        }
        problem.relations(&names, &index, &by_name);
        problem.links();
        problem
    }

    fn item(&self, name: &str, by_name: &[BTreeMap<&str, usize>]) -> Item {
        let n = self.envs.len();
        let mut item = Item {
            name: name.to_string(),
            service: String::new(),
            size: vec![None; n],
            cost: vec![0.0; n],
            storage_cost: vec![0.0; n],
            data_gib: 0.0,
            previous_env: None,
            move_once: vec![0.0; n],
            penalty: vec![0.0; n],
            unmet: vec![Vec::new(); n],
            rejections: vec![Vec::new(); n],
            spreads: vec![Vec::new(); n],
            degraded: vec![Vec::new(); n],
            criticality: svcmodel_model::Criticality::Medium,
            availability: None,
            span: Span::default(),
        };
        for (e, env) in self.envs.iter().enumerate() {
            let Some(instance) = env
                .system
                .zip(by_name[e].get(name))
                .map(|(s, &i)| &s.instances[i])
            else {
                item.rejections[e].push(Rejection {
                    rule: RuleId::Resolution,
                    text: format!(
                        "`{name}` is not part of the system as `{}` resolves it",
                        env.name
                    ),
                });
                continue;
            };
            let def = &*self.model.services[instance.definition];
            if let Some(text) = out_of_service(env) {
                item.rejections[e].push(Rejection {
                    rule: RuleId::OutOfService(e),
                    text,
                });
            }
            item.service = instance.service.clone();
            item.criticality = def.criticality.value;
            item.availability = def.availability.as_ref().map(|a| a.value / 100.0);
            item.span = def.name.span;
            let size = Size {
                replicas: def.total_replicas().max(1),
                millicpu: instance.resources.millicpu.as_ref().map_or(0, |c| c.value),
                memory: instance
                    .resources
                    .memory_bytes
                    .as_ref()
                    .map_or(0, |m| m.value),
            };
            item.size[e] = Some(size);
            let data_gib = def
                .data
                .as_ref()
                .and_then(|d| d.size_bytes.as_ref())
                .map_or(0.0, |b| b.value as f64 / GIB);
            item.data_gib = data_gib;
            item.storage_cost[e] =
                f64::from(size.replicas) * data_gib * env.storage_gib_month / HOURS_PER_MONTH;
            item.cost[e] = f64::from(size.replicas)
                * (size.millicpu as f64 / 1000.0 * env.cpu_hour
                    + size.memory as f64 / GIB * env.memory_gib_hour)
                + item.storage_cost[e];
            let context = Context {
                service: Some(def),
                environment: Some(env.env),
            };
            for (p, policy) in self.model.policies.iter().enumerate() {
                let when = policy
                    .when
                    .as_ref()
                    .is_none_or(|w| holds(&w.value, context));
                let because = policy
                    .because
                    .as_ref()
                    .map(|b| format!(": {}", b.value))
                    .unwrap_or_default();
                match &policy.rule {
                    PolicyRule::Require { condition }
                        if when && !holds(&condition.value, context) =>
                    {
                        item.rejections[e].push(Rejection {
                            rule: RuleId::Policy(p),
                            text: format!(
                                "`{}` does not allow `{}`{because}",
                                policy.name.value, env.name
                            ),
                        });
                    }
                    PolicyRule::Forbid { condition }
                        if when && holds(&condition.value, context) =>
                    {
                        item.rejections[e].push(Rejection {
                            rule: RuleId::Policy(p),
                            text: format!(
                                "`{}` forbids `{}`{because}",
                                policy.name.value, env.name
                            ),
                        });
                    }
                    PolicyRule::Prefer { condition, weight }
                        if when && !holds(&condition.value, context) =>
                    {
                        item.penalty[e] += weight;
                        item.unmet[e].push(p);
                    }
                    PolicyRule::Spread {
                        services,
                        over,
                        weight,
                        block_degraded,
                    } => {
                        let named = services.is_empty()
                            || services.iter().any(|s| s.value == def.name.value);
                        if !(named && when) {
                            continue;
                        }
                        item.spreads[e].push((over.value, p));
                        let count = env.domains.get(&over.value).map_or(0, Vec::len);
                        let declared = env.declared.get(&over.value).copied().unwrap_or(0);
                        let kind = over.value.as_str();
                        if count >= 2 || (count == 1 && size.replicas < 2) {
                            continue;
                        }
                        if let Some(weight) = weight {
                            item.penalty[e] += weight;
                            item.unmet[e].push(p);
                            continue;
                        }
                        let needed = if size.replicas >= 2 { 2 } else { 1 };
                        let degraded = count >= 1 && declared >= needed;
                        let text = if declared == 0 {
                            format!(
                                "`{}` spreads it over {kind}s and `{}` declares none{because}",
                                policy.name.value, env.name
                            )
                        } else if count == 0 {
                            format!(
                                "`{}` spreads it over {kind}s and every {kind} of `{}` is out of service{because}",
                                policy.name.value, env.name
                            )
                        } else if degraded && !block_degraded {
                            item.degraded[e].push(p);
                            continue;
                        } else if degraded {
                            format!(
                                "`{}` spreads its {} replicas over {kind}s, blocks while degraded, and `{}` has only one in service{because}",
                                policy.name.value, size.replicas, env.name
                            )
                        } else {
                            format!(
                                "`{}` spreads its {} replicas over {kind}s and `{}` has only one{because}",
                                policy.name.value, size.replicas, env.name
                            )
                        };
                        item.rejections[e].push(Rejection {
                            rule: RuleId::Policy(p),
                            text,
                        });
                    }
                    _ => {}
                }
            }
            // Capacity a single item can already break, whatever else runs there.
            let too_big = |used: u64, cap: Option<u64>| cap.is_some_and(|c| used > c);
            if too_big(size.total_cpu(), env.cpu_cap)
                || too_big(size.total_memory(), env.memory_cap)
            {
                item.rejections[e].push(Rejection {
                    rule: RuleId::Capacity(e),
                    text: format!(
                        "its {} replicas need {} cpu and {} of memory, more than `{}` has",
                        size.replicas,
                        cpu_text(size.total_cpu()),
                        memory_text(size.total_memory()),
                        env.name
                    ),
                });
            } else {
                for (kind, domains) in &env.domains {
                    let share = |cap: Option<u64>| cap.map(|c| c / domains.len().max(1) as u64);
                    let kind = kind.as_str();
                    let count = domains.len();
                    let text = if too_big(size.millicpu, share(env.cpu_cap)) {
                        Some(format!(
                            "one replica needs {} cpu and a {kind} of `{}` holds {} (its {} cpu shared by {count} {kind}s)",
                            cpu_text(size.millicpu),
                            env.name,
                            cpu_text(share(env.cpu_cap).unwrap_or(0)),
                            cpu_text(env.cpu_cap.unwrap_or(0)),
                        ))
                    } else if too_big(size.memory, share(env.memory_cap)) {
                        Some(format!(
                            "one replica needs {} of memory and a {kind} of `{}` holds {} (its {} shared by {count} {kind}s)",
                            memory_text(size.memory),
                            env.name,
                            memory_text(share(env.memory_cap).unwrap_or(0)),
                            memory_text(env.memory_cap.unwrap_or(0)),
                        ))
                    } else {
                        None
                    };
                    if let Some(text) = text {
                        item.rejections[e].push(Rejection {
                            rule: RuleId::Capacity(e),
                            text,
                        });
                        break;
                    }
                }
            }
        }
        item
    }

    /// Dependencies, `near` and spread groups, from the first environment whose
    /// resolution holds each item.
    fn relations(
        &mut self,
        names: &[String],
        index: &BTreeMap<&str, usize>,
        by_name: &[BTreeMap<&str, usize>],
    ) {
        for (i, name) in names.iter().enumerate() {
            let Some((system, instance)) = self.envs.iter().enumerate().find_map(|(e, env)| {
                let system = env.system?;
                by_name[e]
                    .get(name.as_str())
                    .map(|&k| (system, &system.instances[k]))
            }) else {
                continue;
            };
            let def = &*self.model.services[instance.definition];
            for dep in &instance.dependencies {
                let target = &system.instance(dep.instance).name;
                let Some(&to) = index.get(target.as_str()) else {
                    continue;
                };
                let requirement = def.requires.get(dep.requirement);
                self.edges.push(Edge {
                    from: i,
                    to,
                    latency: requirement.and_then(|r| r.latency_ns.as_ref().map(|l| l.value)),
                    bandwidth: requirement.and_then(|r| r.bandwidth_bps.as_ref().map(|b| b.value)),
                    span: requirement.map_or(dep.span, |r| r.span),
                });
            }
            for near in &def.near {
                // The instance of that service this one uses (its own, for a
                // per-consumer service), else the one of that name.
                let target = instance
                    .dependencies
                    .iter()
                    .map(|d| system.instance(d.instance))
                    .find(|d| d.service == near.value)
                    .map(|d| d.name.clone())
                    .unwrap_or_else(|| near.value.clone());
                if let Some(&t) = index.get(target.as_str())
                    && t != i
                {
                    self.nears.push(Near {
                        item: i,
                        target: t,
                        span: near.span,
                    });
                }
            }
        }
        for (p, policy) in self.model.policies.iter().enumerate() {
            // A spread with a weight is a preference of each service: no group.
            if let PolicyRule::Spread {
                services,
                over,
                weight: None,
                block_degraded,
            } = &policy.rule
                && services.len() >= 2
            {
                let items: Vec<usize> = names
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| {
                        let service = &self.items[index[n.as_str()]].service;
                        services.iter().any(|s| &s.value == service)
                    })
                    .map(|(i, _)| i)
                    .collect();
                if items.len() >= 2 {
                    self.groups.push(Group {
                        policy: p,
                        over: over.value,
                        block_degraded: *block_degraded,
                        items,
                    });
                }
            }
        }
    }

    fn links(&mut self) {
        for (a, env) in self.envs.iter().enumerate() {
            for link in &env.env.links {
                let Some(b) = self.envs.iter().position(|e| e.name == link.to.value) else {
                    continue;
                };
                if a == b {
                    continue;
                }
                match self.link_of[a][b] {
                    // Declared from both sides: the worse of the two holds.
                    Some(l) => {
                        let existing = &mut self.links[l];
                        existing.latency = max_option(existing.latency, link.latency_ns);
                        existing.bandwidth = match (existing.bandwidth, link.bandwidth_bps) {
                            (Some(x), Some(y)) => Some(x.min(y)),
                            (x, y) => x.or(y),
                        };
                    }
                    None => {
                        self.link_of[a][b] = Some(self.links.len());
                        self.link_of[b][a] = Some(self.links.len());
                        self.links.push(Link {
                            a: a.min(b),
                            b: a.max(b),
                            latency: link.latency_ns,
                            bandwidth: link.bandwidth_bps,
                            span: link.span,
                        });
                    }
                }
            }
        }
    }

    /// Starts from `previous` (`svcmodel.lock`'s `[placement]`): replicas keep their
    /// failure domains where they can, and an instance it records in another
    /// environment of the landscape pays a move's one-off cost wherever it would move.
    pub fn start_from(&mut self, previous: &'a Previous) {
        self.previous = Some(previous);
        for item in &mut self.items {
            let Some(was) = self.envs.iter().position(|env| {
                previous
                    .get(&env.name)
                    .is_some_and(|instances| instances.contains_key(&item.name))
            }) else {
                continue;
            };
            item.previous_env = Some(was);
            for (e, env) in self.envs.iter().enumerate() {
                if let (true, Some(size)) = (e != was, item.size[e]) {
                    item.move_once[e] = f64::from(size.replicas) * env.move_replica
                        + item.data_gib * self.envs[was].egress_gib;
                }
            }
        }
    }

    /// The problem as JSON, for an outside solver to check the search against
    /// (`bench/place_optimum.py`): per item the environments it may use, its objective
    /// and size in each; edges, links, `near` pairs and spread groups.
    pub fn export(&self) -> serde_json::Value {
        use serde_json::json;
        json!({
            "landscape": self.landscape,
            "envs": self.envs.iter().map(|e| json!({
                "name": e.name,
                "cpu_cap": e.cpu_cap,
                "memory_cap": e.memory_cap,
            })).collect::<Vec<_>>(),
            "items": self.items.iter().map(|i| json!({
                "name": i.name,
                "allowed": (0..self.envs.len()).map(|e| i.rejections[e].is_empty() && i.size[e].is_some()).collect::<Vec<_>>(),
                "objective": (0..self.envs.len()).map(|e| i.objective(e)).collect::<Vec<_>>(),
                "cpu": i.size.iter().map(|s| s.map_or(0, |s| s.total_cpu())).collect::<Vec<_>>(),
                "memory": i.size.iter().map(|s| s.map_or(0, |s| s.total_memory())).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "edges": self.edges.iter().map(|e| json!({
                "from": e.from, "to": e.to, "latency": e.latency, "bandwidth": e.bandwidth,
            })).collect::<Vec<_>>(),
            "links": self.links.iter().map(|l| json!({
                "a": l.a, "b": l.b, "latency": l.latency, "bandwidth": l.bandwidth,
            })).collect::<Vec<_>>(),
            "nears": self.nears.iter().map(|n| json!({ "item": n.item, "target": n.target })).collect::<Vec<_>>(),
            "groups": self.groups.iter().map(|g| json!({
                "items": g.items,
                // Two domains when the group may share the environment, else none.
                "domains": self.envs.iter().map(|e| if e.spread_fails(g.over, g.block_degraded) { 0 } else { 2 }).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })
    }

    /// The latency between two environments: none within one, the link's between two,
    /// `None` when no link joins them.
    pub fn latency(&self, e: usize, f: usize) -> Option<u64> {
        if e == f {
            return Some(0);
        }
        self.link_of[e][f].map(|l| self.links[l].latency.unwrap_or(0))
    }
}

fn max_option(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

/// Cores: `2`, `16.5`, `250m` below one core.
pub fn cpu_text(millicpu: u64) -> String {
    if millicpu.is_multiple_of(1000) {
        format!("{}", millicpu / 1000)
    } else if millicpu < 1000 {
        format!("{millicpu}m")
    } else {
        let text = format!("{:.3}", millicpu as f64 / 1000.0);
        text.trim_end_matches('0').to_string()
    }
}

pub fn memory_text(bytes: u64) -> String {
    const UNITS: [(&str, u64); 4] = [
        ("Ti", 1 << 40),
        ("Gi", 1 << 30),
        ("Mi", 1 << 20),
        ("Ki", 1 << 10),
    ];
    for (unit, size) in UNITS {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{}{unit}", bytes / size);
        }
        if bytes >= size {
            let text = format!("{:.2}", bytes as f64 / size as f64);
            return format!("{}{unit}", text.trim_end_matches('0').trim_end_matches('.'));
        }
    }
    format!("{bytes}")
}

pub fn duration_text(ns: u64) -> String {
    if ns == 0 {
        "0ms".to_string()
    } else if ns >= 1_000_000 && ns.is_multiple_of(1_000_000) {
        format!("{}ms", ns / 1_000_000)
    } else if ns >= 1_000_000 {
        format!("{:.1}ms", ns as f64 / 1e6)
    } else {
        format!("{}µs", ns / 1000)
    }
}
