//! A target's manifest (`target.toml`): which files it renders from which templates,
//! how values are escaped and interpolated, how services reach each other, and which
//! model features it can express. Built-in targets carry theirs in the binary; a
//! custom target is a folder with a `target.toml` and its templates, no Rust code.

use serde::Deserialize;

use crate::escape::Format;

#[derive(Debug, Clone, PartialEq)]
pub struct TargetManifest {
    pub name: String,
    pub description: String,
    /// How `{{x}}` is escaped by default, unless a file says otherwise.
    pub format: Format,
    pub interpolation: Interpolation,
    /// How a service reaches another: `{name}` and `{namespace}` are replaced.
    pub host: String,
    /// The host a service binds its own ports to.
    pub own_host: String,
    pub names: Option<NameRule>,
    pub needs: Needs,
    pub supports: Vec<Feature>,
    /// Features the target writes but its engine may not honour (spread rules in a
    /// Compose file run by `docker compose` on one host): a warning, not an error.
    pub partial: Vec<Feature>,
    /// Every service shares the host's ports (processes): two on one port clash.
    pub host_network: bool,
    /// A service layer stands in front of each service (a Kubernetes Service):
    /// consumers reach a port's `service_port`, the process listens on its `port`.
    pub service_ports: bool,
    pub files: Vec<FileSpec>,
}

