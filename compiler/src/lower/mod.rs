//! Lowering: syntax trees to the [`Model`], with every check that needs no resolution.
//!
//! Input: the parsed files. Output: a [`Model`] and diagnostics. Algorithm: two passes.
//! The first lowers each declaration on its own (keys, types, units, ranges, names inside
//! one service); the second checks what crosses declarations (required services, ports
//! of other services, links, policy targets, duplicates across files).

mod fields;
mod policy;
mod references;
mod service;
pub mod values;

use std::collections::HashSet;

use rustc_hash::FxHashMap;
use svcmodel_model::{
    Capacity, CostRates, Environment, FailureDomainKind, Link, Model, QuantityKind, ServiceLevel,
    Span, Spanned, System,
};

use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::suggest;
use crate::syntax::ast::{self, Expr, Item};
use fields::{
    Field, Fields, attr, block, body_of, label_text, labeled_attr, labeled_bare, labeled_block,
};

/// Schemas of small blocks and maps.
const CPU_MEMORY: &[Field] = &[attr("cpu"), attr("memory")];
const COST: &[Field] = &[
    attr("cpu_hour"),
    attr("memory_gib_hour"),
    attr("storage_gib_month"),
    attr("egress_gib"),
    attr("move_replica"),
];
const LINK: &[Field] = &[attr("latency"), attr("bandwidth")];

/// The built-in deployment targets an environment may name.
pub const TARGETS: &[&str] = &[
    "kubernetes",
    "compose",
    "swarm",
    "nomad",
    "systemd",
    "local",
];

const TOP_LEVEL: &[fields::Field] = &[
    labeled_bare("import"),
    labeled_block("system"),
    labeled_block("environment"),
    labeled_block("service"),
    labeled_block("policy"),
    labeled_attr("const"),
];

/// Lowers the declarations of one file on their own (the first pass). Services are
/// marked imported or not by [`finish`], once loading knows which files are entries.
pub fn lower_file(file: &ast::File, diagnostics: &mut Diagnostics) -> Model {
    lower_files(
        std::slice::from_ref(file),
        &std::collections::HashSet::new(),
        diagnostics,
    )
}

/// Joins the files' parts in load order and runs the second pass: duplicates across
/// files and references that cross declarations.
pub fn finish(
    parts: Vec<Model>,
    entry_files: &std::collections::HashSet<svcmodel_model::FileId>,
    diagnostics: &mut Diagnostics,
) -> Model {
    // Sized once: services are large, and growing the vector would copy them again
    // and again on big models.
    let mut model = Model {
        services: Vec::with_capacity(parts.iter().map(|p| p.services.len()).sum()),
        ..Model::default()
    };
    for part in parts {
        model.systems.extend(part.systems);
        model.environments.extend(part.environments);
        model.services.extend(part.services);
        model.policies.extend(part.policies);
        model.constants.extend(part.constants);
    }
    for service in &mut model.services {
        service.imported = !entry_files.contains(&service.span.file);
    }
    // Two independent read-only checks: one on each core.
    let found = std::thread::scope(|scope| {
        let duplicates = scope.spawn(|| {
            let mut d = Diagnostics::default();
            check_duplicates(&model, &mut d);
            d.into_vec()
        });
        let mut d = Diagnostics::default();
        references::check(&model, &mut d);
        let mut found = d.into_vec();
        found.extend(duplicates.join().unwrap_or_default());
        found
    });
    diagnostics.extend(found);
    model
}

/// Lowers parsed files in one go (tests and tools that parse themselves).
pub fn lower(
    files: &[ast::File],
    entry_files: &std::collections::HashSet<svcmodel_model::FileId>,
    diagnostics: &mut Diagnostics,
) -> Model {
    let parts = files.iter().map(|f| lower_file(f, diagnostics)).collect();
    finish(parts, entry_files, diagnostics)
}

