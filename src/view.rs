//! The JSON views commands print: stable, documented shapes (JSON Schemas in
//! `docs/schema/`, generated from these types by `svcmodel schema`), independent of
//! the compiler's internal types. Spans become file, line and column.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;
use svcmodel_compiler::source::SourceMap;
use svcmodel_model::system::{ResolvedSystem, ValueSource};
use svcmodel_model::{ConfigValue, HealthCheck, Model, Span, Value};

/// Where in the model something is declared.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Location {
    pub file: String,
    /// One-based.
    pub line: usize,
    /// One-based, in characters.
    pub column: usize,
}

impl Location {
    pub fn of(span: Span, sources: &SourceMap) -> Self {
        let file = sources.get(span.file);
        let (line, column) = file.line_col(span.start);
        Location {
            file: file.name.clone(),
            line,
            column,
        }
    }
}

/// `svcmodel compile --format json`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CompileOutput {
    /// The version of this output's shape.
    pub format: u32,
    /// One resolved system per environment (one with `environment: null` when the
    /// model declares no environment).
    pub systems: Vec<SystemView>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SystemView {
    pub environment: Option<String>,
    /// Deploy waves, by instance name: each wave needs only earlier waves healthy.
    pub waves: Vec<Vec<String>>,
    pub instances: Vec<InstanceView>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct InstanceView {
    /// The service's name, or `CONSUMER-SERVICE` for a per-consumer instance.
    pub name: String,
    pub service: String,
    pub version: String,
    /// For a per-consumer instance: the instance it serves.
    pub consumer: Option<String>,
    /// `system` (declared in the files named) or `required` (from a catalog).
    pub origin: String,
    pub declared_at: Location,
    /// The container image, with `${...}` references kept symbolic.
    pub image: Option<String>,
    /// The local process's command, with references kept symbolic.
    pub command: Option<Vec<String>>,
    pub parameters: BTreeMap<String, ParameterView>,
    /// Environment variables, values symbolic: `param.NAME` or text with `${...}`.
    pub env: BTreeMap<String, ConfigView>,
    pub files: BTreeMap<String, ConfigView>,
    pub args: Vec<ConfigView>,
    pub provides: Vec<PortView>,
    pub dependencies: Vec<DependencyView>,
    pub replicas: u32,
    pub criticality: String,
    pub instancing: String,
    pub restart: String,
    /// Percent.
    pub availability: Option<f64>,
    pub millicpu: Option<u64>,
    pub memory_bytes: Option<u64>,
    pub data_classification: Option<String>,
    pub data_size_bytes: Option<u64>,
    pub health: Option<HealthView>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ParameterView {
    #[serde(rename = "type")]
    pub ty: String,
    /// The value; absent for secrets, whose values never reach svcmodel's output.
    #[schemars(with = "Option<serde_json::Value>")]
    pub value: Option<Value>,
    pub secret: bool,
    /// `default`, `values_file`, `set` or `secret`.
    pub source: String,
    /// Where the value was given (the default, the values file line, the flag).
    pub given_at: Option<Location>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ConfigView {
    Text {
        text: String,
    },
    Value {
        #[schemars(with = "serde_json::Value")]
        value: Value,
    },
    Param {
        name: String,
    },
    TemplateFile {
        path: String,
    },
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PortView {
    pub name: String,
    pub port: u16,
    pub protocol: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DependencyView {
    /// The instance depended on.
    pub instance: String,
    pub service: String,
    /// The version requirement as written.
    pub requirement: String,
    pub via: Option<String>,
    pub ordering: bool,
    pub latency_ns: Option<u64>,
    pub bandwidth_bps: Option<u64>,
    pub declared_at: Location,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HealthView {
    Tcp { port: String },
    Http { port: String, path: String },
    Command { command: Vec<String> },
    Grpc { port: String },
}

fn choice<T: PartialEq + Copy>(all: &[(&str, T)], value: T) -> String {
    all.iter()
        .find(|(_, v)| *v == value)
        .map_or_else(String::new, |(n, _)| n.to_string())
}

fn config(value: &ConfigValue) -> ConfigView {
    match value {
        ConfigValue::Text { template } => ConfigView::Text {
            text: template.to_string(),
        },
        ConfigValue::Value { value } => ConfigView::Value {
            value: value.clone(),
        },
        ConfigValue::Param { name } => ConfigView::Param { name: name.clone() },
        ConfigValue::TemplateFile { path } => ConfigView::TemplateFile { path: path.clone() },
    }
}

/// Where a parameter's value comes from, as the JSON outputs name it, and the span it
/// was given at.
pub fn source_of(source: &ValueSource) -> (&'static str, Option<svcmodel_model::Span>) {
    match source {
        ValueSource::Default { span } => ("default", Some(*span)),
        ValueSource::ValuesFile { span } => ("values_file", Some(*span)),
        ValueSource::Set { span } => ("set", Some(*span)),
        ValueSource::Secret => ("secret", None),
        ValueSource::Missing => ("missing", None),
    }
}

pub fn system(system: &ResolvedSystem, model: &Model, sources: &SourceMap) -> SystemView {
    let name = |id: svcmodel_model::system::InstanceId| system.instance(id).name.clone();
    let waves = system
        .graph
        .waves()
        .map(|waves| {
            waves
                .into_iter()
                .map(|w| w.into_iter().map(name).collect())
                .collect()
        })
        .unwrap_or_default();
    let instances = system
        .instances
        .iter()
        .map(|instance| {
            let s = &model.services[instance.definition];
            let parameters = s
                .params
                .iter()
                .zip(&instance.values)
                .map(|(p, value)| {
                    let (source, given_at) = source_of(&value.source);
                    (
                        p.name.value.clone(),
                        ParameterView {
                            ty: p.ty.value.to_string(),
                            value: value.value.clone(),
                            secret: value.value.is_none(),
                            source: source.to_string(),
                            given_at: given_at.map(|s| Location::of(s, sources)),
                        },
                    )
                })
                .collect();
            let dependencies = instance
                .dependencies
                .iter()
                .map(|dep| {
                    let requirement = &s.requires[dep.requirement];
                    DependencyView {
                        instance: name(dep.instance),
                        service: requirement.service.value.clone(),
                        requirement: requirement.version.value.to_string(),
                        via: requirement.via.as_ref().map(|v| v.value.clone()),
                        ordering: dep.ordering,
                        latency_ns: requirement.latency_ns.as_ref().map(|v| v.value),
                        bandwidth_bps: requirement.bandwidth_bps.as_ref().map(|v| v.value),
                        declared_at: Location::of(dep.span, sources),
                    }
                })
                .collect();
            InstanceView {
                name: instance.name.clone(),
                service: instance.service.clone(),
                version: instance.version.to_string(),
                consumer: instance.consumer.map(name),
                origin: match instance.origin {
                    svcmodel_model::system::Origin::System => "system".to_string(),
                    svcmodel_model::system::Origin::Required => "required".to_string(),
                },
                declared_at: Location::of(s.name.span, sources),
                image: s.image.as_ref().map(|i| i.value.to_string()),
                command: s
                    .run_local
                    .as_ref()
                    .map(|r| r.command.iter().map(|c| c.value.to_string()).collect()),
                parameters,
                env: s
                    .config
                    .env
                    .iter()
                    .map(|e| (e.key.value.clone(), config(&e.value.value)))
                    .collect(),
                files: s
                    .config
                    .files
                    .iter()
                    .map(|e| (e.key.value.clone(), config(&e.value.value)))
                    .collect(),
                args: s.config.args.iter().map(|a| config(&a.value)).collect(),
                provides: s
                    .provides
                    .iter()
                    .map(|p| PortView {
                        name: p.name.value.clone(),
                        port: p.port.value,
                        protocol: choice(&svcmodel_model::Protocol::ALL, p.protocol.value),
                    })
                    .collect(),
                dependencies,
                replicas: s.replicas.value,
                criticality: choice(&svcmodel_model::Criticality::ALL, s.criticality.value),
                instancing: choice(&svcmodel_model::Instancing::ALL, s.instancing.value),
                restart: choice(&svcmodel_model::RestartPolicy::ALL, s.restart.value),
                availability: s.availability.as_ref().map(|a| a.value),
                millicpu: s.resources.millicpu.as_ref().map(|v| v.value),
                memory_bytes: s.resources.memory_bytes.as_ref().map(|v| v.value),
                data_classification: s
                    .data
                    .as_ref()
                    .and_then(|d| d.classification.as_ref())
                    .map(|c| c.value.clone()),
                data_size_bytes: s
                    .data
                    .as_ref()
                    .and_then(|d| d.size_bytes.as_ref())
                    .map(|c| c.value),
                health: s.health.as_ref().map(|h| match &h.check {
                    HealthCheck::Tcp { port } => HealthView::Tcp {
                        port: port.value.clone(),
                    },
                    HealthCheck::Http { port, path } => HealthView::Http {
                        port: port.value.clone(),
                        path: path.clone(),
                    },
                    HealthCheck::Command { command } => HealthView::Command {
                        command: command.iter().map(|c| c.value.to_string()).collect(),
                    },
                    HealthCheck::Grpc { port } => HealthView::Grpc {
                        port: port.value.clone(),
                    },
                }),
                labels: s.labels.clone(),
            }
        })
        .collect();
    SystemView {
        environment: system.environment.clone(),
        waves,
        instances,
    }
}
