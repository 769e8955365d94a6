//! Parameter values: defaults, TOML values files (`-f`, the later wins, with
//! `[environment.NAME.SERVICE]` tables for one environment) and `--set SERVICE.PARAM=VALUE`
//! flags, type-checked against the declarations with errors pointing into the file or
//! flag that gave the value.
//!
//! Precedence, lowest first: the parameter's `default`; each values file's
//! `[SERVICE]` tables, in the order the files are given; each file's
//! `[environment.ENV.SERVICE]` tables for the environment being resolved, in order;
//! `--set` flags, in order. A table may name a service or a per-consumer instance
//! (`orders-cache`); within one layer the instance's table wins over the service's.

use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, BTreeSet};

use svcmodel_model::quantity::{QuantityError, to_base_unit, to_whole_base_unit};
use svcmodel_model::system::{ParamValue, ValueSource};
use svcmodel_model::{FileId, Model, Param, ParamType, QuantityKind, Span, Value};
use toml::de::{DeTable, DeValue};

use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::source::SourceMap;
use crate::suggest;

/// A value as given, before it is checked against a parameter's type.
#[derive(Debug, Clone)]
enum Given {
    Toml(TomlValue),
    Text(String),
}

/// What a values file or `--set` may give besides parameters: `[SERVICE.resources]`
/// `cpu` and `memory`.
pub const RESOURCE_KEYS: [&str; 2] = ["resources.cpu", "resources.memory"];

/// An owned copy of a TOML value with spans, so the parsed file need not be kept.
#[derive(Debug, Clone)]
enum TomlValue {
    String(String),
    Integer(i64),
    Float(f64),
    Boolean(bool),
    Array(Vec<(TomlValue, Span)>),
    Table(Vec<(String, TomlValue, Span)>),
    Other(&'static str),
}

#[derive(Debug, Clone)]
struct Entry {
    /// The service or instance name the value is for.
    target: String,
    environment: Option<String>,
    param: String,
    given: Given,
    /// The value's span (in the values file, or the flag's text).
    span: Span,
    /// The key's span, for "set here" labels.
    key_span: Span,
    from_flag: bool,
}

/// Every value given for the model, checked for structure (known services, environments
/// and parameters); types are checked per instance, against the version chosen.
#[derive(Debug, Default)]
pub struct Values {
    entries: Vec<Entry>,
    /// Indices into `entries` by target name, so each instance finds its values at once.
    by_target: FxHashMap<String, Vec<usize>>,
}

fn span_of(file: FileId, range: std::ops::Range<usize>) -> Span {
    Span::new(file, range.start as u32, range.end as u32)
}

fn own(value: &DeValue, file: FileId) -> TomlValue {
    match value {
        DeValue::String(s) => TomlValue::String(s.to_string()),
        DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(v) => TomlValue::Integer(v),
            Err(_) => TomlValue::Other("an integer too large"),
        },
        DeValue::Float(f) => match f.as_str().replace('_', "").parse::<f64>() {
            Ok(v) if v.is_finite() => TomlValue::Float(v),
            _ => TomlValue::Other("a float that is not finite"),
        },
        DeValue::Boolean(b) => TomlValue::Boolean(*b),
        DeValue::Datetime(_) => TomlValue::Other("a date-time"),
        DeValue::Array(items) => TomlValue::Array(
            items
                .iter()
                .map(|i| (own(i.get_ref(), file), span_of(file, i.span())))
                .collect(),
        ),
        DeValue::Table(table) => TomlValue::Table(
            table
                .iter()
                .map(|(k, v)| {
                    (
                        k.get_ref().to_string(),
                        own(v.get_ref(), file),
                        span_of(file, v.span()),
                    )
                })
                .collect(),
        ),
    }
}

fn describe(value: &TomlValue) -> &'static str {
    match value {
        TomlValue::String(_) => "a string",
        TomlValue::Integer(_) => "an integer",
        TomlValue::Float(_) => "a float",
        TomlValue::Boolean(_) => "a boolean",
        TomlValue::Array(_) => "an array",
        TomlValue::Table(_) => "a table",
        TomlValue::Other(what) => what,
    }
}

/// The names a values table may use: services, and per-consumer instances.
struct Targets<'a> {
    model: &'a Model,
    /// Definition indices by service name.
    by_name: FxHashMap<&'a str, Vec<usize>>,
    per_consumer: Vec<&'a str>,
}

