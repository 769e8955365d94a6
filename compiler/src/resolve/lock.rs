//! The lockfile, `svcmodel.lock`: the version chosen for each service in each
//! environment and a content hash of the definition used, so a pipeline can insist
//! (`--locked`) on exactly what was reviewed.
//!
//! ```toml
//! # Written by `svcmodel lock`. Do not edit by hand.
//! version = 1
//!
//! [environments.dc-frankfurt]
//! postgres = { version = "15.6.0", hash = "sha256:..." }
//! ```
//!
//! A model without environments is locked under `[services]`.
//!
//! `[placement.ENV]` records where `svcmodel lock` found each instance's replicas
//! (`accounts = ["fra-r01/fra-hv01", ...]`, each a path of failure domains from the
//! largest kind down). Placement starts from it, keeping replicas where they were
//! while that spreads them as well; it never makes the lockfile stale.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use svcmodel_model::{FileId, Service, Span};
use toml::de::{DeTable, DeValue};

use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::source::SourceMap;

pub const FILE_NAME: &str = "svcmodel.lock";

/// Pinned versions: by environment (`None` for a model without environments), by service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lockfile {
    pub pins: BTreeMap<Option<String>, BTreeMap<String, Pin>>,
    /// By environment, by instance: its replicas' failure-domain paths.
    pub placement: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    pub version: semver::Version,
    pub hash: String,
    /// Where the pin is written, when read from a file.
    pub span: Option<Span>,
}

