//! Reconcile: what runs against what the model wants, as drift that points at the
//! model, and tuning advice from what services use. Pure but for the engine it asks:
//! `tests/reconcile.rs` drives it with an engine in memory.
//!
//! Drift and advice carry model spans and a kind; the CLI turns them into diagnostics
//! with stable codes (E0801-E0808), as rendering's problems become E07xx.

use std::collections::BTreeMap;

use serde::Serialize;
use svcmodel_model::system::ResolvedSystem;

use crate::deploy::{self, Action, Desired, Engine};
use crate::state::State;

/// What one environment wants: the model, its resolved system, and the desired
/// services built from its view.
pub struct Input<'a> {
    pub model: &'a svcmodel_model::Model,
    pub system: &'a ResolvedSystem,
    pub environment: &'a str,
    /// `local`, `compose`, `swarm` or `kubernetes`: where a service's output is.
    pub target: &'a str,
    pub desired: &'a [Desired],
    /// The current secret fingerprints per service.
    pub hashes: &'a BTreeMap<String, BTreeMap<String, String>>,
    /// Services placement moved to another environment of the landscape, with why.
    pub moved: &'a BTreeMap<String, String>,
}

/// The kinds of drift, each with its stable code in the CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DriftKind {
    /// In the model, not deployed (E0801).
    Missing,
    /// Deployed, no longer in the model (E0804).
    Extra,
    /// Deployed here, placed in another environment now (E0809).
    Moved,
    /// Deployed, not running (E0802).
    Stopped,
    /// Running, its health check failing (E0803).
    Unhealthy,
    /// Running another version than the model resolves (E0806).
    VersionChanged,
    /// Running another configuration (E0805).
    ConfigChanged,
    /// Replicas outside the failure domains placement chose (E0808).
    Placement,
}

impl DriftKind {
    /// As `reconcile --format json` names it.
    pub fn as_str(self) -> &'static str {
        match self {
            DriftKind::Missing => "missing",
            DriftKind::Extra => "extra",
            DriftKind::Moved => "moved",
            DriftKind::Stopped => "stopped",
            DriftKind::Unhealthy => "unhealthy",
            DriftKind::VersionChanged => "version_changed",
            DriftKind::ConfigChanged => "config_changed",
            DriftKind::Placement => "placement",
        }
    }
}

/// One difference between the model and what runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    pub service: String,
    pub kind: DriftKind,
    /// Lowercase, names in backticks.
    pub message: String,
    /// Where the model declares what was expected; the first is the primary.
    pub labels: Vec<(svcmodel_model::Span, String)>,
    /// An instruction.
    pub help: String,
}

