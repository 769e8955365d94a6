//! Plan, deploy, observe: the desired services (from the rendered view) against the
//! recorded state, applied by an engine in dependency waves with health gates.
//!
//! Input: the view of one environment and its deploy waves; the state store; an
//! engine. Output: a plan (create, update, delete, unchanged, with exactly what
//! changes), a deploy report, observations for status and reconcile.
//!
//! The state is written before each wave (what is about to change, as pending) and
//! after it (what finished), so whatever stops a run, the state says what was done.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use schemars::JsonSchema;
use serde::Serialize;

use crate::state::{Pending, ServiceRecord, State, StateError, Store, now};
use svcmodel_targets::view::ServiceView;

/// One service as the model wants it.
#[derive(Debug, Clone)]
pub struct Desired {
    pub name: String,
    /// The instance it runs: its name, or for a variant run as a service of its own
    /// (`reviews-v2`), the instance's (`reviews`). Waves order instances.
    pub instance: String,
    pub service: String,
    pub version: String,
    pub model_hash: String,
    /// The engine's spec (for local processes: command, variables, health), with
    /// secrets as references.
    pub spec: serde_json::Value,
    /// Index of the deploy wave: everything in earlier waves starts (healthy) first.
    pub wave: usize,
    /// Host variables that hold the secrets: `SVCMODEL_SECRET_INSTANCE_PARAM`.
    pub secrets: Vec<(String, String)>,
}

/// The deploy waves of a system, as instance names.
pub fn wave_names(system: &svcmodel_model::system::ResolvedSystem) -> Vec<Vec<String>> {
    system
        .graph
        .waves()
        .unwrap_or_default()
        .iter()
        .map(|w| {
            w.iter()
                .map(|id| system.instance(*id).name.clone())
                .collect()
        })
        .collect()
}

/// Runs `check` every `interval` until it passes or `deadline` has passed; a failure
/// for which `fatal` holds ends the wait at once. What engines wait for health with.
pub fn poll_healthy<E: std::fmt::Display>(
    deadline: Duration,
    interval: Duration,
    check: impl Fn() -> Result<(), E>,
    fatal: impl Fn(&E) -> bool,
) -> Result<(), String> {
    let start = std::time::Instant::now();
    loop {
        match check() {
            Ok(()) => return Ok(()),
            Err(why) if fatal(&why) => return Err(why.to_string()),
            Err(why) if start.elapsed() >= deadline => {
                return Err(format!("not healthy within {}s: {why}", deadline.as_secs()));
            }
            Err(_) => std::thread::sleep(interval),
        }
    }
}

/// Runs `step` on every item, whatever fails on the way, and answers with the first
/// failure: how an engine stops every part of a service (replicas, objects).
pub fn try_each<T, E>(
    items: impl IntoIterator<Item = T>,
    mut step: impl FnMut(T) -> Result<(), E>,
) -> Result<(), E> {
    let mut first_failure = Ok(());
    for item in items {
        if let Err(e) = step(item)
            && first_failure.is_ok()
        {
            first_failure = Err(e);
        }
    }
    first_failure
}

/// Runs `attempt` until it succeeds, fails for good, or has been retried three times:
/// an error for which `transient` holds is retried after `first_delay`, then twice and
/// four times that. How engines call APIs whose errors may pass by themselves.
pub fn retry<T, E>(
    first_delay: Duration,
    transient: impl Fn(&E) -> bool,
    mut attempt: impl FnMut() -> Result<T, E>,
) -> Result<T, E> {
    let mut delay = first_delay;
    let mut retries = 0;
    loop {
        match attempt() {
            Err(e) if retries < 3 && transient(&e) => {
                std::thread::sleep(delay);
                delay *= 2;
                retries += 1;
            }
            result => return result,
        }
    }
}

/// Builds the desired services of a local-process view, in `waves` order.
pub fn desired_local(view: &[ServiceView], waves: &[Vec<String>]) -> Vec<Desired> {
    let wave_of = |name: &str| {
        waves
            .iter()
            .position(|w| w.iter().any(|n| n == name))
            .unwrap_or(waves.len())
    };
    view.iter()
        .map(|s| Desired {
            name: s.name.clone(),
            instance: s.instance.clone(),
            service: s.service.clone(),
            version: s.version.clone(),
            model_hash: s.model_hash.clone(),
            spec: crate::spec::value(&crate::spec::LocalSpec::of(s)),
            wave: wave_of(&s.instance),
            secrets: s
                .secrets
                .iter()
                .map(|x| (x.param.clone(), x.host_variable.clone()))
                .collect(),
        })
        .collect()
}

