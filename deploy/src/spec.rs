//! What each engine starts from, typed: the spec a desired service carries, built from
//! the rendered view and recorded in the state as JSON (secrets only as references).
//! Engines read it through these types, never by string keys, so a field the view
//! gives is a field the engine has to deal with, and a recorded spec an engine cannot
//! read is an error, not a default.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use svcmodel_targets::view::{HealthView, Part, ServiceView, ValueView};

/// A value as recorded: its text, or its parts, with secrets by the host variable
/// that holds them at deploy time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SpecValue {
    Text(String),
    Parts { parts: Vec<SpecPart> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SpecPart {
    Text {
        text: String,
    },
    /// The parameter, and the deploying machine's variable that holds its value.
    Secret {
        secret: String,
        from: String,
    },
    /// An address known only at run time: no engine of these specs can set it.
    Address {
        address: String,
        field: String,
    },
}

impl SpecValue {
    pub fn of(value: &ValueView) -> SpecValue {
        if let Some(text) = &value.text {
            return SpecValue::Text(text.clone());
        }
        SpecValue::Parts {
            parts: value
                .parts
                .iter()
                .map(|p| match p {
                    Part::Text { text } => SpecPart::Text { text: text.clone() },
                    Part::Secret { secret } => SpecPart::Secret {
                        secret: secret.param.clone(),
                        from: secret.host_variable.clone(),
                    },
                    Part::Address { service, field, .. } => SpecPart::Address {
                        address: service.clone(),
                        field: field.clone(),
                    },
                })
                .collect(),
        }
    }

    /// The value as a person reads it, never a secret's value: secrets as
    /// `${secret:NAME}`, run-time addresses as `${address:SERVICE.FIELD}`.
    pub fn shown(&self) -> String {
        let parts = match self {
            SpecValue::Text(text) => return text.clone(),
            SpecValue::Parts { parts } => parts,
        };
        parts
            .iter()
            .map(|part| match part {
                SpecPart::Text { text } => text.clone(),
                SpecPart::Secret { secret, .. } => format!("${{secret:{secret}}}"),
                SpecPart::Address { address, field } => format!("${{address:{address}.{field}}}"),
            })
            .collect()
    }

    /// The value with its secrets filled in from `lookup`.
    pub fn resolve(&self, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
        let parts = match self {
            SpecValue::Text(text) => return Ok(text.clone()),
            SpecValue::Parts { parts } => parts,
        };
        let mut out = String::new();
        for part in parts {
            match part {
                SpecPart::Text { text } => out.push_str(text),
                SpecPart::Secret { from, .. } => match lookup(from) {
                    Some(secret) => out.push_str(&secret),
                    None => return Err(format!("the secret variable `{from}` is not set")),
                },
                SpecPart::Address { .. } => {
                    return Err("a value known only at run time cannot be set here".to_string());
                }
            }
        }
        Ok(out)
    }
}

/// A health check as the engines run it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthSpec {
    /// `tcp`, `http` or `exec`.
    pub kind: String,
    pub port: Option<u16>,
    pub path: Option<String>,
    pub command: Vec<String>,
    pub interval_seconds: u64,
    pub timeout_seconds: u64,
    /// Failed checks in a row before the engine counts the service unhealthy.
    #[serde(
        default = "default_failure_threshold",
        skip_serializing_if = "is_default_failure_threshold"
    )]
    pub failure_threshold: u32,
    /// Seconds after start during which failed checks do not count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_delay_seconds: Option<u64>,
    /// Extra request headers of an `http` check.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

fn default_failure_threshold() -> u32 {
    3
}

fn is_default_failure_threshold(threshold: &u32) -> bool {
    *threshold == default_failure_threshold()
}

impl HealthSpec {
    pub fn of(health: &HealthView) -> HealthSpec {
        HealthSpec {
            kind: health.kind.to_string(),
            port: health.port,
            path: health.path.clone(),
            command: health.command.clone(),
            interval_seconds: health.interval_seconds,
            timeout_seconds: health.timeout_seconds,
            failure_threshold: health.failure_threshold,
            initial_delay_seconds: health.initial_delay_seconds,
            headers: health
                .headers
                .iter()
                .map(|h| (h.name.clone(), h.value.clone()))
                .collect(),
        }
    }
}

/// A process on this machine: what `process.json` renders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalSpec {
    pub name: String,
    /// The program and its arguments.
    pub command: Vec<SpecValue>,
    pub env: BTreeMap<String, SpecValue>,
    pub workdir: Option<SpecValue>,
    /// Port name to port.
    pub ports: BTreeMap<String, u16>,
    pub health: Option<HealthSpec>,
    /// `always`, `on_failure` or `never`.
    pub restart: String,
}

