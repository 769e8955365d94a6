//! Lowering one `service` block: its parameters, configurator, ports, requirements and
//! operational settings. References inside the service (`param.x`, `self.http.port`) are
//! checked here; references to other services are checked in [`super::references`].

use svcmodel_model::{
    Config, ConfigEntry, ConfigValue, Criticality, Data, Health, HealthCheck, Instancing, Param,
    ParamType, Port, PortField, Protocol, QuantityKind, Reference, Requirement, Resources,
    RestartPolicy, RunLocal, Scratch, Security, Service, Span, Spanned, Template, TemplatePart,
    Variant,
};

use super::fields::{
    Field, Fields, Form, attr, block, body_of, label_text, labeled_attr, labeled_block,
};
use super::missing;
use super::values;
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::suggest;
use crate::syntax::ast::{Expr, Ident, Item, ItemKind, StrPart, StringLit};

/// Schemas of small blocks and maps.
const RESOURCES: &[Field] = &[
    attr("cpu"),
    attr("memory"),
    attr("cpu_limit"),
    attr("memory_limit"),
];
const DATA: &[Field] = &[attr("classification"), attr("size"), attr("path")];
const PORT: &[Field] = &[
    attr("port"),
    attr("service_port"),
    attr("publish"),
    attr("protocol"),
];
const RUN_LOCAL: &[Field] = &[attr("command"), attr("workdir")];
const CONFIG: &[Field] = &[
    labeled_attr("env"),
    labeled_attr("file"),
    attr("args"),
    attr("command"),
];
const SCRATCH: &[Field] = &[attr("size"), attr("memory")];
const SECURITY: &[Field] = &[
    attr("user"),
    attr("group"),
    attr("capabilities"),
    attr("allow_root"),
    attr("writable_root"),
];

const SCHEMA: &[Field] = &[
    attr("version"),
    attr("description"),
    attr("image"),
    labeled_block("run"),
    labeled_block("param"),
    block("config"),
    labeled_block("provides"),
    Field {
        key: "requires",
        forms: &[Form::LabeledBlock, Form::LabeledBare],
    },
    super::fields::labeled_bare("near"),
    block("resources"),
    attr("replicas"),
    attr("criticality"),
    attr("availability"),
    block("data"),
    block("health"),
    attr("instancing"),
    attr("restart"),
    attr("labels"),
    labeled_attr("annotation"),
    Field {
        key: "scratch",
        forms: &[Form::LabeledBlock, Form::LabeledBare],
    },
    block("security"),
    attr("expose"),
    attr("identity"),
    labeled_attr("node_label"),
    block("liveness"),
    block("startup"),
    labeled_block("variant"),
];

/// What names a reference inside this service may use.
pub(super) struct Scope<'a> {
    pub params: &'a [Param],
    pub ports: &'a [Port],
    /// Parameters declared with an error of their own (a type in quotes): a reference
    /// to one is not a second error.
    pub broken_params: &'a [String],
}

pub fn lower(item: &Item, name: Spanned<String>, d: &mut Diagnostics) -> Option<Service> {
    let context = format!("service `{}`", name.value);
    let f = Fields::check(body_of(item)?, SCHEMA, &context, d);
    let version = match f.attr("version") {
        Some(expr) => values::version(expr, d),
        None => {
            d.push(missing(item, &context, "version", "version = \"1.0.0\""));
            None
        }
    };
    let params: Vec<Param> = f.all("param").filter_map(|p| param(p, d)).collect();
    let broken_params: Vec<String> = f
        .all("param")
        .filter_map(|p| p.labels.first().map(label_text))
        .filter(|name| !params.iter().any(|p| &p.name.value == name))
        .collect();
    let provides: Vec<Port> = f.all("provides").filter_map(|p| port(p, d)).collect();
    let scope = Scope {
        params: &params,
        ports: &provides,
        broken_params: &broken_params,
    };
    let image = f
        .attr("image")
        .and_then(|e| template(e, "image", &scope, d));
    let run_local = f.item("run").and_then(|r| run(r, &scope, d));
    // Variants may each name their image instead of the service.
    let variant_images = f.all("variant").count() > 0
        && f.all("variant")
            .all(|v| body_of(v).is_some_and(|b| b.items.iter().any(|i| i.key.name == "image")));
    if image.is_none()
        && run_local.is_none()
        && f.attr("image").is_none()
        && f.item("run").is_none()
        && !variant_images
    {
        d.push(
            Diagnostic::error(Code::MissingKey, format!("{context} has nothing to run"))
                .label(item.label_span(), "neither `image` nor `run local` is given")
                .help("add `image = \"name:tag\"` for containers, or `run local { command = [...] }` for a process"),
        );
    }
    let config = f
        .item("config")
        .and_then(body_of)
        .map(|body| config(body, &scope, d))
        .unwrap_or_default();
    let requires = f
        .all("requires")
        .filter_map(|r| requirement(r, d))
        .collect();
    let near = f
        .all("near")
        .filter_map(|n| {
            n.labels
                .first()
                .map(|l| Spanned::new(label_text(l), l.span()))
        })
        .collect();
    let resources = f
        .item("resources")
        .and_then(body_of)
        .map(|body| resources(body, d))
        .unwrap_or_default();
    let scratch = scratch_folders(&f, d);
    let security = f
        .item("security")
        .and_then(|item| Some((item, body_of(item)?)))
        .map(|(item, body)| Box::new(security(item, body, d)));
    let default_span = item.key.span;
    let replicas = f
        .attr("replicas")
        .and_then(|e| values::int(e, "replicas", 1, 10_000, d))
        .map_or(Spanned::new(1, default_span), |v| {
            Spanned::new(v.value as u32, v.span)
        });
    let criticality = f
        .attr("criticality")
        .and_then(|e| values::choice(e, &Criticality::ALL, "criticality", d))
        .unwrap_or(Spanned::new(Criticality::Medium, default_span));
    let instancing = f
        .attr("instancing")
        .and_then(|e| values::choice(e, &Instancing::ALL, "instancing", d))
        .unwrap_or(Spanned::new(Instancing::Shared, default_span));
    let restart = f
        .attr("restart")
        .and_then(|e| values::choice(e, &RestartPolicy::ALL, "restart", d))
        .unwrap_or(Spanned::new(RestartPolicy::OnFailure, default_span));
    let data = f.item("data").and_then(|item| {
        let body = body_of(item)?;
        let data = Fields::check(body, DATA, "`data`", d);
        Some(Data {
            classification: data
                .attr("classification")
                .and_then(|e| values::string(e, "classification", d)),
            size_bytes: data.quantity("size", QuantityKind::Size, d),
            path: data
                .attr("path")
                .and_then(|e| values::string(e, "path", d))
                .and_then(|p| mount_path(p, "path", "path = \"/var/lib/postgresql/data\"", d)),
            span: item.span,
        })
    });
    let liveness = f
        .item("liveness")
        .and_then(|h| health(h, "liveness", &scope, d))
        .map(Box::new);
    let startup = f
        .item("startup")
        .and_then(|h| health(h, "startup", &scope, d))
        .map(Box::new);
    let health = f
        .item("health")
        .and_then(|h| health(h, "health", &scope, d));
    let expose = f
        .attr("expose")
        .and_then(|e| values::choice(e, &svcmodel_model::Exposure::ALL, "expose", d));
    let published = matches!(
        expose.as_ref().map(|e| e.value),
        Some(svcmodel_model::Exposure::NodePort | svcmodel_model::Exposure::LoadBalancer)
    );
    // An `expose` that is not a choice is reported already.
    let undecided = f.attr("expose").is_some() && expose.is_none();
    for port in provides.iter().filter(|_| !published && !undecided) {
        if let Some(publish) = &port.publish {
            d.push(
                Diagnostic::error(
                    Code::ConflictingKeys,
                    format!("port `{}` is published, but the service is not exposed", port.name.value),
                )
                .label(publish.span, "a port outside the environment")
                .help("add `expose = \"node_port\"` (or `\"load_balancer\"`) to the service, or remove `publish`"),
            );
        }
    }
    let variants: Vec<Variant> = f
        .all("variant")
        .filter_map(|v| variant(v, &scope, d))
        .collect();
    if let (Some(first), Some(data)) = (variants.first(), &data) {
        d.push(
            Diagnostic::error(Code::ConflictingKeys, "a service with data cannot run variants")
                .label(first.name.span, "a variant")
                .label(data.span, "data each variant would need to share")
                .help("run the variants as services of their own, each with its data, or remove the variants"),
        );
    }
    let version = version?;
    Some(Service {
        imported: false,
        description: f
            .attr("description")
            .and_then(|e| values::string(e, "description", d))
            .map(|s| s.value),
        availability: f
            .attr("availability")
            .and_then(|e| values::percent(e, "availability", d)),
        labels: f
            .attr("labels")
            .map(|e| values::string_map(e, "labels", d))
            .unwrap_or_default(),
        annotations: annotations(&f, d),
        node_selector: node_selector(&f, d),
        expose,
        liveness,
        startup,
        variants,
        identity: f
            .attr("identity")
            .and_then(|e| values::string(e, "identity", d)),
        scratch,
        security,
        name,
        version,
        image,
        run_local,
        params,
        config,
        provides,
        requires,
        near,
        resources,
        replicas,
        criticality,
        data,
        health,
        instancing,
        restart,
        span: item.span,
    })
}