/// The fingerprint of each secret's current value under the project's key (see
/// [`crate::secrets::fingerprint`]): enough to say that a secret changed, never what
/// it is.
pub fn secret_hashes(
    desired: &Desired,
    key: &[u8],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> BTreeMap<String, String> {
    desired
        .secrets
        .iter()
        .filter_map(|(param, variable)| {
            let value = lookup(variable)?;
            Some((
                param.clone(),
                crate::secrets::fingerprint(key, param, &value),
            ))
        })
        .collect()
}

/// The values of every secret `desired` reads, for a [`crate::secrets::Redactor`].
pub fn secret_values<'a>(
    desired: impl IntoIterator<Item = &'a Desired>,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Vec<String> {
    desired
        .into_iter()
        .flat_map(|d| {
            d.secrets
                .iter()
                .filter_map(|(_, variable)| lookup(variable))
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Delete,
    Unchanged,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Change {
    /// `version`, `env.NAME`, `command`, `workdir`, `ports`, `health`, `secret.NAME`.
    pub field: String,
    /// As shown: a secret is `(secret)`, never its value. `null`: not set.
    pub from: Option<String>,
    /// As `from`.
    pub to: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PlanItem {
    pub name: String,
    pub action: Action,
    /// The version the model wants (for a delete: the version that runs).
    pub version: Option<String>,
    /// Every field that differs from what was deployed (only for `update`).
    pub changes: Vec<Change>,
    /// The deploy wave, counted from 0; a delete comes after every wave
    /// (18446744073709551615).
    pub wave: usize,
    /// For a delete: placement moved the service to another environment, and why
    /// (`moved to \`b\`: \`no-orders-in-a\` forbids \`a\``).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Plan {
    pub environment: String,
    /// One per service the model wants, then one per recorded service it no longer
    /// has.
    pub items: Vec<PlanItem>,
    /// Work an earlier run left unfinished.
    pub pending: Vec<Pending>,
    /// With `plan --operations`: every operation the engine will perform, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operations: Option<Vec<Step>>,
}

impl Plan {
    pub fn has_changes(&self) -> bool {
        self.items.iter().any(|i| i.action != Action::Unchanged)
    }

    /// Marks the deletes of services that placement moved to another environment of
    /// the landscape, with the cause: they leave here because they run there.
    pub fn mark_moved(&mut self, moved: &BTreeMap<String, String>) {
        for item in &mut self.items {
            if item.action == Action::Delete {
                item.moved = moved.get(&item.name).cloned();
            }
        }
    }
}

/// The plan to go from `state` to `desired`. `hashes` are the current secret hashes
/// per service.
pub fn plan(
    environment: &str,
    state: Option<&State>,
    desired: &[Desired],
    hashes: &BTreeMap<String, BTreeMap<String, String>>,
) -> Plan {
    let recorded = state.map(|s| &s.services);
    let mut items = Vec::new();
    for d in desired {
        let record = recorded.and_then(|r| r.get(&d.name));
        let current = hashes.get(&d.name).cloned().unwrap_or_default();
        let (action, changes) = match record {
            None => (Action::Create, Vec::new()),
            Some(record) => {
                let changes = diff(record, d, &current);
                if changes.is_empty() {
                    (Action::Unchanged, changes)
                } else {
                    (Action::Update, changes)
                }
            }
        };
        items.push(PlanItem {
            moved: None,
            name: d.name.clone(),
            action,
            version: Some(d.version.clone()),
            changes,
            wave: d.wave,
        });
    }
    let wanted: BTreeSet<&str> = desired.iter().map(|d| d.name.as_str()).collect();
    for (name, record) in recorded.into_iter().flatten() {
        if !wanted.contains(name.as_str()) {
            items.push(PlanItem {
                moved: None,
                name: name.clone(),
                action: Action::Delete,
                version: Some(record.version.clone()),
                changes: Vec::new(),
                wave: usize::MAX,
            });
        }
    }
    Plan {
        environment: environment.to_string(),
        items,
        pending: state.map(|s| s.pending.clone()).unwrap_or_default(),
        operations: None,
    }
}

/// What differs between a recorded service and the desired one, field by field.
fn diff(
    record: &ServiceRecord,
    desired: &Desired,
    hashes: &BTreeMap<String, String>,
) -> Vec<Change> {
    let mut changes = Vec::new();
    let change = |field: &str, from: Option<String>, to: Option<String>| Change {
        field: field.to_string(),
        from,
        to,
    };
    if record.version != desired.version {
        changes.push(change(
            "version",
            Some(record.version.clone()),
            Some(desired.version.clone()),
        ));
    }
    let shown = |v: Option<&serde_json::Value>| -> Option<String> {
        let v = v?;
        if v.is_null() {
            return None;
        }
        Some(match v.as_str() {
            Some(text) => text.to_string(),
            None if v.get("parts").is_some() => shown_parts(v),
            None => v.to_string(),
        })
    };
    let old_env = record.spec.get("env").and_then(|e| e.as_object());
    let new_env = desired.spec.get("env").and_then(|e| e.as_object());
    let names: BTreeSet<&String> = old_env
        .into_iter()
        .flat_map(|m| m.keys())
        .chain(new_env.into_iter().flat_map(|m| m.keys()))
        .collect();
    for name in names {
        let from = old_env.and_then(|m| m.get(name));
        let to = new_env.and_then(|m| m.get(name));
        if from != to {
            changes.push(change(&format!("env.{name}"), shown(from), shown(to)));
        }
    }
    for field in [
        "image",
        "command",
        "args",
        "workdir",
        "ports",
        "health",
        "restart",
        "replicas",
        "millicpu",
        "memory_bytes",
        "read_only",
        "tmpfs",
        "security_opt",
        "volumes",
        // Swarm: where placement put the replicas, so a lost domain moves them.
        "constraints",
        "spread",
    ] {
        let from = record.spec.get(field);
        let to = desired.spec.get(field);
        if from != to {
            changes.push(change(field, shown(from), shown(to)));
        }
    }
    let old_hashes = record.spec.get("secret_hashes").and_then(|h| h.as_object());
    for (param, hash) in hashes {
        let before = old_hashes
            .and_then(|h| h.get(param))
            .and_then(|h| h.as_str());
        if before != Some(hash.as_str()) {
            changes.push(change(
                &format!("secret.{param}"),
                before.map(|_| "(secret)".to_string()),
                Some("(secret, changed)".to_string()),
            ));
        }
    }
    // Objects an engine applies as they are (Kubernetes manifests) can change in
    // ways no field above shows: a template, a label, a probe's detail.
    if changes.is_empty() && record.spec.get("objects") != desired.spec.get("objects") {
        changes.push(change(
            "manifests",
            None,
            Some("(rendered objects changed)".to_string()),
        ));
    }
    // A model hash that changed with nothing the engine runs (a new consumer, a
    // label) is not a change here: deploy records the new hash without a restart.
    changes
}

/// Parts as a person reads them: secrets as `${secret:NAME}`.
fn shown_parts(value: &serde_json::Value) -> String {
    let mut out = String::new();
    for part in value
        .get("parts")
        .and_then(|p| p.as_array())
        .into_iter()
        .flatten()
    {
        if let Some(text) = part.get("text").and_then(|t| t.as_str()) {
            out.push_str(text);
        } else if let Some(secret) = part.get("secret").and_then(|t| t.as_str()) {
            out.push_str(&format!("${{secret:{secret}}}"));
        }
    }
    out
}

/// What svcmodel writes on everything it starts (a process's environment, a
/// container's labels), so that a run killed at any instant leaves nothing that cannot
/// be found again: the project (its `.svcmodel/` folder), the state's lineage, the
/// environment, the service and the revision being deployed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    pub project: String,
    pub lineage: String,
    pub environment: String,
    pub service: String,
    pub revision: u64,
}

impl Mark {
    /// `PROJECT:LINEAGE:ENVIRONMENT:SERVICE:REVISION`: every part is path-safe, so
    /// none holds a `:`.
    pub fn encode(&self) -> String {
        format!(
            "{}:{}:{}:{}:{}",
            self.project, self.lineage, self.environment, self.service, self.revision
        )
    }

    pub fn decode(text: &str) -> Option<Mark> {
        let mut parts = text.trim().split(':');
        let mark = Mark {
            project: parts.next()?.to_string(),
            lineage: parts.next()?.to_string(),
            environment: parts.next()?.to_string(),
            service: parts.next()?.to_string(),
            revision: parts.next()?.parse().ok()?,
        };
        parts.next().is_none().then_some(mark)
    }

    /// The mark of what a site starts for `service`.
    fn of(site: &Site, service: &str) -> Mark {
        Mark {
            project: site.store.project_id(),
            lineage: site.state.lineage.clone(),
            environment: site.state.environment.clone(),
            service: service.to_string(),
            revision: site.state.serial.saturating_add(1),
        }
    }
}

/// What a running service uses: what tuning advice compares with its declared
/// resources.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    /// Resident memory, in bytes.
    pub memory_bytes: u64,
    /// CPU time used since it started, in seconds.
    pub cpu_seconds: f64,
}

impl Usage {
    /// Per replica, as the model declares resources: the most memory any replica
    /// uses, and the CPU time they used on average. `None` without a sample.
    pub fn of_replicas(samples: &[Usage]) -> Option<Usage> {
        let memory_bytes = samples.iter().map(|s| s.memory_bytes).max()?;
        let cpu_seconds = samples.iter().map(|s| s.cpu_seconds).sum::<f64>() / samples.len() as f64;
        Some(Usage {
            memory_bytes,
            cpu_seconds,
        })
    }
}

/// Something running that carries svcmodel's mark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marked {
    pub engine_id: String,
    pub mark: Mark,
}

/// Why an engine could not do what it was asked: a kind with its stable code, and
/// what the engine said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineError {
    pub kind: EngineErrorKind,
    /// Lowercase; secrets are masked before it reaches a report.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineErrorKind {
    /// The engine could not be reached or refused the call (E1001).
    Engine,
    /// The service started but did not become healthy, or exited (E1010).
    Unhealthy,
    /// Its port is held by a process svcmodel did not start (E1004).
    PortTaken,
}