impl<'a> Targets<'a> {
    fn new(model: &'a Model) -> Self {
        let mut by_name: FxHashMap<&'a str, Vec<usize>> =
            FxHashMap::with_capacity_and_hasher(model.services.len(), Default::default());
        let mut per_consumer = Vec::new();
        for (i, service) in model.services.iter().enumerate() {
            let name = service.name.value.as_str();
            let versions = by_name.entry(name).or_default();
            if versions.is_empty()
                && service.instancing.value == svcmodel_model::Instancing::PerConsumer
            {
                per_consumer.push(name);
            }
            versions.push(i);
        }
        per_consumer.sort_unstable();
        Targets {
            model,
            by_name,
            per_consumer,
        }
    }

    /// The service a table name stands for: itself, or the service of `CONSUMER-SERVICE`.
    fn service_of(&self, target: &str) -> Option<&'a str> {
        if let Some((name, _)) = self.by_name.get_key_value(target) {
            return Some(name);
        }
        self.per_consumer.iter().copied().find(|s| {
            target
                .strip_suffix(s)
                .is_some_and(|rest| rest.ends_with('-') && rest.len() > 1)
        })
    }

    /// The parameters any version of a service declares.
    fn params(&self, service: &str) -> BTreeSet<&'a str> {
        self.by_name
            .get(service)
            .into_iter()
            .flatten()
            .flat_map(|i| {
                self.model.services[*i]
                    .params
                    .iter()
                    .map(|p| p.name.value.as_str())
            })
            .collect()
    }

    /// Checks a `SERVICE.PARAM` pair; reports what is unknown.
    fn check(
        &self,
        target: &str,
        target_span: Span,
        param: &str,
        param_span: Span,
        d: &mut Diagnostics,
    ) -> bool {
        let Some(service) = self.service_of(target) else {
            let mut names: Vec<&str> = self.by_name.keys().copied().collect();
            names.sort_unstable();
            let help = suggest::did_you_mean(target, names)
                .unwrap_or_else(|| "name a service the model declares".to_string());
            d.push(
                Diagnostic::error(
                    Code::UnknownValueTarget,
                    format!("values for unknown service `{target}`"),
                )
                .label(target_span, "no service has this name")
                .help(help),
            );
            return false;
        };
        let params = self.params(service);
        if params.contains(param) || RESOURCE_KEYS.contains(&param) {
            return true;
        }
        let help = suggest::did_you_mean(param, params.iter().copied()).unwrap_or_else(|| {
            if params.is_empty() {
                format!("service `{service}` declares no parameters")
            } else {
                format!(
                    "service `{service}` has the parameters {}",
                    params
                        .iter()
                        .map(|p| format!("`{p}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        });
        d.push(
            Diagnostic::error(
                Code::UnknownValueParam,
                format!("service `{service}` has no parameter `{param}`"),
            )
            .label(param_span, "no such parameter")
            .help(help),
        );
        false
    }
}

impl Values {
    fn push(&mut self, entry: Entry) {
        self.by_target
            .entry(entry.target.clone())
            .or_default()
            .push(self.entries.len());
        self.entries.push(entry);
    }

    /// Reads a values file already in `sources` as `file`.
    pub fn add_file(
        &mut self,
        model: &Model,
        sources: &SourceMap,
        file: FileId,
        d: &mut Diagnostics,
    ) {
        let text = &sources.get(file).text;
        let table = match DeTable::parse(text) {
            Ok(table) => table,
            Err(error) => {
                let span = error
                    .span()
                    .map_or(Span::new(file, 0, 0), |r| span_of(file, r));
                d.push(
                    Diagnostic::error(Code::InvalidValuesFile, "the values file is not valid TOML")
                        .label(span, error.message().trim().to_string())
                        .help("fix the TOML syntax; a values file holds `[service]` tables of `param = value`"),
                );
                return;
            }
        };
        let targets = Targets::new(model);
        let environments: Vec<&str> = model
            .environments
            .iter()
            .map(|e| e.name.value.as_str())
            .collect();
        for (key, value) in table.get_ref().iter() {
            let key_span = span_of(file, key.span());
            let name = key.get_ref().as_ref();
            let DeValue::Table(params) = value.get_ref() else {
                d.push(
                    Diagnostic::error(
                        Code::InvalidValuesFile,
                        format!("`{name}` must be a table of parameters"),
                    )
                    .label(span_of(file, value.span()), "not a table")
                    .help(format!(
                        "write `[{name}]` and put `param = value` lines below it"
                    )),
                );
                continue;
            };
            if name == "environment" {
                for (env_key, env_value) in params.iter() {
                    let env_span = span_of(file, env_key.span());
                    let env = env_key.get_ref().as_ref();
                    if !environments.contains(&env) {
                        let help = suggest::did_you_mean(env, environments.iter().copied())
                            .unwrap_or_else(|| {
                                "name an environment the model declares".to_string()
                            });
                        d.push(
                            Diagnostic::error(
                                Code::UnknownEnvironment,
                                format!("values for unknown environment `{env}`"),
                            )
                            .label(env_span, "no environment has this name")
                            .help(help),
                        );
                        continue;
                    }
                    let DeValue::Table(services) = env_value.get_ref() else {
                        d.push(
                            Diagnostic::error(
                                Code::InvalidValuesFile,
                                format!("`environment.{env}` must be a table"),
                            )
                            .label(span_of(file, env_value.span()), "not a table")
                            .help(format!("write `[environment.{env}.SERVICE]` tables")),
                        );
                        continue;
                    };
                    for (service_key, service_value) in services.iter() {
                        self.add_service_table(
                            &targets,
                            file,
                            service_key.get_ref(),
                            span_of(file, service_key.span()),
                            service_value,
                            Some(env),
                            d,
                        );
                    }
                }
            } else {
                self.add_service_table(&targets, file, name, key_span, value, None, d);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn add_service_table(
        &mut self,
        targets: &Targets,
        file: FileId,
        target: &str,
        target_span: Span,
        value: &toml::Spanned<DeValue>,
        environment: Option<&str>,
        d: &mut Diagnostics,
    ) {
        let DeValue::Table(params) = value.get_ref() else {
            d.push(
                Diagnostic::error(
                    Code::InvalidValuesFile,
                    format!("`{target}` must be a table of parameters"),
                )
                .label(span_of(file, value.span()), "not a table")
                .help(format!(
                    "write `[{target}]` and put `param = value` lines below it"
                )),
            );
            return;
        };
        let mut expanded = Vec::new();
        for (param_key, param_value) in params.iter() {
            let name = param_key.get_ref().as_ref();
            match (name, param_value.get_ref()) {
                ("resources", DeValue::Table(resources)) => {
                    for (key, value) in resources.iter() {
                        expanded.push((format!("resources.{}", key.get_ref()), key.span(), value));
                    }
                }
                _ => expanded.push((name.to_string(), param_key.span(), param_value)),
            }
        }
        for (param, key_range, param_value) in &expanded {
            let param = param.as_str();
            let key_span = span_of(file, key_range.clone());
            if !targets.check(target, target_span, param, key_span, d) {
                // One report for a wrong service name is enough.
                if targets.service_of(target).is_none() {
                    return;
                }
                continue;
            }
            self.push(Entry {
                target: target.to_string(),
                environment: environment.map(str::to_string),
                param: param.to_string(),
                given: Given::Toml(own(param_value.get_ref(), file)),
                span: span_of(file, param_value.span()),
                key_span,
                from_flag: false,
            });
        }
    }

    /// Reads a `--set SERVICE.PARAM=VALUE` flag already in `sources` as `file`.
    pub fn add_set(
        &mut self,
        model: &Model,
        sources: &SourceMap,
        file: FileId,
        d: &mut Diagnostics,
    ) {
        let text = sources.get(file).text.as_str();
        let whole = Span::new(file, 0, text.len() as u32);
        let Some((key, value)) = text.split_once('=') else {
            d.push(
                Diagnostic::error(Code::InvalidSet, format!("`--set {text}` has no `=`"))
                    .label(whole, "expected SERVICE.PARAM=VALUE")
                    .help("write `--set orders.workers=16`"),
            );
            return;
        };
        let Some((target, param)) = key.split_once('.') else {
            d.push(
                Diagnostic::error(
                    Code::InvalidSet,
                    format!("`--set {text}` does not name a service and a parameter"),
                )
                .label(
                    Span::new(file, 0, key.len() as u32),
                    "expected SERVICE.PARAM",
                )
                .help("write `--set orders.workers=16`"),
            );
            return;
        };
        let target_span = Span::new(file, 0, target.len() as u32);
        let param_span = Span::new(file, target.len() as u32 + 1, key.len() as u32);
        if !Targets::new(model).check(target, target_span, param, param_span, d) {
            return;
        }
        self.push(Entry {
            target: target.to_string(),
            environment: None,
            param: param.to_string(),
            given: Given::Text(value.to_string()),
            span: Span::new(file, key.len() as u32 + 1, text.len() as u32),
            key_span: Span::new(file, 0, key.len() as u32),
            from_flag: true,
        });
    }

    /// The resources of an instance in `environment`: the definition's, with what
    /// `[SERVICE.resources]` tables and `--set SERVICE.resources.KEY=` flags give.
    pub fn resolve_resources(
        &self,
        instance: &str,
        service: &str,
        def: &svcmodel_model::Service,
        environment: Option<&str>,
        d: &mut Diagnostics,
    ) -> svcmodel_model::Resources {
        use svcmodel_model::{ParamType, Resources, Spanned};
        let given = |key: &str| {
            [service, instance]
                .iter()
                .flat_map(|t| self.by_target.get(*t).into_iter().flatten())
                .any(|i| self.entries[*i].param == key)
        };
        let mut out: Resources = def.resources.clone();
        if !given(RESOURCE_KEYS[0]) && !given(RESOURCE_KEYS[1]) {
            return out;
        }
        let pseudo = |key: &str, ty: ParamType, default: Option<Spanned<Value>>| Param {
            name: Spanned::new(key.to_string(), def.name.span),
            ty: Spanned::new(ty, def.name.span),
            default,
            range: None,
            pattern: None,
            doc: None,
            span: def.span,
        };
        let cpu = pseudo(
            RESOURCE_KEYS[0],
            ParamType::Cpu,
            def.resources
                .millicpu
                .as_ref()
                .map(|c| Spanned::new(Value::Cpu(c.value), c.span)),
        );
        let memory = pseudo(
            RESOURCE_KEYS[1],
            ParamType::Size,
            def.resources
                .memory_bytes
                .as_ref()
                .map(|m| Spanned::new(Value::Size(m.value), m.span)),
        );
        let spanned = |value: &ParamValue| -> Option<Spanned<u64>> {
            let span = match value.source {
                ValueSource::Default { span }
                | ValueSource::ValuesFile { span }
                | ValueSource::Set { span } => span,
                _ => return None,
            };
            match value.value {
                Some(Value::Cpu(v)) | Some(Value::Size(v)) => Some(Spanned::new(v, span)),
                _ => None,
            }
        };
        for (param, slot) in [(cpu, &mut out.millicpu), (memory, &mut out.memory_bytes)] {
            if slot.is_none() && !given(&param.name.value) {
                continue;
            }
            if let Some(value) = self.resolve_one(instance, service, &param, environment, d, false)
            {
                *slot = spanned(&value).or(slot.take());
            }
        }
        out
    }

    /// The values of an instance's parameters in `environment`.
    pub fn resolve(
        &self,
        instance: &str,
        service: &str,
        params: &[Param],
        environment: Option<&str>,
        d: &mut Diagnostics,
    ) -> Vec<ParamValue> {
        params
            .iter()
            .map(|param| {
                self.resolve_one(instance, service, param, environment, d, true)
                    .unwrap_or(ParamValue {
                        value: None,
                        source: ValueSource::Missing,
                    })
            })
            .collect()
    }

    /// One parameter's value; with `required`, no value at all is E0609.
    fn resolve_one(
        &self,
        instance: &str,
        service: &str,
        param: &Param,
        environment: Option<&str>,
        d: &mut Diagnostics,
        required: bool,
    ) -> Option<ParamValue> {
        {
            let name = param.name.value.as_str();
            let applies =
                |e: &&Entry| e.param == name && (e.target == service || e.target == instance);
            // Lowest precedence first; within a layer the instance's own table last.
            let layer = |e: &Entry| {
                let level = if e.from_flag {
                    2
                } else if e.environment.is_some() {
                    1
                } else {
                    0
                };
                (level, e.target == instance)
            };
            let indices = [service, instance]
                .into_iter()
                .enumerate()
                .filter(|(i, target)| *i == 0 || *target != service)
                .flat_map(|(_, target)| self.by_target.get(target).into_iter().flatten());
            let mut sorted: Vec<usize> = indices.copied().collect();
            sorted.sort_unstable();
            let mut given: Vec<&Entry> = sorted
                .into_iter()
                .map(|i| &self.entries[i])
                .filter(applies)
                .filter(|e| e.environment.is_none() || e.environment.as_deref() == environment)
                .collect();
            given.sort_by_key(|e| layer(e)); // stable: file order kept within a layer
            if param.ty.value == ParamType::Secret {
                for entry in &given {
                    d.redact(entry.span);
                    d.push(
                        Diagnostic::error(Code::SecretInValues, format!("secret `{service}.{name}` is given a value"))
                            .label(entry.key_span, "a secret's value never belongs in a values file or flag")
                            .label(param.ty.span, "declared a secret here")
                            .help("remove it; secrets are supplied when deploying, from a secret store or the environment"),
                    );
                }
                return Some(ParamValue {
                    value: None,
                    source: ValueSource::Secret,
                });
            }
            let mut chosen = param.default.as_ref().map(|default| ParamValue {
                value: Some(default.value.clone()),
                source: ValueSource::Default { span: default.span },
            });
            for entry in given {
                let value = match &entry.given {
                    Given::Toml(v) => from_toml(v, &param.ty.value, entry.span, d),
                    Given::Text(text) => from_text(text, &param.ty.value, entry.span, d),
                };
                let Some(value) = value.and_then(|v| check_constraints(param, v, entry.span, d))
                else {
                    continue;
                };
                let source = if entry.from_flag {
                    ValueSource::Set { span: entry.span }
                } else {
                    ValueSource::ValuesFile { span: entry.span }
                };
                chosen = Some(ParamValue {
                    value: Some(value),
                    source,
                });
            }
            match chosen {
                Some(value) => Some(value),
                None if !required => None,
                None => {
                    d.push(
                        Diagnostic::error(Code::MissingValue, format!("parameter `{name}` of `{instance}` has no value"))
                            .label(param.name.span, "no default, and no values file or flag sets it")
                            .help(format!(
                                "give it a default, add `[{service}]` with `{name} = ...` to a values file, or pass `--set {service}.{name}=...`"
                            )),
                    );
                    None
                }
            }
        }
    }
}

fn mismatch(expected: &str, found: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::TypeMismatch,
        format!("expected {expected}, found {found}"),
    )
    .label(span, format!("this parameter takes {expected}"))
}

fn quantity_value(kind: QuantityKind, base: f64) -> Value {
    match kind {
        QuantityKind::Duration => Value::Duration(base as u64),
        QuantityKind::Size => Value::Size(base as u64),
        QuantityKind::Bandwidth => Value::Bandwidth(base as u64),
        QuantityKind::Cpu => Value::Cpu(base as u64),
        QuantityKind::Percent => Value::Percent(base),
    }
}

/// `4Gi`, `250m`, `99.9%`: a number and a unit, as in the model language.
fn quantity_from_text(
    text: &str,
    kind: QuantityKind,
    span: Span,
    d: &mut Diagnostics,
) -> Option<Value> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let Ok(number) = number.replace('_', "").parse::<f64>() else {
        d.push(
            mismatch(&format!("a {}", kind.name()), &format!("`{text}`"), span).help(format!(
                "write a {} such as {}",
                kind.name(),
                kind.example()
            )),
        );
        return None;
    };
    let result = if kind == QuantityKind::Percent {
        match unit {
            "%" | "" => to_base_unit(number, "%", kind),
            _ => to_base_unit(number, unit, kind),
        }
    } else {
        to_whole_base_unit(number, unit, kind).map(|v| v as f64)
    };
    match result {
        Ok(base) if kind == QuantityKind::Percent && !(0.0..=100.0).contains(&base) => {
            d.push(
                Diagnostic::error(
                    Code::OutOfRange,
                    format!("`{text}` is not a percentage from 0% to 100%"),
                )
                .label(span, "out of range")
                .help("write a percentage from 0% to 100%"),
            );
            None
        }
        Ok(base) => Some(quantity_value(kind, base)),
        Err(error) => {
            let (message, help) = match error {
                QuantityError::UnknownUnit { unit, suggestion } => (
                    format!("unknown {} unit `{unit}`", kind.name()),
                    match suggestion {
                        Some(s) => format!("write `{}{s}`", text.trim_end_matches(unit.as_str())),
                        None => format!("use a {} unit: {}", kind.name(), kind.example()),
                    },
                ),
                QuantityError::MissingUnit => (
                    format!("a {} needs a unit", kind.name()),
                    format!("add a unit: {}", kind.example()),
                ),
                QuantityError::OutOfRange => (
                    format!("`{text}` is not a valid {}", kind.name()),
                    format!("write a {} such as {}", kind.name(), kind.example()),
                ),
            };
            d.push(
                Diagnostic::error(Code::InvalidQuantity, message)
                    .label(span, "in this value")
                    .help(help),
            );
            None
        }
    }
}

fn from_toml(value: &TomlValue, ty: &ParamType, span: Span, d: &mut Diagnostics) -> Option<Value> {
    let wrong = |expected: &str, d: &mut Diagnostics, help: &str| {
        d.push(mismatch(expected, describe(value), span).help(help.to_string()));
        None
    };
    match (ty, value) {
        (ParamType::Int, TomlValue::Integer(i)) => Some(Value::Int(*i)),
        (ParamType::Int, _) => wrong(
            "an integer",
            d,
            "write a whole number without quotes, e.g. `16`",
        ),
        (ParamType::Float, TomlValue::Float(f)) => Some(Value::Float(*f)),
        (ParamType::Float, TomlValue::Integer(i)) => Some(Value::Float(*i as f64)),
        (ParamType::Float, _) => wrong("a number", d, "write a number without quotes, e.g. `0.5`"),
        (ParamType::Bool, TomlValue::Boolean(b)) => Some(Value::Bool(*b)),
        (ParamType::Bool, _) => wrong("a boolean", d, "write `true` or `false` without quotes"),
        (ParamType::String | ParamType::Secret, TomlValue::String(s)) => {
            Some(Value::String(s.clone()))
        }
        (ParamType::String | ParamType::Secret, _) => {
            wrong("a string", d, "put the value in double quotes")
        }
        (ParamType::Enum(choices), TomlValue::String(s)) => enum_value(s, choices, span, d),
        (ParamType::Enum(_), _) => {
            wrong("a string", d, "write one of the choices in double quotes")
        }
        (ParamType::Cpu, TomlValue::Integer(i)) if *i >= 0 => Some(Value::Cpu(*i as u64 * 1000)),
        (ParamType::Cpu, TomlValue::Float(f)) if *f >= 0.0 => {
            quantity_from_text(&f.to_string(), QuantityKind::Cpu, span, d)
        }
        (ParamType::Percent, TomlValue::Integer(i)) => {
            quantity_from_text(&format!("{i}%"), QuantityKind::Percent, span, d)
        }
        (ParamType::Percent, TomlValue::Float(f)) => {
            quantity_from_text(&format!("{f}%"), QuantityKind::Percent, span, d)
        }
        (
            ParamType::Duration
            | ParamType::Size
            | ParamType::Bandwidth
            | ParamType::Cpu
            | ParamType::Percent,
            TomlValue::String(s),
        ) => {
            let kind = super::super::lower::values::quantity_kind(ty)?;
            quantity_from_text(s, kind, span, d)
        }
        (ParamType::Duration | ParamType::Size | ParamType::Bandwidth, TomlValue::Integer(0)) => {
            let kind = super::super::lower::values::quantity_kind(ty)?;
            Some(quantity_value(kind, 0.0))
        }
        (ParamType::Duration | ParamType::Size | ParamType::Bandwidth | ParamType::Cpu, _) => {
            let kind = super::super::lower::values::quantity_kind(ty)?;
            d.push(
                mismatch(&format!("a {}", kind.name()), describe(value), span).help(format!(
                    "write the quantity as a string with its unit, e.g. `\"{}\"`",
                    kind.example().split('`').nth(1).unwrap_or("")
                )),
            );
            None
        }
        (ParamType::List(inner), TomlValue::Array(items)) => items
            .iter()
            .map(|(item, item_span)| from_toml(item, inner, *item_span, d))
            .collect::<Option<Vec<_>>>()
            .map(Value::List),
        (ParamType::List(inner), _) => {
            wrong(&format!("a list of {inner}"), d, "write an array: `[...]`")
        }
        (ParamType::Map(inner), TomlValue::Table(entries)) => entries
            .iter()
            .map(|(key, item, item_span)| {
                from_toml(item, inner, *item_span, d).map(|v| (key.clone(), v))
            })
            .collect::<Option<BTreeMap<_, _>>>()
            .map(Value::Map),
        (ParamType::Map(inner), _) => wrong(
            &format!("a map of {inner}"),
            d,
            "write an inline table: `{ key = value }`",
        ),
        (ParamType::Percent, _) => wrong(
            "a percentage",
            d,
            "write a number, e.g. `99.9`, or a string such as `\"99.9%\"`",
        ),
    }
}

fn from_text(text: &str, ty: &ParamType, span: Span, d: &mut Diagnostics) -> Option<Value> {
    let unquoted = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    let wrong = |expected: &str, d: &mut Diagnostics, help: &str| {
        d.push(mismatch(expected, &format!("`{text}`"), span).help(help.to_string()));
        None
    };
    match ty {
        ParamType::Int => match text.trim().parse::<i64>() {
            Ok(v) => Some(Value::Int(v)),
            Err(_) => wrong(
                "an integer",
                d,
                "write a whole number, e.g. `--set orders.workers=16`",
            ),
        },
        ParamType::Float => match text.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => Some(Value::Float(v)),
            _ => wrong("a number", d, "write a number, e.g. `0.5`"),
        },
        ParamType::Bool => match text.trim() {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => wrong("a boolean", d, "write `true` or `false`"),
        },
        ParamType::String | ParamType::Secret => Some(Value::String(unquoted.to_string())),
        ParamType::Enum(choices) => enum_value(unquoted, choices, span, d),
        ParamType::Duration
        | ParamType::Size
        | ParamType::Bandwidth
        | ParamType::Cpu
        | ParamType::Percent => {
            let kind = super::super::lower::values::quantity_kind(ty)?;
            quantity_from_text(unquoted, kind, span, d)
        }
        ParamType::List(_) | ParamType::Map(_) => {
            d.push(
                Diagnostic::error(
                    Code::InvalidSet,
                    format!("a `{ty}` parameter cannot be set with `--set`"),
                )
                .label(span, "lists and maps need a values file")
                .help("set it in a values file with `-f`"),
            );
            None
        }
    }
}

fn enum_value(text: &str, choices: &[String], span: Span, d: &mut Diagnostics) -> Option<Value> {
    if choices.iter().any(|c| c == text) {
        return Some(Value::String(text.to_string()));
    }
    let names: Vec<String> = choices.iter().map(|c| format!("`\"{c}\"`")).collect();
    let help = suggest::did_you_mean(text, choices.iter().map(String::as_str))
        .unwrap_or_else(|| format!("use one of {}", names.join(", ")));
    d.push(
        Diagnostic::error(
            Code::UnknownChoice,
            format!("`{text}` is not one of the parameter's values"),
        )
        .label(span, format!("expected one of {}", names.join(", ")))
        .help(help),
    );
    None
}

/// The parameter's range and pattern, checked on a value given outside the model.
fn check_constraints(
    param: &Param,
    value: Value,
    span: Span,
    d: &mut Diagnostics,
) -> Option<Value> {
    if let (Some(range), Some(magnitude)) = (&param.range, value.magnitude())
        && (magnitude < range.value.0 || magnitude > range.value.1)
    {
        d.push(
            Diagnostic::error(
                Code::OutOfRange,
                format!("the value of `{}` is outside its range", param.name.value),
            )
            .label(span, "this value")
            .label(range.span, "is not within this range")
            .help("choose a value inside the declared range"),
        );
        return None;
    }
    if let (Some(pattern), Value::String(text)) = (&param.pattern, &value)
        && regex::Regex::new(&pattern.value).is_ok_and(|re| !re.is_match(text))
    {
        d.push(
            Diagnostic::error(
                Code::InvalidPattern,
                format!(
                    "the value of `{}` does not match its pattern",
                    param.name.value
                ),
            )
            .label(span, "this value")
            .label(pattern.span, "does not match this pattern")
            .help("change the value so that it matches the pattern"),
        );
        return None;
    }
    Some(value)
}