fn param(item: &Item, d: &mut Diagnostics) -> Option<Param> {
    const PARAM: &[Field] = &[
        attr("type"),
        attr("default"),
        attr("range"),
        attr("pattern"),
        attr("doc"),
    ];
    let label = item.labels.first()?;
    let name = Spanned::new(label_text(label), label.span());
    let f = Fields::check(
        body_of(item)?,
        PARAM,
        format_args!("parameter `{}`", name.value),
        d,
    );
    let ty = match f.attr("type") {
        Some(expr) => param_type(expr, d)?,
        None => {
            d.push(missing(
                item,
                &format!("parameter `{}`", name.value),
                "type",
                "type = int",
            ));
            return None;
        }
    };
    let range = f.attr("range").and_then(|expr| range(expr, &ty.value, d));
    let pattern = f.attr("pattern").and_then(|expr| {
        let text = values::string(expr, "pattern", d)?;
        if ty.value != ParamType::String {
            d.push(
                Diagnostic::error(Code::ConflictingKeys, "`pattern` applies only to `string` parameters")
                    .label(text.span, "a pattern on a non-string parameter")
                    .label(ty.span, format!("the type is `{}`", ty.value))
                    .help("remove the pattern, or make the parameter a `string`"),
            );
            return None;
        }
        match regex::Regex::new(&text.value) {
            Ok(_) => Some(text),
            Err(error) => {
                let reason = error.to_string();
                let reason = reason.lines().last().unwrap_or("invalid pattern").trim().trim_start_matches("error: ");
                d.push(
                    Diagnostic::error(Code::InvalidPattern, format!("`{}` is not a valid pattern", text.value))
                        .label(text.span, reason.to_string())
                        .help("write a regular expression in Rust's `regex` syntax, e.g. `\"^[a-z][a-z0-9-]*$\"`"),
                );
                None
            }
        }
    });
    let default = f.attr("default").and_then(|expr| {
        if ty.value == ParamType::Secret {
            d.push(
                Diagnostic::error(Code::SecretLiteral, format!("secret parameter `{}` has a literal default", name.value))
                    .label(expr.span(), "a secret's value never belongs in the model")
                    .help("remove the default; supply the secret when deploying, from a secret store or the environment"),
            );
            return None;
        }
        let value = values::typed_value(expr, &ty.value, "default", d)?;
        if let (Some(range), Some(magnitude)) = (&range, value.magnitude())
            && (magnitude < range.value.0 || magnitude > range.value.1)
        {
            d.push(
                Diagnostic::error(Code::OutOfRange, format!("the default of `{}` is outside its range", name.value))
                    .label(expr.span(), "this default")
                    .label(range.span, "is not within this range")
                    .help("choose a default inside the range, or widen the range"),
            );
            return None;
        }
        if let (Some(pattern), svcmodel_model::Value::String(text)) = (&pattern, &value)
            && regex::Regex::new(&pattern.value).is_ok_and(|re| !re.is_match(text))
        {
            d.push(
                Diagnostic::error(Code::InvalidPattern, format!("the default of `{}` does not match its pattern", name.value))
                    .label(expr.span(), "this default")
                    .label(pattern.span, "does not match this pattern")
                    .help("change the default so that it matches, or loosen the pattern"),
            );
            return None;
        }
        Some(Spanned::new(value, expr.span()))
    });
    Some(Param {
        doc: f
            .attr("doc")
            .and_then(|e| values::string(e, "doc", d))
            .map(|s| s.value),
        name,
        ty,
        default,
        range,
        pattern,
        span: item.span,
    })
}