impl LocalSpec {
    pub fn of(service: &ServiceView) -> LocalSpec {
        LocalSpec {
            name: service.name.clone(),
            command: service
                .command
                .iter()
                .chain(&service.args)
                .map(SpecValue::of)
                .collect(),
            env: service
                .env
                .iter()
                .map(|e| (e.name.clone(), SpecValue::of(&e.value)))
                .collect(),
            workdir: service.workdir.as_ref().map(SpecValue::of),
            ports: service
                .ports
                .iter()
                .map(|p| (p.name.clone(), p.port))
                .collect(),
            health: service.health.as_ref().map(HealthSpec::of),
            restart: service.restart.to_string(),
        }
    }
}

/// A volume mounted into a container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeSpec {
    pub source: String,
    pub target: String,
}

/// A container (or a Swarm service's containers): what a rendered Compose service says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerSpec {
    pub name: String,
    pub image: Option<String>,
    /// Replaces the image's entrypoint when not empty.
    #[serde(default)]
    pub entrypoint: Vec<SpecValue>,
    pub args: Vec<SpecValue>,
    pub env: BTreeMap<String, SpecValue>,
    pub ports: BTreeMap<String, u16>,
    pub health: Option<HealthSpec>,
    pub restart: String,
    pub network: String,
    pub labels: BTreeMap<String, String>,
    /// Requests (reservations).
    pub memory_bytes: Option<u64>,
    pub millicpu: Option<u64>,
    /// Limits; the requests when absent (as every spec recorded before limits).
    #[serde(default)]
    pub memory_limit_bytes: Option<u64>,
    #[serde(default)]
    pub millicpu_limit: Option<u64>,
    /// Other names it answers to on its network (a variant: its instance's name).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// `USER` or `USER:GROUP`; the image's when absent.
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub cap_add: Vec<String>,
    #[serde(default)]
    pub read_only: bool,
    /// `PATH` or `PATH:size=BYTES`.
    #[serde(default)]
    pub tmpfs: Vec<String>,
    #[serde(default)]
    pub security_opt: Vec<String>,
    #[serde(default)]
    pub volumes: Vec<VolumeSpec>,
    /// One container per replica (Swarm: the service's replica count).
    pub replicas: u64,
    /// Swarm: the node labels to spread replicas over.
    #[serde(default)]
    pub spread: Vec<String>,
    /// Swarm: where placement put the replicas.
    #[serde(default)]
    pub constraints: Vec<String>,
    /// The failure domains placement chose, per kind: placement drift.
    #[serde(default)]
    pub pins: BTreeMap<String, Vec<String>>,
}

impl ContainerSpec {
    /// A service of a view rendered for `compose` or `swarm`, in `environment`.
    pub fn of(service: &ServiceView, environment: &str) -> ContainerSpec {
        let local = LocalSpec::of(service);
        let labels = [
            (crate::docker::ENVIRONMENT_LABEL, environment),
            ("svcmodel.io/service", &service.service),
            ("app.kubernetes.io/name", &service.service),
            ("app.kubernetes.io/instance", &service.name),
            ("app.kubernetes.io/version", &service.version),
            ("svcmodel.io/model-hash", &service.model_hash),
            ("app.kubernetes.io/managed-by", "svcmodel"),
        ];
        // As the Compose file: the model's annotations are container labels too.
        let annotations = service
            .annotations
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()));
        ContainerSpec {
            name: service.name.clone(),
            image: service.image.clone(),
            entrypoint: service
                .container_command
                .iter()
                .map(SpecValue::of)
                .collect(),
            args: service.args.iter().map(SpecValue::of).collect(),
            env: local.env,
            ports: local.ports,
            health: local.health,
            restart: local.restart,
            network: format!("svcmodel-{environment}"),
            labels: labels
                .into_iter()
                .chain(annotations)
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            memory_bytes: service.resources.memory_bytes,
            millicpu: service.resources.millicpu,
            memory_limit_bytes: service.resources.limit.memory_bytes,
            millicpu_limit: service.resources.limit.millicpu,
            aliases: service.aliases.clone(),
            user: service.security.user_group.clone(),
            cap_add: service.security.capabilities.clone(),
            // As the rendered Compose file: a read-only root (unless the model says
            // why not) with scratch folders, no privilege gained through exec, and the
            // data volume at its path, named as `docker compose` names it
            // (PROJECT_VOLUME).
            read_only: service.security.read_only_root,
            tmpfs: service.scratch.iter().map(|s| s.tmpfs.clone()).collect(),
            security_opt: vec!["no-new-privileges:true".to_string()],
            volumes: service
                .data
                .iter()
                .map(|data| VolumeSpec {
                    source: format!("{environment}_{}-data", service.name),
                    target: data.path.clone(),
                })
                .collect(),
            replicas: u64::from(service.replicas),
            spread: service
                .swarm_preferences
                .iter()
                .map(|s| s.to_string())
                .collect(),
            constraints: service.swarm_constraints.clone(),
            pins: service
                .pins
                .iter()
                .map(|p| (p.kind.clone(), p.values.clone()))
                .collect(),
        }
    }
}