impl EngineError {
    pub fn new(kind: EngineErrorKind, message: impl Into<String>) -> EngineError {
        EngineError {
            kind,
            message: message.into(),
        }
    }

    pub fn unhealthy(message: impl Into<String>) -> EngineError {
        EngineError::new(EngineErrorKind::Unhealthy, message)
    }

    /// The diagnostic code a report carries for it.
    pub fn code(&self) -> &'static str {
        match self.kind {
            EngineErrorKind::Engine => "E1001",
            EngineErrorKind::Unhealthy => "E1010",
            EngineErrorKind::PortTaken => "E1004",
        }
    }
}

impl From<String> for EngineError {
    /// What an engine's API said: a failure of the engine.
    fn from(message: String) -> EngineError {
        EngineError::new(EngineErrorKind::Engine, message)
    }
}

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// One call an engine makes on what it drives, as `plan --operations` lists it and
/// the audit log records it: `create container` `svcmodel-dev-api (image shop/api:1.0)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, JsonSchema)]
pub struct Operation {
    /// What the engine is asked to do: `start process group`, `stop process group`,
    /// `create network`, `create container`, `start container`, `remove container`,
    /// `create service`, `remove service`, `remove network`, `apply` or `delete`.
    pub operation: String,
    /// What it acts on: a command line, a container's, service's or network's name, a
    /// Kubernetes object as `Kind namespace/name`. Secrets appear as
    /// `${secret:NAME}`, never as their values.
    pub object: String,
}

impl Operation {
    pub fn new(operation: &str, object: impl Into<String>) -> Operation {
        Operation {
            operation: operation.to_string(),
            object: object.into(),
        }
    }
}

/// An engine svcmodel deploys to.
pub trait Engine: Sync {
    /// Starts a service, marked with `mark`; returns its engine id.
    fn start(&self, desired: &Desired, mark: &Mark) -> Result<String, EngineError>;
    /// What `start` asks of the engine for `desired`, in order, without doing it. It
    /// may look at the engine (a network that exists is not created again).
    fn start_operations(&self, desired: &Desired) -> Vec<Operation> {
        vec![Operation::new("start", desired.name.clone())]
    }
    /// What `stop` asks of the engine for `engine_id`, in order, without doing it.
    fn stop_operations(&self, engine_id: &str) -> Vec<Operation> {
        vec![Operation::new("stop", engine_id)]
    }
    /// What `release` asks of the engine.
    fn release_operations(&self) -> Vec<Operation> {
        Vec::new()
    }
    /// Stops it (and removes it, for engines that keep stopped things). An error
    /// means it may still run: the caller keeps its record.
    fn stop(&self, engine_id: &str) -> Result<(), EngineError>;
    /// What runs with a mark of `project` and `environment`, whatever its lineage:
    /// how a run finds what an interrupted one started before recording it.
    fn find_marked(&self, _project: &str, _environment: &str) -> Vec<Marked> {
        Vec::new()
    }
    /// Frees what the environment shares once nothing of it runs (the Docker
    /// network of a `compose` or `swarm` environment): called when destroy has
    /// removed every service.
    fn release(&self) -> Result<(), EngineError> {
        Ok(())
    }
    /// Whether two engine ids name one running instance (a local service whose
    /// supervisor is gone is still known by its process group).
    fn same_instance(&self, a: &str, b: &str) -> bool {
        a == b
    }
    /// Ports of this machine that `desired` will listen on, for engines whose
    /// services share the host's ports (local processes).
    fn host_ports(&self, _desired: &Desired) -> Vec<u16> {
        Vec::new()
    }
    /// Who, other than the services `ours` (engine ids), already listens on `port`
    /// of this machine: a description such as "pid 4711 (`nginx`)".
    fn port_holder(&self, _port: u16, _ours: &[&str]) -> Option<String> {
        None
    }
    fn alive(&self, engine_id: &str) -> bool;
    /// Waits until its health check passes, at most `deadline`.
    fn wait_healthy(
        &self,
        engine_id: &str,
        spec: &serde_json::Value,
        deadline: Duration,
    ) -> Result<(), EngineError>;
    /// One health check now.
    fn check(&self, engine_id: &str, spec: &serde_json::Value) -> Result<(), EngineError>;
    /// What it uses, where the engine can tell.
    fn usage(&self, engine_id: &str) -> Option<Usage>;
    /// Whether `start` brings what an old engine id runs to the new spec in place
    /// (declarative engines such as Kubernetes): then the old one is not stopped
    /// first, and what it held beyond the new one is pruned once the new one is healthy.
    fn in_place(&self) -> bool {
        false
    }
    /// Removes what `old` holds and `new` does not (engines that update in place).
    fn prune(&self, _old: &str, _new: &str) {}
    /// The failure domains each running replica is in (kind to name, from its node's
    /// labels), where the engine can tell: what placement drift is checked against.
    fn domains(&self, _engine_id: &str) -> Option<Vec<BTreeMap<String, String>>> {
        None
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    /// How long one service may take to become healthy.
    pub deadline: Duration,
    /// Roll a failed wave back to the previous revision (`--no-rollback` turns it off).
    pub rollback: bool,
    /// Delete services that are no longer in the model.
    pub delete: bool,
    /// Restart services that run but fail their health check (`reconcile --fix`).
    pub repair_unhealthy: bool,
    /// The run's secret values: masked in every message an engine returns (log tails
    /// included) before it reaches a report or an event.
    pub redactor: crate::secrets::Redactor,
}

/// What happened to one service.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Outcome {
    pub name: String,
    /// `create`, `update`, `repair` (recorded but not running) or `delete`.
    pub action: String,
    /// It became healthy (or was deleted).
    pub ok: bool,
    /// Why it failed; `null` when it did not.
    pub message: Option<String>,
    /// The failure's diagnostic code (`E1001` the engine, `E1004` a port held by
    /// another process, `E1010` not healthy); `null` when it did not fail.
    pub code: Option<String>,
    /// How long it took to become healthy (or to fail).
    pub seconds: f64,
}

