//! svcmodel's deploy half: what a rendered system becomes on an engine, and what runs
//! compared with it.
//!
//! Input: the desired services of each environment (built from `svcmodel-targets`'s
//! view, or its rendered files for Kubernetes). Output: plans against the recorded
//! state, deploys in health-gated waves through an engine, observations for status and
//! reconcile.
//!
//! - `state`: the state store under `.svcmodel/` (atomic snapshots, backups, locks,
//!   the key of the secret fingerprints).
//! - `audit`: the audit log of every engine call, and the engine wrapper that writes it.
//! - `deploy`: plan, waves across environments, rollback, destroy, the `Engine` trait
//!   and the `Mark` everything started carries.
//! - `local`, `docker`, `swarm`, `kubernetes`: one engine each.
//! - `reconcile`: drift and tuning advice.
//! - `secrets`: redaction and keyed fingerprints.
//! - `spec`: what each engine starts from, typed.
//!
//! Architecture invariant: only the engines and the state store touch the outside
//! world; this crate never sees source text or the AST.

pub mod audit;
pub mod deploy;
pub mod docker;
pub mod kubernetes;
pub mod local;
pub mod reconcile;
pub mod secrets;
pub mod spec;
pub mod state;
pub mod swarm;
