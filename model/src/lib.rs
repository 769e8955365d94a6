//! The resolved model: what a set of `.svc` files declares, with names checked, values
//! typed and units normalised, and every declaration keeping the span that declared it.
//!
//! Input: nothing; the compiler builds these types and every later stage (graph, place,
//! render, deploy, reconcile) reads them.
//!
//! Architecture invariant: this crate knows nothing of syntax. It never sees source text
//! or the AST; a [`Span`] is only a file id and a byte range, which the compiler's source
//! map turns back into a file name and a line.

use std::collections::BTreeMap;

use serde::Serialize;

pub mod eval;
pub mod graph;
pub mod names;
pub mod placement;
pub mod quantity;
pub mod system;
pub use quantity::{QuantityError, QuantityKind};

/// Index of a loaded source file in the compiler's source map.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct FileId(pub u32);

/// A byte range in one source file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: FileId, start: u32, end: u32) -> Self {
        Span { file, start, end }
    }

    pub fn len(&self) -> u32 {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// The smallest span covering both; both must be in the same file.
    pub fn to(self, other: Span) -> Span {
        Span {
            file: self.file,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// A value together with the span of the source that gave it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

/// Everything a set of model files declares.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Model {
    pub systems: Vec<System>,
    pub environments: Vec<Environment>,
    /// Every service definition; a catalog may hold one name at several versions.
    /// Boxed: a definition is large, and joining the files' parts then moves only
    /// pointers.
    pub services: Vec<Box<Service>>,
    pub policies: Vec<Policy>,
    /// `const "NAME" = value`: text written once, referred to as `const.NAME`.
    pub constants: Vec<Constant>,
}

/// A value the model writes once and services refer to as `const.NAME`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Constant {
    pub name: Spanned<String>,
    /// As a service receives it: a string's text, a number or quantity as written.
    pub value: Spanned<String>,
}

impl Model {
    pub fn constant(&self, name: &str) -> Option<&Constant> {
        self.constants.iter().find(|c| c.name.value == name)
    }

    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.iter().find(|e| e.name.value == name)
    }

    /// Every definition of the service `name`, in declaration order.
    pub fn service_versions<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Service> {
        self.services
            .iter()
            .filter(move |s| s.name.value == name)
            .map(|s| &**s)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct System {
    pub name: Spanned<String>,
    pub description: Option<String>,
    /// Services through which users enter the system; service levels are checked on them.
    pub entrypoints: Vec<Spanned<String>>,
    pub slo: Option<ServiceLevel>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceLevel {
    /// Availability target in percent, e.g. 99.95.
    pub availability: Option<Spanned<f64>>,
    /// End-to-end latency target in nanoseconds.
    pub latency_ns: Option<Spanned<u64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Environment {
    pub name: Spanned<String>,
    pub description: Option<String>,
    pub target: Spanned<String>,
    pub provider: Option<Spanned<String>>,
    pub jurisdiction: Option<Spanned<String>>,
    pub region: Option<Spanned<String>>,
    pub tier: Option<Spanned<String>>,
    /// How other environments reach a service placed here: a host, with `{name}` for
    /// the instance's name (`{name}.dc.example.internal`), or one host for all.
    pub address: Option<Spanned<String>>,
    /// The connection svcmodel deploys through: a kubeconfig context (`kubernetes`) or
    /// a Docker context (`compose`, `swarm`); `None`: the current one.
    pub context: Option<Spanned<String>>,
    /// Failure domains by kind (`zone`, `cluster`, `rack`, `hypervisor`), each a list
    /// of names.
    pub failure_domains: BTreeMap<FailureDomainKind, Vec<Spanned<String>>>,
    /// For a kind declared nested (`rack = { room-a = ["a-r01"] }`): each of its
    /// domains' parent, a domain of the nearest declared kind above it. A kind declared
    /// as a plain list has no entry: its domains are independent of the other kinds.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub domain_parents: BTreeMap<FailureDomainKind, BTreeMap<String, String>>,
    /// `out_of_service`: failure domains lost or in maintenance, of any kind; with
    /// everything nested in them, nothing is placed there.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub out_of_service: Vec<Spanned<String>>,
    /// Taken out of service as a whole (`--lose ENVIRONMENT`): nothing is placed here.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub lost: bool,
    pub capacity: Option<Capacity>,
    pub cost: Option<CostRates>,
    pub links: Vec<Link>,
    pub labels: BTreeMap<String, String>,
    pub span: Span,
}

impl Environment {
    /// The kind whose domains hold `kind`'s, when `kind` is declared nested: the
    /// nearest kind above it that the environment declares.
    pub fn parent_kind(&self, kind: FailureDomainKind) -> Option<FailureDomainKind> {
        if !self.domain_parents.contains_key(&kind) {
            return None;
        }
        FailureDomainKind::ALL
            .into_iter()
            .take_while(|k| *k != kind)
            .filter(|k| self.failure_domains.contains_key(k))
            .last()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureDomainKind {
    Zone,
    Cluster,
    Rack,
    Hypervisor,
}

impl FailureDomainKind {
    /// From the largest to the smallest: a kind declared nested names its parents among
    /// the nearest declared kind before it in this order.
    pub const ALL: [FailureDomainKind; 4] = [
        FailureDomainKind::Zone,
        FailureDomainKind::Cluster,
        FailureDomainKind::Rack,
        FailureDomainKind::Hypervisor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FailureDomainKind::Zone => "zone",
            FailureDomainKind::Cluster => "cluster",
            FailureDomainKind::Rack => "rack",
            FailureDomainKind::Hypervisor => "hypervisor",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Capacity {
    pub millicpu: Option<u64>,
    pub memory_bytes: Option<u64>,
    pub span: Option<Span>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CostRates {
    /// Currency units per CPU core per hour.
    pub cpu_hour: Option<f64>,
    /// Currency units per GiB of memory per hour.
    pub memory_gib_hour: Option<f64>,
    /// Currency units per GiB of a service's `data` per month (of 730 hours), per
    /// replica.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_gib_month: Option<f64>,
    /// Currency units per GiB leaving the environment: what moving a service's
    /// `data` out of it costs, once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub egress_gib: Option<f64>,
    /// Currency units, once, per replica of a service that moves into the environment
    /// from another: the work of a move, which placement weighs against what it saves.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub move_replica: Option<f64>,
    pub span: Option<Span>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Link {
    pub to: Spanned<String>,
    pub latency_ns: Option<u64>,
    pub bandwidth_bps: Option<u64>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Service {
    pub name: Spanned<String>,
    /// Declared in an imported file (a catalog) rather than in the files named on the
    /// command line: part of the system only when something requires it.
    pub imported: bool,
    pub version: Spanned<semver::Version>,
    pub description: Option<String>,
    pub image: Option<Spanned<Template>>,
    pub run_local: Option<RunLocal>,
    pub params: Vec<Param>,
    pub config: Config,
    pub provides: Vec<Port>,
    pub requires: Vec<Requirement>,
    pub near: Vec<Spanned<String>>,
    pub resources: Resources,
    pub replicas: Spanned<u32>,
    pub criticality: Spanned<Criticality>,
    /// Availability of one replica, in percent.
    pub availability: Option<Spanned<f64>>,
    pub data: Option<Data>,
    pub health: Option<Health>,
    pub instancing: Spanned<Instancing>,
    pub restart: Spanned<RestartPolicy>,
    pub labels: BTreeMap<String, String>,
    /// Free key-value strings for the engine (Kubernetes pod annotations, container
    /// labels): metadata tools read, not svcmodel.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// The node labels a node must carry to run it (`disktype = "ssd"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<Spanned<BTreeMap<String, String>>>,
    /// Writable scratch folders, emptied when the service restarts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scratch: Vec<Scratch>,
    /// Boxed: most services have none, and every byte here is paid per service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security: Option<Box<Security>>,
    /// How the service is reached from outside its environment; `cluster` (only from
    /// inside) when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expose: Option<Spanned<Exposure>>,
    /// The workload identity it runs as (a Kubernetes ServiceAccount); its own name
    /// when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<Spanned<String>>,
    /// When the engine restarts the service: `health` when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liveness: Option<Box<Health>>,
    /// What must pass once before `health` and `liveness` count, for slow starters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub startup: Option<Box<Health>>,
    /// Workloads that run side by side behind the service's one address (three
    /// versions of a program under test); the service itself runs as one when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<Variant>,
    pub span: Span,
}

/// How a service is reached (a Kubernetes Service's type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Exposure {
    /// From inside the environment only, at one virtual address.
    Cluster,
    /// Also at a port of every node (or the Docker host): each port's `publish`.
    NodePort,
    /// Also through the platform's load balancer.
    LoadBalancer,
    /// No virtual address: consumers resolve the replicas themselves.
    Headless,
}

impl Exposure {
    pub const ALL: [(&'static str, Exposure); 4] = [
        ("cluster", Exposure::Cluster),
        ("node_port", Exposure::NodePort),
        ("load_balancer", Exposure::LoadBalancer),
        ("headless", Exposure::Headless),
    ];
}

/// A writable scratch folder (`scratch "/var/cache/app" { size = 64Mi }`): a
/// Kubernetes `emptyDir`, a tmpfs for containers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scratch {
    pub path: Spanned<String>,
    pub size_bytes: Option<Spanned<u64>>,
    /// Kept in memory (counts against the memory limit) rather than on disk.
    pub memory: bool,
    pub span: Span,
}

/// One of several workloads of a service, differing in image and replicas.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Variant {
    pub name: Spanned<String>,
    pub image: Option<Spanned<Template>>,
    pub replicas: Option<Spanned<u32>>,
    pub span: Span,
}

/// Who the service runs as, and which hardened default it gives up and why.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Security {
    pub user: Option<Spanned<u32>>,
    pub group: Option<Spanned<u32>>,
    /// Linux capabilities added back after dropping all of them (`NET_BIND_SERVICE`).
    pub capabilities: Vec<Spanned<String>>,
    /// The reason the service may start as root; it must not when absent.
    pub allow_root: Option<Spanned<String>>,
    /// The reason the root file system stays writable; read-only when absent.
    pub writable_root: Option<Spanned<String>>,
    pub span: Option<Span>,
}

/// The hardened defaults: what a service without a `security` block gets.
static DEFAULT_SECURITY: Security = Security {
    user: None,
    group: None,
    capabilities: Vec::new(),
    allow_root: None,
    writable_root: None,
    span: None,
};

impl Service {
    /// Replicas over all its workloads: each variant's, else the service's.
    pub fn total_replicas(&self) -> u32 {
        if self.variants.is_empty() {
            return self.replicas.value;
        }
        self.variants
            .iter()
            .map(|v| v.replicas.as_ref().map_or(self.replicas.value, |r| r.value))
            .sum()
    }

    pub fn security(&self) -> &Security {
        self.security.as_deref().unwrap_or(&DEFAULT_SECURITY)
    }

    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name.value == name)
    }

    pub fn port(&self, name: &str) -> Option<&Port> {
        self.provides.iter().find(|p| p.name.value == name)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunLocal {
    pub command: Vec<Spanned<Template>>,
    pub workdir: Option<Spanned<Template>>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Param {
    pub name: Spanned<String>,
    pub ty: Spanned<ParamType>,
    pub default: Option<Spanned<Value>>,
    /// Inclusive bounds, in the type's own unit (see [`Value`]).
    pub range: Option<Spanned<(f64, f64)>>,
    pub pattern: Option<Spanned<String>>,
    pub doc: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "of", rename_all = "snake_case")]
pub enum ParamType {
    Int,
    Float,
    Bool,
    String,
    Duration,
    Size,
    Bandwidth,
    Percent,
    Cpu,
    Secret,
    Enum(Vec<String>),
    List(Box<ParamType>),
    Map(Box<ParamType>),
}

impl std::fmt::Display for ParamType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamType::Int => f.write_str("int"),
            ParamType::Float => f.write_str("float"),
            ParamType::Bool => f.write_str("bool"),
            ParamType::String => f.write_str("string"),
            ParamType::Duration => f.write_str("duration"),
            ParamType::Size => f.write_str("size"),
            ParamType::Bandwidth => f.write_str("bandwidth"),
            ParamType::Percent => f.write_str("percent"),
            ParamType::Cpu => f.write_str("cpu"),
            ParamType::Secret => f.write_str("secret"),
            ParamType::Enum(values) => {
                f.write_str("enum(")?;
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v:?}")?;
                }
                f.write_str(")")
            }
            ParamType::List(inner) => write!(f, "list({inner})"),
            ParamType::Map(inner) => write!(f, "map({inner})"),
        }
    }
}

/// A typed value. Quantities are held in their base unit: durations in nanoseconds,
/// sizes in bytes, bandwidth in bits per second, cpu in millicores, percent as written.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Value {
    Int(i64),
    Float(f64),
    Bool(bool),
    String(String),
    Duration(u64),
    Size(u64),
    Bandwidth(u64),
    Percent(f64),
    Cpu(u64),
    List(Vec<Value>),
    Map(BTreeMap<String, Value>),
}

impl Value {
    /// The value as text, as a configuration would receive it: numbers and booleans
    /// as written, quantities with their unit (`30s`, `4Gi`, `250m`, `60%`), lists and
    /// maps as JSON.
    pub fn to_text(&self) -> String {
        match self {
            Value::String(s) => s.clone(),
            Value::List(_) | Value::Map(_) => self.to_json().to_string(),
            other => other.scalar_text(),
        }
    }

    fn scalar_text(&self) -> String {
        use quantity::{QuantityKind, format};
        match self {
            Value::Int(v) => v.to_string(),
            Value::Float(v) => v.to_string(),
            Value::Bool(v) => v.to_string(),
            Value::String(s) => s.clone(),
            Value::Duration(v) => format(QuantityKind::Duration, *v),
            Value::Size(v) => format(QuantityKind::Size, *v),
            Value::Bandwidth(v) => format(QuantityKind::Bandwidth, *v),
            Value::Cpu(v) => format(QuantityKind::Cpu, *v),
            Value::Percent(v) => format!("{v}%"),
            Value::List(_) | Value::Map(_) => self.to_json().to_string(),
        }
    }

    /// The value as plain JSON: numbers, booleans and strings as themselves,
    /// quantities as their text.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Int(v) => serde_json::Value::from(*v),
            Value::Float(v) => serde_json::Value::from(*v),
            Value::Bool(v) => serde_json::Value::from(*v),
            Value::String(s) => serde_json::Value::from(s.as_str()),
            Value::List(items) => items.iter().map(Value::to_json).collect(),
            Value::Map(map) => map
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect::<serde_json::Map<_, _>>()
                .into(),
            other => serde_json::Value::from(other.scalar_text()),
        }
    }

    /// The number a range is checked against, for the types that have one.
    pub fn magnitude(&self) -> Option<f64> {
        match *self {
            Value::Int(v) => Some(v as f64),
            Value::Float(v) | Value::Percent(v) => Some(v),
            Value::Duration(v) | Value::Size(v) | Value::Bandwidth(v) | Value::Cpu(v) => {
                Some(v as f64)
            }
            _ => None,
        }
    }
}

