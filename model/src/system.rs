//! The resolved system: one instance per shared service (one per consumer for
//! per-consumer services), at one version, with every parameter's value and where it
//! came from, joined by a dependency graph.
//!
//! Produced by the compiler's resolve stage for one environment (or for none, when the
//! model declares no environment). Everything downstream (place, render, deploy) reads
//! this, never the syntax.

use serde::Serialize;

use crate::graph::DependencyGraph;
use crate::{Span, Value};

/// An index into [`ResolvedSystem::instances`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct InstanceId(pub u32);

impl InstanceId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ResolvedSystem {
    /// The environment this resolution is for; `None` when the model declares none.
    pub environment: Option<String>,
    /// In a stable order: by name.
    pub instances: Vec<Instance>,
    #[serde(skip)]
    pub graph: DependencyGraph,
}

impl ResolvedSystem {
    pub fn instance(&self, id: InstanceId) -> &Instance {
        &self.instances[id.index()]
    }

    pub fn find(&self, name: &str) -> Option<&Instance> {
        self.instances.iter().find(|i| i.name == name)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Instance {
    pub id: InstanceId,
    /// The service's name, or `CONSUMER-SERVICE` for a per-consumer instance.
    pub name: String,
    pub service: String,
    pub version: semver::Version,
    /// Index of the chosen definition in [`crate::Model::services`].
    pub definition: usize,
    /// For a per-consumer instance: the instance it serves.
    pub consumer: Option<InstanceId>,
    /// Why the instance is part of the system.
    pub origin: Origin,
    /// The value of each parameter, in the order of the definition's `params`.
    pub values: Vec<ParamValue>,
    /// The resources it declares, or that a values file or `--set` gives it
    /// (`[SERVICE.resources]`); the spans point where the value comes from.
    pub resources: crate::Resources,
    pub dependencies: Vec<Dependency>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// Declared in the files named on the command line.
    System,
    /// From an imported catalog, because something requires it.
    Required,
}

#[derive(Debug, Clone, Serialize)]
pub struct Dependency {
    pub instance: InstanceId,
    /// Index into the consumer's definition's `requires`.
    pub requirement: usize,
    /// Whether the dependency must be healthy before the consumer starts.
    pub ordering: bool,
    pub span: Span,
}

/// A parameter's value and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParamValue {
    /// `None` for secrets: their values are supplied at deploy time and never held here.
    pub value: Option<Value>,
    pub source: ValueSource,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ValueSource {
    /// The parameter's `default`.
    Default { span: Span },
    /// A values file (`-f`); the span is in that file.
    ValuesFile { span: Span },
    /// A `--set` flag; the span is in the flag's text.
    Set { span: Span },
    /// A secret: a reference, resolved when deploying.
    Secret,
    /// No value: a diagnostic (E0609) was reported, so the system is never used.
    Missing,
}