fn lower_files(
    files: &[ast::File],
    entry_files: &std::collections::HashSet<svcmodel_model::FileId>,
    diagnostics: &mut Diagnostics,
) -> Model {
    let mut model = Model::default();
    for file in files {
        // Top-level keys repeat across a file (many services), so only unknown keys and
        // wrong forms are checked here; duplicates are checked by name below.
        for item in &file.body.items {
            let Some(field) = TOP_LEVEL.iter().find(|f| f.key == item.key.name) else {
                let help = suggest::did_you_mean(&item.key.name, TOP_LEVEL.iter().map(|f| f.key))
                    .unwrap_or_else(|| "start a declaration with `system`, `environment`, `service`, `policy`, `const` or `import`".to_string());
                diagnostics.push(
                    Diagnostic::error(
                        Code::UnknownKey,
                        format!("unknown key `{}` at the top of a file", item.key.name),
                    )
                    .label(item.key.span, "not a declaration")
                    .help(help),
                );
                continue;
            };
            if !fields::form_ok(item, field, diagnostics) {
                continue;
            }
            if item.key.name == "import" {
                let path = match item.labels.first() {
                    Some(ast::Label::String(s)) => s.as_plain().filter(|p| !p.trim().is_empty()),
                    _ => None,
                };
                if path.is_none() {
                    diagnostics.push(
                        Diagnostic::error(
                            Code::TypeMismatch,
                            "an import needs a path in double quotes",
                        )
                        .label(item.label_span(), "not a usable path")
                        .help("write `import \"../catalog\"` or `import \"postgres.svc\"`"),
                    );
                }
                continue;
            }
            let name = match item.labels.first() {
                Some(ast::Label::String(s)) => match s.as_plain() {
                    Some(text) if !text.trim().is_empty() => Spanned::new(text, s.span),
                    _ => {
                        diagnostics.push(
                            Diagnostic::error(
                                Code::TypeMismatch,
                                format!("a {} needs a plain, non-empty name", item.key.name),
                            )
                            .label(s.span, "not a usable name")
                            .help(format!(
                                "name it with a plain string: `{} \"orders\" {{ ... }}`",
                                item.key.name
                            )),
                        );
                        continue;
                    }
                },
                Some(ast::Label::Ident(i)) => Spanned::new(i.name.clone(), i.span),
                None => continue,
            };
            if matches!(item.key.name.as_str(), "service" | "environment")
                && let Err(why) = svcmodel_model::names::check_path_safe(&name.value)
            {
                diagnostics.push(
                    Diagnostic::error(
                        Code::UnsafeName,
                        format!(
                            "{} name `{}` cannot be used as a file name: {why}",
                            item.key.name, name.value
                        ),
                    )
                    .label(name.span, "names a file or folder when deployed")
                    .help(format!(
                        "name the {} with letters, digits, `-`, `_` and `.`, starting with a letter or digit, e.g. `{}`",
                        item.key.name,
                        svcmodel_model::names::suggest_path_safe(&name.value)
                    )),
                );
                continue;
            }
            match item.key.name.as_str() {
                "import" => {}
                "system" => model.systems.extend(system(item, name, diagnostics)),
                "environment" => model
                    .environments
                    .extend(environment(item, name, diagnostics)),
                "service" => model
                    .services
                    .extend(service::lower(item, name, diagnostics).map(|s| {
                        Box::new(svcmodel_model::Service {
                            imported: !entry_files.contains(&file.id),
                            ..s
                        })
                    })),
                "policy" => model
                    .policies
                    .extend(policy::lower(item, name, diagnostics)),
                "const" => model.constants.extend(constant(item, name, diagnostics)),
                _ => {}
            }
        }
    }
    model
}

fn check_duplicates(model: &Model, d: &mut Diagnostics) {
    fn report(kind: &str, name: &str, first: Span, again: Span, d: &mut Diagnostics) {
        d.push(
            Diagnostic::error(
                Code::DuplicateDeclaration,
                format!("{kind} `{name}` is declared twice"),
            )
            .label(again, "declared again here")
            .label(first, "first declared here")
            .help(format!(
                "rename or remove one of them; each {kind} needs its own name"
            )),
        );
    }
    let mut seen: FxHashMap<String, Span> = FxHashMap::default();
    for e in &model.environments {
        if let Some(first) = seen.insert(e.name.value.clone(), e.name.span) {
            report("environment", &e.name.value, first, e.name.span, d);
        }
    }
    seen.clear();
    for c in &model.constants {
        if let Some(first) = seen.insert(c.name.value.clone(), c.name.span) {
            report("constant", &c.name.value, first, c.name.span, d);
        }
    }
    seen.clear();
    for p in &model.policies {
        if let Some(first) = seen.insert(p.name.value.clone(), p.name.span) {
            report("policy", &p.name.value, first, p.name.span, d);
        }
    }
    if let [first, rest @ ..] = model.systems.as_slice() {
        for again in rest {
            d.push(
                Diagnostic::error(Code::DuplicateDeclaration, format!("a second system `{}` is declared", again.name.value))
                    .label(again.name.span, "declared again here")
                    .label(first.name.span, "the model's system is declared here")
                    .help("declare one `system` per model; split unrelated systems into separate projects"),
            );
        }
    }
    let mut versions: FxHashMap<(&str, &semver::Version), Span> =
        FxHashMap::with_capacity_and_hasher(model.services.len(), Default::default());
    for s in &model.services {
        if let Some(first) = versions.insert((s.name.value.as_str(), &s.version.value), s.name.span)
        {
            d.push(
                Diagnostic::error(
                    Code::DuplicateDeclaration,
                    format!("service `{}` version {} is declared twice", s.name.value, s.version.value),
                )
                .label(s.name.span, "declared again here")
                .label(first, "first declared here")
                .help("remove one of them, or give them different versions if the catalog is meant to hold both"),
            );
        }
    }
}

