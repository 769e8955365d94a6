//! The view a target's templates see: one environment and its services, every value
//! resolved for that target (addresses written the target's way, secrets as
//! references), in a stable order.
//!
//! Input: the model and one resolved system. Output: [`SystemView`], plus the problems
//! found on the way (a feature the target cannot express, a value no engine can carry).
//! Templates never see the model itself, so what they can write is exactly what this
//! module puts in front of them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use svcmodel_model::eval::{Context, holds};
use svcmodel_model::quantity::{QuantityKind, format};
use svcmodel_model::system::{Instance, ResolvedSystem};
use svcmodel_model::{
    ConfigValue, Criticality, Environment, Exposure, FailureDomainKind, HealthCheck, Model,
    PolicyRule, PortField, Protocol, Reference, RestartPolicy, Service, Span, Template,
    TemplatePart,
};

use crate::manifest::{Feature, Interpolation, TargetManifest};
use crate::problem::{Problem, ProblemKind};

/// What a render works from.
pub struct Input<'a> {
    pub model: &'a Model,
    pub system: &'a ResolvedSystem,
    /// The folder of each model file, indexed by `FileId`, for `${self.dir}`.
    pub file_dirs: &'a [String],
    /// The project's root folder as written in `file_dirs`: the model hash counts
    /// paths below it relative to it, so it is the same in every checkout.
    pub root_dir: &'a str,
    /// The text of each configuration template (`template("FILE")`), by the id of the
    /// model file that names it and the name as written; the CLI reads them.
    pub template_files: &'a BTreeMap<(u32, String), String>,
    /// Render only the instances with these names; every instance when empty.
    pub only: &'a [String],
    /// Where placement put things, when the environment shares its landscape.
    pub placed: Option<&'a PlacedView>,
}