/// What a deploy did (`svcmodel deploy --format json` prints it).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Report {
    pub environment: String,
    /// Every wave became healthy (in a run over several environments: in all of
    /// them).
    pub ok: bool,
    /// One per service started, repaired or deleted, in the order they finished;
    /// unchanged services are left out.
    pub outcomes: Vec<Outcome>,
    /// The wave that failed (and was rolled back, unless `--no-rollback`); in a run
    /// over several environments, possibly in another one.
    pub failed_wave: Option<usize>,
    /// What the failed wave started in this environment was rolled back.
    pub rolled_back: bool,
}

/// Why a run stopped before it finished, other than a failed wave (which its report
/// tells).
#[derive(Debug)]
pub enum DeployError {
    State(StateError),
    /// Something runs with this project's mark for `environment` that its state does
    /// not record, from another lineage: the state was lost or replaced. Nothing was
    /// started; `svcmodel state adopt` records them.
    Unrecorded {
        environment: String,
        found: Vec<Marked>,
    },
    /// Services of the run that would listen on one port of this machine
    /// (`ENV/NAME`).
    PortClash {
        port: u16,
        services: Vec<String>,
    },
    /// A port a service of the run needs is held by something svcmodel did not start.
    PortTaken {
        environment: String,
        service: String,
        port: u16,
        holder: String,
    },
}

impl From<StateError> for DeployError {
    fn from(error: StateError) -> Self {
        DeployError::State(error)
    }
}

impl std::fmt::Display for DeployError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeployError::State(e) => e.fmt(f),
            DeployError::Unrecorded { environment, found } => {
                let list: Vec<String> = found
                    .iter()
                    .map(|m| format!("`{}` ({})", m.mark.service, m.engine_id))
                    .collect();
                write!(
                    f,
                    "environment `{environment}` runs {} that its state does not record: {}",
                    if found.len() == 1 {
                        "a service"
                    } else {
                        "services"
                    },
                    list.join(", ")
                )
            }
            DeployError::PortClash { port, services } => write!(
                f,
                "{} would all listen on port {port} of this machine",
                services
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
            DeployError::PortTaken {
                environment,
                service,
                port,
                holder,
            } => write!(
                f,
                "port {port}, which `{service}` of environment `{environment}` listens on, is held by {holder}, which svcmodel did not start"
            ),
        }
    }
}

/// Progress events, for bars on a terminal and lines elsewhere.
#[derive(Debug, Clone)]
pub enum Event {
    /// Something an interrupted run of this state started, and recorded nowhere, was
    /// stopped.
    StoppedUnrecorded {
        name: String,
        engine_id: String,
    },
    WaveStarted {
        wave: usize,
        services: Vec<String>,
    },
    Started {
        name: String,
    },
    Healthy {
        name: String,
        seconds: f64,
    },
    Failed {
        name: String,
        message: String,
    },
    RolledBack {
        name: String,
    },
    Deleted {
        name: String,
    },
}

/// One environment's part in a run: its state and store, what the model wants there,
/// the current secret hashes, and the engine that runs it.
pub struct Site<'a> {
    pub store: &'a Store,
    pub state: &'a mut State,
    pub desired: &'a [Desired],
    pub hashes: &'a BTreeMap<String, BTreeMap<String, String>>,
    pub engine: &'a dyn Engine,
}

/// One start in a wave: the item's index, its engine id or (the id if it started,
/// why it failed), and the seconds it took.
type StartResult = (usize, Result<String, (Option<String>, EngineError)>, f64);

/// One piece of work in a wave: the site, what it starts, and why.
type Work<'d> = (usize, &'d Desired, &'static str);

/// Applies `desired` to one environment, wave by wave.
#[allow(clippy::too_many_arguments)]
pub fn deploy(
    store: &Store,
    state: &mut State,
    desired: &[Desired],
    hashes: &BTreeMap<String, BTreeMap<String, String>>,
    engine: &dyn Engine,
    options: &Options,
    progress: &(dyn Fn(Event) + Sync),
) -> Result<Report, DeployError> {
    let mut sites = [Site {
        store,
        state,
        desired,
        hashes,
        engine,
    }];
    let mut reports = deploy_sites(&mut sites, options, &|_, event| progress(event))?;
    Ok(reports.remove(0))
}

/// Applies each site's `desired` to its environment, wave by wave across all of them:
/// wave `n` starts in every environment at once, once wave `n - 1` is healthy in
/// every environment (the waves come from [`landscape_waves`]). A failed wave is
/// rolled back wherever it ran, and the run stops there. Each environment keeps its
/// own state, written before and after each wave. `progress` gets the environment's
/// name with each event. One report per site, in the sites' order.
pub fn deploy_sites(
    sites: &mut [Site],
    options: &Options,
    progress: &(dyn Fn(&str, Event) + Sync),
) -> Result<Vec<Report>, DeployError> {
    let names: Vec<String> = sites.iter().map(|s| s.state.environment.clone()).collect();
    let redacted = |environment: &str, event: Event| {
        progress(environment, redact_event(&options.redactor, event));
    };
    let progress: &(dyn Fn(&str, Event) + Sync) = &redacted;
    for site in sites.iter_mut() {
        converge_unrecorded(site, true, progress)?;
    }
    let plans: Vec<Plan> = sites
        .iter()
        .map(|s| plan(&s.state.environment, Some(s.state), s.desired, s.hashes))
        .collect();
    // What to start: created, changed, and recorded ones whose process is gone.
    let mut work: BTreeMap<usize, Vec<Work>> = BTreeMap::new();
    for (at, (site, plan)) in sites.iter_mut().zip(&plans).enumerate() {
        let by_name: BTreeMap<&str, &Desired> =
            site.desired.iter().map(|d| (d.name.as_str(), d)).collect();
        for (d, action) in work_of(
            site.state,
            site.desired,
            plan,
            site.engine,
            options.repair_unhealthy,
        ) {
            work.entry(d.wave).or_default().push((at, d, action));
        }
        // Unchanged for the engine, but the model moved on: record its new hash.
        for item in plan.items.iter().filter(|i| i.action == Action::Unchanged) {
            if let (Some(d), Some(record)) = (
                by_name.get(item.name.as_str()),
                site.state.services.get_mut(&item.name),
            ) {
                record.model_hash = d.model_hash.clone();
            }
        }
    }
    check_ports(sites, &work)?;
    let mut reports: Vec<Report> = names
        .iter()
        .map(|environment| Report {
            environment: environment.clone(),
            ok: true,
            outcomes: Vec::new(),
            failed_wave: None,
            rolled_back: false,
        })
        .collect();
    for (wave, items) in &work {
        if !run_wave(sites, &names, *wave, items, options, progress, &mut reports)? {
            return Ok(reports);
        }
    }
    if options.delete {
        for ((site, plan), report) in sites.iter_mut().zip(&plans).zip(&mut reports) {
            for item in plan.items.iter().filter(|i| i.action == Action::Delete) {
                let stopped = match site.state.services.get(&item.name) {
                    Some(record) => site.engine.stop(&record.engine_id),
                    None => Ok(()),
                };
                let message = match stopped {
                    Ok(()) => {
                        site.state.services.remove(&item.name);
                        progress(
                            &report.environment,
                            Event::Deleted {
                                name: item.name.clone(),
                            },
                        );
                        None
                    }
                    // Kept in the state: it may still run.
                    Err(e) => {
                        report.ok = false;
                        progress(
                            &report.environment,
                            Event::Failed {
                                name: item.name.clone(),
                                message: e.message.clone(),
                            },
                        );
                        Some(e)
                    }
                };
                report.outcomes.push(Outcome {
                    name: item.name.clone(),
                    action: "delete".to_string(),
                    ok: message.is_none(),
                    code: message.as_ref().map(|e| e.code().to_string()),
                    message: message.map(|e| options.redactor.redact(&e.message)),
                    seconds: 0.0,
                });
            }
        }
    }
    for (site, report) in sites.iter_mut().zip(&reports) {
        let changed = report.outcomes.len();
        site.state
            .record("deploy", format!("{changed} services changed"));
        site.store.save(site.state)?;
    }
    Ok(reports)
}