const SCALAR_TYPES: &[(&str, ParamType)] = &[
    ("int", ParamType::Int),
    ("float", ParamType::Float),
    ("bool", ParamType::Bool),
    ("string", ParamType::String),
    ("duration", ParamType::Duration),
    ("size", ParamType::Size),
    ("bandwidth", ParamType::Bandwidth),
    ("percent", ParamType::Percent),
    ("cpu", ParamType::Cpu),
    ("secret", ParamType::Secret),
];

const TYPE_NAMES: &[&str] = &[
    "int",
    "float",
    "bool",
    "string",
    "duration",
    "size",
    "bandwidth",
    "percent",
    "cpu",
    "secret",
    "enum",
    "list",
    "map",
];

fn param_type(expr: &Expr, d: &mut Diagnostics) -> Option<Spanned<ParamType>> {
    let unknown = |name: &str, span: Span, d: &mut Diagnostics| {
        let help = suggest::did_you_mean(name, TYPE_NAMES.iter().copied()).unwrap_or_else(|| {
            "use `int`, `float`, `bool`, `string`, `duration`, `size`, `bandwidth`, `percent`, `cpu`, `secret`, `enum(\"a\", \"b\")`, `list(T)` or `map(T)`".to_string()
        });
        d.push(
            Diagnostic::error(
                Code::InvalidParamType,
                format!("unknown parameter type `{name}`"),
            )
            .label(span, "not a type")
            .help(help),
        );
    };
    match expr {
        Expr::Path(path) if path.len() == 1 => {
            let name = &path[0].name;
            match SCALAR_TYPES.iter().find(|(n, _)| n == name) {
                Some((_, ty)) => Some(Spanned::new(ty.clone(), path[0].span)),
                None => {
                    unknown(name, path[0].span, d);
                    None
                }
            }
        }
        Expr::String(s) => {
            let name = s.as_plain().unwrap_or_default();
            let help = if SCALAR_TYPES.iter().any(|(n, _)| *n == name) {
                format!("write the type without quotes: `type = {name}`")
            } else {
                "write a type name without quotes, e.g. `type = int`".to_string()
            };
            d.push(
                Diagnostic::error(
                    Code::InvalidParamType,
                    "a parameter type is a name, not a string",
                )
                .label(s.span, "a string")
                .help(help),
            );
            None
        }
        Expr::Call { callee, args, span } => match (callee.name.as_str(), args.as_slice()) {
            ("enum", choices) if !choices.is_empty() => {
                let mut names = Vec::new();
                for choice in choices {
                    let text = values::string(choice, "enum", d)?;
                    if names.contains(&text.value) {
                        d.push(
                            Diagnostic::error(
                                Code::DuplicateKey,
                                format!("`{}` is listed twice in the enum", text.value),
                            )
                            .label(text.span, "listed again here")
                            .help("list each choice once"),
                        );
                        return None;
                    }
                    names.push(text.value);
                }
                Some(Spanned::new(ParamType::Enum(names), *span))
            }
            ("list" | "map", [inner]) => {
                let inner = param_type(inner, d)?;
                let ty = if callee.name == "list" {
                    ParamType::List(Box::new(inner.value))
                } else {
                    ParamType::Map(Box::new(inner.value))
                };
                Some(Spanned::new(ty, *span))
            }
            ("enum" | "list" | "map", _) => {
                d.push(
                    Diagnostic::error(
                        Code::InvalidParamType,
                        format!("`{}` takes other arguments", callee.name),
                    )
                    .label(*span, "wrong number of arguments")
                    .help("write `enum(\"a\", \"b\")`, `list(string)` or `map(int)`"),
                );
                None
            }
            (other, _) => {
                unknown(other, callee.span, d);
                None
            }
        },
        Expr::Error(_) => None,
        other => {
            d.push(
                Diagnostic::error(
                    Code::InvalidParamType,
                    format!("expected a type, found {}", other.describe()),
                )
                .label(other.span(), "not a type")
                .help("write a type such as `int`, `size` or `enum(\"a\", \"b\")`"),
            );
            None
        }
    }
}

/// `low..high` for a numeric parameter type, in the type's base unit.
fn range(expr: &Expr, ty: &ParamType, d: &mut Diagnostics) -> Option<Spanned<(f64, f64)>> {
    let Expr::Range { low, high, span } = expr else {
        d.push(
            Diagnostic::error(
                Code::TypeMismatch,
                format!("expected a range, found {}", expr.describe()),
            )
            .label(expr.span(), "`range` needs `low..high`")
            .help("write `range = 1..64`"),
        );
        return None;
    };
    if values::typed_value(low, ty, "range", &mut Diagnostics::default())
        .and_then(|v| v.magnitude())
        .is_none()
        && !matches!(ty, ParamType::Int | ParamType::Float | ParamType::Percent)
        && values::quantity_kind(ty).is_none()
    {
        d.push(
            Diagnostic::error(
                Code::ConflictingKeys,
                format!("`range` does not apply to `{ty}` parameters"),
            )
            .label(*span, "a range on a non-numeric parameter")
            .help("remove the range; ranges apply to numbers and quantities"),
        );
        return None;
    }
    let low_value = values::typed_value(low, ty, "range", d)?.magnitude()?;
    let high_value = values::typed_value(high, ty, "range", d)?.magnitude()?;
    if low_value > high_value {
        d.push(
            Diagnostic::error(
                Code::OutOfRange,
                "the range is empty: its low end is above its high end",
            )
            .label(*span, "an empty range")
            .help("write the low end first, e.g. `range = 1..64`"),
        );
        return None;
    }
    Some(Spanned::new((low_value, high_value), *span))
}