/// A string that may hold `${...}` references, kept symbolic until a target renders it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Template {
    pub parts: Vec<TemplatePart>,
}

impl Template {
    pub fn literal(text: impl Into<String>) -> Self {
        Template {
            parts: vec![TemplatePart::Literal(text.into())],
        }
    }

    /// The text when the template holds no reference.
    pub fn as_literal(&self) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                TemplatePart::Literal(text) => out.push_str(text),
                TemplatePart::Reference(_) => return None,
            }
        }
        Some(out)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplatePart {
    Literal(String),
    Reference(Reference),
}

/// A checked reference such as `${postgres.sql.host}` or `param.workers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reference {
    /// `param.NAME` (or `self.param.NAME`): a parameter of the declaring service.
    Param { name: String, span: Span },
    /// `self.PORT.FIELD`: the declaring service's own port.
    OwnPort {
        port: String,
        field: PortField,
        span: Span,
    },
    /// `SERVICE.PORT.FIELD`: a port of a required service.
    Port {
        service: String,
        port: String,
        field: PortField,
        span: Span,
    },
    /// `version` or `self.version`.
    OwnVersion { span: Span },
    /// `self.name`.
    OwnName { span: Span },
    /// `self.dir`: the folder of the file that declares the service.
    OwnDir { span: Span },
    /// `const.NAME`: a constant of the model, checked once every file is read.
    Const { name: String, span: Span },
    /// `environment.name`: the environment being rendered, known only then.
    EnvironmentName { span: Span },
    /// `environment.namespace`: where the environment's objects live (the Kubernetes
    /// namespace, the Compose project, the Nomad namespace).
    EnvironmentNamespace { span: Span },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PortField {
    Host,
    Port,
    Url,
    /// `host:port`.
    Address,
}