/// What a run starts in one environment, in the plan's order: created and changed
/// services, and recorded ones whose process is gone (or, with `repair_unhealthy`,
/// fails its health check), each with its action.
fn work_of<'d>(
    state: &State,
    desired: &'d [Desired],
    plan: &Plan,
    engine: &dyn Engine,
    repair_unhealthy: bool,
) -> Vec<(&'d Desired, &'static str)> {
    let by_name: BTreeMap<&str, &Desired> = desired.iter().map(|d| (d.name.as_str(), d)).collect();
    let mut work = Vec::new();
    for item in &plan.items {
        let Some(d) = by_name.get(item.name.as_str()) else {
            continue;
        };
        let action = match item.action {
            Action::Create => "create",
            Action::Update => "update",
            Action::Unchanged => {
                let broken = state.services.get(&item.name).is_none_or(|r| {
                    !engine.alive(&r.engine_id)
                        || (repair_unhealthy && engine.check(&r.engine_id, &r.spec).is_err())
                });
                if !broken {
                    continue;
                }
                "repair"
            }
            Action::Delete => continue,
        };
        work.push((*d, action));
    }
    work
}

/// One service's part in a deploy, as `plan --operations` lists it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Step {
    pub service: String,
    /// `converge` (stop what an interrupted run started and left unrecorded),
    /// `create`, `update`, `repair` (recorded, but not running) or `delete`.
    pub action: String,
    /// The deploy wave, counted from 0 across the environments of the run; `null`
    /// for `converge`, which comes before every wave, and `delete`, after them.
    pub wave: Option<usize>,
    /// The engine's operations, in the order it performs them.
    pub operations: Vec<Operation>,
}

/// Every operation a deploy would ask of `engine` in one environment, in order:
/// stopping what an interrupted run left, then wave by wave what starts (in a wave,
/// services start at once), then what is deleted. Like deploy, it asks the engine
/// what runs; unlike deploy, it changes nothing.
pub fn operations(
    store: &Store,
    state: Option<&State>,
    plan: &Plan,
    desired: &[Desired],
    engine: &dyn Engine,
    repair_unhealthy: bool,
) -> Vec<Step> {
    let fresh;
    let state = match state {
        Some(state) => state,
        None => {
            fresh = State::new(&plan.environment, "");
            &fresh
        }
    };
    let recorded = |id: &str| {
        state
            .services
            .values()
            .any(|r| engine.same_instance(&r.engine_id, id))
    };
    let mut steps = Vec::new();
    let mut converging: Vec<&str> = Vec::new();
    for pending in &state.pending {
        if let Some(id) = pending.engine_id.as_deref().filter(|id| !recorded(id)) {
            converging.push(id);
            steps.push(Step {
                service: pending.service.clone(),
                action: "converge".to_string(),
                wave: None,
                operations: engine.stop_operations(id),
            });
        }
    }
    for marked in engine.find_marked(&store.project_id(), &plan.environment) {
        let known = recorded(&marked.engine_id)
            || converging
                .iter()
                .any(|id| engine.same_instance(id, &marked.engine_id));
        // Another lineage's: deploy refuses to start rather than stop it.
        if !known && marked.mark.lineage == state.lineage {
            steps.push(Step {
                service: marked.mark.service.clone(),
                action: "converge".to_string(),
                wave: None,
                operations: engine.stop_operations(&marked.engine_id),
            });
        }
    }
    let mut work = work_of(state, desired, plan, engine, repair_unhealthy);
    work.sort_by_key(|(d, _)| d.wave);
    // What the environment shares (a network) is created by the first start only.
    let mut shared: BTreeSet<String> = BTreeSet::new();
    for (d, action) in work {
        let start: Vec<Operation> = engine
            .start_operations(d)
            .into_iter()
            .filter(|op| op.operation != "create network" || shared.insert(op.object.clone()))
            .collect();
        let old = state.services.get(&d.name).map(|r| r.engine_id.as_str());
        let operations = match old {
            Some(old) if engine.in_place() => {
                // Applied over the old revision; what only the old one held goes
                // once the new one is healthy.
                let pruned: Vec<Operation> = engine
                    .stop_operations(old)
                    .into_iter()
                    .filter(|op| !start.iter().any(|s| s.object == op.object))
                    .collect();
                start.into_iter().chain(pruned).collect()
            }
            Some(old) => engine
                .stop_operations(old)
                .into_iter()
                .chain(start)
                .collect(),
            None => start,
        };
        steps.push(Step {
            service: d.name.clone(),
            action: action.to_string(),
            wave: Some(d.wave),
            operations,
        });
    }
    for item in plan.items.iter().filter(|i| i.action == Action::Delete) {
        if let Some(record) = state.services.get(&item.name) {
            steps.push(Step {
                service: item.name.clone(),
                action: "delete".to_string(),
                wave: None,
                operations: engine.stop_operations(&record.engine_id),
            });
        }
    }
    steps
}

/// The event with its message's secrets masked.
fn redact_event(redactor: &crate::secrets::Redactor, event: Event) -> Event {
    match event {
        Event::Failed { name, message } => Event::Failed {
            name,
            message: redactor.redact(&message),
        },
        other => other,
    }
}