fn port(item: &Item, d: &mut Diagnostics) -> Option<Port> {
    let label = item.labels.first()?;
    let name = Spanned::new(label_text(label), label.span());
    let f = Fields::check(
        body_of(item)?,
        PORT,
        format_args!("port `{}`", name.value),
        d,
    );
    let number = match f.attr("port") {
        Some(expr) => values::int(expr, "port", 1, 65535, d)?,
        None => {
            d.push(missing(
                item,
                &format!("port `{}`", name.value),
                "port",
                "port = 8080",
            ));
            return None;
        }
    };
    let protocol = f
        .attr("protocol")
        .and_then(|e| values::choice(e, &Protocol::ALL, "protocol", d))
        .unwrap_or(Spanned::new(Protocol::Tcp, item.key.span));
    let service_port = f
        .attr("service_port")
        .and_then(|e| values::int(e, "service_port", 1, 65535, d))
        .map(|p| Spanned::new(p.value as u16, p.span));
    let publish = f
        .attr("publish")
        .and_then(|e| values::int(e, "publish", 1, 65535, d))
        .map(|p| Spanned::new(p.value as u16, p.span));
    Some(Port {
        name,
        port: Spanned::new(number.value as u16, number.span),
        service_port,
        publish,
        protocol,
        span: item.span,
    })
}

fn requirement(item: &Item, d: &mut Diagnostics) -> Option<Requirement> {
    const REQUIRES: &[Field] = &[
        attr("version"),
        attr("via"),
        attr("latency"),
        attr("bandwidth"),
        attr("ordering"),
    ];
    let label = item.labels.first()?;
    let service = Spanned::new(label_text(label), label.span());
    let any_version = || semver::VersionReq::STAR;
    let Some(body) = body_of(item) else {
        return Some(Requirement {
            version: Spanned::new(any_version(), service.span),
            service,
            via: None,
            latency_ns: None,
            bandwidth_bps: None,
            ordering: true,
            span: item.span,
        });
    };
    let f = Fields::check(
        body,
        REQUIRES,
        format_args!("`requires \"{}\"`", service.value),
        d,
    );
    Some(Requirement {
        version: f
            .attr("version")
            .and_then(|e| values::version_req(e, "version", d))
            .unwrap_or(Spanned::new(any_version(), service.span)),
        via: f.attr("via").and_then(|e| values::string(e, "via", d)),
        latency_ns: f.quantity("latency", QuantityKind::Duration, d),
        bandwidth_bps: f.quantity("bandwidth", QuantityKind::Bandwidth, d),
        ordering: f
            .attr("ordering")
            .and_then(|e| values::bool(e, "ordering", d))
            .unwrap_or(true),
        service,
        span: item.span,
    })
}

fn run(item: &Item, scope: &Scope, d: &mut Diagnostics) -> Option<RunLocal> {
    let label = item.labels.first()?;
    let kind = label_text(label);
    if kind != "local" {
        let help = suggest::did_you_mean(&kind, ["local"]).unwrap_or_else(|| {
            "write `run local { command = [...] }`; containers are given by `image`".to_string()
        });
        d.push(
            Diagnostic::error(Code::UnknownChoice, format!("unknown runner `{kind}`"))
                .label(label.span(), "expected `local`")
                .help(help),
        );
        return None;
    }
    let f = Fields::check(body_of(item)?, RUN_LOCAL, "`run local`", d);
    let command = match f.attr("command") {
        Some(expr) => command(
            expr,
            "command = [\"bin/server\", \"--port\", \"${self.http.port}\"]",
            scope,
            d,
        )
        .unwrap_or_default(),
        None => {
            d.push(missing(
                item,
                "`run local`",
                "command",
                "command = [\"bin/server\"]",
            ));
            Vec::new()
        }
    };
    Some(RunLocal {
        command,
        workdir: f
            .attr("workdir")
            .and_then(|e| template(e, "workdir", scope, d)),
        span: item.span,
    })
}

/// A program and its arguments: a non-empty list of strings with references.
fn command(
    expr: &Expr,
    example: &str,
    scope: &Scope,
    d: &mut Diagnostics,
) -> Option<Vec<Spanned<Template>>> {
    match expr {
        Expr::List(list) if !list.elements.is_empty() => Some(
            list.elements
                .iter()
                .filter_map(|e| template(&e.expr, "command", scope, d))
                .collect(),
        ),
        Expr::Error(_) => None,
        other => {
            d.push(
                Diagnostic::error(
                    Code::TypeMismatch,
                    format!(
                        "expected a non-empty list of strings, found {}",
                        other.describe()
                    ),
                )
                .label(
                    other.span(),
                    "`command` needs the program and its arguments",
                )
                .help(format!("write `{example}`")),
            );
            None
        }
    }
}