impl TargetManifest {
    pub fn supports(&self, feature: Feature) -> bool {
        self.supports.contains(&feature)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FileSpec {
    /// The template's file name in the target's folder.
    pub template: String,
    /// Where the output goes, relative to the environment's folder; a handlebars
    /// template over the same view (`{{service.name}}`), never escaped, then checked.
    pub path: String,
    pub each: Each,
    pub format: Format,
    /// Unix permission bits of the written file.
    pub mode: u32,
    /// For `each = "service"`: every service's text goes into the one file at `path`
    /// (rendered once, without a `service`), ordered by instance name with this
    /// between them: one file instead of a file per service.
    pub join: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Each {
    /// Once per service: the template sees `service` and `environment`.
    Service,
    /// Once per environment: the template sees `services` and `environment`.
    Environment,
}

/// How literal text, secrets and run-time values are written inside a value, on top of
/// the output syntax's own escaping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interpolation {
    /// `$(VAR)` expands; a literal `$` is written `$$`.
    Kubernetes,
    /// `${VAR}` expands when Compose reads the file; a literal `$` is written `$$`.
    Compose,
    /// `${VAR}` expands at run time; other run-time values come from a Go template.
    Nomad,
    /// `${VAR}` expands in `ExecStart=`; escaping is the unit syntax's.
    Systemd,
    /// Nothing expands: secrets are written `${VAR}` for the deployer to fill in.
    Plain,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Needs {
    Image,
    Command,
    ImageOrCommand,
}

/// What a target can express; anything else in a model is a diagnostic (E0701).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Feature {
    #[serde(rename = "replicas")]
    Replicas,
    #[serde(rename = "health.tcp")]
    HealthTcp,
    #[serde(rename = "health.http")]
    HealthHttp,
    #[serde(rename = "health.command")]
    HealthCommand,
    #[serde(rename = "secrets")]
    Secrets,
    #[serde(rename = "files")]
    Files,
    #[serde(rename = "spread")]
    Spread,
    #[serde(rename = "data")]
    Data,
    #[serde(rename = "restart")]
    Restart,
    #[serde(rename = "near")]
    Near,
    #[serde(rename = "command")]
    Command,
    #[serde(rename = "scratch")]
    Scratch,
    #[serde(rename = "security")]
    Security,
    #[serde(rename = "annotations")]
    Annotations,
    #[serde(rename = "expose")]
    Expose,
    #[serde(rename = "identity")]
    Identity,
    #[serde(rename = "health.grpc")]
    HealthGrpc,
    /// Separate `liveness` and `startup` checks.
    #[serde(rename = "probes")]
    Probes,
    #[serde(rename = "variants")]
    Variants,
    /// A file whose content is exactly one secret.
    #[serde(rename = "secret_files")]
    SecretFiles,
    #[serde(rename = "node_selector")]
    NodeSelector,
    /// Bandwidth declared on a `requires`, enforced by the engine.
    #[serde(rename = "bandwidth")]
    Bandwidth,
}

impl Feature {
    pub const ALL: [Feature; 22] = [
        Feature::Replicas,
        Feature::HealthTcp,
        Feature::HealthHttp,
        Feature::HealthCommand,
        Feature::Secrets,
        Feature::Files,
        Feature::Spread,
        Feature::Data,
        Feature::Restart,
        Feature::Near,
        Feature::Command,
        Feature::Scratch,
        Feature::Security,
        Feature::Annotations,
        Feature::Expose,
        Feature::Identity,
        Feature::HealthGrpc,
        Feature::Probes,
        Feature::Variants,
        Feature::SecretFiles,
        Feature::NodeSelector,
        Feature::Bandwidth,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Feature::Replicas => "replicas",
            Feature::HealthTcp => "health.tcp",
            Feature::HealthHttp => "health.http",
            Feature::HealthCommand => "health.command",
            Feature::Secrets => "secrets",
            Feature::Files => "files",
            Feature::Spread => "spread",
            Feature::Data => "data",
            Feature::Restart => "restart",
            Feature::Near => "near",
            Feature::Command => "command",
            Feature::Scratch => "scratch",
            Feature::Security => "security",
            Feature::Annotations => "annotations",
            Feature::Expose => "expose",
            Feature::Identity => "identity",
            Feature::HealthGrpc => "health.grpc",
            Feature::Probes => "probes",
            Feature::Variants => "variants",
            Feature::SecretFiles => "secret_files",
            Feature::NodeSelector => "node_selector",
            Feature::Bandwidth => "bandwidth",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Feature::Replicas => "more than one replica of a service",
            Feature::HealthTcp => "a tcp health check",
            Feature::HealthHttp => "an http health check",
            Feature::HealthCommand => "a command health check",
            Feature::Secrets => "secrets",
            Feature::Files => "configuration files",
            Feature::Spread => "spreading a service over failure domains",
            Feature::Data => "data held by a service (storage)",
            Feature::Restart => "`restart = \"never\"`",
            Feature::Near => "running a service near another (`near`)",
            Feature::Command => "a container command (`config.command`)",
            Feature::Scratch => "scratch folders (`scratch`)",
            Feature::Security => "a user, group or capabilities (`security`)",
            Feature::Annotations => "annotations",
            Feature::Expose => "exposing a service outside its environment (`expose`)",
            Feature::Identity => "a workload identity (`identity`)",
            Feature::HealthGrpc => "a grpc health check",
            Feature::Probes => "`liveness` and `startup` checks apart from `health`",
            Feature::Variants => "variants of a service side by side (`variant`)",
            Feature::SecretFiles => "a secret written to a file (`file \"PATH\" = param.NAME`)",
            Feature::NodeSelector => "node labels to run on (`node_label`)",
            Feature::Bandwidth => "a bandwidth a requirement reserves",
        }
    }
}

/// The names a platform accepts for services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NameRule {
    /// RFC 1123 label: `[a-z0-9-]`, at most 63, starting and ending with a letter or digit.
    DnsLabel,
}

impl NameRule {
    pub fn check(self, name: &str) -> Result<(), &'static str> {
        match self {
            NameRule::DnsLabel => {
                if name.is_empty() || name.len() > 63 {
                    return Err("it must be 1 to 63 characters long");
                }
                if !name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                {
                    return Err("it may hold only lowercase letters, digits and `-`");
                }
                if name.starts_with('-') || name.ends_with('-') {
                    return Err("it must start and end with a letter or digit");
                }
                Ok(())
            }
        }
    }

    /// A port's name under this rule: an IANA service name (what Kubernetes requires),
    /// at most 15 characters, lowercase letters, digits and `-`, with a letter.
    pub fn check_port(self, name: &str) -> Result<(), &'static str> {
        match self {
            NameRule::DnsLabel => {
                if name.is_empty() || name.len() > 15 {
                    return Err("a port's name must be 1 to 15 characters long");
                }
                if !name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    || !name.bytes().any(|b| b.is_ascii_lowercase())
                {
                    return Err(
                        "a port's name may hold only lowercase letters, digits and `-`, and needs a letter",
                    );
                }
                if name.starts_with('-') || name.ends_with('-') || name.contains("--") {
                    return Err("a port's name must not start or end with `-` or hold `--`");
                }
                Ok(())
            }
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            NameRule::DnsLabel => {
                "use lowercase letters, digits and `-`, at most 63 characters, starting and ending with a letter or digit"
            }
        }
    }
}