/// Converges what an interrupted run left: its pending work, and anything carrying
/// this state's mark that no record holds (a run killed between starting something
/// and saving its engine id). Both are stopped; what cannot be stopped stays pending.
/// Marked things of another lineage are not this state's to stop: with `refuse`, they
/// stop the run before anything starts.
fn converge_unrecorded(
    site: &mut Site,
    refuse: bool,
    progress: &(dyn Fn(&str, Event) + Sync),
) -> Result<(), DeployError> {
    let environment = site.state.environment.clone();
    let engine = site.engine;
    let recorded = |state: &State, id: &str| {
        state
            .services
            .values()
            .any(|r| engine.same_instance(&r.engine_id, id))
    };
    let mut left = Vec::new();
    let had_pending = !site.state.pending.is_empty();
    for pending in std::mem::take(&mut site.state.pending) {
        match &pending.engine_id {
            Some(id) if !recorded(site.state, id) => {
                if let Err(e) = engine.stop(id) {
                    progress(
                        &environment,
                        Event::Failed {
                            name: pending.service.clone(),
                            message: format!("cannot stop what an interrupted run started: {e}"),
                        },
                    );
                    left.push(pending);
                }
            }
            _ => {}
        }
    }
    let mut foreign = Vec::new();
    let project = site.store.project_id();
    for marked in engine.find_marked(&project, &environment) {
        if recorded(site.state, &marked.engine_id)
            || left.iter().any(|p| {
                p.engine_id
                    .as_deref()
                    .is_some_and(|id| engine.same_instance(id, &marked.engine_id))
            })
        {
            continue;
        }
        if marked.mark.lineage != site.state.lineage {
            foreign.push(marked);
            continue;
        }
        match engine.stop(&marked.engine_id) {
            Ok(()) => progress(
                &environment,
                Event::StoppedUnrecorded {
                    name: marked.mark.service.clone(),
                    engine_id: marked.engine_id.clone(),
                },
            ),
            Err(e) => {
                progress(
                    &environment,
                    Event::Failed {
                        name: marked.mark.service.clone(),
                        message: format!("cannot stop what an interrupted run started: {e}"),
                    },
                );
                left.push(Pending {
                    service: marked.mark.service.clone(),
                    action: "stop".to_string(),
                    engine_id: Some(marked.engine_id.clone()),
                    since: now(),
                });
            }
        }
    }
    let changed = had_pending || !left.is_empty();
    site.state.pending = left;
    if changed {
        site.store.save(site.state)?;
    }
    foreign.sort_by(|a, b| (&a.mark.service, &a.engine_id).cmp(&(&b.mark.service, &b.engine_id)));
    if refuse && !foreign.is_empty() {
        return Err(DeployError::Unrecorded {
            environment,
            found: foreign,
        });
    }
    Ok(())
}

/// Before anything starts: no two services of the run listen on one port of this
/// machine, and no port a service is about to listen on is held by something
/// svcmodel did not start (which would answer its health check in its place).
fn check_ports(sites: &[Site], work: &BTreeMap<usize, Vec<Work>>) -> Result<(), DeployError> {
    let several = sites.len() > 1;
    let mut listeners: BTreeMap<u16, Vec<String>> = BTreeMap::new();
    for site in sites {
        for d in site.desired {
            for port in site.engine.host_ports(d) {
                let name = if several {
                    format!("{}/{}", site.state.environment, d.name)
                } else {
                    d.name.clone()
                };
                listeners.entry(port).or_default().push(name);
            }
        }
    }
    if let Some((port, services)) = listeners.into_iter().find(|(_, s)| s.len() > 1) {
        return Err(DeployError::PortClash { port, services });
    }
    let ours: Vec<&str> = sites
        .iter()
        .flat_map(|s| {
            s.state
                .services
                .values()
                .map(|r| r.engine_id.as_str())
                .chain(
                    s.state
                        .pending
                        .iter()
                        .filter_map(|p| p.engine_id.as_deref()),
                )
        })
        .collect();
    for (at, d, _) in work.values().flatten() {
        let site = &sites[*at];
        for port in site.engine.host_ports(d) {
            if let Some(holder) = site.engine.port_holder(port, &ours) {
                return Err(DeployError::PortTaken {
                    environment: site.state.environment.clone(),
                    service: d.name.clone(),
                    port,
                    holder,
                });
            }
        }
    }
    Ok(())
}