fn health(item: &Item, key: &str, scope: &Scope, d: &mut Diagnostics) -> Option<Health> {
    const HEALTH: &[Field] = &[
        attr("tcp"),
        attr("http"),
        attr("grpc"),
        attr("headers"),
        attr("path"),
        attr("command"),
        attr("interval"),
        attr("timeout"),
        attr("initial_delay"),
        attr("failure_threshold"),
        attr("success_threshold"),
    ];
    let context = format!("`{key}`");
    let f = Fields::check(body_of(item)?, HEALTH, &context, d);
    let kinds: Vec<&Item> = ["tcp", "http", "grpc", "command"]
        .iter()
        .filter_map(|k| f.item(k))
        .collect();
    let check = match kinds.as_slice() {
        [] => {
            d.push(missing(
                item,
                &context,
                "tcp",
                "tcp = \"http\"` (a port name), `http = \"http\"`, `grpc = \"grpc\"` or `command = [...]",
            ));
            return None;
        }
        [one] => {
            let port_of = |key: &str, d: &mut Diagnostics| {
                let name = f.attr(key).and_then(|e| values::string(e, key, d))?;
                own_port(&name.value, name.span, scope, d)?;
                Some(name)
            };
            match one.key.name.as_str() {
                "tcp" => HealthCheck::Tcp {
                    port: port_of("tcp", d)?,
                },
                "grpc" => HealthCheck::Grpc {
                    port: port_of("grpc", d)?,
                },
                "http" => HealthCheck::Http {
                    port: port_of("http", d)?,
                    path: f
                        .attr("path")
                        .and_then(|e| values::string(e, "path", d))
                        .map_or_else(|| "/".to_string(), |p| p.value),
                },
                _ => {
                    let expr = f.attr("command")?;
                    HealthCheck::Command {
                        command: command(expr, "command = [\"pg_isready\"]", scope, d)?,
                    }
                }
            }
        }
        [first, second, ..] => {
            d.push(
                Diagnostic::error(
                    Code::ConflictingKeys,
                    format!(
                        "`{key}` has both `{}` and `{}`",
                        first.key.name, second.key.name
                    ),
                )
                .label(second.key.span, "a second kind of check")
                .label(first.key.span, "the first kind of check")
                .help("keep one check: `tcp`, `http`, `grpc` or `command`"),
            );
            return None;
        }
    };
    for only_http in ["path", "headers"] {
        if let Some(found) = f.item(only_http)
            && !matches!(check, HealthCheck::Http { .. })
        {
            d.push(
                Diagnostic::error(
                    Code::ConflictingKeys,
                    format!("`{only_http}` applies only to `http` checks"),
                )
                .label(
                    found.key.span,
                    format!("`{only_http}` without an `http` check"),
                )
                .help(format!("remove `{only_http}`, or check over `http`")),
            );
        }
    }
    if key == "liveness"
        && let Some(found) = f.item("success_threshold")
    {
        d.push(
            Diagnostic::error(
                Code::ConflictingKeys,
                "a liveness check passes after one success",
            )
            .label(found.key.span, "a success threshold on `liveness`")
            .help("remove `success_threshold` here; set it on `health`, the readiness check"),
        );
    }
    Some(Health {
        check,
        interval_ns: f
            .quantity("interval", QuantityKind::Duration, d)
            .map(|v| v.value),
        timeout_ns: f
            .quantity("timeout", QuantityKind::Duration, d)
            .map(|v| v.value),
        initial_delay_ns: f
            .quantity("initial_delay", QuantityKind::Duration, d)
            .map(|v| v.value),
        failure_threshold: f
            .attr("failure_threshold")
            .and_then(|e| values::int(e, "failure_threshold", 1, 100, d))
            .map(|v| v.value as u32),
        success_threshold: f
            .attr("success_threshold")
            .and_then(|e| values::int(e, "success_threshold", 1, 100, d))
            .map(|v| v.value as u32),
        headers: f
            .attr("headers")
            .map(|e| values::string_map(e, "headers", d))
            .unwrap_or_default()
            .into_iter()
            .filter(|(name, value)| {
                if !value.chars().any(char::is_control) {
                    return true;
                }
                d.push(
                    Diagnostic::error(
                        Code::TypeMismatch,
                        format!("the value of header `{name}` holds a control character"),
                    )
                    .label(
                        f.attr("headers").map_or(item.span, |e| e.span()),
                        "in these headers",
                    )
                    .help("write the header's value on one line, without control characters"),
                );
                false
            })
            .collect(),
        span: item.span,
    })
}

fn config(body: &crate::syntax::ast::Body, scope: &Scope, d: &mut Diagnostics) -> Config {
    let f = Fields::check(body, CONFIG, "`config`", d);
    let entry = |item: &Item, d: &mut Diagnostics| {
        let label = item.labels.first()?;
        let ItemKind::Attribute(expr) = &item.kind else {
            return None;
        };
        let key = Spanned::new(label_text(label), label.span());
        let value = config_value(expr, &key.value, scope, d)?;
        Some(ConfigEntry { key, value })
    };
    let env = f.all("env").filter_map(|item| entry(item, d)).collect();
    let files = f.all("file").filter_map(|item| entry(item, d)).collect();
    let list = |key: &str, example: &str, d: &mut Diagnostics| match f.attr(key) {
        Some(Expr::List(list)) => list
            .elements
            .iter()
            .filter_map(|e| config_value(&e.expr, key, scope, d))
            .collect(),
        Some(Expr::Error(_)) | None => Vec::new(),
        Some(other) => {
            d.push(
                Diagnostic::error(
                    Code::TypeMismatch,
                    format!("expected a list, found {}", other.describe()),
                )
                .label(other.span(), format!("`{key}` needs a list"))
                .help(format!("write `{key} = {example}`")),
            );
            Vec::new()
        }
    };
    let args = list("args", "[\"--workers\", param.workers]", d);
    let command = list("command", "[\"/usr/bin/app\", \"serve\"]", d);
    if let (Some(item), true) = (f.item("command"), command.is_empty())
        && matches!(&item.kind, ItemKind::Attribute(Expr::List(l)) if l.elements.is_empty())
    {
        d.push(
            Diagnostic::error(Code::TypeMismatch, "`command` is empty")
                .label(item.span, "an empty command")
                .help("name the program to run, e.g. `command = [\"/usr/bin/app\"]`, or remove `command` to run the image's entrypoint"),
        );
    }
    Config {
        env,
        files,
        args,
        command,
    }
}

fn config_value(
    expr: &Expr,
    key: &str,
    scope: &Scope,
    d: &mut Diagnostics,
) -> Option<Spanned<ConfigValue>> {
    let span = expr.span();
    let value = match expr {
        Expr::String(_) => ConfigValue::Text {
            template: template(expr, key, scope, d)?.value,
        },
        // A quantity reaches the service as written: `30s`, `512Mi`.
        Expr::Number(n) if !n.unit.is_empty() => ConfigValue::Text {
            template: Template::literal(n.raw.clone()),
        },
        Expr::Number(_) | Expr::Bool(..) | Expr::Unary { .. } => {
            let value = match expr {
                Expr::Bool(b, _) => svcmodel_model::Value::Bool(*b),
                _ => values::number(expr, key, d)?,
            };
            ConfigValue::Value { value }
        }
        Expr::Path(path) => match reference(path, span, scope, d)? {
            Reference::Param { name, .. } => ConfigValue::Param { name },
            other => ConfigValue::Text {
                template: Template {
                    parts: vec![TemplatePart::Reference(other)],
                },
            },
        },
        Expr::Call { callee, args, span } if callee.name == "template" => match args.as_slice() {
            [arg] => ConfigValue::TemplateFile {
                path: values::string(arg, "template", d)?.value,
            },
            _ => {
                d.push(
                    Diagnostic::error(Code::TypeMismatch, "`template` takes one file name")
                        .label(*span, "wrong number of arguments")
                        .help("write `template(\"app.conf.hbs\")`, a file next to this one"),
                );
                return None;
            }
        },
        Expr::Call { callee, .. } => {
            let help = suggest::did_you_mean(&callee.name, ["template"]).unwrap_or_else(|| {
                "the only function here is `template(\"file.hbs\")`".to_string()
            });
            d.push(
                Diagnostic::error(
                    Code::UnknownKey,
                    format!("unknown function `{}`", callee.name),
                )
                .label(callee.span, "not a function")
                .help(help),
            );
            return None;
        }
        Expr::Error(_) => return None,
        other => {
            d.push(
                Diagnostic::error(
                    Code::TypeMismatch,
                    format!(
                        "expected a string, number or reference, found {}",
                        other.describe()
                    ),
                )
                .label(other.span(), format!("`{key}` cannot take this"))
                .help("write a string, a number, `param.NAME` or `template(\"file.hbs\")`"),
            );
            return None;
        }
    };
    Some(Spanned::new(value, span))
}