fn system(item: &Item, name: Spanned<String>, d: &mut Diagnostics) -> Option<System> {
    const SCHEMA: &[fields::Field] = &[attr("description"), attr("entrypoints"), block("slo")];
    let context = format!("system `{}`", name.value);
    let f = Fields::check(body_of(item)?, SCHEMA, &context, d);
    let slo = f.item("slo").and_then(body_of).map(|body| {
        const SLO: &[fields::Field] = &[attr("availability"), attr("latency")];
        let s = Fields::check(body, SLO, "`slo`", d);
        ServiceLevel {
            availability: s
                .attr("availability")
                .and_then(|e| values::percent(e, "availability", d)),
            latency_ns: s.quantity("latency", QuantityKind::Duration, d),
        }
    });
    Some(System {
        description: f
            .attr("description")
            .and_then(|e| values::string(e, "description", d))
            .map(|s| s.value),
        entrypoints: f
            .attr("entrypoints")
            .map(|e| values::strings(e, "entrypoints", d))
            .unwrap_or_default(),
        slo,
        name,
        span: item.span,
    })
}

/// `const "NAME" = value`: a string without references, a number, a quantity or a
/// boolean, kept as the text a service receives.
fn constant(
    item: &Item,
    name: Spanned<String>,
    d: &mut Diagnostics,
) -> Option<svcmodel_model::Constant> {
    let ast::ItemKind::Attribute(expr) = &item.kind else {
        return None;
    };
    if !name
        .value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        || name
            .value
            .starts_with(|c: char| c.is_ascii_digit() || c == '-')
    {
        d.push(
            Diagnostic::error(
                Code::TypeMismatch,
                format!(
                    "the constant `{}` cannot be referred to by its name",
                    name.value
                ),
            )
            .label(name.span, "not a name `const.NAME` can hold")
            .help("name it with letters, digits, `_` and `-`, starting with a letter or `_`"),
        );
        return None;
    }
    let text = match expr {
        Expr::String(_) => values::string(expr, "const", d)?.value,
        Expr::Number(n) if !n.unit.is_empty() => n.raw.clone(),
        Expr::Bool(b, _) => b.to_string(),
        Expr::Number(_) | Expr::Unary { .. } => match values::number(expr, "const", d)? {
            svcmodel_model::Value::Int(whole) => whole.to_string(),
            svcmodel_model::Value::Float(float) => float.to_string(),
            _ => return None,
        },
        Expr::Error(_) => return None,
        other => {
            d.push(
                values::mismatch(other, "a string, number or boolean", "const")
                    .help("write the value itself: `const \"JVM_OPTS\" = \"-Xmx512m\"`"),
            );
            return None;
        }
    };
    Some(svcmodel_model::Constant {
        name,
        value: Spanned::new(text, expr.span()),
    })
}