fn placement_drift(
    name: &str,
    spec: &serde_json::Value,
    observed: Option<Vec<BTreeMap<String, String>>>,
) -> Option<(String, String, String)> {
    let pins = spec.get("pins")?.as_object()?;
    let observed = observed?;
    for (kind, values) in pins {
        let placed: Vec<&str> = values
            .as_array()?
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        let first = placed.first()?.to_string();
        let running: Vec<&str> = observed
            .iter()
            .filter_map(|r| r.get(kind).map(String::as_str))
            .collect();
        let list = |names: &[&str]| {
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if let Some(stray) = running.iter().find(|r| !placed.contains(r)) {
            return Some((
                format!(
                    "`{name}` runs a replica in {kind} `{stray}`, where placement did not put it (it chose {})",
                    list(&placed)
                ),
                kind.clone(),
                first,
            ));
        }
        let distinct: std::collections::BTreeSet<&str> = running.iter().copied().collect();
        let wanted = placed.len().min(running.len());
        if running.len() > 1 && distinct.len() < wanted {
            let missing: Vec<&str> = placed
                .iter()
                .copied()
                .filter(|p| !distinct.contains(p))
                .collect();
            return Some((
                format!(
                    "`{name}`'s {} replicas run in {kind} {} only, where placement spread them over {}",
                    running.len(),
                    list(&distinct.into_iter().collect::<Vec<_>>()),
                    list(&placed)
                ),
                kind.clone(),
                missing.first().map_or(first, |m| m.to_string()),
            ));
        }
    }
    None
}

/// Every difference between what `input` wants and what runs, as recorded in `state`
/// and observed through `engine`, each pointing at the model.
pub fn drifts(input: &Input, state: Option<&State>, engine: &dyn Engine) -> Vec<Drift> {
    let model = input.model;
    let empty = BTreeMap::new();
    let recorded = state.map_or(&empty, |s| &s.services);
    let mut plan = deploy::plan(input.environment, state, input.desired, input.hashes);
    plan.mark_moved(input.moved);
    let mut out = Vec::new();
    for item in &plan.items {
        // Where the service's output is: files for processes, the engine's logs else.
        let logs = match input.target {
            "local" => format!(
                "read its log `.svcmodel/logs/{}/{}.log`",
                input.environment, item.name
            ),
            "compose" => format!(
                "read its output with `docker logs svcmodel-{}-{}`",
                input.environment, item.name
            ),
            "swarm" => format!(
                "read its output with `docker service logs svcmodel-{}-{}`",
                input.environment, item.name
            ),
            _ => format!(
                "read its output with `kubectl logs -n {} deployment/{}`",
                input.environment, item.name
            ),
        };
        let instance = input.system.find(&item.name);
        let def = instance.map(|i| &*model.services[i.definition]);
        let mut drift = |kind: DriftKind,
                         message: String,
                         labels: Vec<(svcmodel_model::Span, String)>,
                         help: &str| {
            out.push(Drift {
                service: item.name.clone(),
                kind,
                message,
                labels,
                help: help.to_string(),
            });
        };
        match (item.action.clone(), def) {
            (Action::Create, Some(def)) => drift(
                DriftKind::Missing,
                format!("`{}` is in the model but not deployed", item.name),
                vec![(def.name.span, "declared here".to_string())],
                "run `svcmodel deploy` or `svcmodel reconcile --fix`",
            ),
            (Action::Delete, _) if item.moved.is_some() => drift(
                DriftKind::Moved,
                format!(
                    "`{}` is deployed here, and placement {}",
                    item.name,
                    item.moved.as_deref().unwrap_or_default()
                ),
                Vec::new(),
                "deploy the environment it moved to, then run `svcmodel deploy --yes` here to remove it (or deploy the whole landscape)",
            ),
            (Action::Delete, _) => drift(
                DriftKind::Extra,
                format!("`{}` is deployed but no longer in the model", item.name),
                Vec::new(),
                "run `svcmodel deploy --yes` or `svcmodel reconcile --fix --yes` to delete it",
            ),
            (action, Some(def)) => {
                let Some(record) = recorded.get(&item.name) else {
                    continue;
                };
                if !engine.alive(&record.engine_id) {
                    drift(
                        DriftKind::Stopped,
                        format!("`{}` is deployed but not running", item.name),
                        vec![(def.name.span, "declared here".to_string())],
                        &format!("run `svcmodel reconcile --fix`; {logs}"),
                    );
                } else if let Err(why) = engine.check(&record.engine_id, &record.spec) {
                    let span = def.health.as_ref().map_or(def.name.span, |h| h.span);
                    drift(
                        DriftKind::Unhealthy,
                        format!("`{}` runs but its health check fails: {why}", item.name),
                        vec![(span, "the health check".to_string())],
                        &format!("{logs}; `svcmodel reconcile --fix` restarts it"),
                    );
                } else if let Some((message, kind, value)) =
                    placement_drift(&item.name, &record.spec, engine.domains(&record.engine_id))
                {
                    // Point at the failure domain the environment declares.
                    let span = model
                        .environment(input.environment)
                        .and_then(|e| {
                            let kind = svcmodel_model::FailureDomainKind::parse(&kind)?;
                            e.failure_domains
                                .get(&kind)?
                                .iter()
                                .find(|d| d.value == value)
                                .map(|d| d.span)
                        })
                        .unwrap_or(def.name.span);
                    drift(
                        DriftKind::Placement,
                        message,
                        vec![(span, format!("placement put a replica in this {kind}"))],
                        "check the nodes' `svcmodel.KIND` labels (Swarm) or node labels (Kubernetes): the platform places replicas by them; redeploy the service once they are right",
                    );
                }
                if action == Action::Update {
                    if let Some(change) = item.changes.iter().find(|c| c.field == "version") {
                        drift(
                            DriftKind::VersionChanged,
                            format!(
                                "`{}` runs version {} but the model resolves {}",
                                item.name,
                                change.from.as_deref().unwrap_or("?"),
                                change.to.as_deref().unwrap_or("?")
                            ),
                            vec![(def.version.span, "the model's version".to_string())],
                            "run `svcmodel deploy` or `svcmodel reconcile --fix`",
                        );
                    }
                    let others: Vec<&crate::deploy::Change> = item
                        .changes
                        .iter()
                        .filter(|c| c.field != "version")
                        .collect();
                    if !others.is_empty() {
                        let instance = instance.map(|i| (i, def));
                        let labels = others
                            .iter()
                            .map(|c| {
                                (
                                    change_span(c, instance).unwrap_or(def.name.span),
                                    format!(
                                        "{}: the model wants {}",
                                        c.field,
                                        c.to.as_deref().unwrap_or("(none)")
                                    ),
                                )
                            })
                            .collect();
                        drift(
                            DriftKind::ConfigChanged,
                            format!(
                                "`{}` runs another configuration than the model: {}",
                                item.name,
                                others
                                    .iter()
                                    .map(|c| format!(
                                        "{} is {} where it runs, the model wants {}",
                                        c.field,
                                        c.from.as_deref().unwrap_or("(none)"),
                                        c.to.as_deref().unwrap_or("(none)")
                                    ))
                                    .collect::<Vec<_>>()
                                    .join("; ")
                            ),
                            labels,
                            "run `svcmodel plan` to see every change, then `svcmodel deploy`",
                        );
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Where the model declares the value a change is about: a parameter's value (the
/// values file, the --set flag or the default), else the configuration entry.
fn change_span(
    change: &crate::deploy::Change,
    instance: Option<(&svcmodel_model::system::Instance, &svcmodel_model::Service)>,
) -> Option<svcmodel_model::Span> {
    use svcmodel_model::ConfigValue;
    use svcmodel_model::system::ValueSource;
    let (instance, def) = instance?;
    let name = change.field.strip_prefix("env.")?;
    let entry = def.config.env.iter().find(|e| e.key.value == name)?;
    if let ConfigValue::Param { name: param } = &entry.value.value {
        let index = def.params.iter().position(|p| p.name.value == *param)?;
        match &instance.values.get(index)?.source {
            ValueSource::Default { span }
            | ValueSource::ValuesFile { span }
            | ValueSource::Set { span } => {
                return Some(*span);
            }
            _ => {}
        }
    }
    Some(entry.value.span)
}

/// Advice from what a service uses against what the model declares for it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Advice {
    pub service: String,
    /// `memory` or `cpu`.
    #[schemars(extend("enum" = ["memory", "cpu"]))]
    pub resource: &'static str,
    /// As the model would write it: `256Mi`, `500m`.
    pub declared: String,
    /// What it uses.
    pub observed: String,
    /// What it could declare instead.
    pub advised: String,
    pub why: String,
    #[serde(skip)]
    pub span: Option<svcmodel_model::Span>,
}

/// Memory within 90% of the declared amount, or under a quarter of it; CPU on average
/// above 90% of the declared cores, or under a tenth: advice with some headroom.
pub fn advice(system: &ResolvedSystem, state: Option<&State>, engine: &dyn Engine) -> Vec<Advice> {
    use svcmodel_model::quantity::{QuantityKind, format};
    let mut out = Vec::new();
    let Some(state) = state else { return out };
    for (name, record) in &state.services {
        let Some(instance) = system.find(name) else {
            continue;
        };
        let Some(deploy::Usage {
            memory_bytes: rss,
            cpu_seconds,
        }) = engine.usage(&record.engine_id)
        else {
            continue;
        };
        if let Some(memory) = &instance.resources.memory_bytes {
            let declared = memory.value.max(1);
            let ratio = rss as f64 / declared as f64;
            let advised = if ratio > 0.9 {
                Some(round_mib(rss.saturating_mul(3) / 2))
            } else if ratio < 0.25 && declared > 64 << 20 {
                Some(round_mib((rss * 2).max(32 << 20)))
            } else {
                None
            };
            if let Some(advised) = advised.filter(|a| *a != declared) {
                out.push(Advice {
                    service: name.clone(),
                    resource: "memory",
                    declared: format(QuantityKind::Size, declared),
                    observed: format(QuantityKind::Size, round_mib(rss)),
                    advised: format(QuantityKind::Size, advised),
                    why: format!("it uses {:.0}% of its memory", ratio * 100.0),
                    span: Some(memory.span),
                });
            }
        }
        if let Some(cpu) = &instance.resources.millicpu {
            let uptime = crate::state::now()
                .saturating_sub(record.deployed_at)
                .max(1);
            let cores = cpu_seconds / uptime as f64;
            let declared = cpu.value.max(1);
            let ratio = cores * 1000.0 / declared as f64;
            let advised = if ratio > 0.9 {
                Some(round_millicpu(cores * 1500.0))
            } else if ratio < 0.1 && declared > 100 && uptime >= 60 {
                Some(round_millicpu((cores * 2000.0).max(50.0)))
            } else {
                None
            };
            if let Some(advised) = advised.filter(|a| *a != declared) {
                out.push(Advice {
                    service: name.clone(),
                    resource: "cpu",
                    declared: format(QuantityKind::Cpu, declared),
                    observed: format!("{:.0}m on average over {uptime} s", cores * 1000.0),
                    advised: format(QuantityKind::Cpu, advised),
                    why: format!("it uses {:.0}% of its cpu", ratio * 100.0),
                    span: Some(cpu.span),
                });
            }
        }
    }
    out
}

/// Up to the next MiB (at least one).
pub fn round_mib(bytes: u64) -> u64 {
    bytes.div_ceil(1 << 20).max(1) << 20
}

/// Up to the next 50 millicores.
pub fn round_millicpu(millicpu: f64) -> u64 {
    ((millicpu / 50.0).ceil() as u64).max(1) * 50
}
