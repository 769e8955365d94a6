//! svcmodel's targets: a resolved system rendered as the manifests of a platform
//! (Kubernetes, Compose, Swarm, Nomad, systemd, local processes, or a project's own
//! templates).
//!
//! Input: the model and a resolved system. Output: files with their contents and
//! modes, or problems that the CLI turns into diagnostics.
//!
//! Architecture invariant: this crate never sees source text or the AST, and does no
//! I/O (the CLI reads template folders and writes files). Deploying is
//! `svcmodel-deploy`'s: this crate builds without an async runtime or an engine client.

pub mod builtin;
pub mod config_template;
pub mod escape;
pub mod manifest;
pub mod nomad;
pub mod problem;
pub mod render;
pub mod view;

pub use render::{Rendered, RenderedFile, Sink, Target, render, render_into};