/// A string whose `${...}` references are checked.
pub(super) fn template(
    expr: &Expr,
    key: &str,
    scope: &Scope,
    d: &mut Diagnostics,
) -> Option<Spanned<Template>> {
    let Expr::String(StringLit { parts, span, .. }) = expr else {
        if !matches!(expr, Expr::Error(_)) {
            d.push(
                Diagnostic::error(
                    Code::TypeMismatch,
                    format!("expected a string, found {}", expr.describe()),
                )
                .label(expr.span(), format!("`{key}` needs a string"))
                .help(
                    "put the value in double quotes; write references inside it as `${param.name}`",
                ),
            );
        }
        return None;
    };
    let mut out = Vec::new();
    for part in parts {
        match part {
            StrPart::Text(text) => out.push(TemplatePart::Literal(text.clone())),
            StrPart::Interpolation { path, span } => {
                if let Some(r) = reference(path, *span, scope, d) {
                    out.push(TemplatePart::Reference(r));
                }
            }
        }
    }
    // A broken reference is reported and left out; the rest of the string is kept, so
    // the other references in it are still checked against the services they name.
    Some(Spanned::new(Template { parts: out }, *span))
}

fn own_port<'a>(name: &str, span: Span, scope: &'a Scope, d: &mut Diagnostics) -> Option<&'a Port> {
    let found = scope.ports.iter().find(|p| p.name.value == name);
    if found.is_none() {
        let help = suggest::did_you_mean(name, scope.ports.iter().map(|p| p.name.value.as_str()))
            .unwrap_or_else(|| {
                if scope.ports.is_empty() {
                    format!("declare the port: `provides \"{name}\" {{ port = 8080 }}`")
                } else {
                    let names: Vec<String> = scope
                        .ports
                        .iter()
                        .map(|p| format!("`{}`", p.name.value))
                        .collect();
                    format!("use one of this service's ports: {}", names.join(", "))
                }
            });
        d.push(
            Diagnostic::error(
                Code::UnknownPort,
                format!("this service provides no port `{name}`"),
            )
            .label(span, "no such port")
            .help(help),
        );
    }
    found
}

fn port_field(ident: &Ident, d: &mut Diagnostics) -> Option<PortField> {
    let found = PortField::ALL
        .into_iter()
        .find(|f| f.as_str() == ident.name);
    if found.is_none() {
        let help = suggest::did_you_mean(&ident.name, PortField::ALL.iter().map(|f| f.as_str()))
            .unwrap_or_else(|| "use `host`, `port`, `url` or `address`".to_string());
        d.push(
            Diagnostic::error(
                Code::InvalidReference,
                format!("a port has no `{}`", ident.name),
            )
            .label(ident.span, "expected `host`, `port`, `url` or `address`")
            .help(help),
        );
    }
    found
}

/// Resolves a dotted path used as a reference inside a service.
pub(super) fn reference(
    path: &[Ident],
    span: Span,
    scope: &Scope,
    d: &mut Diagnostics,
) -> Option<Reference> {
    let names: Vec<&str> = path.iter().map(|i| i.name.as_str()).collect();
    match names.as_slice() {
        ["param", name] | ["self", "param", name] => {
            let ident = path.last()?;
            if scope.params.iter().any(|p| p.name.value == *name) {
                return Some(Reference::Param {
                    name: name.to_string(),
                    span,
                });
            }
            if scope.broken_params.iter().any(|p| p == name) {
                // Its declaration's own error says what to fix.
                return None;
            }
            let help =
                suggest::did_you_mean(name, scope.params.iter().map(|p| p.name.value.as_str()))
                    .unwrap_or_else(|| {
                        format!("declare it: `param \"{name}\" {{ type = string }}`")
                    });
            d.push(
                Diagnostic::error(
                    Code::UnknownParam,
                    format!("this service has no parameter `{name}`"),
                )
                .label(ident.span, "no such parameter")
                .help(help),
            );
            None
        }
        ["version"] | ["self", "version"] => Some(Reference::OwnVersion { span }),
        ["self", "name"] => Some(Reference::OwnName { span }),
        ["self", "dir"] => Some(Reference::OwnDir { span }),
        ["const", name] => Some(Reference::Const {
            name: name.to_string(),
            span,
        }),
        ["environment", "name"] => Some(Reference::EnvironmentName { span }),
        ["environment", "namespace"] => Some(Reference::EnvironmentNamespace { span }),
        ["self", port, _] => {
            own_port(port, path[1].span, scope, d)?;
            let field = port_field(&path[2], d)?;
            Some(Reference::OwnPort {
                port: port.to_string(),
                field,
                span,
            })
        }
        [service, port, _] => {
            let field = port_field(&path[2], d)?;
            Some(Reference::Port {
                service: service.to_string(),
                port: port.to_string(),
                field,
                span,
            })
        }
        _ => {
            let shown = names.join(".");
            let help = match names.as_slice() {
                ["environment", _] => {
                    "write `environment.name` or `environment.namespace`".to_string()
                }
                [service] | [service, _] if !matches!(*service, "self" | "param") => {
                    format!(
                        "name a port and what of it: `{}.PORT.host`, `.port` or `.url`",
                        service
                    )
                }
                ["param"] => "name the parameter: `param.NAME`".to_string(),
                ["const", ..] => "name the constant: `const.NAME`".to_string(),
                _ => "write `param.NAME`, `self.PORT.port`, `SERVICE.PORT.host` or `version`"
                    .to_string(),
            };
            d.push(
                Diagnostic::error(
                    Code::InvalidReference,
                    format!("`{shown}` is not a reference svcmodel knows"),
                )
                .label(span, "an incomplete or unknown reference")
                .help(help),
            );
            None
        }
    }
}