/// `target.toml` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    #[serde(default)]
    description: String,
    format: Format,
    #[serde(default = "plain")]
    interpolation: Interpolation,
    #[serde(default = "default_host")]
    host: String,
    #[serde(default = "default_own_host")]
    own_host: String,
    #[serde(default)]
    names: Option<NameRule>,
    #[serde(default = "default_needs")]
    needs: Needs,
    #[serde(default)]
    supports: Vec<Feature>,
    #[serde(default)]
    partial: Vec<Feature>,
    #[serde(default)]
    host_network: bool,
    #[serde(default)]
    service_ports: bool,
    #[serde(rename = "file")]
    files: Vec<RawFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    template: String,
    path: String,
    each: RawEach,
    #[serde(default)]
    format: Option<Format>,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    join: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawEach {
    Service,
    Environment,
}

fn plain() -> Interpolation {
    Interpolation::Plain
}
fn default_host() -> String {
    "{name}".to_string()
}
fn default_own_host() -> String {
    "0.0.0.0".to_string()
}
fn default_needs() -> Needs {
    Needs::ImageOrCommand
}

/// Why a `target.toml` cannot be used, with the line it is on (1-based, 0 if unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    pub message: String,
    pub line: usize,
    pub column: usize,
}

impl TargetManifest {
    pub fn parse(name: &str, text: &str) -> Result<TargetManifest, ManifestError> {
        let raw: RawManifest = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
            ManifestError {
                message: e.message().to_string(),
                line,
                column,
            }
        })?;
        let mut files = Vec::new();
        for file in raw.files {
            let mode = match &file.mode {
                None => 0o644,
                Some(m) => u32::from_str_radix(m, 8)
                    .ok()
                    .filter(|m| *m <= 0o777)
                    .ok_or_else(|| ManifestError {
                        message: format!(
                            "`mode = \"{m}\"` is not an octal file mode such as \"0644\""
                        ),
                        line: find_line(text, m),
                        column: 1,
                    })?,
            };
            let each = match file.each {
                RawEach::Service => Each::Service,
                RawEach::Environment => Each::Environment,
            };
            if file.join.is_some() && each == Each::Environment {
                return Err(ManifestError {
                    message: format!(
                        "`join` is for a file rendered `each = \"service\"`: `{}` is rendered once per environment already",
                        file.template
                    ),
                    line: find_line(text, "join"),
                    column: 1,
                });
            }
            files.push(FileSpec {
                template: file.template,
                path: file.path,
                each,
                format: file.format.unwrap_or(raw.format),
                mode,
                join: file.join,
            });
        }
        Ok(TargetManifest {
            name: name.to_string(),
            description: raw.description,
            format: raw.format,
            interpolation: raw.interpolation,
            host: raw.host,
            own_host: raw.own_host,
            names: raw.names,
            needs: raw.needs,
            supports: raw.supports,
            partial: raw.partial,
            host_network: raw.host_network,
            service_ports: raw.service_ports,
            files,
        })
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn find_line(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map_or(0, |i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_feature_is_named_as_target_toml_writes_it() {
        for feature in Feature::ALL {
            let parsed: Feature = toml::Value::String(feature.name().to_string())
                .try_into()
                .unwrap_or_else(|e| panic!("{}: {e}", feature.name()));
            assert_eq!(parsed, feature);
        }
    }

    #[test]
    fn port_names_follow_iana() {
        assert!(NameRule::DnsLabel.check_port("http").is_ok());
        assert!(NameRule::DnsLabel.check_port("metrics-admin01").is_ok());
        assert!(
            NameRule::DnsLabel
                .check_port("a-very-long-port-name")
                .is_err()
        );
        assert!(NameRule::DnsLabel.check_port("8080").is_err());
        assert!(NameRule::DnsLabel.check_port("a--b").is_err());
    }
}