fn environment(item: &Item, name: Spanned<String>, d: &mut Diagnostics) -> Option<Environment> {
    const SCHEMA: &[fields::Field] = &[
        attr("description"),
        attr("target"),
        attr("provider"),
        attr("jurisdiction"),
        attr("region"),
        attr("tier"),
        attr("address"),
        attr("context"),
        attr("failure_domains"),
        attr("out_of_service"),
        attr("capacity"),
        attr("cost"),
        attr("labels"),
        labeled_block("link"),
    ];
    let context = format!("environment `{}`", name.value);
    let f = Fields::check(body_of(item)?, SCHEMA, &context, d);
    let text = |key: &str, d: &mut Diagnostics| f.attr(key).and_then(|e| values::string(e, key, d));
    // Whether the target exists is checked once the project is known
    // ([`check_targets`]): a project may add its own under `templates/`.
    let target = match f.attr("target") {
        Some(expr) => values::string(expr, "target", d),
        None => {
            d.push(missing(item, &context, "target", "target = \"kubernetes\""));
            None
        }
    };
    let (failure_domains, domain_parents) = match f.attr("failure_domains") {
        Some(Expr::Map(body)) => failure_domains(body, d),
        Some(other) => {
            d.push(map_expected(
                other,
                "failure_domains",
                "failure_domains = { zone = [\"a\", \"b\"] }",
            ));
            Default::default()
        }
        None => Default::default(),
    };
    let out_of_service = f
        .attr("out_of_service")
        .map(|e| values::strings(e, "out_of_service", d))
        .unwrap_or_default();
    report_repeated_names(&out_of_service, "out_of_service", d);
    for name in &out_of_service {
        if !failure_domains
            .values()
            .flatten()
            .any(|d| d.value == name.value)
        {
            let declared = failure_domains.values().flatten().map(|d| d.value.as_str());
            d.push(
                Diagnostic::error(
                    Code::UnknownFailureDomain,
                    format!(
                        "`{}` is not a failure domain of this environment",
                        name.value
                    ),
                )
                .label(name.span, "out of service, but never declared")
                .help(
                    suggest::did_you_mean(&name.value, declared)
                        .unwrap_or_else(|| "name a domain `failure_domains` declares".to_string()),
                ),
            );
        }
    }
    let capacity = f.attr("capacity").and_then(|expr| {
        let Expr::Map(body) = expr else {
            d.push(map_expected(
                expr,
                "capacity",
                "capacity = { cpu = 48, memory = 192Gi }",
            ));
            return None;
        };
        let c = Fields::check(body, CPU_MEMORY, "`capacity`", d);
        Some(Capacity {
            millicpu: c.quantity("cpu", QuantityKind::Cpu, d).map(|v| v.value),
            memory_bytes: c.quantity("memory", QuantityKind::Size, d).map(|v| v.value),
            span: Some(body.span),
        })
    });
    let cost = f.attr("cost").and_then(|expr| {
        let Expr::Map(body) = expr else {
            d.push(map_expected(
                expr,
                "cost",
                "cost = { cpu_hour = 0.04, memory_gib_hour = 0.005 }",
            ));
            return None;
        };
        let c = Fields::check(body, COST, "`cost`", d);
        let rate = |key: &str, d: &mut Diagnostics| {
            let value = c.attr(key).and_then(|e| values::float(e, key, d))?;
            if value.value < 0.0 {
                d.push(
                    Diagnostic::error(Code::OutOfRange, format!("`{key}` cannot be negative"))
                        .label(value.span, "a negative cost")
                        .help("write a cost of zero or more"),
                );
                return None;
            }
            Some(value.value)
        };
        Some(CostRates {
            cpu_hour: rate("cpu_hour", d),
            memory_gib_hour: rate("memory_gib_hour", d),
            storage_gib_month: rate("storage_gib_month", d),
            egress_gib: rate("egress_gib", d),
            move_replica: rate("move_replica", d),
            span: Some(body.span),
        })
    });
    let links = f
        .all("link")
        .filter_map(|link| {
            let to = link.labels.first()?;
            let l = Fields::check(
                body_of(link)?,
                LINK,
                format_args!("link `{}`", label_text(to)),
                d,
            );
            Some(Link {
                to: Spanned::new(label_text(to), to.span()),
                latency_ns: l
                    .quantity("latency", QuantityKind::Duration, d)
                    .map(|v| v.value),
                bandwidth_bps: l
                    .quantity("bandwidth", QuantityKind::Bandwidth, d)
                    .map(|v| v.value),
                span: link.span,
            })
        })
        .collect();
    // Without `{name}`, every service placed here is reached at one host (a single
    // machine, a gateway that routes by port).
    let address = text("address", d);
    let context = text("context", d);
    Some(Environment {
        description: text("description", d).map(|s| s.value),
        address,
        context,
        target: target.unwrap_or_else(|| Spanned::new(String::new(), item.key.span)),
        provider: text("provider", d),
        jurisdiction: text("jurisdiction", d),
        region: text("region", d),
        tier: text("tier", d),
        failure_domains,
        domain_parents,
        out_of_service,
        lost: false,
        capacity,
        cost,
        links,
        labels: f
            .attr("labels")
            .map(|e| values::string_map(e, "labels", d))
            .unwrap_or_default(),
        name,
        span: item.span,
    })
}