/// `resources { cpu, memory, cpu_limit, memory_limit }`: requests and limits. A limit
/// below its request could never be honoured, so it is an error.
fn resources(body: &crate::syntax::ast::Body, d: &mut Diagnostics) -> Resources {
    let r = Fields::check(body, RESOURCES, "`resources`", d);
    let resources = Resources {
        millicpu: r.quantity("cpu", QuantityKind::Cpu, d),
        memory_bytes: r.quantity("memory", QuantityKind::Size, d),
        millicpu_limit: r.quantity("cpu_limit", QuantityKind::Cpu, d),
        memory_limit_bytes: r.quantity("memory_limit", QuantityKind::Size, d),
    };
    let pairs = [
        ("cpu", &resources.millicpu, &resources.millicpu_limit),
        (
            "memory",
            &resources.memory_bytes,
            &resources.memory_limit_bytes,
        ),
    ];
    for (key, request, limit) in pairs {
        if let (Some(request), Some(limit)) = (request, limit)
            && limit.value < request.value
        {
            d.push(
                Diagnostic::error(
                    Code::OutOfRange,
                    format!("the `{key}_limit` is below the `{key}` request"),
                )
                .label(limit.span, "this limit")
                .label(request.span, "is lower than this request")
                .help(format!(
                    "raise `{key}_limit` to at least the request, or lower `{key}`"
                )),
            );
        }
    }
    resources
}

/// An absolute path without `..`: where a folder is mounted into the service.
fn mount_path(
    text: Spanned<String>,
    key: &str,
    example: &str,
    d: &mut Diagnostics,
) -> Option<Spanned<String>> {
    if text.value.starts_with('/') && !text.value.split('/').any(|part| part == "..") {
        return Some(text);
    }
    d.push(
        Diagnostic::error(
            Code::TypeMismatch,
            format!(
                "`{key}` must be an absolute path without `..`, not `{}`",
                text.value
            ),
        )
        .label(text.span, "not an absolute path")
        .help(format!(
            "write the folder inside the service, e.g. `{example}`"
        )),
    );
    None
}

/// `scratch "PATH"` or `scratch "PATH" { size = 64Mi, memory = true }`.
fn scratch_folders(f: &Fields, d: &mut Diagnostics) -> Vec<Scratch> {
    f.all("scratch")
        .filter_map(|item| {
            let label = item.labels.first()?;
            let path = mount_path(
                Spanned::new(label_text(label), label.span()),
                "scratch",
                "scratch \"/var/cache/app\"",
                d,
            )?;
            let (size_bytes, memory) = match body_of(item) {
                Some(body) => {
                    let s =
                        Fields::check(body, SCRATCH, format_args!("scratch `{}`", path.value), d);
                    (
                        s.quantity("size", QuantityKind::Size, d),
                        s.attr("memory")
                            .and_then(|e| values::bool(e, "memory", d))
                            .unwrap_or(false),
                    )
                }
                None => (None, false),
            };
            Some(Scratch {
                path,
                size_bytes,
                memory,
                span: item.span,
            })
        })
        .collect()
}

/// Linux capabilities a service may add back (capabilities(7)), without `CAP_`.
const CAPABILITIES: &[&str] = &[
    "AUDIT_CONTROL",
    "AUDIT_READ",
    "AUDIT_WRITE",
    "BLOCK_SUSPEND",
    "BPF",
    "CHECKPOINT_RESTORE",
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "IPC_LOCK",
    "IPC_OWNER",
    "KILL",
    "LEASE",
    "LINUX_IMMUTABLE",
    "MAC_ADMIN",
    "MAC_OVERRIDE",
    "MKNOD",
    "NET_ADMIN",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_RAW",
    "PERFMON",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYSLOG",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_CHROOT",
    "SYS_MODULE",
    "SYS_NICE",
    "SYS_PACCT",
    "SYS_PTRACE",
    "SYS_RAWIO",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "WAKE_ALARM",
];

/// `security { user, group, capabilities, allow_root, writable_root }`. Each hardened
/// default is given up only with a reason, which the rendered files carry.
fn security(item: &Item, body: &crate::syntax::ast::Body, d: &mut Diagnostics) -> Security {
    let f = Fields::check(body, SECURITY, "`security`", d);
    let id = |key: &str, d: &mut Diagnostics| {
        f.attr(key)
            .and_then(|e| values::int(e, key, 0, i64::from(u32::MAX), d))
            .map(|v| Spanned::new(v.value as u32, v.span))
    };
    let reason = |key: &str, d: &mut Diagnostics| {
        let text = f.attr(key).and_then(|e| values::string(e, key, d))?;
        if text.value.trim().is_empty() {
            d.push(
                Diagnostic::error(Code::TypeMismatch, format!("`{key}` needs a reason"))
                    .label(text.span, "an empty reason")
                    .help(format!(
                        "say why the service needs it, e.g. `{key} = \"the image's entrypoint starts as root, then drops to its own user\"`"
                    )),
            );
            return None;
        }
        Some(text)
    };
    let capabilities = f
        .attr("capabilities")
        .map(|e| values::strings(e, "capabilities", d))
        .unwrap_or_default()
        .into_iter()
        .filter_map(|cap| {
            let name = cap.value.strip_prefix("CAP_").unwrap_or(&cap.value);
            if CAPABILITIES.contains(&name) {
                return Some(Spanned::new(name.to_string(), cap.span));
            }
            let help =
                suggest::did_you_mean(&name.to_ascii_uppercase(), CAPABILITIES.iter().copied())
                    .unwrap_or_else(|| {
                        "name a Linux capability, e.g. `\"NET_BIND_SERVICE\"` (capabilities(7))"
                            .to_string()
                    });
            d.push(
                Diagnostic::error(
                    Code::UnknownChoice,
                    format!("`{}` is not a Linux capability", cap.value),
                )
                .label(cap.span, "not a capability")
                .help(help),
            );
            None
        })
        .collect();
    let security = Security {
        user: id("user", d),
        group: id("group", d),
        capabilities,
        allow_root: reason("allow_root", d),
        writable_root: reason("writable_root", d),
        span: Some(item.span),
    };
    if let (None, Some(group)) = (&security.user, &security.group) {
        d.push(
            Diagnostic::error(Code::MissingKey, "`group` is given without a `user`")
                .label(group.span, "a group alone")
                .help("add the user the service runs as: `user = 1000`"),
        );
    }
    if let (Some(user), None) = (&security.user, &security.allow_root)
        && user.value == 0
    {
        d.push(
            Diagnostic::error(
                Code::ConflictingKeys,
                "`user = 0` is root, and the service may not run as root",
            )
            .label(user.span, "the root user")
            .help("run as another user, or say why it must be root: `allow_root = \"...\"`"),
        );
    }
    security
}