impl ContainerSpec {
    /// The memory limit: the spec's, else its request.
    pub fn memory_limit(&self) -> Option<u64> {
        self.memory_limit_bytes.or(self.memory_bytes)
    }

    pub fn cpu_limit(&self) -> Option<u64> {
        self.millicpu_limit.or(self.millicpu)
    }

    /// Each scratch folder and its tmpfs options (`size=BYTES`, or none).
    pub fn tmpfs_mounts(&self) -> Vec<(String, Option<u64>)> {
        self.tmpfs
            .iter()
            .map(|entry| match entry.split_once(":size=") {
                Some((path, size)) => (path.to_string(), size.parse().ok()),
                None => (entry.clone(), None),
            })
            .collect()
    }
}

/// Reads a recorded or desired spec as the engine's type.
pub fn read<T: serde::de::DeserializeOwned>(spec: &serde_json::Value) -> Result<T, String> {
    serde_json::from_value(spec.clone())
        .map_err(|e| format!("the recorded spec is not one this engine reads ({e}); deploy again"))
}

/// A spec as the state records it.
pub fn value<T: Serialize>(spec: &T) -> serde_json::Value {
    serde_json::to_value(spec).unwrap_or_default()
}

/// A command line as a shell would read it back: words that need it in single quotes.
pub fn command_line(words: &[SpecValue]) -> String {
    words
        .iter()
        .map(|word| {
            let word = word.shown();
            let plain = !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_@%+=:,./-${}".contains(c));
            if plain {
                word
            } else {
                format!("'{}'", word.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_line_quotes_what_a_shell_would_split_and_never_shows_a_secret() {
        let words = [
            SpecValue::Text("demo".to_string()),
            SpecValue::Text("--greeting=hello world".to_string()),
            SpecValue::Text("it's".to_string()),
            SpecValue::Parts {
                parts: vec![
                    SpecPart::Text {
                        text: "--key=".to_string(),
                    },
                    SpecPart::Secret {
                        secret: "api_key".to_string(),
                        from: "SVCMODEL_SECRET_DEMO_API_KEY".to_string(),
                    },
                ],
            },
        ];
        assert_eq!(
            command_line(&words),
            r"demo '--greeting=hello world' 'it'\''s' --key=${secret:api_key}"
        );
    }

    /// A spec as the state recorded it before these types existed: engines still read
    /// it, and a secret resolves from the deploying machine's variable.
    #[test]
    fn a_recorded_local_spec_reads_back_and_resolves() {
        let recorded = serde_json::json!({
            "name": "payments",
            "command": ["/srv/bin/payments", "--port=8080"],
            "env": {
                "MODE": "sandbox",
                "KEY": { "parts": [{ "text": "k=" }, { "secret": "key", "from": "SVCMODEL_SECRET_PAYMENTS_KEY" }] },
                "PEER": { "parts": [{ "address": "orders", "field": "url" }] }
            },
            "workdir": null,
            "ports": { "http": 8080 },
            "health": { "kind": "http", "port": 8080, "path": "/healthz", "command": [], "interval_seconds": 5, "timeout_seconds": 1 },
            "restart": "on_failure",
            "secret_hashes": { "key": "00" }
        });
        let spec: LocalSpec = read(&recorded).expect("a recorded spec reads");
        let lookup = |v: &str| (v == "SVCMODEL_SECRET_PAYMENTS_KEY").then(|| "s3cret".to_string());
        assert_eq!(spec.env["KEY"].resolve(&lookup), Ok("k=s3cret".to_string()));
        assert_eq!(spec.env["MODE"].resolve(&lookup), Ok("sandbox".to_string()));
        assert!(spec.env["PEER"].resolve(&lookup).is_err());
        assert!(spec.env["KEY"].resolve(&|_| None).is_err());
        assert_eq!(spec.health.map(|h| h.port), Some(Some(8080)));
        // Written back, the fields are the ones the state has always had.
        let mut written = value(&read::<LocalSpec>(&recorded).expect("reads"));
        let mut expected = recorded.clone();
        expected.as_object_mut().map(|o| o.remove("secret_hashes"));
        written.as_object_mut().map(|o| o.remove("secret_hashes"));
        assert_eq!(written, expected);
    }

    #[test]
    fn a_spec_another_engine_wrote_is_an_error() {
        let container = serde_json::json!({ "name": "api", "image": "api:1" });
        assert!(read::<LocalSpec>(&container).is_err());
    }
}