type DomainsByKind = std::collections::BTreeMap<FailureDomainKind, Vec<Spanned<String>>>;
type ParentsByKind =
    std::collections::BTreeMap<FailureDomainKind, std::collections::BTreeMap<String, String>>;

/// `failure_domains = { zone = [...], rack = { ZONE = [...] } }`: each kind a list of
/// names, or a map from each domain of the nearest declared kind above it to the
/// domains it holds (a tree: room > rack > host).
fn failure_domains(body: &ast::Body, d: &mut Diagnostics) -> (DomainsByKind, ParentsByKind) {
    const KINDS: &[fields::Field] = &[
        attr("zone"),
        attr("cluster"),
        attr("rack"),
        attr("hypervisor"),
    ];
    let kinds = Fields::check(body, KINDS, "`failure_domains`", d);
    let mut domains = DomainsByKind::new();
    let mut parents = ParentsByKind::new();
    // The nearest declared kind above the one being read, with its domains.
    let mut above: Option<FailureDomainKind> = None;
    // (kind, the kind it is nested in, the domains that hold some of it)
    let mut nested: Vec<(FailureDomainKind, FailureDomainKind, HashSet<String>)> = Vec::new();
    for kind in FailureDomainKind::ALL {
        let Some(expr) = kinds.attr(kind.as_str()) else {
            continue;
        };
        let names = match expr {
            Expr::Map(body) => {
                let tree = nested_domains(body, kind, above, &domains, d);
                parents.insert(kind, tree.parent_of);
                // Once a key names an unknown domain, the one meant looks empty: one
                // error is enough.
                if tree.parents_known {
                    nested.extend(above.map(|parent_kind| (kind, parent_kind, tree.holders)));
                }
                tree.names
            }
            _ => values::strings(expr, kind.as_str(), d),
        };
        report_repeated_names(&names, kind.as_str(), d);
        domains.insert(kind, names);
        above = Some(kind);
    }
    // A domain that a kind below is nested in must hold at least one of them: nothing
    // could be placed in it.
    for (kind, parent_kind, holders) in nested {
        for parent in domains.get(&parent_kind).into_iter().flatten() {
            if !holders.contains(&parent.value) {
                d.push(
                    Diagnostic::error(
                        Code::EmptyFailureDomain,
                        format!(
                            "{} `{}` holds no {}, though `{}` is nested in `{}`",
                            parent_kind.as_str(),
                            parent.value,
                            kind.as_str(),
                            kind.as_str(),
                            parent_kind.as_str()
                        ),
                    )
                    .label(parent.span, "no replica could be placed here")
                    .help(format!(
                        "list the {kind}s `{parent}` holds: `{kind} = {{ {parent} = [\"...\"] }}`, or remove `{parent}`",
                        kind = kind.as_str(),
                        parent = parent.value,
                    )),
                );
            }
        }
    }
    (domains, parents)
}

/// A kind's domains read from a map keyed by their parents.
#[derive(Default)]
struct NestedDomains {
    names: Vec<Spanned<String>>,
    /// Each domain's parent, the first one it is listed under.
    parent_of: std::collections::BTreeMap<String, String>,
    /// The parents given a non-empty list (or a list written wrong, already reported).
    holders: HashSet<String>,
    /// Whether every key names a declared domain.
    parents_known: bool,
}