/// The content hash of a definition: SHA-256 of its meaning (spans, comments and
/// layout left out), so reformatting a file never makes a lock stale.
pub fn definition_hash(service: &Service) -> String {
    fn strip(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                map.remove("span");
                map.remove("imported");
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut json = serde_json::to_value(service).unwrap_or(serde_json::Value::Null);
    strip(&mut json);
    let digest = Sha256::digest(json.to_string().as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

impl Lockfile {
    /// The text of the file: deterministic, sorted.
    pub fn render(&self) -> String {
        let mut out =
            String::from("# Written by `svcmodel lock`. Do not edit by hand.\nversion = 1\n");
        for (environment, pins) in &self.pins {
            match environment {
                None => out.push_str("\n[services]\n"),
                Some(name) => out.push_str(&format!("\n[environments.{}]\n", key(name))),
            }
            for (service, pin) in pins {
                out.push_str(&format!(
                    "{} = {{ version = \"{}\", hash = \"{}\" }}\n",
                    key(service),
                    pin.version,
                    pin.hash
                ));
            }
        }
        for (environment, instances) in &self.placement {
            out.push_str(&format!("\n[placement.{}]\n", key(environment)));
            for (instance, paths) in instances {
                let paths: Vec<String> = paths.iter().map(|p| format!("{p:?}")).collect();
                out.push_str(&format!("{} = [{}]\n", key(instance), paths.join(", ")));
            }
        }
        out
    }

    /// Reads a lockfile already in `sources` as `file`.
    pub fn parse(sources: &SourceMap, file: FileId) -> Result<Lockfile, Diagnostic> {
        let text = &sources.get(file).text;
        let span = |r: std::ops::Range<usize>| Span::new(file, r.start as u32, r.end as u32);
        let invalid = |at: Span, why: &str| {
            Diagnostic::error(
                Code::InvalidLockfile,
                format!("`{}` cannot be read: {why}", FILE_NAME),
            )
            .label(at, why.to_string())
            .help("delete it and run `svcmodel lock` to write it anew")
        };
        let table = DeTable::parse(text).map_err(|e| {
            invalid(
                e.span().map_or(Span::new(file, 0, 0), span),
                e.message().trim(),
            )
        })?;
        let mut lock = Lockfile::default();
        for (k, v) in table.get_ref().iter() {
            let read_pins =
                |v: &toml::Spanned<DeValue>| -> Result<BTreeMap<String, Pin>, Diagnostic> {
                    let DeValue::Table(services) = v.get_ref() else {
                        return Err(invalid(span(v.span()), "expected a table of services"));
                    };
                    let mut pins = BTreeMap::new();
                    for (name, pin) in services.iter() {
                        let DeValue::Table(fields) = pin.get_ref() else {
                            return Err(invalid(
                                span(pin.span()),
                                "expected `{ version = ..., hash = ... }`",
                            ));
                        };
                        let field = |f: &str| {
                            fields
                                .iter()
                                .find(|(k, _)| k.get_ref() == f)
                                .and_then(|(_, v)| match v.get_ref() {
                                    DeValue::String(s) => Some(s.to_string()),
                                    _ => None,
                                })
                        };
                        let version = field("version")
                            .and_then(|v| semver::Version::parse(&v).ok())
                            .ok_or_else(|| invalid(span(pin.span()), "expected a `version`"))?;
                        let hash = field("hash")
                            .ok_or_else(|| invalid(span(pin.span()), "expected a `hash`"))?;
                        pins.insert(
                            name.get_ref().to_string(),
                            Pin {
                                version,
                                hash,
                                span: Some(span(pin.span())),
                            },
                        );
                    }
                    Ok(pins)
                };
            match k.get_ref().as_ref() {
                "version" => match v.get_ref() {
                    DeValue::Integer(i) if i.as_str() == "1" => {}
                    _ => {
                        return Err(invalid(
                            span(v.span()),
                            "this svcmodel reads lockfiles of version 1",
                        ));
                    }
                },
                "services" => {
                    lock.pins.insert(None, read_pins(v)?);
                }
                "environments" => {
                    let DeValue::Table(environments) = v.get_ref() else {
                        return Err(invalid(span(v.span()), "expected a table of environments"));
                    };
                    for (name, pins) in environments.iter() {
                        lock.pins
                            .insert(Some(name.get_ref().to_string()), read_pins(pins)?);
                    }
                }
                "placement" => {
                    let DeValue::Table(environments) = v.get_ref() else {
                        return Err(invalid(span(v.span()), "expected a table of environments"));
                    };
                    for (environment, instances) in environments.iter() {
                        let DeValue::Table(instances) = instances.get_ref() else {
                            return Err(invalid(
                                span(instances.span()),
                                "expected a table of instances",
                            ));
                        };
                        let mut placed = BTreeMap::new();
                        for (instance, paths) in instances.iter() {
                            let DeValue::Array(paths) = paths.get_ref() else {
                                return Err(invalid(
                                    span(paths.span()),
                                    "expected a list of failure-domain paths",
                                ));
                            };
                            let paths = paths
                                .iter()
                                .map(|path| match path.get_ref() {
                                    DeValue::String(text) => Ok(text.to_string()),
                                    _ => Err(invalid(span(path.span()), "expected a path")),
                                })
                                .collect::<Result<Vec<_>, _>>()?;
                            placed.insert(instance.get_ref().to_string(), paths);
                        }
                        lock.placement
                            .insert(environment.get_ref().to_string(), placed);
                    }
                }
                _ => return Err(invalid(span(k.span()), "unknown key")),
            }
        }
        Ok(lock)
    }

    /// Every difference from `fresh`, in words: what `svcmodel lock` would change.
    pub fn differences(&self, fresh: &Lockfile) -> Vec<(String, Option<Span>)> {
        let mut out = Vec::new();
        let empty = BTreeMap::new();
        let mut environments: Vec<&Option<String>> =
            self.pins.keys().chain(fresh.pins.keys()).collect();
        environments.sort();
        environments.dedup();
        for environment in environments {
            let place = environment
                .as_ref()
                .map_or(String::new(), |e| format!(" in `{e}`"));
            let old = self.pins.get(environment).unwrap_or(&empty);
            let new = fresh.pins.get(environment).unwrap_or(&empty);
            for (service, pin) in new {
                match old.get(service) {
                    None => out.push((
                        format!("`{service}` {}{place} is not locked", pin.version),
                        None,
                    )),
                    Some(locked) if locked.version != pin.version => out.push((
                        format!(
                            "`{service}`{place} is locked at {} but resolves to {}",
                            locked.version, pin.version
                        ),
                        locked.span,
                    )),
                    Some(locked) if locked.hash != pin.hash => out.push((
                        format!(
                            "the definition of `{service}` {}{place} changed since it was locked",
                            pin.version
                        ),
                        locked.span,
                    )),
                    Some(_) => {}
                }
            }
            for (service, locked) in old {
                if !new.contains_key(service) {
                    out.push((
                        format!("`{service}`{place} is locked but no longer used"),
                        locked.span,
                    ));
                }
            }
        }
        out
    }
}

/// A TOML key: bare when it can be, quoted otherwise.
fn key(name: &str) -> String {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        name.to_string()
    } else {
        format!("{:?}", name)
    }
}