/// Every `KEY "LABEL" = "text"` of a block: the item's span, its label, the label's
/// text and the value, for values that are plain strings (anything else is reported).
fn labelled_strings<'f>(
    f: &'f Fields,
    key: &'static str,
    d: &mut Diagnostics,
) -> Vec<(Span, &'f crate::syntax::ast::Label, String, Spanned<String>)> {
    f.all(key)
        .filter_map(|item| {
            let (Some(label), ItemKind::Attribute(expr)) = (item.labels.first(), &item.kind) else {
                return None;
            };
            let value = values::string(expr, key, d)?;
            Some((item.span, label, label_text(label), value))
        })
        .collect()
}

/// `annotation "prometheus.io/scrape" = "true"`: a key in the Kubernetes form
/// (`[PREFIX/]NAME`), outside the prefixes svcmodel writes itself.
fn annotations(f: &Fields, d: &mut Diagnostics) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    for (_, label, key, value) in labelled_strings(f, "annotation", d) {
        if let Err(why) = annotation_key(&key) {
            d.push(
                Diagnostic::error(Code::TypeMismatch, format!("`{}` is not an annotation key", key.escape_debug()))
                    .label(label.span(), why)
                    .help("write `NAME` or `PREFIX/NAME`: a DNS name as prefix, and a name of letters, digits, `-`, `_` and `.`, e.g. `prometheus.io/scrape`"),
            );
            continue;
        }
        if key.starts_with("svcmodel.io/") || key.starts_with("app.kubernetes.io/") {
            d.push(
                Diagnostic::error(
                    Code::ConflictingKeys,
                    format!("svcmodel writes `{key}` itself"),
                )
                .label(label.span(), "a key svcmodel sets")
                .help("choose a key outside the `svcmodel.io/` and `app.kubernetes.io/` prefixes"),
            );
            continue;
        }
        out.insert(key, value.value);
    }
    out
}

/// `node_label "disktype" = "ssd"`, repeatable: label keys as Kubernetes qualifies
/// them, values as its label values (what Swarm and Nomad constraints can hold too).
fn node_selector(
    f: &Fields,
    d: &mut Diagnostics,
) -> Option<Spanned<std::collections::BTreeMap<String, String>>> {
    let mut map = std::collections::BTreeMap::new();
    let mut first = None;
    for (span, label, key, value) in labelled_strings(f, "node_label", d) {
        if let Err(why) = annotation_key(&key) {
            d.push(
                Diagnostic::error(Code::TypeMismatch, format!("`{}` is not a node label key", key.escape_debug()))
                    .label(label.span(), why)
                    .help("write `NAME` or `PREFIX/NAME`, as Kubernetes names node labels, e.g. `topology.kubernetes.io/zone`"),
            );
            continue;
        }
        if let Err(why) = label_value(&value.value) {
            d.push(
                Diagnostic::error(
                    Code::TypeMismatch,
                    format!("`{}` is not a node label value", value.value.escape_debug()),
                )
                .label(value.span, why)
                .help("write a value such as `ssd` or `eu-1a`"),
            );
            continue;
        }
        first.get_or_insert(span);
        map.insert(key, value.value);
    }
    first.map(|span| Spanned::new(map, span))
}

/// A Kubernetes label value: at most 63 of `[A-Za-z0-9._-]`, starting and ending with
/// a letter or digit, or empty.
fn label_value(value: &str) -> Result<(), &'static str> {
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if value.is_empty() {
        return Ok(());
    }
    if value.len() > 63
        || !alnum(value.chars().next())
        || !alnum(value.chars().last())
        || !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(
            "a value must be at most 63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit",
        );
    }
    Ok(())
}

/// Kubernetes' qualified names: `[DNS-SUBDOMAIN/]NAME`, NAME 1 to 63 of
/// `[A-Za-z0-9._-]` starting and ending alphanumeric.
fn annotation_key(key: &str) -> Result<(), &'static str> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if name.is_empty()
        || name.len() > 63
        || !alnum(name.chars().next())
        || !alnum(name.chars().last())
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(
            "the name must be 1 to 63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit",
        );
    }
    if let Some(prefix) = prefix {
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if prefix.is_empty() || prefix.len() > 253 || !prefix.split('.').all(label_ok) {
            return Err("the prefix must be a lowercase DNS name, e.g. `prometheus.io`");
        }
    }
    Ok(())
}

/// `variant "v2" { image = "...", replicas = 2 }`: a workload of the service that
/// differs in what it runs and how many.
fn variant(item: &Item, scope: &Scope, d: &mut Diagnostics) -> Option<Variant> {
    const VARIANT: &[Field] = &[attr("image"), attr("replicas")];
    let label = item.labels.first()?;
    let name = Spanned::new(label_text(label), label.span());
    let valid = !name.value.is_empty()
        && name.value.len() <= 20
        && name
            .value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.value.starts_with('-')
        && !name.value.ends_with('-');
    if !valid {
        d.push(
            Diagnostic::error(Code::UnsafeName, format!("`{}` cannot name a variant", name.value.escape_debug()))
                .label(name.span, "not a variant name")
                .help("name it with 1 to 20 lowercase letters, digits and `-`, e.g. `v2` or `canary`: it becomes part of workload names"),
        );
        return None;
    }
    let f = Fields::check(
        body_of(item)?,
        VARIANT,
        format_args!("variant `{}`", name.value),
        d,
    );
    Some(Variant {
        image: f.attr("image").and_then(|e| template(e, "image", scope, d)),
        replicas: f
            .attr("replicas")
            .and_then(|e| values::int(e, "replicas", 1, 10_000, d))
            .map(|v| Spanned::new(v.value as u32, v.span)),
        name,
        span: item.span,
    })
}