/// `rack = { room-a = ["a-r01", "a-r02"], room-b = ["b-r01"] }`: the racks, and the
/// room each stands in.
fn nested_domains(
    body: &ast::Body,
    kind: FailureDomainKind,
    above: Option<FailureDomainKind>,
    declared: &DomainsByKind,
    d: &mut Diagnostics,
) -> NestedDomains {
    let mut tree = NestedDomains {
        parents_known: true,
        ..NestedDomains::default()
    };
    let Some(above) = above else {
        d.push(
            Diagnostic::error(
                Code::UnknownFailureDomain,
                format!(
                    "`{}` is nested in other domains, but no kind above it is declared",
                    kind.as_str()
                ),
            )
            .label(body.span, "each key must name a domain of a kind above")
            .help(format!(
                "declare the domains it stands in first (`zone = [\"a\", \"b\"]`), or list the {}s: `{} = [\"a\", \"b\"]`",
                kind.as_str(),
                kind.as_str()
            )),
        );
        tree.parents_known = false;
        return tree;
    };
    let parents = declared.get(&above).map(Vec::as_slice).unwrap_or_default();
    let mut seen_parents: FxHashMap<&str, Span> = FxHashMap::default();
    for entry in &body.items {
        let parent = &entry.key;
        if let Some(first) = seen_parents.insert(&parent.name, parent.span) {
            d.push(
                Diagnostic::error(
                    Code::DuplicateKey,
                    format!("`{}` is given twice in `{}`", parent.name, kind.as_str()),
                )
                .label(parent.span, "given again here")
                .label(first, "first given here")
                .help("list everything it holds under one key"),
            );
        }
        if !parents.iter().any(|p| p.value == parent.name) {
            tree.parents_known = false;
            let help =
                suggest::did_you_mean(&parent.name, parents.iter().map(|p| p.value.as_str()))
                    .map(|hint| {
                        format!(
                            "{hint} Or declare `{}` among the {}s",
                            parent.name,
                            above.as_str()
                        )
                    })
                    .unwrap_or_else(|| {
                        format!(
                            "name one of the {}s declared above, or declare `{}` among them",
                            above.as_str(),
                            parent.name
                        )
                    });
            d.push(
                Diagnostic::error(
                    Code::UnknownFailureDomain,
                    format!(
                        "{} `{}` is not declared, so nothing can stand in it",
                        above.as_str(),
                        parent.name
                    ),
                )
                .label(parent.span, format!("no {} has this name", above.as_str()))
                .help(help),
            );
        }
        let ast::ItemKind::Attribute(children) = &entry.kind else {
            tree.holders.insert(parent.name.clone());
            d.push(
                Diagnostic::error(
                    Code::WrongForm,
                    format!("`{}` needs a list of {}s", parent.name, kind.as_str()),
                )
                .label(entry.span, "write it as an attribute")
                .help(format!("write `{} = [\"a\", \"b\"]`", parent.name)),
            );
            continue;
        };
        for child in values::strings(children, kind.as_str(), d) {
            tree.holders.insert(parent.name.clone());
            tree.parent_of
                .entry(child.value.clone())
                .or_insert_with(|| parent.name.clone());
            tree.names.push(child);
        }
    }
    tree
}

fn report_repeated_names(names: &[Spanned<String>], what: &str, d: &mut Diagnostics) {
    let mut seen: FxHashMap<&str, Span> = FxHashMap::default();
    for name in names {
        if let Some(first) = seen.insert(&name.value, name.span) {
            d.push(
                Diagnostic::error(
                    Code::DuplicateKey,
                    format!("`{}` is listed twice in `{what}`", name.value),
                )
                .label(name.span, "listed again here")
                .label(first, "first listed here")
                .help("list each name once"),
            );
        }
    }
}

fn map_expected(expr: &Expr, key: &str, example: &str) -> Diagnostic {
    Diagnostic::error(
        Code::TypeMismatch,
        format!("expected a map, found {}", expr.describe()),
    )
    .label(expr.span(), format!("`{key}` needs a map"))
    .help(format!("write `{example}`"))
}

fn missing(item: &Item, context: &str, key: &str, example: &str) -> Diagnostic {
    Diagnostic::error(Code::MissingKey, format!("{context} has no `{key}`"))
        .label(item.label_span(), format!("`{key}` is required here"))
        .help(format!("add `{example}`"))
}

/// Every environment's target is built in or a custom target of the project
/// (`templates/<target>/target.toml` exists, as `is_custom` says).
pub fn check_targets(model: &Model, is_custom: &dyn Fn(&str) -> bool, d: &mut Diagnostics) {
    for environment in &model.environments {
        let t = &environment.target;
        if t.value.is_empty() || TARGETS.contains(&t.value.as_str()) || is_custom(&t.value) {
            continue;
        }
        let help = suggest::did_you_mean(&t.value, TARGETS.iter().copied()).unwrap_or_else(|| {
            format!(
                "use one of {}, or add a custom target in `templates/{}/target.toml`",
                TARGETS
                    .iter()
                    .map(|t| format!("`\"{t}\"`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                t.value
            )
        });
        d.push(
            Diagnostic::error(Code::UnknownTarget, format!("unknown target `{}`", t.value))
                .label(t.span, "not a target svcmodel can deploy to")
                .help(help),
        );
    }
}