impl PortField {
    pub const ALL: [PortField; 4] = [
        PortField::Host,
        PortField::Port,
        PortField::Url,
        PortField::Address,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PortField::Host => "host",
            PortField::Port => "port",
            PortField::Url => "url",
            PortField::Address => "address",
        }
    }
}

/// The configurator: how parameters reach the running service.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Config {
    pub env: Vec<ConfigEntry>,
    pub files: Vec<ConfigEntry>,
    pub args: Vec<Spanned<ConfigValue>>,
    /// The program a container runs instead of its image's entrypoint.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<Spanned<ConfigValue>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigEntry {
    /// The variable name or the file path.
    pub key: Spanned<String>,
    pub value: Spanned<ConfigValue>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ConfigValue {
    /// A literal or interpolated string.
    Text { template: Template },
    /// A typed literal (number, quantity, bool).
    Value { value: Value },
    /// A parameter's value: `param.NAME`.
    Param { name: String },
    /// A template file next to the declaring file: `template("pg.conf.hbs")`.
    TemplateFile { path: String },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Port {
    pub name: Spanned<String>,
    /// The port the process listens on.
    pub port: Spanned<u16>,
    /// The port consumers reach where the target puts a service in front of the
    /// process (a Kubernetes Service); `port` when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_port: Option<Spanned<u16>>,
    /// The port outside the environment it is published at: a node port, a port of
    /// the Docker host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publish: Option<Spanned<u16>>,
    pub protocol: Spanned<Protocol>,
    pub span: Span,
}

impl Port {
    /// The port consumers reach through a target's service layer.
    pub fn service_port(&self) -> u16 {
        self.service_port
            .as_ref()
            .map_or(self.port.value, |p| p.value)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    Tcp,
    Udp,
    Http,
    Https,
    Grpc,
}

impl Protocol {
    pub const ALL: [(&'static str, Protocol); 5] = [
        ("tcp", Protocol::Tcp),
        ("udp", Protocol::Udp),
        ("http", Protocol::Http),
        ("https", Protocol::Https),
        ("grpc", Protocol::Grpc),
    ];
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Requirement {
    pub service: Spanned<String>,
    pub version: Spanned<semver::VersionReq>,
    /// The port of the required service that is used; the only one if omitted.
    pub via: Option<Spanned<String>>,
    /// The most latency this dependency may add, in nanoseconds.
    pub latency_ns: Option<Spanned<u64>>,
    /// Bandwidth this dependency needs, in bits per second.
    pub bandwidth_bps: Option<Spanned<u64>>,
    /// Whether the dependency must be healthy before this service starts.
    pub ordering: bool,
    pub span: Span,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Resources {
    /// What one replica asks for (requests): what placement counts.
    pub millicpu: Option<Spanned<u64>>,
    pub memory_bytes: Option<Spanned<u64>>,
    /// The most one replica may use (limits); the request when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub millicpu_limit: Option<Spanned<u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_limit_bytes: Option<Spanned<u64>>,
}

impl Resources {
    pub fn cpu_limit(&self) -> Option<u64> {
        self.millicpu_limit
            .as_ref()
            .or(self.millicpu.as_ref())
            .map(|c| c.value)
    }

    pub fn memory_limit(&self) -> Option<u64> {
        self.memory_limit_bytes
            .as_ref()
            .or(self.memory_bytes.as_ref())
            .map(|m| m.value)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Criticality {
    Low,
    Medium,
    High,
    Critical,
}

impl Criticality {
    pub const ALL: [(&'static str, Criticality); 4] = [
        ("low", Criticality::Low),
        ("medium", Criticality::Medium),
        ("high", Criticality::High),
        ("critical", Criticality::Critical),
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Instancing {
    /// One instance serves every consumer.
    Shared,
    /// One instance per consumer.
    PerConsumer,
}

impl Instancing {
    pub const ALL: [(&'static str, Instancing); 2] = [
        ("shared", Instancing::Shared),
        ("per_consumer", Instancing::PerConsumer),
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RestartPolicy {
    Always,
    OnFailure,
    Never,
}

impl RestartPolicy {
    pub const ALL: [(&'static str, RestartPolicy); 3] = [
        ("always", RestartPolicy::Always),
        ("on_failure", RestartPolicy::OnFailure),
        ("never", RestartPolicy::Never),
    ];
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Data {
    pub classification: Option<Spanned<String>>,
    pub size_bytes: Option<Spanned<u64>>,
    /// Where the service keeps it (an absolute path in its file system): the volume
    /// is mounted there.
    pub path: Option<Spanned<String>>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    pub check: HealthCheck,
    pub interval_ns: Option<u64>,
    pub timeout_ns: Option<u64>,
    /// How long after start the first check runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_delay_ns: Option<u64>,
    /// Failed checks in a row before the service counts as unhealthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_threshold: Option<u32>,
    /// Passed checks in a row before an unhealthy service counts as healthy again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success_threshold: Option<u32>,
    /// Request headers of an `http` check.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HealthCheck {
    Tcp {
        port: Spanned<String>,
    },
    Http {
        port: Spanned<String>,
        path: String,
    },
    Command {
        command: Vec<Spanned<Template>>,
    },
    /// The gRPC health checking protocol (`grpc.health.v1.Health/Check`).
    Grpc {
        port: Spanned<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Policy {
    pub name: Spanned<String>,
    pub description: Option<String>,
    /// The condition under which the rule applies; always when absent.
    pub when: Option<Spanned<Expr>>,
    pub rule: PolicyRule,
    /// What users see when the rule decides something.
    pub because: Option<Spanned<String>>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PolicyRule {
    Require {
        condition: Spanned<Expr>,
    },
    Forbid {
        condition: Spanned<Expr>,
    },
    Prefer {
        condition: Spanned<Expr>,
        weight: f64,
    },
    /// Spread the named services (or those matching `when`) over failure domains.
    Spread {
        services: Vec<Spanned<String>>,
        over: Spanned<FailureDomainKind>,
        /// `weight`: a preference worth this much per hour where the environment has
        /// too few domains of the kind, instead of a hard rule.
        #[serde(skip_serializing_if = "Option::is_none")]
        weight: Option<f64>,
        /// `degraded = "block"`: when domains out of service leave too few of the
        /// kind, placement fails instead of going ahead with a warning.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        block_degraded: bool,
    },
    /// Version rules: which version of a service to use where `when` holds.
    Use {
        versions: Vec<(Spanned<String>, Spanned<semver::VersionReq>)>,
    },
}

/// A checked policy expression over `service.*` and `environment.*` attributes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Expr {
    Literal {
        value: Value,
    },
    Attribute {
        subject: Subject,
        path: Vec<String>,
    },
    List {
        items: Vec<Expr>,
    },
    Not {
        operand: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    Service,
    Environment,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BinaryOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    And,
    Or,
}

impl std::fmt::Display for Reference {
    /// The reference as a user writes it inside `${...}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reference::Param { name, .. } => write!(f, "param.{name}"),
            Reference::OwnPort { port, field, .. } => write!(f, "self.{port}.{}", field.as_str()),
            Reference::Port {
                service,
                port,
                field,
                ..
            } => write!(f, "{service}.{port}.{}", field.as_str()),
            Reference::OwnVersion { .. } => f.write_str("self.version"),
            Reference::OwnName { .. } => f.write_str("self.name"),
            Reference::OwnDir { .. } => f.write_str("self.dir"),
            Reference::Const { name, .. } => write!(f, "const.{name}"),
            Reference::EnvironmentName { .. } => f.write_str("environment.name"),
            Reference::EnvironmentNamespace { .. } => f.write_str("environment.namespace"),
        }
    }
}

impl std::fmt::Display for Template {
    /// The template with its references written back as `${...}`; a literal `${` is
    /// written `\${` so the text reads back the same.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for part in &self.parts {
            match part {
                TemplatePart::Literal(text) => f.write_str(&text.replace("${", "\\${"))?,
                TemplatePart::Reference(reference) => write!(f, "${{{reference}}}")?,
            }
        }
        Ok(())
    }
}
