//! Nomad's run-time values: addresses come from Nomad's own service discovery
//! (`nomadService`) and secrets from Nomad Variables (`nomadVar`), both read by a Go
//! template that Nomad renders into the task's environment (`env = true`). Every value
//! that needs one is written there as `NAME={{ print ... | toJSON }}`: the JSON string
//! is what Nomad's environment-file parser reads back exactly.

use serde::Serialize;

use crate::view::{Part, ServiceView, ValueView};

#[derive(Debug, Clone, Serialize)]
pub struct NomadView {
    /// Where the service registers: `nomad`, or `consul` when its health check is a
    /// command (Nomad's own service discovery runs http and tcp checks only).
    pub provider: &'static str,
    /// The Go template; empty when nothing is looked up at run time.
    pub template: String,
    /// Configuration files as Go templates that render to their exact content.
    pub files: Vec<NomadFile>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NomadFile {
    pub key: String,
    pub path: String,
    pub data: String,
}

pub fn provider(service: &svcmodel_model::Service) -> &'static str {
    match service.health.as_ref().map(|h| &h.check) {
        Some(svcmodel_model::HealthCheck::Command { .. }) => "consul",
        _ => "nomad",
    }
}

/// The Nomad service name a port is registered under.
pub fn service_name(instance: &str, port: &str) -> String {
    format!("{instance}-{port}")
}

pub fn view(service: &ServiceView, provider: &'static str) -> NomadView {
    let files = service
        .files
        .iter()
        .map(|f| NomadFile {
            key: f.key.clone(),
            path: f.path.clone(),
            data: f
                .content
                .text
                .as_deref()
                .unwrap_or_default()
                .replace("{{", "{{\"{{\"}}"),
        })
        .collect();
    let mut lines = Vec::new();
    for secret in &service.secret_variables {
        lines.push(format!(
            "{}={{{{ index . {} | toJSON }}}}",
            secret.variable,
            go_string(&secret.param)
        ));
    }
    let dynamic = service
        .env
        .iter()
        .map(|e| &e.value)
        .chain(service.args.iter())
        .filter(|v| v.dynamic);
    for value in dynamic {
        if let Some(variable) = &value.variable {
            lines.push(format!(
                "{variable}={{{{ {} | toJSON }}}}",
                expression(value)
            ));
        }
    }
    if lines.is_empty() {
        return NomadView {
            provider,
            template: String::new(),
            files,
        };
    }
    let mut template = String::new();
    if !service.secrets.is_empty() {
        template.push_str(&format!(
            "{{{{ with nomadVar {} }}}}\n",
            go_string(&format!("nomad/jobs/{}", service.name))
        ));
    }
    for line in lines {
        template.push_str(&line);
        template.push('\n');
    }
    if !service.secrets.is_empty() {
        template.push_str("{{ end }}\n");
    }
    NomadView {
        provider,
        template,
        files,
    }
}

/// `print` of the value's parts, as a Go template pipeline.
fn expression(value: &ValueView) -> String {
    let mut out = String::from("print");
    for part in &value.parts {
        out.push(' ');
        match part {
            Part::Text { text } => out.push_str(&go_string(text)),
            Part::Secret { secret } => {
                out.push_str(&format!("(index . {})", go_string(&secret.param)))
            }
            Part::Address {
                service,
                field,
                scheme,
                provider,
            } => {
                let function = if provider == "consul" {
                    "service"
                } else {
                    "nomadService"
                };
                let first = format!("(index ({function} {}) 0)", go_string(service));
                out.push_str(&match field.as_str() {
                    "host" => format!("{first}.Address"),
                    "port" => format!("{first}.Port"),
                    "address" => format!("(printf \"%s:%d\" {first}.Address {first}.Port)"),
                    _ => format!(
                        "(printf {} {first}.Address {first}.Port)",
                        go_string(&format!("{scheme}://%s:%d"))
                    ),
                });
            }
        }
    }
    out
}

/// A Go string literal: JSON's escapes are all valid Go escapes.
fn go_string(text: &str) -> String {
    crate::escape::json(&serde_json::Value::from(text))
}
