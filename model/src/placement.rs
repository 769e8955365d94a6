//! Where every service instance runs: the placement of a landscape (the environments
//! that share a `tier`, or one environment alone), with the reason for each decision.
//!
//! Produced by the compiler's place stage; read by `svcmodel place`, `risk`, `slo` and
//! (later) the renderers and deployers.

use std::collections::BTreeMap;

use serde::Serialize;

/// The placement of one landscape.
#[derive(Debug, Clone, Serialize)]
pub struct Placement {
    /// The landscape's name: the environments' shared `tier`, or the environment's own
    /// name when it has no tier.
    pub landscape: String,
    pub environments: Vec<String>,
    /// One per instance, by instance name.
    pub assignments: Vec<Assignment>,
    /// Per hour, in the currency of the environments' `cost` rates.
    pub cost_per_hour: f64,
    /// The weights of `prefer` rules left unmet.
    pub penalty: f64,
    /// What moving instances from where `svcmodel.lock` ran them costs, once: the
    /// objective counts it spread over a month (730 hours).
    pub moves_once: f64,
    /// Cost plus penalty plus the moves per hour: what placement minimises.
    pub objective: f64,
    /// Whether the search proved no placement has a lower objective.
    pub optimal: bool,
    /// No placement can do better than this (the objective when `optimal`).
    pub lower_bound: f64,
    /// What each environment holds against its capacity.
    pub loads: Vec<EnvironmentLoad>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Assignment {
    pub instance: String,
    pub service: String,
    pub environment: String,
    /// For each replica, its failure domain of each kind the environment declares.
    pub replicas: Vec<BTreeMap<String, String>>,
    pub cost_per_hour: f64,
    /// The `prefer` rules this placement leaves unmet, by policy name.
    pub unmet_preferences: Vec<String>,
    /// What decided the environment, in a sentence.
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct EnvironmentLoad {
    pub environment: String,
    pub millicpu: u64,
    pub memory_bytes: u64,
    pub capacity_millicpu: Option<u64>,
    pub capacity_memory_bytes: Option<u64>,
    pub cost_per_hour: f64,
    /// The part of `cost_per_hour` that pays for data (`storage_gib_month`).
    pub storage_per_hour: f64,
}

impl Placement {
    pub fn assignment(&self, instance: &str) -> Option<&Assignment> {
        self.assignments.iter().find(|a| a.instance == instance)
    }
}
