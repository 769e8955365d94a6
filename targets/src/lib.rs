//! svcmodel's targets: a resolved system rendered as the manifests of a platform
//! (Kubernetes, Compose, Swarm, Nomad, systemd, local processes, or a project's own
//! templates).
//!
//! Input: the model and a resolved system. Output: files with their contents and
//! modes, or problems that the CLI turns into diagnostics.
//!
//! It also deploys (`deploy`, `state`, `local`): plans against the recorded state,
//! applies in health-gated waves through an engine, observes what runs.
//!
//! Architecture invariant: this crate never sees source text or the AST. Rendering
//! does no I/O (the CLI reads template folders and writes files); only the engines
//! and the state store touch the outside world.

pub mod builtin;
pub mod config_template;
pub mod deploy;
pub mod docker;
pub mod escape;
pub mod kubernetes;
pub mod local;
pub mod manifest;
pub mod nomad;
pub mod problem;
pub mod render;
pub mod secrets;
pub mod state;
pub mod swarm;
pub mod view;

pub use render::{Rendered, RenderedFile, Target, render};