/// Starts one wave's work in every site at once and waits for it to be healthy.
/// On a failure the wave is rolled back (unless `--no-rollback`), every report says
/// so, and the answer is `false`: the run stops.
fn run_wave(
    sites: &mut [Site],
    names: &[String],
    wave: usize,
    items: &[Work],
    options: &Options,
    progress: &(dyn Fn(&str, Event) + Sync),
    reports: &mut [Report],
) -> Result<bool, DeployError> {
    for (at, name) in names.iter().enumerate() {
        let here: Vec<String> = items
            .iter()
            .filter(|(site, _, _)| *site == at)
            .map(|(_, d, _)| d.name.clone())
            .collect();
        if !here.is_empty() {
            progress(
                name,
                Event::WaveStarted {
                    wave,
                    services: here,
                },
            );
        }
    }
    // What is about to change, as pending, before anything starts.
    for (at, site) in sites.iter_mut().enumerate() {
        site.state.pending = items
            .iter()
            .filter(|(s, _, _)| *s == at)
            .map(|(_, d, action)| Pending {
                service: d.name.clone(),
                action: action.to_string(),
                engine_id: None,
                since: now(),
            })
            .collect();
        if !site.state.pending.is_empty() {
            site.store.save(site.state)?;
        }
    }
    let olds: Vec<Option<String>> = items
        .iter()
        .map(|(at, d, _)| {
            sites[*at]
                .state
                .services
                .get(&d.name)
                .map(|r| r.engine_id.clone())
        })
        .collect();
    // Where each item sits in its site's pending list.
    let slots: Vec<usize> = items
        .iter()
        .enumerate()
        .map(|(i, (at, _, _))| items[..i].iter().filter(|(s, _, _)| s == at).count())
        .collect();
    let marks: Vec<Mark> = items
        .iter()
        .map(|(at, d, _)| Mark::of(&sites[*at], &d.name))
        .collect();
    let results: Vec<StartResult> = {
        // Each start is written to its state at once (as pending, with its engine id);
        // what a run killed before that write started carries the state's mark, by
        // which the next run finds and stops it.
        let shared: Vec<(std::sync::Mutex<&mut State>, &Store, &dyn Engine)> = sites
            .iter_mut()
            .map(|s| (std::sync::Mutex::new(&mut *s.state), s.store, s.engine))
            .collect();
        let shared = &shared;
        std::thread::scope(|scope| {
            let handles: Vec<_> = items
                .iter()
                .zip(olds.iter().zip(slots.iter().zip(&marks)))
                .enumerate()
                .map(|(i, ((at, d, _), (old, (slot, mark))))| {
                    scope.spawn(move || {
                        let (state, store, engine) = &shared[*at];
                        let environment = &names[*at];
                        let started = std::time::Instant::now();
                        if let Some(old) = old
                            && !engine.in_place()
                            && let Err(e) = engine.stop(old)
                        {
                            let error = EngineError::new(
                                e.kind,
                                format!("cannot stop the running revision: {e}"),
                            );
                            return (i, Err((None, error)), started.elapsed().as_secs_f64());
                        }
                        let result = match engine.start(d, mark) {
                            Err(e) => Err((None, e)),
                            Ok(id) => {
                                let saved = match state.lock() {
                                    Ok(mut state) => {
                                        if let Some(p) = state.pending.get_mut(*slot) {
                                            p.engine_id = Some(id.clone());
                                        }
                                        store.save(&mut state).map_err(|e| e.to_string())
                                    }
                                    Err(_) => Err("the state is unusable".to_string()),
                                };
                                if let Err(e) = saved {
                                    let error = EngineError::new(
                                        EngineErrorKind::Engine,
                                        format!("started, but cannot be recorded: {e}"),
                                    );
                                    return (
                                        i,
                                        Err((Some(id), error)),
                                        started.elapsed().as_secs_f64(),
                                    );
                                }
                                progress(
                                    environment,
                                    Event::Started {
                                        name: d.name.clone(),
                                    },
                                );
                                match engine.wait_healthy(&id, &d.spec, options.deadline) {
                                    Ok(()) => {
                                        if let Some(old) = old
                                            && engine.in_place()
                                            && *old != id
                                        {
                                            engine.prune(old, &id);
                                        }
                                        Ok(id)
                                    }
                                    Err(e) => Err((Some(id), e)),
                                }
                            }
                        };
                        (i, result, started.elapsed().as_secs_f64())
                    })
                })
                .collect();
            handles.into_iter().filter_map(|h| h.join().ok()).collect()
        })
    };
    let results: Vec<StartResult> = results
        .into_iter()
        .map(|(i, result, seconds)| {
            let result = result.map_err(|(id, error)| {
                let message = options.redactor.redact(&error.message);
                (id, EngineError::new(error.kind, message))
            });
            (i, result, seconds)
        })
        .collect();
    let failed = results.iter().any(|(_, r, _)| r.is_err()) || results.len() != items.len();
    for (i, result, seconds) in &results {
        let (at, d, action) = items[*i];
        let (site, report) = (&mut sites[at], &mut reports[at]);
        let outcome = |ok: bool, error: Option<&EngineError>| Outcome {
            name: d.name.clone(),
            action: action.to_string(),
            ok,
            message: error.map(|e| e.message.clone()),
            code: error.map(|e| e.code().to_string()),
            seconds: *seconds,
        };
        match result {
            Ok(id) => {
                progress(
                    &names[at],
                    Event::Healthy {
                        name: d.name.clone(),
                        seconds: *seconds,
                    },
                );
                report.outcomes.push(outcome(true, None));
                if !failed || !options.rollback {
                    record(site.state, d, id, site.hashes);
                }
            }
            Err((id, error)) => {
                progress(
                    &names[at],
                    Event::Failed {
                        name: d.name.clone(),
                        message: error.message.clone(),
                    },
                );
                report.outcomes.push(outcome(false, Some(error)));
                if !options.rollback
                    && let Some(id) = id
                {
                    // Kept as it is: recorded, so status and reconcile see it.
                    record(site.state, d, id, site.hashes);
                }
            }
        }
    }
    if !failed {
        for site in sites.iter_mut() {
            if !site.state.pending.is_empty() {
                site.state.pending.clear();
                site.store.save(site.state)?;
            }
        }
        return Ok(true);
    }
    for report in reports.iter_mut() {
        report.ok = false;
        report.failed_wave = Some(wave);
    }
    let mut left: Vec<Vec<Pending>> = vec![Vec::new(); sites.len()];
    if options.rollback {
        for (i, result, _) in &results {
            let (at, d, _) = items[*i];
            reports[at].rolled_back = true;
            let new_id = match result {
                Ok(id) => Some(id.clone()),
                Err((id, _)) => id.clone(),
            };
            let mark = &marks[*i];
            if let Some(unstopped) = roll_back(&mut sites[at], d, new_id, mark, options, &|event| {
                progress(&names[at], event)
            }) {
                left[at].push(Pending {
                    service: d.name.clone(),
                    action: "rollback".to_string(),
                    engine_id: Some(unstopped),
                    since: now(),
                });
            }
        }
    }
    for (at, site) in sites.iter_mut().enumerate() {
        // What a rollback could not stop stays pending: the next run stops it.
        site.state.pending = std::mem::take(&mut left[at]);
        let here = items.iter().any(|(s, _, _)| *s == at);
        let what = match (here, options.rollback) {
            (true, true) => format!("wave {wave} failed, rolled back"),
            (true, false) => format!("wave {wave} failed"),
            (false, _) => format!("wave {wave} failed in another environment"),
        };
        site.state.record("deploy", what);
        site.store.save(site.state)?;
    }
    Ok(false)
}

/// Takes one service of a failed wave back to its previous revision, or away where it
/// had none. An engine that updates in place goes back by applying the previous
/// revision over the new one, then pruning what only the new one held; any other
/// engine stops the new one first. Whatever the previous revision comes back as is
/// recorded, healthy or not, so nothing it starts runs unrecorded. The engine id of a
/// new one that could not be stopped, if any: the caller keeps it pending.
fn roll_back(
    site: &mut Site,
    d: &Desired,
    new_id: Option<String>,
    mark: &Mark,
    options: &Options,
    progress: &dyn Fn(Event),
) -> Option<String> {
    let engine = site.engine;
    let previous = site.state.services.get(&d.name).cloned();
    if let Some(id) = &new_id
        && (previous.is_none() || !engine.in_place())
        && let Err(e) = engine.stop(id)
    {
        progress(Event::Failed {
            name: d.name.clone(),
            message: format!("cannot stop the failed revision: {e}"),
        });
        return Some(id.clone());
    }
    if let Some(previous) = previous {
        let old = Desired {
            name: d.name.clone(),
            instance: d.instance.clone(),
            service: previous.service.clone(),
            version: previous.version.clone(),
            model_hash: previous.model_hash.clone(),
            spec: previous.spec.clone(),
            wave: d.wave,
            secrets: d.secrets.clone(),
        };
        let mark = Mark {
            revision: previous.revision,
            ..mark.clone()
        };
        match engine.start(&old, &mark) {
            Ok(id) => {
                let healthy = engine.wait_healthy(&id, &old.spec, options.deadline);
                if healthy.is_ok()
                    && let Some(new_id) = &new_id
                    && engine.in_place()
                    && *new_id != id
                {
                    engine.prune(new_id, &id);
                }
                if let Some(r) = site.state.services.get_mut(&d.name) {
                    r.engine_id = id;
                }
                if let Err(message) = healthy {
                    progress(Event::Failed {
                        name: d.name.clone(),
                        message: format!(
                            "the previous revision came back unhealthy (recorded as it runs): {message}"
                        ),
                    });
                }
            }
            Err(message) => progress(Event::Failed {
                name: d.name.clone(),
                message: format!("the previous revision did not come back: {message}"),
            }),
        }
    }
    progress(Event::RolledBack {
        name: d.name.clone(),
    });
    None
}