/// What rendering one environment of a placed landscape needs from the placement.
#[derive(Debug, Clone, Default)]
pub struct PlacedView {
    /// Instances placed in other environments, by name: the host this environment
    /// reaches them at (the other environment's `address`).
    pub remote: BTreeMap<String, String>,
    /// Instances placed here: their replicas' failure domains, by kind.
    pub domains: BTreeMap<String, Vec<BTreeMap<String, String>>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SystemView {
    pub environment: EnvironmentView,
    pub target: String,
    pub services: Vec<ServiceView>,
    /// Every service's secrets, for targets that declare secrets once per file.
    pub secrets: Vec<SecretView>,
    /// Every service's configuration files, named `SERVICE-KEY`, for targets that
    /// declare them once per file.
    pub files: Vec<NamedFileView>,
    /// The volumes of the services with data: `SERVICE-data`.
    pub volumes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NamedFileView {
    pub name: String,
    pub content: ValueView,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct EnvironmentView {
    pub name: String,
    /// The environment's name, or `default` when the model declares none.
    pub namespace: String,
    pub description: Option<String>,
    pub provider: Option<String>,
    pub jurisdiction: Option<String>,
    pub region: Option<String>,
    pub tier: Option<String>,
    /// The connection the environment is deployed through (a kubeconfig or Docker
    /// context), for a project's own target that deploys elsewhere.
    pub context: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub failure_domains: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceView {
    /// The instance name: the service's name, or `CONSUMER-SERVICE` per consumer.
    pub name: String,
    pub service: String,
    pub version: String,
    /// The version as a Kubernetes label value allows (`+` becomes `_`).
    pub version_label: String,
    pub description: Option<String>,
    pub image: Option<String>,
    pub command: Vec<ValueView>,
    pub workdir: Option<ValueView>,
    pub args: Vec<ValueView>,
    /// `config.command`: what a container runs instead of its image's entrypoint.
    pub container_command: Vec<ValueView>,
    pub env: Vec<EnvView>,
    /// The variables whose value is plain text, for templates that list them apart.
    pub plain_env: Vec<PlainEnvView>,
    /// The variables whose value is exactly one secret.
    pub secret_env: Vec<SecretEnvView>,
    /// Some variable composes a secret or a run-time value with text, so it must be
    /// set when the process starts.
    pub dynamic_env: bool,
    pub files: Vec<FileView>,
    /// Files that are exactly one secret.
    pub secret_files: Vec<SecretFileView>,
    pub secrets: Vec<SecretView>,
    /// The secrets used inside a longer value or an argument, which therefore need a
    /// variable of their own (`SVCMODEL_SECRET_PARAM`) to refer to.
    pub secret_variables: Vec<SecretView>,
    pub ports: Vec<PortView>,
    pub health: Option<HealthView>,
    /// The check the engine restarts the service by, where the model gives one apart
    /// from `health`.
    pub liveness: Option<HealthView>,
    /// The check that must pass once before the others count.
    pub startup: Option<HealthView>,
    /// What it requires in this environment.
    pub dependencies: Vec<DependencyView>,
    /// What it requires that placement put in another environment, reached at that
    /// environment's `address`.
    pub remote_dependencies: Vec<DependencyView>,
    /// The instances that require this one, and the port each uses.
    pub consumers: Vec<ConsumerView>,
    /// Consumers placed in another environment: they come from outside.
    pub remote_consumers: Vec<ConsumerView>,
    pub replicas: u32,
    pub criticality: &'static str,
    pub critical: bool,
    /// Critical and with more than one replica: keep all but one running.
    pub disruption_budget: bool,
    pub entrypoint: bool,
    pub restart: &'static str,
    pub resources: ResourcesView,
    pub data: Option<DataView>,
    pub spread: Vec<SpreadView>,
    /// The failure domains placement chose for its replicas, per kind: the nodes it
    /// may run on. Empty when the environment is not part of a placed landscape.
    pub pins: Vec<PinView>,
    /// Swarm placement constraints from `pins`: `== DOMAIN` where one domain holds
    /// every replica, else `!= DOMAIN` for each domain of the environment placement
    /// did not choose (Swarm constraints cannot say "one of").
    pub swarm_constraints: Vec<String>,
    /// Swarm placement preferences: the labels to spread replicas over, from `spread`
    /// and from pins over several domains.
    pub swarm_preferences: Vec<&'static str>,
    /// The instances this one should run close to (`near`): its data.
    pub near: Vec<NearView>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// What its consumers' requirements reserve, as a Kubernetes quantity of bits per
    /// second (`500M`), on targets that enforce bandwidth.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bandwidth_ingress: Option<String>,
    /// What its own requirements reserve.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bandwidth_egress: Option<String>,
    /// The node labels a node must carry to run it.
    pub node_selector: BTreeMap<String, String>,
    /// The workload identity it runs as: the model's `identity`, else its name.
    pub identity: String,
    /// What runs: one workload, or one per variant (on targets with a service layer;
    /// elsewhere each variant is a view of its own).
    pub workloads: Vec<WorkloadView>,
    /// The variant this view runs, where variants are views of their own.
    pub variant: Option<String>,
    /// The instance this view runs (its name, unless it is a variant's view).
    pub instance: String,
    /// Other names it is reached at on its network: a variant's view answers to
    /// its instance's name.
    pub aliases: Vec<String>,
    /// `cluster`, `node_port`, `load_balancer` or `headless`.
    pub expose: &'static str,
    /// Reachable from outside the environment: exposed as a node port or through a
    /// load balancer, or an entry point of the system.
    pub exposed: bool,
    /// Kubernetes' Service type: `ClusterIP`, `NodePort` or `LoadBalancer`.
    pub service_type: &'static str,
    pub headless: bool,
    /// Some port is published outside the environment.
    pub publishes: bool,
    /// Writable scratch folders: `/tmp` always (the root is read-only), then the
    /// model's `scratch` folders.
    pub scratch: Vec<ScratchView>,
    pub security: SecurityView,
    /// The labels svcmodel puts on every object of the service, in the Kubernetes
    /// convention (`app.kubernetes.io/*`, `svcmodel.io/*`); values are label-safe.
    pub standard_labels: BTreeMap<&'static str, String>,
    /// The first 16 hex digits of a SHA-256 over everything else in this view: it
    /// changes exactly when what is deployed changes.
    pub model_hash: String,
    /// Nomad only: the Go template that sets the variables looked up at run time.
    pub nomad: Option<crate::nomad::NomadView>,
}

/// A value as a target writes it: literal text, secrets and run-time addresses, which
/// the `value` helper joins with the escaping of the output's syntax.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ValueView {
    /// Empty for templates when the value is plain text (`text` holds it): most values
    /// are, and rendering 10k services serializes every one of them.
    #[serde(serialize_with = "parts_when_dynamic")]
    pub parts: Vec<Part>,
    /// Any part is a secret.
    pub secret: bool,
    /// Any part is only known at run time (a secret or a looked-up address).
    pub dynamic: bool,
    /// The value is exactly one secret.
    pub secret_ref: Option<SecretView>,
    /// For dynamic values: the variable that holds the value at run time.
    pub variable: Option<String>,
    /// The text when nothing is dynamic.
    pub text: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Part {
    Text {
        text: String,
    },
    Secret {
        secret: SecretView,
    },
    /// An address only known at run time (Nomad service discovery).
    Address {
        service: String,
        field: String,
        scheme: String,
        /// Where the service is registered: `nomad`, or `consul` for services with a
        /// command health check (Nomad's own discovery has no script checks).
        provider: String,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct SecretView {
    pub param: String,
    /// The instance the secret belongs to.
    pub instance: String,
    /// The variable inside the container or process: `SVCMODEL_SECRET_PARAM`.
    pub variable: String,
    /// The variable on the deploying machine: `SVCMODEL_SECRET_INSTANCE_PARAM`.
    pub host_variable: String,
    /// The engine's secret object: `INSTANCE-secrets` (Kubernetes), `INSTANCE-PARAM`
    /// (Compose).
    pub object: String,
    pub file_name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct EnvView {
    pub name: String,
    pub value: ValueView,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlainEnvView {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SecretEnvView {
    pub name: String,
    pub secret: SecretView,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileView {
    pub path: String,
    /// The file's name, for a mount.
    pub name: String,
    /// A key made of the characters every engine allows: `[-._a-zA-Z0-9]`.
    pub key: String,
    pub content: ValueView,
}

/// A file whose whole content is one secret: mounted from the engine's secret store.
#[derive(Debug, Clone, Serialize)]
pub struct SecretFileView {
    pub path: String,
    /// The file's name, for a mount.
    pub name: String,
    /// A key unique within the service, of the characters every engine allows.
    pub key: String,
    pub secret: SecretView,
}

#[derive(Debug, Clone, Serialize)]
pub struct WorkloadView {
    /// `SERVICE`, or `SERVICE-VARIANT`.
    pub name: String,
    pub variant: Option<String>,
    pub image: Option<String>,
    pub replicas: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScratchView {
    pub path: String,
    /// A volume name for it, a DNS label: `/var/cache/app` is `var-cache-app`.
    pub name: String,
    pub size: Option<String>,
    pub size_bytes: Option<u64>,
    pub size_mib: Option<u64>,
    pub memory: bool,
    /// `PATH` or `PATH:size=BYTES`: Docker's tmpfs option.
    pub tmpfs: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SecurityView {
    pub user: Option<u32>,
    pub group: Option<u32>,
    /// `USER` or `USER:GROUP`, for Docker's `user`.
    pub user_group: Option<String>,
    pub capabilities: Vec<String>,
    /// The model's reason to let the service start as root, if it gives one.
    pub allow_root: Option<String>,
    pub writable_root: Option<String>,
    pub run_as_non_root: bool,
    pub read_only_root: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct PortView {
    pub name: String,
    /// The port the process listens on.
    pub port: u16,
    /// The port a service layer in front of it offers (a Kubernetes Service).
    pub service_port: u16,
    /// The port it is published at outside the environment on this target (a node
    /// port, a port of the Docker host), if it is published at a known one.
    pub published: Option<u16>,
    pub protocol: &'static str,
    /// `TCP` or `UDP`.
    pub transport: &'static str,
    pub transport_lower: &'static str,
    /// The health check probes this port.
    pub checked: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct HealthView {
    pub kind: &'static str,
    pub tcp: bool,
    pub http: bool,
    pub exec: bool,
    pub grpc: bool,
    /// Request headers of an `http` check, in name order.
    pub headers: Vec<HeaderView>,
    pub port_name: Option<String>,
    pub port: Option<u16>,
    pub path: Option<String>,
    pub command: Vec<String>,
    pub interval_seconds: u64,
    pub timeout_seconds: u64,
    pub initial_delay_seconds: Option<u64>,
    /// Failures in a row before unhealthy: the model's, else 3.
    pub failure_threshold: u32,
    /// Successes in a row before healthy again: the model's, else 1.
    pub success_threshold: u32,
    /// The model gave a failure threshold (Kubernetes' liveness probe then uses it,
    /// rather than twice the readiness one).
    pub failure_threshold_given: bool,
    /// As a duration string: `10s`.
    pub interval: String,
    pub timeout: String,
    /// The check as one `sh -c` command line, for engines that run checks inside the
    /// container (Compose): `wget` for http, `nc -z` for tcp, the command quoted.
    pub shell: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct HeaderView {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DependencyView {
    pub name: String,
    pub service: String,
    pub port_name: String,
    pub port: u16,
    pub transport: &'static str,
    pub transport_lower: &'static str,
    /// The host this target reaches it at (empty where it is looked up at run time).
    pub host: String,
    /// Must be healthy before this service starts.
    pub ordering: bool,
    /// The dependency declares a health check (so "healthy" can be waited for).
    pub healthy: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConsumerView {
    pub name: String,
    pub port_name: String,
    pub port: u16,
    pub transport: &'static str,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ResourcesView {
    /// The limits: the model's, else the requests.
    pub limit: Amounts,
    pub cpu: Option<String>,
    pub millicpu: Option<u64>,
    pub memory: Option<String>,
    pub memory_bytes: Option<u64>,
    /// Rounded up, for engines that count MiB (Nomad, Docker).
    pub memory_mib: Option<u64>,
    /// As a decimal number of cores: `0.25`.
    pub cpus: Option<String>,
    /// Percent of one core, rounded up: `25` (systemd's `CPUQuota=`).
    pub cpu_percent: Option<u64>,
}

/// Amounts of cpu and memory in each unit a target writes.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Amounts {
    pub cpu: Option<String>,
    pub millicpu: Option<u64>,
    pub memory: Option<String>,
    pub memory_bytes: Option<u64>,
    pub memory_mib: Option<u64>,
    pub cpus: Option<String>,
    pub cpu_percent: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DataView {
    /// Where the volume is mounted: the model's `path`, else `/var/lib/svcmodel/data`.
    pub path: String,
    pub classification: Option<String>,
    pub size: Option<String>,
    pub size_bytes: Option<u64>,
    pub size_mib: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NearView {
    /// The instance to run close to.
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PinView {
    /// `zone`, `cluster`, `rack` or `hypervisor`.
    pub kind: String,
    /// The Kubernetes node label that carries it.
    pub node_label: &'static str,
    /// The domains its replicas were placed in, each once, sorted.
    pub values: Vec<String>,
    /// The same, comma-separated (a Nomad `set_contains_any` value).
    pub values_joined: String,
    /// The Nomad attribute that carries it.
    pub nomad_attribute: &'static str,
    /// The Swarm node label that carries it.
    pub swarm_label: &'static str,
    /// The Swarm constraints that hold replicas to `values`.
    pub swarm_constraints: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SpreadView {
    pub over: &'static str,
    pub policy: String,
    pub because: Option<String>,
    /// The node label that names the domain: `topology.kubernetes.io/zone`,
    /// `svcmodel.io/cluster`, `svcmodel.io/rack`, `svcmodel.io/hypervisor`.
    pub node_label: &'static str,
    /// The Swarm node label: `node.labels.svcmodel.zone`.
    pub swarm_label: &'static str,
    /// The Nomad node attribute: `${meta.svcmodel_zone}`.
    pub nomad_attribute: &'static str,
    /// A spread with a `weight`: the scheduler spreads if it can, and places anyway.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub preferred: bool,
}

/// Where a service's data volume is mounted when the model does not say.
pub const DEFAULT_DATA_PATH: &str = "/var/lib/svcmodel/data";

/// The node label that names a failure domain on the platforms svcmodel renders for.
/// The Swarm node label that carries a kind of failure domain.
pub fn swarm_label(kind: FailureDomainKind) -> &'static str {
    match kind {
        FailureDomainKind::Zone => "node.labels.svcmodel.zone",
        FailureDomainKind::Cluster => "node.labels.svcmodel.cluster",
        FailureDomainKind::Rack => "node.labels.svcmodel.rack",
        FailureDomainKind::Hypervisor => "node.labels.svcmodel.hypervisor",
    }
}

/// The Nomad client attribute that carries a kind of failure domain.
pub fn nomad_attribute(kind: FailureDomainKind) -> &'static str {
    match kind {
        FailureDomainKind::Zone => "${meta.svcmodel_zone}",
        FailureDomainKind::Cluster => "${meta.svcmodel_cluster}",
        FailureDomainKind::Rack => "${meta.svcmodel_rack}",
        FailureDomainKind::Hypervisor => "${meta.svcmodel_hypervisor}",
    }
}

pub fn node_label(kind: FailureDomainKind) -> &'static str {
    match kind {
        FailureDomainKind::Zone => "topology.kubernetes.io/zone",
        FailureDomainKind::Cluster => "svcmodel.io/cluster",
        FailureDomainKind::Rack => "svcmodel.io/rack",
        FailureDomainKind::Hypervisor => "svcmodel.io/hypervisor",
    }
}

/// Builds the view of `input` for `target`. Problems are collected; the view is
/// complete only when there are none.
pub fn build(input: &Input, target: &TargetManifest, problems: &mut Vec<Problem>) -> SystemView {
    let stream = Stream::new(input, target, problems);
    let build_chunk = |instances: &[&'_ Instance]| {
        let mut built = (Vec::new(), Vec::new(), Vec::new());
        for instance in instances {
            for view in stream.views(instance, &mut built.2) {
                built.1.push(Outline::of(&view, instance, input));
                built.0.push(view);
            }
        }
        built
    };
    let chunks = crate::render::on_every_core(&stream.instances, 256, build_chunk);
    let mut services = Vec::new();
    let mut outlines = Vec::new();
    // A thread that stopped is a bug; its panic was reported, and its services
    // must not silently go missing.
    for (views, chunk_outlines, chunk_problems) in chunks
        .into_iter()
        .map(|chunk| chunk.unwrap_or_else(|| panic!("building the views stopped unexpectedly")))
    {
        services.extend(views);
        outlines.extend(chunk_outlines);
        problems.extend(chunk_problems);
    }
    let mut secrets: Vec<SecretView> = services
        .iter()
        .flat_map(|s| s.secrets.iter().cloned())
        .collect();
    secrets.sort();
    let files = services.iter().flat_map(NamedFileView::of).collect();
    let volumes = services.iter().filter_map(volume).collect();
    let view = SystemView {
        environment: stream.builder.environment_view.clone(),
        target: target.name.clone(),
        services,
        secrets,
        files,
        volumes,
    };
    // Checked here, not only when rendering: what `deploy` builds is this view.
    check_across(input, target, &outlines, problems);
    view
}

/// The checks across the services of an environment, on their outlines.
pub(crate) fn check_across(
    input: &Input,
    target: &TargetManifest,
    outlines: &[Outline],
    problems: &mut Vec<Problem>,
) {
    if target.host_network {
        crate::render::port_clashes(input, outlines, problems);
    } else {
        crate::render::published_port_clashes(input, outlines, problems);
    }
    if target.supports(Feature::Identity) {
        crate::render::shared_identities(input, outlines, problems);
    }
}

/// What the checks across services read of a service's view: kept for every
/// service while the views themselves are dropped once rendered.
pub(crate) struct Outline {
    pub name: String,
    pub identity: String,
    /// The published port of each port, in the order of the model's `provides`.
    pub published: Vec<Option<u16>>,
    /// The model's definition of the service, when the view is its instance's own
    /// (not a variant's).
    pub definition: Option<usize>,
}

impl Outline {
    pub(crate) fn of(view: &ServiceView, instance: &Instance, input: &Input) -> Outline {
        let definition = if view.name == instance.name {
            Some(instance.definition)
        } else {
            input.system.find(&view.name).map(|i| i.definition)
        };
        Outline {
            name: view.name.clone(),
            identity: view.identity.clone(),
            published: if view.publishes {
                view.ports.iter().map(|p| p.published).collect()
            } else {
                Vec::new()
            },
            definition,
        }
    }
}

impl NamedFileView {
    fn of(service: &ServiceView) -> impl Iterator<Item = NamedFileView> + '_ {
        service.files.iter().map(|f| NamedFileView {
            name: format!("{}-{}", service.name, f.key),
            content: f.content.clone(),
        })
    }
}

/// The volume of a service with data: `SERVICE-data`.
fn volume(service: &ServiceView) -> Option<String> {
    service
        .data
        .as_ref()
        .map(|_| format!("{}-data", service.name))
}

/// Which of the environment-wide lists some template may read: only those are
/// gathered (at 100,000 services, every configuration file's text is tens of MiB).
#[derive(Clone, Copy)]
pub(crate) struct Wanted {
    pub secrets: bool,
    pub files: bool,
    pub volumes: bool,
}

/// What the files of a whole environment see besides its services, gathered from
/// each service's view as it is built.
#[derive(Default)]
pub(crate) struct Gathered {
    pub secrets: Vec<SecretView>,
    pub files: Vec<NamedFileView>,
    pub volumes: Vec<String>,
    pub outlines: Vec<Outline>,
}

impl Gathered {
    pub(crate) fn add(
        &mut self,
        view: &ServiceView,
        instance: &Instance,
        input: &Input,
        wanted: Wanted,
    ) {
        if wanted.secrets {
            self.secrets.extend(view.secrets.iter().cloned());
        }
        if wanted.files {
            self.files.extend(NamedFileView::of(view));
        }
        if wanted.volumes {
            self.volumes.extend(volume(view));
        }
        self.outlines.push(Outline::of(view, instance, input));
    }

    /// Appends `other`, gathered from the instances after these.
    pub(crate) fn append(&mut self, mut other: Gathered) {
        self.secrets.append(&mut other.secrets);
        self.files.append(&mut other.files);
        self.volumes.append(&mut other.volumes);
        self.outlines.append(&mut other.outlines);
    }
}

/// The view built one instance at a time, so that rendering on several threads holds
/// only the views being rendered, never a large system's whole view.
pub(crate) struct Stream<'a> {
    builder: Builder<'a>,
    /// The instances to render, in the system's order.
    pub instances: Vec<&'a Instance>,
    /// The names of the views of instances that run as views of their own variants: a
    /// dependency on such an instance is one on each of them.
    variants: BTreeMap<String, Vec<String>>,
}

impl<'a> Stream<'a> {
    pub(crate) fn new(
        input: &'a Input<'a>,
        target: &'a TargetManifest,
        problems: &mut Vec<Problem>,
    ) -> Stream<'a> {
        let environment = input
            .system
            .environment
            .as_deref()
            .and_then(|name| input.model.environment(name));
        let entrypoints: Vec<&str> = input
            .model
            .systems
            .iter()
            .flat_map(|s| s.entrypoints.iter().map(|e| e.value.as_str()))
            .collect();
        let mut builder = Builder {
            input,
            target,
            environment,
            namespace: input
                .system
                .environment
                .clone()
                .unwrap_or_else(|| "default".to_string()),
            entrypoints,
            environment_view: EnvironmentView::default(),
        };
        builder.environment_view = builder.environment_view();
        // The built-in targets svcmodel does not deploy through a context.
        if let Some(context) = environment.and_then(|e| e.context.as_ref())
            && matches!(target.name.as_str(), "local" | "nomad" | "systemd")
        {
            problems.push(
                Problem::new(
                    ProblemKind::Unsupported,
                    format!(
                        "target `{}` does not read `context`: svcmodel deploys through one only to Kubernetes, Docker and Swarm",
                        target.name
                    ),
                )
                .warning()
                .label(context.span, "not read on this target")
                .help("remove `context`, or give the environment a target that deploys through it"),
            );
        }
        // A set: `only` names every instance of a placed environment, and looking each
        // instance up in a list would be quadratic.
        let only: std::collections::HashSet<&str> = input.only.iter().map(String::as_str).collect();
        let instances: Vec<&Instance> = input
            .system
            .instances
            .iter()
            .filter(|i| only.is_empty() || only.contains(i.name.as_str()))
            .collect();
        // Only instances with variants can become several views: build those first,
        // their problems are said when they are built again in turn.
        let mut variants = BTreeMap::new();
        if !target.service_ports {
            for instance in &instances {
                if input.model.services[instance.definition]
                    .variants
                    .is_empty()
                {
                    continue;
                }
                let view = builder.service(instance, &mut Vec::new());
                let names: Vec<String> = builder
                    .variant_views(view)
                    .into_iter()
                    .filter(|v| v.variant.is_some())
                    .map(|v| v.name)
                    .collect();
                if !names.is_empty() {
                    variants.insert(instance.name.clone(), names);
                }
            }
        }
        Stream {
            builder,
            instances,
            variants,
        }
    }

    pub(crate) fn environment(&self) -> &EnvironmentView {
        &self.builder.environment_view
    }

    /// The views of one instance: itself, or each of its variants.
    pub(crate) fn views(
        &self,
        instance: &'a Instance,
        problems: &mut Vec<Problem>,
    ) -> Vec<ServiceView> {
        let view = self.builder.service(instance, problems);
        let mut views = self.builder.variant_views(view);
        for view in &mut views {
            if !self.variants.is_empty()
                && view
                    .dependencies
                    .iter()
                    .any(|d| self.variants.contains_key(&d.name))
            {
                view.dependencies = std::mem::take(&mut view.dependencies)
                    .into_iter()
                    .flat_map(|d| match self.variants.get(&d.name) {
                        Some(names) => names
                            .iter()
                            .map(|name| DependencyView {
                                name: name.clone(),
                                ..d.clone()
                            })
                            .collect(),
                        None => vec![d],
                    })
                    .collect();
            }
            seal(view, &self.builder.namespace, self.builder.input.root_dir);
        }
        views
    }
}

struct Builder<'a> {
    input: &'a Input<'a>,
    target: &'a TargetManifest,
    environment: Option<&'a Environment>,
    namespace: String,
    entrypoints: Vec<&'a str>,
    environment_view: EnvironmentView,
}

/// Where a service in a template points: itself or a dependency.
struct Address<'a> {
    instance: &'a Instance,
    service: &'a Service,
    port: &'a svcmodel_model::Port,
}

impl<'a> Builder<'a> {
    fn environment_view(&self) -> EnvironmentView {
        let name = self.input.system.environment.clone().unwrap_or_default();
        let Some(env) = self.environment else {
            return EnvironmentView {
                name,
                namespace: self.namespace.clone(),
                description: None,
                provider: None,
                jurisdiction: None,
                region: None,
                tier: None,
                context: None,
                labels: BTreeMap::new(),
                failure_domains: BTreeMap::new(),
            };
        };
        let text =
            |s: &Option<svcmodel_model::Spanned<String>>| s.as_ref().map(|v| v.value.clone());
        EnvironmentView {
            name,
            namespace: self.namespace.clone(),
            description: env.description.clone(),
            provider: text(&env.provider),
            jurisdiction: text(&env.jurisdiction),
            region: text(&env.region),
            tier: text(&env.tier),
            context: text(&env.context),
            labels: env.labels.clone(),
            failure_domains: env
                .failure_domains
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        v.iter().map(|d| d.value.clone()).collect(),
                    )
                })
                .collect(),
        }
    }

    fn definition(&self, instance: &Instance) -> &'a Service {
        &self.input.model.services[instance.definition]
    }

    fn unsupported(
        &self,
        service: &str,
        feature: Feature,
        span: Span,
        what: &str,
        problems: &mut Vec<Problem>,
    ) {
        problems.push(
            Problem::new(
                ProblemKind::Unsupported,
                format!(
                    "target `{}` cannot express {} (service `{service}`)",
                    self.target.name,
                    feature.describe()
                ),
            )
            .label(span, what.to_string())
            .help(format!(
                "remove it for environments on `{}`, or render this environment with a target that supports `{}` (`svcmodel explain E0701` lists them)",
                self.target.name,
                feature.name()
            )),
        );
    }

    fn require(
        &self,
        service: &str,
        feature: Feature,
        span: Span,
        what: &str,
        problems: &mut Vec<Problem>,
    ) {
        if !self.target.supports(feature) {
            self.unsupported(service, feature, span, what, problems);
        } else if self.target.partial.contains(&feature) {
            self.partially_supported(service, feature, span, what, problems);
        }
    }

    /// A feature the target writes but its engine may not honour: a warning.
    fn partially_supported(
        &self,
        service: &str,
        feature: Feature,
        span: Span,
        what: &str,
        problems: &mut Vec<Problem>,
    ) {
        problems.push(
            Problem::new(
                ProblemKind::Unsupported,
                format!(
                    "target `{}` may not honour {} (service `{service}`)",
                    self.target.name,
                    feature.describe()
                ),
            )
            .warning()
            .label(span, what.to_string())
            .help(format!(
                "use a target that honours `{}` for this environment (docs/targets.md), or accept it",
                feature.name()
            )),
        );
    }

    /// A name the target's platform must accept (a DNS label on most).
    fn check_name(
        &self,
        name: &str,
        span: Span,
        what: &str,
        help: &str,
        problems: &mut Vec<Problem>,
    ) {
        if let Some(rule) = self.target.names
            && let Err(why) = rule.check(name)
        {
            problems.push(
                Problem::new(
                    ProblemKind::InvalidName,
                    format!(
                        "`{name}` is not a valid name on target `{}`: {why}",
                        self.target.name
                    ),
                )
                .label(span, what)
                .help(help),
            );
        }
    }

    fn service(&self, instance: &'a Instance, problems: &mut Vec<Problem>) -> ServiceView {
        let def = self.definition(instance);
        let name = instance.name.clone();
        if let Some(rule) = self.target.names {
            let help = format!("rename the service: {}", rule.description());
            self.check_name(&name, def.name.span, "the service's name", &help, problems);
        }
        let image = match &def.image {
            Some(image) => {
                let value = self.value_of_template(instance, &image.value);
                if value.dynamic {
                    problems.push(
                        Problem::new(
                            ProblemKind::Unrepresentable,
                            "an image name cannot hold a secret",
                        )
                        .label(image.span, "refers to a secret")
                        .help("write the image from the version and plain parameters only"),
                    );
                }
                value.text
            }
            None => None,
        };
        match self.target.needs {
            crate::manifest::Needs::Image
                if def.image.is_none()
                    && (def.variants.is_empty()
                        || def.variants.iter().any(|v| v.image.is_none())) =>
            {
                problems.push(
                    Problem::new(
                        ProblemKind::Unsupported,
                        format!(
                            "service `{}` has no `image`, and target `{}` runs images",
                            def.name.value, self.target.name
                        ),
                    )
                    .label(def.name.span, "declared without an image")
                    .help(format!(
                        "add `image = \"REGISTRY/{}:${{version}}\"` to the service",
                        def.name.value
                    )),
                )
            }
            crate::manifest::Needs::Command if def.run_local.is_none() => problems.push(
                Problem::new(
                    ProblemKind::Unsupported,
                    format!(
                        "service `{}` has no `run local` block, and target `{}` runs processes",
                        def.name.value, self.target.name
                    ),
                )
                .label(def.name.span, "declared without a command")
                .help("add `run local { command = [\"PROGRAM\", \"ARG\"] }` to the service"),
            ),
            crate::manifest::Needs::ImageOrCommand
                if def.image.is_none() && def.run_local.is_none() =>
            {
                problems.push(
                    Problem::new(
                        ProblemKind::Unsupported,
                        format!(
                            "service `{}` has neither an `image` nor a `run local` block",
                            def.name.value
                        ),
                    )
                    .label(def.name.span, "nothing to run")
                    .help("add `image = \"...\"` or `run local { command = [...] }`"),
                )
            }
            _ => {}
        }
        let (command, workdir) = match &def.run_local {
            Some(run) => (
                run.command
                    .iter()
                    .map(|c| self.process_value(instance, &c.value, c.span, problems))
                    .collect(),
                run.workdir
                    .as_ref()
                    .map(|w| self.process_value(instance, &w.value, w.span, problems)),
            ),
            None => (Vec::new(), None),
        };
        let mut args = Vec::new();
        if self.target.host_network {
            // A process's command line is readable by every user of the machine
            // (`ps`, /proc/PID/cmdline); its environment only by its owner.
            for (value, span) in command.iter().zip(
                def.run_local
                    .iter()
                    .flat_map(|r| r.command.iter().map(|c| c.span)),
            ) {
                self.refuse_secret_in_argv(value, span, problems);
            }
        }
        for (i, arg) in def.config.args.iter().enumerate() {
            let mut value = self.config_value(instance, &arg.value, arg.span, problems);
            self.check_process_text(&value, arg.span, "an argument", problems);
            if self.target.host_network {
                self.refuse_secret_in_argv(&value, arg.span, problems);
            }
            if value.dynamic {
                value.variable = Some(format!("SVCMODEL_ARG_{i}"));
            }
            args.push(value);
        }
        // Where the target runs processes, `run local` is what runs; `config.command`
        // replaces an image's entrypoint and has no meaning there.
        let mut container_command = Vec::new();
        if self.target.needs != crate::manifest::Needs::Command {
            if let Some(first) = def.config.command.first() {
                self.require(
                    &instance.name,
                    Feature::Command,
                    first.span,
                    "a container command",
                    problems,
                );
            }
            for (i, word) in def.config.command.iter().enumerate() {
                let mut value = self.config_value(instance, &word.value, word.span, problems);
                self.check_process_text(&value, word.span, "a command", problems);
                if value.dynamic {
                    value.variable = Some(format!("SVCMODEL_CMD_{i}"));
                }
                container_command.push(value);
            }
        }
        for (feature, span, what) in [
            (
                Feature::Scratch,
                def.scratch.first().map(|s| s.span),
                "a scratch folder",
            ),
            (
                Feature::Security,
                def.security()
                    .user
                    .as_ref()
                    .map(|u| u.span)
                    .or(def.security().group.as_ref().map(|g| g.span))
                    .or(def.security().capabilities.first().map(|c| c.span)),
                "a user, group or capability",
            ),
            (
                Feature::Annotations,
                (!def.annotations.is_empty()).then_some(def.name.span),
                "annotations",
            ),
            (
                Feature::NodeSelector,
                def.node_selector.as_ref().map(|n| n.span),
                "node labels to run on (`node_label`)",
            ),
        ] {
            if let Some(span) = span {
                self.require(&instance.name, feature, span, what, problems);
            }
        }
        let mut env = Vec::new();
        for entry in &def.config.env {
            let mut value =
                self.config_value(instance, &entry.value.value, entry.value.span, problems);
            self.check_process_text(
                &value,
                entry.value.span,
                "an environment variable",
                problems,
            );
            if !valid_env_name(&entry.key.value) {
                problems.push(
                    Problem::new(
                        ProblemKind::Unrepresentable,
                        format!("`{}` cannot be an environment variable's name", entry.key.value.escape_debug()),
                    )
                    .label(entry.key.span, "not a portable variable name")
                    .help("name the variable with letters, digits, `_`, `.` and `-`, not starting with a digit"),
                );
            }
            if self.target.interpolation == Interpolation::Nomad
                && (entry.key.value.contains('.') || entry.key.value.starts_with('-'))
            {
                problems.push(
                    Problem::new(
                        ProblemKind::Unrepresentable,
                        format!(
                            "target `nomad` cannot name a variable `{}`",
                            entry.key.value
                        ),
                    )
                    .label(
                        entry.key.span,
                        "an HCL name has no `.` and does not start with `-`",
                    )
                    .help("name the variable with letters, digits, `_` and `-`"),
                );
            }
            if value.dynamic {
                value.variable = Some(entry.key.value.clone());
            }
            env.push(EnvView {
                name: entry.key.value.clone(),
                value,
            });
        }
        let mut files = Vec::new();
        let mut secret_files = Vec::new();
        for entry in &def.config.files {
            let content =
                self.config_value(instance, &entry.value.value, entry.value.span, problems);
            let path = entry.key.value.clone();
            let file_name = path.rsplit('/').next().unwrap_or(&path).to_string();
            // A file that is exactly one secret goes through the engine's secret
            // mechanism (a Secret volume, a Compose secret), never into a rendered file.
            if let Some(secret) = &content.secret_ref {
                self.require(
                    &instance.name,
                    Feature::SecretFiles,
                    entry.key.span,
                    "a secret written to a file",
                    problems,
                );
                secret_files.push(SecretFileView {
                    // Numbered: two files of one name in two folders stay apart.
                    key: config_key(&format!("{}-{file_name}", secret_files.len())),
                    name: file_name,
                    path,
                    secret: secret.clone(),
                });
                continue;
            }
            self.require(
                &instance.name,
                Feature::Files,
                entry.key.span,
                "a configuration file",
                problems,
            );
            if content.dynamic {
                problems.push(
                    Problem::new(
                        ProblemKind::Unsupported,
                        format!("target `{}` cannot put a secret or a run-time address inside a configuration file", self.target.name),
                    )
                    .label(entry.value.span, "part of this value is only known at run time")
                    .help("make the file exactly one secret (`file \"PATH\" = param.NAME`), or pass the value in an environment variable and let the service read it from there"),
                );
            }
            files.push(FileView {
                key: config_key(&file_name),
                name: file_name,
                path,
                content,
            });
        }
        let secrets = self.secrets_of(instance, def);
        let composed: Vec<ValueView> = args.iter().chain(&container_command).cloned().collect();
        let secret_variables = secret_variables(&composed, &env);
        if !secrets.is_empty() {
            self.require(
                &instance.name,
                Feature::Secrets,
                def.name.span,
                "this service has secrets",
                problems,
            );
        }
        if let Some(rule) = self.target.names {
            for port in &def.provides {
                if let Err(why) = rule.check_port(&port.name.value) {
                    problems.push(
                        Problem::new(
                            ProblemKind::InvalidName,
                            format!(
                                "port `{}` of `{}` is not a valid port name on target `{}`: {why}",
                                port.name.value, instance.name, self.target.name
                            ),
                        )
                        .label(port.name.span, "the port's name")
                        .help("rename the port, e.g. `http`, `grpc`, `metrics`"),
                    );
                }
            }
        }
        let exposure = def.expose.as_ref().map_or(Exposure::Cluster, |e| e.value);
        let outside = matches!(exposure, Exposure::NodePort | Exposure::LoadBalancer);
        let entrypoint = self.entrypoints.contains(&instance.name.as_str());
        let exposed = outside || entrypoint;
        if let Some(expose) = &def.expose
            && exposure != Exposure::Cluster
        {
            self.require(
                &instance.name,
                Feature::Expose,
                expose.span,
                "an exposed service",
                problems,
            );
        }
        let ports: Vec<PortView> = def
            .provides
            .iter()
            .map(|p| PortView {
                name: p.name.value.clone(),
                port: p.port.value,
                service_port: p.service_port(),
                published: match (self.target.service_ports, exposed) {
                    // A node port is the model's, or one Kubernetes picks.
                    (true, _) if outside => p.publish.as_ref().map(|n| n.value),
                    (false, true) => Some(p.publish.as_ref().map_or(p.port.value, |n| n.value)),
                    _ => None,
                },
                protocol: protocol_name(p.protocol.value),
                transport: transport(p.protocol.value),
                transport_lower: transport_lower(p.protocol.value),
                checked: def.health.as_ref().is_some_and(|h| match &h.check {
                    HealthCheck::Tcp { port }
                    | HealthCheck::Http { port, .. }
                    | HealthCheck::Grpc { port } => port.value == p.name.value,
                    HealthCheck::Command { .. } => false,
                }),
            })
            .collect();
        let workloads = self.workloads(instance, def, image.as_deref(), problems);
        let publishes = ports.iter().any(|p| p.published.is_some());
        let mut probe = |check: Option<&svcmodel_model::Health>, key: &str| {
            let check = check?;
            if !self.target.supports(Feature::Probes) {
                problems.push(
                    Problem::new(
                        ProblemKind::Unsupported,
                        format!(
                            "target `{}` has only one health check: `{key}` of `{}` is not written",
                            self.target.name, instance.name
                        ),
                    )
                    .warning()
                    .label(check.span, "not expressible on this target")
                    .help(format!("remove `{key}` to silence this warning; `health` is the check this target runs")),
                );
                return None;
            }
            Some(self.health(instance, def, check, problems))
        };
        let liveness = probe(def.liveness.as_deref(), "liveness");
        let startup = probe(def.startup.as_deref(), "startup");
        if let Some(identity) = &def.identity {
            if !self.target.supports(Feature::Identity) {
                // Nothing to give up: the service runs, only without an identity of
                // its own.
                problems.push(
                    Problem::new(
                        ProblemKind::Unsupported,
                        format!(
                            "target `{}` has no workload identity: `identity` of `{}` is not written",
                            self.target.name, instance.name
                        ),
                    )
                    .warning()
                    .label(identity.span, "not expressible on this target")
                    .help("remove `identity` to silence this warning, or deploy this environment to Kubernetes"),
                );
            } else if let Some(rule) = self.target.names
                && let Err(why) = rule.check(&identity.value)
            {
                problems.push(
                    Problem::new(
                        ProblemKind::InvalidName,
                        format!("`{}` is not a valid identity on target `{}`: {why}", identity.value, self.target.name),
                    )
                    .label(identity.span, "the identity's name")
                    .help("name the identity with lowercase letters, digits and `-`, e.g. `bookinfo-reviews`"),
                );
            }
        }
        if self.target.service_ports {
            // Kubernetes' default node port range (`--service-node-port-range`).
            for port in &def.provides {
                if let Some(publish) = port
                    .publish
                    .as_ref()
                    .filter(|p| !(30000..=32767).contains(&p.value))
                {
                    problems.push(
                        Problem::new(
                            ProblemKind::Unrepresentable,
                            format!("node port {} is outside Kubernetes' range 30000-32767", publish.value),
                        )
                        .label(publish.span, "not a node port")
                        .help("publish the port at a node port from 30000 to 32767, e.g. `publish = 30080`"),
                    );
                }
            }
        }
        let health = def
            .health
            .as_ref()
            .map(|h| self.health(instance, def, h, problems));
        let remote = self.input.placed.map(|p| &p.remote);
        let elsewhere = |name: &str| remote.is_some_and(|r| r.contains_key(name));
        let (mut remote_dependencies, dependencies): (Vec<_>, Vec<_>) = self
            .dependencies(instance, def)
            .into_iter()
            .partition(|d| elsewhere(&d.name));
        for d in &mut remote_dependencies {
            if let Some(host) = remote.and_then(|r| r.get(&d.name)) {
                d.host = host.clone();
            }
        }
        let (remote_consumers, consumers): (Vec<_>, Vec<_>) = self
            .consumers(instance)
            .into_iter()
            .partition(|c| elsewhere(&c.name));
        let (bandwidth_ingress, bandwidth_egress) = self.bandwidth(instance, problems);
        let replicas = def.total_replicas();
        if replicas > 1 {
            self.require(
                &instance.name,
                Feature::Replicas,
                def.replicas.span,
                "more than one replica",
                problems,
            );
        }
        if let Some(data) = &def.data
            && data.size_bytes.is_some()
        {
            self.require(
                &instance.name,
                Feature::Data,
                data.span,
                "data held by the service",
                problems,
            );
        }
        if def.restart.value == RestartPolicy::Never && !self.target.supports(Feature::Restart) {
            problems.push(
                Problem::new(
                    ProblemKind::Unsupported,
                    format!(
                        "target `{}` always restarts a service that stops: `restart = \"never\"` is treated as `\"on_failure\"`",
                        self.target.name,
                    ),
                )
                .warning()
                .label(def.restart.span, "not expressible on this target")
                .help("remove `restart = \"never\"` to silence this warning, or run the service as a job elsewhere"),
            );
        }
        let spread = self.spread(&instance.name, def, problems);
        // The failure domains of a kind the environment declares.
        let environment = self
            .input
            .system
            .environment
            .as_deref()
            .and_then(|e| self.input.model.environment(e));
        let declared = |kind: FailureDomainKind| {
            environment
                .and_then(|e| e.failure_domains.get(&kind))
                .into_iter()
                .flatten()
                .map(|d| d.value.clone())
        };
        let pins: Vec<PinView> = self
            .input
            .placed
            .and_then(|p| p.domains.get(&instance.name))
            .map(|replicas| {
                FailureDomainKind::ALL
                    .iter()
                    .filter_map(|kind| {
                        let values: std::collections::BTreeSet<&String> = replicas
                            .iter()
                            .filter_map(|r| r.get(kind.as_str()))
                            .collect();
                        (!values.is_empty()).then(|| {
                            let values: Vec<String> = values.into_iter().cloned().collect();
                            PinView {
                                kind: kind.as_str().to_string(),
                                node_label: node_label(*kind),
                                values_joined: values.join(","),
                                nomad_attribute: nomad_attribute(*kind),
                                swarm_label: swarm_label(*kind),
                                swarm_constraints: match values.as_slice() {
                                    [only] => vec![format!("{} == {only}", swarm_label(*kind))],
                                    _ => declared(*kind)
                                        .filter(|d| !values.contains(d))
                                        .map(|d| format!("{} != {d}", swarm_label(*kind)))
                                        .collect(),
                                },
                                values,
                            }
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let near = self.near(instance, def, problems);
        let critical = def.criticality.value == Criticality::Critical;
        let labels = def.labels.clone();
        // In the model's order (Swarm spreads by the first, then within it by the
        // next), then the kinds placement spread replicas over.
        let mut swarm_preferences: Vec<&'static str> = Vec::new();
        for label in spread.iter().map(|x| x.swarm_label).chain(
            pins.iter()
                .filter(|p| p.values.len() > 1)
                .map(|p| p.swarm_label),
        ) {
            if !swarm_preferences.contains(&label) {
                swarm_preferences.push(label);
            }
        }
        let node_selector = def
            .node_selector
            .as_ref()
            .map(|n| n.value.clone())
            .unwrap_or_default();
        let mut view = ServiceView {
            name,
            service: def.name.value.clone(),
            version: instance.version.to_string(),
            version_label: instance.version.to_string().replace('+', "_"),
            description: def.description.clone(),
            image,
            command,
            workdir,
            args,
            container_command,
            plain_env: env
                .iter()
                .filter_map(|e| {
                    e.value.text.as_ref().map(|t| PlainEnvView {
                        name: e.name.clone(),
                        value: t.clone(),
                    })
                })
                .collect(),
            secret_env: env
                .iter()
                .filter_map(|e| {
                    e.value.secret_ref.as_ref().map(|s| SecretEnvView {
                        name: e.name.clone(),
                        secret: s.clone(),
                    })
                })
                .collect(),
            dynamic_env: env
                .iter()
                .any(|e| e.value.dynamic && e.value.secret_ref.is_none()),
            secret_variables,
            env,
            files,
            secret_files,
            secrets,
            ports,
            health,
            liveness,
            startup,
            dependencies,
            remote_dependencies,
            consumers,
            remote_consumers,
            replicas,
            criticality: criticality_name(def.criticality.value),
            critical,
            disruption_budget: critical && replicas > 1,
            entrypoint,
            workloads,
            variant: None,
            instance: instance.name.clone(),
            aliases: Vec::new(),
            identity: def
                .identity
                .as_ref()
                .map_or_else(|| instance.name.clone(), |i| i.value.clone()),
            expose: match exposure {
                Exposure::Cluster => "cluster",
                Exposure::NodePort => "node_port",
                Exposure::LoadBalancer => "load_balancer",
                Exposure::Headless => "headless",
            },
            exposed,
            service_type: match exposure {
                Exposure::NodePort => "NodePort",
                Exposure::LoadBalancer => "LoadBalancer",
                Exposure::Cluster | Exposure::Headless => "ClusterIP",
            },
            headless: exposure == Exposure::Headless,
            publishes,
            restart: restart_name(def.restart.value),
            resources: resources(&instance.resources),
            data: def.data.as_ref().map(|d| DataView {
                path: d
                    .path
                    .as_ref()
                    .map_or_else(|| DEFAULT_DATA_PATH.to_string(), |p| p.value.clone()),
                classification: d.classification.as_ref().map(|c| c.value.clone()),
                size: d
                    .size_bytes
                    .as_ref()
                    .map(|s| format(QuantityKind::Size, s.value)),
                size_bytes: d.size_bytes.as_ref().map(|s| s.value),
                size_mib: d.size_bytes.as_ref().map(|s| s.value.div_ceil(1 << 20)),
            }),
            spread,
            swarm_constraints: pins
                .iter()
                .flat_map(|p| p.swarm_constraints.iter().cloned())
                .chain(
                    node_selector
                        .iter()
                        .map(|(k, v)| format!("node.labels.{k} == {v}")),
                )
                .collect(),
            node_selector,
            swarm_preferences,
            pins,
            near,
            labels,
            annotations: def.annotations.clone(),
            bandwidth_ingress,
            bandwidth_egress,
            scratch: scratch(&def.scratch),
            security: security(def.security()),
            standard_labels: BTreeMap::new(),
            model_hash: String::new(),
            nomad: None,
        };
        if self.target.interpolation == Interpolation::Nomad {
            view.nomad = Some(crate::nomad::view(&view, crate::nomad::provider(def)));
        }
        view
    }

    /// A view per variant, for targets without a service layer: each variant is a
    /// service of its own that also answers to the instance's name.
    fn variant_views(&self, view: ServiceView) -> Vec<ServiceView> {
        if self.target.service_ports || view.workloads.iter().all(|w| w.variant.is_none()) {
            return vec![view];
        }
        view.workloads
            .iter()
            .map(|workload| {
                let mut v = view.clone();
                v.name = workload.name.clone();
                v.variant = workload.variant.clone();
                v.image = workload.image.clone();
                v.replicas = workload.replicas;
                v.workloads = vec![workload.clone()];
                v.aliases = vec![view.name.clone()];
                v
            })
            .collect()
    }

    /// The workloads of an instance: itself, or each of its variants.
    fn workloads(
        &self,
        instance: &Instance,
        def: &Service,
        image: Option<&str>,
        problems: &mut Vec<Problem>,
    ) -> Vec<WorkloadView> {
        let Some(first) = def.variants.first() else {
            return vec![WorkloadView {
                name: instance.name.clone(),
                variant: None,
                image: image.map(str::to_string),
                replicas: def.replicas.value,
            }];
        };
        self.require(
            &instance.name,
            Feature::Variants,
            first.name.span,
            "variants of the service",
            problems,
        );
        def.variants
            .iter()
            .map(|v| {
                let name = format!("{}-{}", instance.name, v.name.value);
                self.check_name(
                    &name,
                    v.name.span,
                    "the variant's name",
                    "shorten the variant's or the service's name",
                    problems,
                );
                WorkloadView {
                    name,
                    variant: Some(v.name.value.clone()),
                    image: match &v.image {
                        Some(image) => self.value_of_template(instance, &image.value).text,
                        None => image.map(str::to_string),
                    },
                    replicas: v.replicas.as_ref().map_or(def.replicas.value, |r| r.value),
                }
            })
            .collect()
    }

    /// Every secret the instance's definition declares, in declaration order.
    fn secrets_of(&self, instance: &Instance, def: &Service) -> Vec<SecretView> {
        def.params
            .iter()
            .filter(|p| p.ty.value == svcmodel_model::ParamType::Secret)
            .map(|p| secret_view(&instance.name, &p.name.value))
            .collect()
    }

    /// A value a process receives (argument, variable, command): no NUL can pass.
    fn refuse_secret_in_argv(&self, value: &ValueView, span: Span, problems: &mut Vec<Problem>) {
        if value.parts.iter().any(|p| matches!(p, Part::Secret { .. })) {
            problems.push(
                Problem::new(
                    ProblemKind::Unrepresentable,
                    format!(
                        "a secret cannot be in the command line of a process on target `{}`",
                        self.target.name
                    ),
                )
                .label(span, "every user of the machine can read a command line")
                .help("pass the secret in an environment variable: `env \"NAME\" = param.NAME`"),
            );
        }
    }

    fn check_process_text(
        &self,
        value: &ValueView,
        span: Span,
        what: &str,
        problems: &mut Vec<Problem>,
    ) {
        let has_nul = value
            .parts
            .iter()
            .any(|p| matches!(p, Part::Text { text } if text.contains('\0')));
        if has_nul {
            problems.push(
                Problem::new(
                    ProblemKind::Unrepresentable,
                    format!("{what} cannot hold a NUL character"),
                )
                .label(span, "its value holds a NUL (`\\0`)")
                .help("remove the NUL from the value: no operating system passes it to a process"),
            );
        }
    }

    fn process_value(
        &self,
        instance: &Instance,
        template: &Template,
        span: Span,
        problems: &mut Vec<Problem>,
    ) -> ValueView {
        let value = self.value_of_template(instance, template);
        self.check_process_text(&value, span, "a command", problems);
        value
    }

    fn config_value(
        &self,
        instance: &Instance,
        value: &ConfigValue,
        span: Span,
        problems: &mut Vec<Problem>,
    ) -> ValueView {
        match value {
            ConfigValue::Text { template } => self.value_of_template(instance, template),
            ConfigValue::Value { value } => ValueView::from_parts(vec![Part::Text {
                text: value.to_text(),
            }]),
            ConfigValue::Param { name } => ValueView::from_parts(self.param_parts(instance, name)),
            ConfigValue::TemplateFile { path } => {
                let Some(text) = self.input.template_files.get(&(span.file.0, path.clone())) else {
                    // Not read: the CLI reported why.
                    return ValueView::from_parts(Vec::new());
                };
                let context = self.config_context(instance);
                match crate::config_template::render(path, text, &context) {
                    Ok(text) => ValueView::from_parts(vec![Part::Text { text }]),
                    Err(problem) => {
                        problems.push(problem.label(span, "the configuration template"));
                        ValueView::from_parts(Vec::new())
                    }
                }
            }
        }
    }

    /// What a configuration template of `instance` sees.
    fn config_context(&self, instance: &'a Instance) -> crate::config_template::Context<'_> {
        use crate::config_template::{Address, Context, ServiceContext};
        let def = self.definition(instance);
        let param = def
            .params
            .iter()
            .zip(&instance.values)
            .filter_map(|(p, v)| Some((p.name.value.as_str(), v.value.as_ref()?.to_json())))
            .collect();
        let port = def
            .provides
            .iter()
            .map(|p| (p.name.value.as_str(), p.port.value))
            .collect();
        let mut requires = BTreeMap::new();
        if self.target.interpolation != Interpolation::Nomad {
            for dependency in &instance.dependencies {
                let Some(requirement) = def.requires.get(dependency.requirement) else {
                    continue;
                };
                let target = self.input.system.instance(dependency.instance);
                let target_def = self.definition(target);
                let port = requirement
                    .via
                    .as_ref()
                    .and_then(|via| target_def.port(&via.value))
                    .or_else(|| target_def.provides.first());
                if let Some(port) = port {
                    let host = self.host(&target.name);
                    requires.insert(
                        requirement.service.value.as_str(),
                        Address {
                            url: format!(
                                "{}://{host}:{}",
                                scheme(port.protocol.value),
                                port.port.value
                            ),
                            host,
                            port: port.port.value,
                        },
                    );
                }
            }
        }
        Context {
            service: ServiceContext {
                name: &instance.name,
                service: &def.name.value,
                version: instance.version.to_string(),
            },
            environment: &self.environment_view,
            param,
            port,
            requires,
        }
    }

    fn param_parts(&self, instance: &Instance, name: &str) -> Vec<Part> {
        let def = self.definition(instance);
        let Some(index) = def.params.iter().position(|p| p.name.value == name) else {
            return Vec::new();
        };
        match instance.values.get(index).and_then(|v| v.value.as_ref()) {
            Some(value) => vec![Part::Text {
                text: value.to_text(),
            }],
            None if def.params[index].ty.value == svcmodel_model::ParamType::Secret => {
                vec![Part::Secret {
                    secret: secret_view(&instance.name, name),
                }]
            }
            None => Vec::new(),
        }
    }

    fn value_of_template(&self, instance: &Instance, template: &Template) -> ValueView {
        let mut parts = Vec::new();
        for part in &template.parts {
            match part {
                TemplatePart::Literal(text) => parts.push(Part::Text { text: text.clone() }),
                TemplatePart::Reference(reference) => {
                    parts.extend(self.reference(instance, reference))
                }
            }
        }
        ValueView::from_parts(parts)
    }

    fn reference(&self, instance: &Instance, reference: &Reference) -> Vec<Part> {
        let def = self.definition(instance);
        let text = |t: String| vec![Part::Text { text: t }];
        match reference {
            Reference::Param { name, .. } => self.param_parts(instance, name),
            Reference::OwnVersion { .. } => text(instance.version.to_string()),
            Reference::OwnName { .. } => text(instance.name.clone()),
            Reference::OwnDir { span } => text(
                self.input
                    .file_dirs
                    .get(span.file.0 as usize)
                    .cloned()
                    .unwrap_or_default(),
            ),
            // Checked by the compiler: a model with an unknown constant never renders.
            Reference::Const { name, .. } => text(
                self.input
                    .model
                    .constant(name)
                    .map(|c| c.value.value.clone())
                    .unwrap_or_default(),
            ),
            // Today an environment's namespace is its name (`default` without one).
            Reference::EnvironmentName { .. } | Reference::EnvironmentNamespace { .. } => {
                text(self.namespace.clone())
            }
            Reference::OwnPort { port, field, .. } => match def.port(port) {
                Some(p) => self.address(
                    Address {
                        instance,
                        service: def,
                        port: p,
                    },
                    *field,
                    true,
                ),
                None => Vec::new(),
            },
            Reference::Port {
                service,
                port,
                field,
                ..
            } => {
                let Some(dependency) = instance.dependencies.iter().find(|d| {
                    def.requires
                        .get(d.requirement)
                        .is_some_and(|r| r.service.value == *service)
                }) else {
                    return Vec::new();
                };
                let target = self.input.system.instance(dependency.instance);
                let target_def = self.definition(target);
                match target_def.port(port) {
                    Some(p) => self.address(
                        Address {
                            instance: target,
                            service: target_def,
                            port: p,
                        },
                        *field,
                        false,
                    ),
                    None => Vec::new(),
                }
            }
        }
    }

    /// A port's host, port or url as this target reaches it.
    fn address(&self, to: Address, field: PortField, own: bool) -> Vec<Part> {
        let scheme = scheme(to.port.protocol.value);
        let placed_elsewhere = self
            .input
            .placed
            .is_some_and(|p| p.remote.contains_key(&to.instance.name));
        if self.target.interpolation == Interpolation::Nomad && !own && !placed_elsewhere {
            return vec![Part::Address {
                service: crate::nomad::service_name(&to.instance.name, &to.port.name.value),
                field: field.as_str().to_string(),
                scheme: scheme.to_string(),
                provider: crate::nomad::provider(to.service).to_string(),
            }];
        }
        let remote = if own {
            None
        } else {
            self.input
                .placed
                .and_then(|p| p.remote.get(&to.instance.name))
        };
        let host = match remote {
            Some(host) => host.clone(),
            None if own => self.target.own_host.clone(),
            None => self.host(&to.instance.name),
        };
        // Consumers in the same environment reach the service layer's port where the
        // target has one; the process itself, and a remote consumer through the
        // environment's `address`, the port it listens on.
        let port = if self.target.service_ports && !own && remote.is_none() {
            to.port.service_port()
        } else {
            to.port.port.value
        };
        let text = match field {
            PortField::Host => host,
            PortField::Port => port.to_string(),
            PortField::Url => format!("{scheme}://{host}:{port}"),
            PortField::Address => format!("{host}:{port}"),
        };
        vec![Part::Text { text }]
    }

    fn host(&self, instance: &str) -> String {
        self.target
            .host
            .replace("{name}", instance)
            .replace("{namespace}", &self.namespace)
    }

    fn health(
        &self,
        instance: &Instance,
        def: &Service,
        health: &svcmodel_model::Health,
        problems: &mut Vec<Problem>,
    ) -> HealthView {
        let seconds = |ns: Option<u64>, default: u64| {
            ns.map_or(default, |ns| ns.div_ceil(1_000_000_000).max(1))
        };
        let interval_seconds = seconds(health.interval_ns, 10);
        let timeout_seconds = seconds(health.timeout_ns, 1);
        let port_of = |name: &str| def.port(name).map(|p| p.port.value);
        let mut view = HealthView {
            kind: "",
            tcp: false,
            http: false,
            exec: false,
            grpc: false,
            headers: health
                .headers
                .iter()
                .map(|(name, value)| HeaderView {
                    name: name.clone(),
                    value: value.clone(),
                })
                .collect(),
            port_name: None,
            port: None,
            path: None,
            command: Vec::new(),
            interval_seconds,
            timeout_seconds,
            initial_delay_seconds: health.initial_delay_ns.map(|ns| ns.div_ceil(1_000_000_000)),
            failure_threshold: health.failure_threshold.unwrap_or(3),
            success_threshold: health.success_threshold.unwrap_or(1),
            failure_threshold_given: health.failure_threshold.is_some(),
            interval: format!("{interval_seconds}s"),
            timeout: format!("{timeout_seconds}s"),
            shell: String::new(),
        };
        match &health.check {
            HealthCheck::Tcp { port } => {
                self.require(
                    &instance.name,
                    Feature::HealthTcp,
                    health.span,
                    "a tcp health check",
                    problems,
                );
                view.kind = "tcp";
                view.tcp = true;
                view.port_name = Some(port.value.clone());
                view.port = port_of(&port.value);
            }
            HealthCheck::Grpc { port } => {
                self.require(
                    &instance.name,
                    Feature::HealthGrpc,
                    health.span,
                    "a grpc health check",
                    problems,
                );
                view.kind = "grpc";
                view.grpc = true;
                view.port_name = Some(port.value.clone());
                view.port = port_of(&port.value);
            }
            HealthCheck::Http { port, path } => {
                self.require(
                    &instance.name,
                    Feature::HealthHttp,
                    health.span,
                    "an http health check",
                    problems,
                );
                view.kind = "http";
                view.http = true;
                view.port_name = Some(port.value.clone());
                view.port = port_of(&port.value);
                view.path = Some(path.clone());
            }
            HealthCheck::Command { command } => {
                self.require(
                    &instance.name,
                    Feature::HealthCommand,
                    health.span,
                    "a command health check",
                    problems,
                );
                view.kind = "exec";
                view.exec = true;
                for word in command {
                    let value = self.value_of_template(instance, &word.value);
                    self.check_process_text(&value, word.span, "a health check command", problems);
                    match value.text {
                        Some(text) => view.command.push(text),
                        None => problems.push(
                            Problem::new(
                                ProblemKind::Unrepresentable,
                                "a health check command cannot hold a secret or a run-time address",
                            )
                            .label(word.span, "known only at run time")
                            .help("check the service's own port; pass secrets in its environment"),
                        ),
                    }
                }
            }
        }
        view.shell = match (&health.check, view.port) {
            (HealthCheck::Tcp { .. }, Some(port)) => format!("nc -z 127.0.0.1 {port} || exit 1"),
            (HealthCheck::Http { .. }, Some(port)) => format!(
                "wget -q -O /dev/null {}{} || exit 1",
                view.headers
                    .iter()
                    .map(|h| format!(
                        "--header {} ",
                        shell_word(&format!("{}: {}", h.name, h.value))
                    ))
                    .collect::<String>(),
                shell_word(&format!(
                    "http://127.0.0.1:{port}{}",
                    view.path.as_deref().unwrap_or("/")
                ))
            ),
            _ => view
                .command
                .iter()
                .map(|w| shell_word(w))
                .collect::<Vec<_>>()
                .join(" "),
        };
        view
    }

    fn dependencies(&self, instance: &Instance, def: &Service) -> Vec<DependencyView> {
        let mut out = Vec::new();
        for dependency in &instance.dependencies {
            let target = self.input.system.instance(dependency.instance);
            let target_def = self.definition(target);
            let requirement = def.requires.get(dependency.requirement);
            let port = requirement
                .and_then(|r| r.via.as_ref())
                .and_then(|via| target_def.port(&via.value))
                .or_else(|| target_def.provides.first());
            let Some(port) = port else { continue };
            out.push(DependencyView {
                name: target.name.clone(),
                service: target_def.name.value.clone(),
                port_name: port.name.value.clone(),
                port: port.port.value,
                transport: transport(port.protocol.value),
                transport_lower: transport_lower(port.protocol.value),
                host: if self.target.interpolation == Interpolation::Nomad {
                    String::new()
                } else {
                    self.host(&target.name)
                },
                ordering: dependency.ordering,
                healthy: target_def.health.is_some(),
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name).then(a.port_name.cmp(&b.port_name)));
        out.dedup_by(|a, b| a.name == b.name && a.port_name == b.port_name);
        out
    }

    fn consumers(&self, instance: &Instance) -> Vec<ConsumerView> {
        let mut out = Vec::new();
        for (consumer_id, _) in self.input.system.graph.dependents_of(instance.id) {
            let consumer = self.input.system.instance(consumer_id);
            let consumer_def = self.definition(consumer);
            let def = self.definition(instance);
            for dependency in consumer
                .dependencies
                .iter()
                .filter(|d| d.instance == instance.id)
            {
                let requirement = consumer_def.requires.get(dependency.requirement);
                let port = requirement
                    .and_then(|r| r.via.as_ref())
                    .and_then(|via| def.port(&via.value))
                    .or_else(|| def.provides.first());
                if let Some(port) = port {
                    out.push(ConsumerView {
                        name: consumer.name.clone(),
                        port_name: port.name.value.clone(),
                        port: port.port.value,
                        transport: transport(port.protocol.value),
                    });
                }
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name).then(a.port_name.cmp(&b.port_name)));
        out.dedup_by(|a, b| a.name == b.name && a.port_name == b.port_name);
        out
    }

    /// What the requirements from and to the instance reserve, summed, as Kubernetes
    /// quantities (bits per second) where the target enforces bandwidth; elsewhere a
    /// warning per requirement of the instance that declares one.
    fn bandwidth(
        &self,
        instance: &Instance,
        problems: &mut Vec<Problem>,
    ) -> (Option<String>, Option<String>) {
        let reserved = |consumer: &Instance, dependency: &svcmodel_model::system::Dependency| {
            self.definition(consumer)
                .requires
                .get(dependency.requirement)
                .and_then(|r| r.bandwidth_bps.as_ref())
                .map(|b| (b.value, b.span))
        };
        let mut egress = 0;
        for dependency in &instance.dependencies {
            let Some((bps, span)) = reserved(instance, dependency) else {
                continue;
            };
            egress += bps;
            if !self.target.supports(Feature::Bandwidth) {
                let to = &self.input.system.instance(dependency.instance).name;
                problems.push(
                    Problem::new(
                        ProblemKind::Unsupported,
                        format!(
                            "target `{}`{} cannot enforce the {} that `{}` reserves to `{to}`: placement counts it, the engine will not hold to it",
                            self.target.name,
                            self.input
                                .system
                                .environment
                                .as_deref()
                                .map(|e| format!(" (environment `{e}`)"))
                                .unwrap_or_default(),
                            svcmodel_model::quantity::format(QuantityKind::Bandwidth, bps),
                            instance.name
                        ),
                    )
                    .warning()
                    .label(span, "this bandwidth")
                    .help("render this environment for a target that enforces bandwidth (`kubernetes`), or shape the traffic outside svcmodel"),
                );
            }
        }
        if !self.target.supports(Feature::Bandwidth) {
            return (None, None);
        }
        let mut ingress = 0;
        for (consumer_id, _) in self.input.system.graph.dependents_of(instance.id) {
            let consumer = self.input.system.instance(consumer_id);
            for dependency in consumer
                .dependencies
                .iter()
                .filter(|d| d.instance == instance.id)
            {
                ingress += reserved(consumer, dependency).map_or(0, |(bps, _)| bps);
            }
        }
        let quantity = |bps: u64| {
            (bps > 0).then(|| {
                [
                    (1_000_000_000_000, "T"),
                    (1_000_000_000, "G"),
                    (1_000_000, "M"),
                    (1_000, "k"),
                ]
                .iter()
                .find(|(factor, _)| bps.is_multiple_of(*factor))
                .map_or_else(
                    || bps.to_string(),
                    |(factor, unit)| format!("{}{unit}", bps / factor),
                )
            })
        };
        (quantity(ingress), quantity(egress))
    }

    /// The instances named by `near`: the dependency of that name (its own instance
    /// for a per-consumer service), else the instance of that name.
    fn near(
        &self,
        instance: &Instance,
        def: &Service,
        problems: &mut Vec<Problem>,
    ) -> Vec<NearView> {
        let mut out = Vec::new();
        for near in &def.near {
            let dependency = instance.dependencies.iter().find(|d| {
                def.requires
                    .get(d.requirement)
                    .is_some_and(|r| r.service.value == near.value)
            });
            let name = match dependency {
                Some(d) => self.input.system.instance(d.instance).name.clone(),
                None => near.value.clone(),
            };
            if !self.target.supports(Feature::Near) {
                self.unsupported(
                    &instance.name,
                    Feature::Near,
                    near.span,
                    &format!("asks to run near `{name}`"),
                    problems,
                );
                continue;
            }
            out.push(NearView { name });
        }
        out
    }

    /// The spread rules that apply to the service in this environment.
    fn spread(&self, name: &str, def: &Service, problems: &mut Vec<Problem>) -> Vec<SpreadView> {
        let mut out: Vec<SpreadView> = Vec::new();
        for policy in &self.input.model.policies {
            let PolicyRule::Spread {
                services,
                over,
                weight,
                ..
            } = &policy.rule
            else {
                continue;
            };
            // Placement reads spread rules the same way (compiler/src/place).
            let named = services.is_empty() || services.iter().any(|s| s.value == def.name.value);
            let applies = named
                && policy.when.as_ref().is_none_or(|w| {
                    holds(
                        &w.value,
                        Context {
                            service: Some(def),
                            environment: self.environment,
                        },
                    )
                });
            if !applies {
                continue;
            }
            if !self.target.supports(Feature::Spread) {
                self.unsupported(
                    name,
                    Feature::Spread,
                    policy.span,
                    "this spread rule applies to the service",
                    problems,
                );
                continue;
            }
            if out.iter().any(|s| s.over == over.value.as_str()) {
                continue;
            }
            if self.target.partial.contains(&Feature::Spread) {
                self.partially_supported(
                    name,
                    Feature::Spread,
                    policy.span,
                    "this spread rule applies to the service",
                    problems,
                );
            }
            out.push(SpreadView {
                over: over.value.as_str(),
                policy: policy.name.value.clone(),
                because: policy.because.as_ref().map(|b| b.value.clone()),
                node_label: node_label(over.value),
                swarm_label: swarm_label(over.value),
                nomad_attribute: nomad_attribute(over.value),
                preferred: weight.is_some(),
            });
        }
        out
    }
}

impl ValueView {
    pub fn from_parts(mut parts: Vec<Part>) -> Self {
        // Adjacent texts joined: templates and escapers see the fewest parts.
        let mut merged: Vec<Part> = Vec::with_capacity(parts.len());
        for part in parts.drain(..) {
            match (merged.last_mut(), part) {
                (Some(Part::Text { text }), Part::Text { text: more }) => text.push_str(&more),
                (_, part) => merged.push(part),
            }
        }
        let secret = merged.iter().any(|p| matches!(p, Part::Secret { .. }));
        let dynamic = merged.iter().any(|p| !matches!(p, Part::Text { .. }));
        let secret_ref = match merged.as_slice() {
            [Part::Secret { secret }] => Some(secret.clone()),
            _ => None,
        };
        let text = (!dynamic).then(|| match merged.as_slice() {
            [] => String::new(),
            [Part::Text { text }] => text.clone(),
            _ => String::new(),
        });
        ValueView {
            parts: merged,
            secret,
            dynamic,
            secret_ref,
            variable: None,
            text,
        }
    }
}

fn parts_when_dynamic<S: serde::Serializer>(
    parts: &[Part],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let dynamic = parts.iter().any(|p| !matches!(p, Part::Text { .. }));
    let shown: &[Part] = if dynamic { parts } else { &[] };
    let mut seq = serializer.serialize_seq(Some(shown.len()))?;
    for part in shown {
        seq.serialize_element(part)?;
    }
    seq.end()
}

pub fn secret_view(instance: &str, param: &str) -> SecretView {
    SecretView {
        param: param.to_string(),
        instance: instance.to_string(),
        variable: format!("SVCMODEL_SECRET_{}", env_word(param)),
        host_variable: format!("SVCMODEL_SECRET_{}_{}", env_word(instance), env_word(param)),
        object: format!("{instance}-secrets"),
        file_name: format!("{instance}-{param}"),
    }
}

/// Upper case, every character outside `[A-Z0-9]` as `_`: a portable variable name part.
pub fn env_word(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

fn secret_variables(args: &[ValueView], env: &[EnvView]) -> Vec<SecretView> {
    let mut out: Vec<SecretView> = Vec::new();
    let composed = args.iter().chain(
        env.iter()
            .map(|e| &e.value)
            .filter(|v| v.secret_ref.is_none()),
    );
    for value in composed {
        for part in &value.parts {
            if let Part::Secret { secret } = part
                && !out.contains(secret)
            {
                out.push(secret.clone());
            }
        }
    }
    out
}

/// `[-._a-zA-Z][-._a-zA-Z0-9]*`: what Kubernetes accepts, and what every engine and
/// environment file carries.
fn valid_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, '-' | '.' | '_'))
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
}

/// A word for `sh`: single-quoted unless it is plainly safe.
fn shell_word(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | ':' | '='))
    {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', "'\\''"))
}

/// A ConfigMap key: `[-._a-zA-Z0-9]` only.
fn config_key(name: &str) -> String {
    let key: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if key.is_empty() || key == "." || key == ".." {
        format!("file{key}")
    } else {
        key
    }
}

/// The instance's resources: the definition's, or what values files give it.
fn resources(resources: &svcmodel_model::Resources) -> ResourcesView {
    let requests = amounts(
        resources.millicpu.as_ref().map(|c| c.value),
        resources.memory_bytes.as_ref().map(|m| m.value),
    );
    ResourcesView {
        limit: amounts(resources.cpu_limit(), resources.memory_limit()),
        cpu: requests.cpu,
        millicpu: requests.millicpu,
        memory: requests.memory,
        memory_bytes: requests.memory_bytes,
        memory_mib: requests.memory_mib,
        cpus: requests.cpus,
        cpu_percent: requests.cpu_percent,
    }
}

fn amounts(millicpu: Option<u64>, memory_bytes: Option<u64>) -> Amounts {
    Amounts {
        cpu: millicpu.map(|m| format(QuantityKind::Cpu, m)),
        millicpu,
        memory: memory_bytes.map(|m| format(QuantityKind::Size, m)),
        memory_bytes,
        memory_mib: memory_bytes.map(|m| m.div_ceil(1 << 20)),
        cpu_percent: millicpu.map(|m| m.div_ceil(10)),
        cpus: millicpu.map(|m| {
            let whole = m / 1000;
            let frac = m % 1000;
            if frac == 0 {
                whole.to_string()
            } else {
                format!("{whole}.{}", format!("{frac:03}").trim_end_matches('0'))
            }
        }),
    }
}

/// `/tmp`, then the model's scratch folders, each with a volume name that is a DNS
/// label and unique in the service.
fn scratch(folders: &[svcmodel_model::Scratch]) -> Vec<ScratchView> {
    let mut out: Vec<ScratchView> = Vec::new();
    let tmp = svcmodel_model::Scratch {
        path: svcmodel_model::Spanned::new("/tmp".to_string(), Span::default()),
        size_bytes: None,
        memory: false,
        span: Span::default(),
    };
    let declares_tmp = folders
        .iter()
        .any(|f| f.path.value.trim_end_matches('/') == "/tmp");
    let all = (!declares_tmp).then_some(&tmp).into_iter().chain(folders);
    for folder in all {
        let path = folder.path.value.clone();
        let mut base: String = path
            .trim_matches('/')
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect::<String>()
            .split('-')
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join("-");
        base.truncate(50);
        let base = base.trim_end_matches('-').to_string();
        let base = if base.is_empty() {
            "root".to_string()
        } else {
            base
        };
        let mut name = base.clone();
        let mut n = 2;
        while out.iter().any(|s| s.name == name) || name == "data" || name == "config" {
            name = format!("{base}-{n}");
            n += 1;
        }
        let size_bytes = folder.size_bytes.as_ref().map(|s| s.value);
        out.push(ScratchView {
            tmpfs: match size_bytes {
                Some(bytes) => format!("{path}:size={bytes}"),
                None => path.clone(),
            },
            path,
            name,
            size: size_bytes.map(|b| format(QuantityKind::Size, b)),
            size_bytes,
            size_mib: size_bytes.map(|b| b.div_ceil(1 << 20)),
            memory: folder.memory,
        });
    }
    out
}

fn security(security: &svcmodel_model::Security) -> SecurityView {
    let user = security.user.as_ref().map(|u| u.value);
    let group = security.group.as_ref().map(|g| g.value);
    SecurityView {
        user,
        group,
        user_group: match (user, group) {
            (Some(user), Some(group)) => Some(format!("{user}:{group}")),
            (Some(user), None) => Some(user.to_string()),
            // Docker's `user` needs a user: the image's, by name, is not known here.
            (None, _) => None,
        },
        capabilities: security
            .capabilities
            .iter()
            .map(|c| c.value.clone())
            .collect(),
        allow_root: security.allow_root.as_ref().map(|r| r.value.clone()),
        writable_root: security.writable_root.as_ref().map(|r| r.value.clone()),
        run_as_non_root: security.allow_root.is_none(),
        read_only_root: security.writable_root.is_none(),
    }
}

/// Gives every view its model hash, over everything else in it, and the labels that
/// carry it: on every core, since serializing each view is most of building one.
/// Gives a finished view its model hash and the standard labels that carry it.
fn seal(view: &mut ServiceView, namespace: &str, root_dir: &str) {
    view.model_hash = model_hash(view, root_dir);
    view.standard_labels = BTreeMap::from([
        ("app.kubernetes.io/name", view.service.clone()),
        ("app.kubernetes.io/instance", view.name.clone()),
        ("app.kubernetes.io/version", view.version_label.clone()),
        ("app.kubernetes.io/managed-by", "svcmodel".to_string()),
        ("svcmodel.io/environment", namespace.to_string()),
        ("svcmodel.io/criticality", view.criticality.to_string()),
        ("svcmodel.io/model-hash", view.model_hash.clone()),
    ]);
}

/// The hash of a view whose `model_hash` and `standard_labels` are still empty.
fn model_hash(view: &ServiceView, root_dir: &str) -> String {
    let mut json = serde_json::to_string(view).unwrap_or_default();
    if !root_dir.is_empty() {
        let root = serde_json::to_string(root_dir).unwrap_or_default();
        let root = root.trim_matches('"');
        json = json.replace(root, "${root}");
    }
    let digest = Sha256::digest(json.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn scheme(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Http => "http",
        Protocol::Https => "https",
        Protocol::Grpc => "grpc",
    }
}

fn protocol_name(protocol: Protocol) -> &'static str {
    scheme(protocol)
}

fn transport(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Udp => "UDP",
        _ => "TCP",
    }
}

fn transport_lower(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Udp => "udp",
        _ => "tcp",
    }
}

fn criticality_name(c: Criticality) -> &'static str {
    match c {
        Criticality::Low => "low",
        Criticality::Medium => "medium",
        Criticality::High => "high",
        Criticality::Critical => "critical",
    }
}

fn restart_name(r: RestartPolicy) -> &'static str {
    match r {
        RestartPolicy::Always => "always",
        RestartPolicy::OnFailure => "on_failure",
        RestartPolicy::Never => "never",
    }
}