/// Deploy waves across the environments of a run. A service waits for what it
/// requires in its own environment and, across environments of one landscape, for
/// what it requires that is placed in another environment of the run. Each site
/// gives its system, its landscape (the environments sharing a tier) and its
/// services, whose `wave` this sets. A cycle across environments (possible only when
/// environments resolve differently) is an error naming it.
pub fn landscape_waves(
    sites: &mut [(
        &svcmodel_model::system::ResolvedSystem,
        &str,
        &mut [Desired],
    )],
) -> Result<(), String> {
    // Every desired service of every site is one item, numbered in site order.
    let mut items: Vec<(usize, usize)> = Vec::new();
    // Per site, the items of each instance: one, or one per variant.
    let mut nodes: Vec<BTreeMap<&str, Vec<usize>>> = Vec::new();
    // Who holds an instance in a landscape: the first site of the run that does.
    let mut holder: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (at, (_, landscape, desired)) in sites.iter().enumerate() {
        let mut here: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, d) in desired.iter().enumerate() {
            here.entry(d.instance.as_str())
                .or_default()
                .push(items.len());
            items.push((at, i));
            holder
                .entry((*landscape, d.instance.as_str()))
                .or_insert(at);
        }
        nodes.push(here);
    }
    let mut edges = Vec::new();
    for (at, (system, landscape, desired)) in sites.iter().enumerate() {
        for (i, d) in desired.iter().enumerate() {
            let Some(instance) = system.find(&d.instance) else {
                continue;
            };
            let item = nodes[at][d.instance.as_str()]
                .iter()
                .copied()
                .find(|&n| items[n] == (at, i));
            let Some(item) = item else { continue };
            for dependency in instance.dependencies.iter().filter(|x| x.ordering) {
                let name = system.instance(dependency.instance).name.as_str();
                let on = nodes[at].get(name).or_else(|| {
                    holder
                        .get(&(*landscape, name))
                        .and_then(|other| nodes[*other].get(name))
                });
                for on in on.into_iter().flatten() {
                    edges.push((*on, item));
                }
            }
        }
    }
    let levels =
        svcmodel_model::graph::DependencyGraph::levels(items.len(), &edges).map_err(|item| {
            let (at, i) = items[item];
            format!(
                "`{}` in environment `{}` waits for itself through services placed in other environments",
                sites[at].2[i].name,
                sites[at].0.environment.as_deref().unwrap_or("default")
            )
        })?;
    for (item, level) in levels.into_iter().enumerate() {
        let (at, i) = items[item];
        sites[at].2[i].wave = level;
    }
    Ok(())
}

fn record(
    state: &mut State,
    desired: &Desired,
    engine_id: &str,
    hashes: &BTreeMap<String, BTreeMap<String, String>>,
) {
    let mut spec = desired.spec.clone();
    if let (Some(map), Some(h)) = (spec.as_object_mut(), hashes.get(&desired.name)) {
        map.insert(
            "secret_hashes".to_string(),
            serde_json::to_value(h).unwrap_or_default(),
        );
    }
    let revision = state.serial + 1;
    state.services.insert(
        desired.name.clone(),
        ServiceRecord {
            service: desired.service.clone(),
            version: desired.version.clone(),
            model_hash: desired.model_hash.clone(),
            engine_id: engine_id.to_string(),
            spec,
            revision,
            deployed_at: now(),
        },
    );
}

/// What destroy did in one environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removal {
    /// The services removed, in the order they went.
    pub removed: Vec<String>,
    /// The services that could not be stopped, with why: still recorded.
    pub failed: Vec<(String, String)>,
}

/// Stops everything recorded and forgets it.
pub fn destroy(
    store: &Store,
    state: &mut State,
    engine: &dyn Engine,
    progress: &(dyn Fn(Event) + Sync),
) -> Result<Removal, StateError> {
    let mut sites = [Site {
        store,
        state,
        desired: &[],
        hashes: &BTreeMap::new(),
        engine,
    }];
    let mut removed = destroy_sites(&mut sites, &|_, event| progress(event))?;
    Ok(removed.remove(0))
}

/// Stops everything the sites' states record and forgets it, consumers before what
/// they require: by the deploy waves of each site's `desired`, the last wave first
/// across every environment (what the model no longer has goes first of all). Work an
/// interrupted run left pending, and anything carrying a state's mark that no record
/// holds, goes before all of it. Each removal is saved at once; a service that cannot
/// be stopped stays recorded. What went, per site.
pub fn destroy_sites(
    sites: &mut [Site],
    progress: &(dyn Fn(&str, Event) + Sync),
) -> Result<Vec<Removal>, StateError> {
    for site in sites.iter_mut() {
        match converge_unrecorded(site, false, progress) {
            Ok(()) => {}
            Err(DeployError::State(e)) => return Err(e),
            // Not raised without `refuse`.
            Err(_) => {}
        }
    }
    let mut doomed: Vec<(usize, usize, String)> = Vec::new();
    for (at, site) in sites.iter().enumerate() {
        for name in site.state.services.keys() {
            let wave = site
                .desired
                .iter()
                .find(|d| d.name == *name)
                .map_or(usize::MAX, |d| d.wave);
            doomed.push((wave, at, name.clone()));
        }
    }
    // The last wave first; within a wave, by environment and name.
    doomed.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut removals = vec![Removal::default(); sites.len()];
    for (_, at, name) in doomed {
        let site = &mut sites[at];
        let stopped = match site.state.services.get(&name) {
            Some(record) => site.engine.stop(&record.engine_id),
            None => Ok(()),
        };
        match stopped {
            Ok(()) => {
                site.state.services.remove(&name);
                progress(
                    &site.state.environment,
                    Event::Deleted { name: name.clone() },
                );
                site.store.save(site.state)?;
                removals[at].removed.push(name);
            }
            Err(message) => {
                progress(
                    &site.state.environment,
                    Event::Failed {
                        name: name.clone(),
                        message: message.message.clone(),
                    },
                );
                removals[at].failed.push((name, message.message));
            }
        }
    }
    for (site, removal) in sites.iter_mut().zip(removals.iter_mut()) {
        if site.state.services.is_empty()
            && site.state.pending.is_empty()
            && let Err(e) = site.engine.release()
        {
            progress(
                &site.state.environment,
                Event::Failed {
                    name: site.state.environment.clone(),
                    message: e.message.clone(),
                },
            );
            removal
                .failed
                .push((site.state.environment.clone(), e.message));
        }
        let mut summary = format!("{} services removed", removal.removed.len());
        if !removal.failed.is_empty() {
            summary.push_str(&format!(", {} could not be stopped", removal.failed.len()));
        }
        site.state.record("destroy", summary);
        site.store.save(site.state)?;
    }
    Ok(removals)
}
