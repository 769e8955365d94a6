//! `compile`, `why`, `impact`, `lock` and `schema`: the commands that resolve the system.

use std::fmt::Write as _;

use schemars::JsonSchema;
use serde::Serialize;
use svcmodel_compiler::codes::Code;
use svcmodel_compiler::diagnostic::Diagnostic;
use svcmodel_compiler::{SystemCompilation, SystemRequest};
use svcmodel_model::system::ResolvedSystem;

use crate::cli::{Color, Format, SchemaName, SystemArgs};
use crate::exit::Exit;
use crate::fs_loader::FsLoader;
use crate::output::{self, plural};
use crate::view;

/// The request `args` make: every environment when `environment` is `None`.
fn request(
    args: &SystemArgs,
    environment: Option<String>,
    update: &[String],
    write_lock: bool,
) -> SystemRequest {
    let cwd = super::current_dir();
    let entries = super::entries(&args.paths, &cwd);
    let root = super::project_root(args.root.as_deref(), &entries, &cwd);
    SystemRequest {
        entries,
        root,
        display_base: cwd.clone(),
        values_files: args.values.iter().map(|v| cwd.join(v)).collect(),
        sets: args.set.clone(),
        environment,
        locked: args.locked,
        update: update.to_vec(),
        write_lock,
    }
}

/// Resolves every environment of the model without printing anything (a command
/// that already resolved with `-e` and showed its diagnostics, and now needs the other
/// environments of the landscape for placement). `None` when it has errors.
pub(super) fn resolve_every_environment(args: &SystemArgs) -> Option<SystemCompilation> {
    let request = SystemRequest {
        locked: false,
        ..request(args, None, &[], false)
    };
    let compilation = svcmodel_compiler::compile_system(&FsLoader, &request);
    (!compilation.has_errors()).then_some(compilation)
}

/// Compiles and resolves; prints diagnostics; `Err` with the exit code on errors.
pub fn resolve(
    args: &SystemArgs,
    update: &[String],
    write_lock: bool,
    format: Format,
    color: Color,
) -> Result<SystemCompilation, Exit> {
    output::set_mode(format, color);
    let started = std::time::Instant::now();
    let request = request(args, args.environment.clone(), update, write_lock);
    let compilation = svcmodel_compiler::compile_system(&FsLoader, &request);
    output::timing(
        &format!(
            "read, checked and resolved {} ({} services, {} environments)",
            output::plural(compilation.model_files, "model file"),
            compilation.model.services.len(),
            compilation.model.environments.len()
        ),
        started,
    );
    let (errors, warnings) = output::count(&compilation.diagnostics);
    if format == Format::Json && errors > 0 {
        output::print_json_diagnostics(
            &compilation.diagnostics,
            &compilation.sources,
            &serde_json::json!({}),
        );
        return Err(Exit::ModelErrors);
    }
    output::print_human(&compilation.diagnostics, &compilation.sources, color);
    if errors > 0 {
        output::print_error_summary(errors, compilation.model_files);
        return Err(Exit::ModelErrors);
    }
    if warnings > 0 && format == Format::Human {
        crate::say!();
    }
    Ok(compilation)
}

fn systems(compilation: &SystemCompilation) -> &[ResolvedSystem] {
    compilation
        .resolution
        .as_ref()
        .map_or(&[], |r| r.systems.as_slice())
}

fn environment_title(system: &ResolvedSystem) -> String {
    system.environment.as_ref().map_or_else(
        || "the system".to_string(),
        |e| format!("environment `{e}`"),
    )
}

pub fn compile(args: &SystemArgs, format: Format, color: Color) -> Exit {
    let compilation = match resolve(args, &[], false, format, color) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    let systems = systems(&compilation);
    match format {
        Format::Json => {
            output::print_json(&view::CompileOutput {
                format: 1,
                systems: systems
                    .iter()
                    .map(|s| view::system(s, &compilation.model, &compilation.sources))
                    .collect(),
            });
        }
        Format::Human => {
            let mut out = String::new();
            for system in systems {
                let _ = writeln!(
                    out,
                    "{}: {}",
                    environment_title(system),
                    plural(system.instances.len(), "instance")
                );
                let waves = system.graph.waves().unwrap_or_default();
                for (i, wave) in waves.iter().enumerate() {
                    let names: Vec<String> = wave
                        .iter()
                        .map(|id| {
                            let instance = system.instance(*id);
                            format!("{} {}", instance.name, instance.version)
                        })
                        .collect();
                    let _ = writeln!(out, "  wave {}: {}", i + 1, names.join(", "));
                }
            }
            print!("{out}");
        }
    }
    Exit::Success
}

/// The same text for several environments is printed once, under all their names;
/// an environment with nothing to say is left out.
fn print_grouped<T>(systems: &[ResolvedSystem], results: &[T], render: impl Fn(&T) -> String) {
    let mut groups: Vec<(Vec<String>, String)> = Vec::new();
    for (system, result) in systems.iter().zip(results) {
        let text = render(result);
        if text.is_empty() {
            continue;
        }
        let title = environment_title(system);
        match groups.iter_mut().find(|(_, t)| *t == text) {
            Some((titles, _)) => titles.push(title),
            None => groups.push((vec![title], text)),
        }
    }
    let several = groups.len() > 1 || systems.len() > 1;
    for (titles, text) in groups {
        if several {
            println!("in {}:", titles.join(", "));
        }
        print!("{text}");
    }
}

fn not_found(name: &str, systems: &[ResolvedSystem]) -> Exit {
    let names: Vec<&str> = systems
        .iter()
        .flat_map(|s| s.instances.iter().map(|i| i.name.as_str()))
        .collect();
    output::failure(
        Diagnostic::error(
            Code::UnknownService,
            format!("no service or instance `{name}` is part of the system"),
        )
        .help(
            svcmodel_compiler::suggest::did_you_mean(name, names.iter().copied())
                .unwrap_or_else(|| "run `svcmodel compile` to see the instances".to_string()),
        ),
    );
    Exit::Usage
}

/// The instances a name stands for: the instance itself, or every instance of a service.
fn matching<'a>(
    system: &'a ResolvedSystem,
    name: &'a str,
) -> impl Iterator<Item = &'a svcmodel_model::system::Instance> {
    system
        .instances
        .iter()
        .filter(move |i| i.name == name || i.service == name)
}

/// What `svcmodel describe --format json` prints: the parameters of the instances a
/// name stands for, per environment.
#[derive(Serialize, JsonSchema)]
pub struct DescribeOutput {
    /// The version of this shape.
    format: u32,
    name: String,
    systems: Vec<DescribeSystem>,
}

#[derive(Serialize, JsonSchema)]
struct DescribeSystem {
    environment: Option<String>,
    instances: Vec<DescribedInstance>,
}

#[derive(Serialize, JsonSchema)]
struct DescribedInstance {
    name: String,
    service: String,
    version: String,
    description: Option<String>,
    declared_at: crate::view::Location,
    parameters: Vec<DescribedParameter>,
}

#[derive(Serialize, JsonSchema)]
struct DescribedParameter {
    name: String,
    /// `int`, `duration`, `enum(a, b)`, `list(string)`, ...
    #[serde(rename = "type")]
    ty: String,
    /// Inclusive bounds, as the model writes them (`0s`, `1h`).
    range: Option<[String; 2]>,
    pattern: Option<String>,
    /// The declared default, as text; `null` when the parameter has none.
    default: Option<String>,
    doc: Option<String>,
    /// The value the system uses, as text; `null` for a secret, whose value never
    /// reaches svcmodel's output.
    value: Option<String>,
    /// `default`, `values_file`, `set`, `secret` or `missing`.
    source: String,
    /// Where the value was given: the default, the values file's line, the flag.
    given_at: Option<crate::view::Location>,
    declared_at: crate::view::Location,
}

pub fn describe(service: &str, args: &SystemArgs, format: Format, color: Color) -> Exit {
    let compilation = match resolve(args, &[], false, format, color) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    let systems = systems(&compilation);
    let output = DescribeOutput {
        format: 1,
        name: service.to_string(),
        systems: systems
            .iter()
            .map(|system| DescribeSystem {
                environment: system.environment.clone(),
                instances: matching(system, service)
                    .map(|instance| described(&compilation, instance))
                    .collect(),
            })
            .collect(),
    };
    if output.systems.iter().all(|s| s.instances.is_empty()) {
        return not_found(service, systems);
    }
    match format {
        Format::Json => output::print_json(&output),
        Format::Human => print_grouped(systems, &output.systems, |system| {
            system.instances.iter().map(describe_text).collect()
        }),
    }
    Exit::Success
}

fn described(
    compilation: &SystemCompilation,
    instance: &svcmodel_model::system::Instance,
) -> DescribedInstance {
    let sources = &compilation.sources;
    let definition = &compilation.model.services[instance.definition];
    let at = |span| crate::view::Location::of(span, sources);
    DescribedInstance {
        name: instance.name.clone(),
        service: instance.service.clone(),
        version: instance.version.to_string(),
        description: definition.description.as_ref().cloned(),
        declared_at: at(definition.name.span),
        parameters: definition
            .params
            .iter()
            .zip(&instance.values)
            .map(|(param, value)| {
                let (source, given_at) = crate::view::source_of(&value.source);
                DescribedParameter {
                    name: param.name.value.clone(),
                    ty: param.ty.value.to_string(),
                    range: param.range.as_ref().map(|r| {
                        let (low, high) = r.value;
                        [bound(&param.ty.value, low), bound(&param.ty.value, high)]
                    }),
                    pattern: param.pattern.as_ref().map(|p| p.value.clone()),
                    default: param.default.as_ref().map(|d| d.value.to_text()),
                    doc: param.doc.clone(),
                    value: value.value.as_ref().map(|v| v.to_text()),
                    source: source.to_string(),
                    given_at: given_at.map(at),
                    declared_at: at(param.name.span),
                }
            })
            .collect(),
    }
}

/// A range's bound as the model writes it: in the type's unit.
fn bound(ty: &svcmodel_model::ParamType, x: f64) -> String {
    use svcmodel_model::{ParamType, Value};
    let whole = x.max(0.0).round() as u64;
    match ty {
        ParamType::Duration => Value::Duration(whole).to_text(),
        ParamType::Size => Value::Size(whole).to_text(),
        ParamType::Bandwidth => Value::Bandwidth(whole).to_text(),
        ParamType::Cpu => Value::Cpu(whole).to_text(),
        ParamType::Percent => format!("{x}%"),
        _ => x.to_string(),
    }
}

fn describe_text(instance: &DescribedInstance) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "`{}` {} ({}:{}){}",
        instance.name,
        instance.version,
        instance.declared_at.file,
        instance.declared_at.line,
        instance
            .description
            .as_ref()
            .map(|d| format!(": {d}"))
            .unwrap_or_default()
    );
    if instance.parameters.is_empty() {
        let _ = writeln!(out, "  no parameters");
    }
    for p in &instance.parameters {
        let mut facts = vec![p.ty.clone()];
        if let Some([low, high]) = &p.range {
            facts.push(format!("{low}..{high}"));
        }
        if let Some(pattern) = &p.pattern {
            facts.push(format!("matching `{pattern}`"));
        }
        if let Some(default) = &p.default {
            facts.push(format!("default {default}"));
        }
        let _ = writeln!(out, "  {} ({})", p.name, facts.join(", "));
        if let Some(doc) = &p.doc {
            let _ = writeln!(out, "      {doc}");
        }
        let from = match (p.source.as_str(), &p.given_at) {
            ("default", Some(at)) => format!("the default ({}:{})", at.file, at.line),
            ("values_file", Some(at)) => format!("a values file ({}:{})", at.file, at.line),
            ("set", _) => "--set".to_string(),
            ("secret", _) => "a secret, read when deploying".to_string(),
            _ => "nowhere: it has no value".to_string(),
        };
        match &p.value {
            Some(value) => {
                let _ = writeln!(out, "      = {value}, from {from}");
            }
            None => {
                let _ = writeln!(out, "      = (not shown), from {from}");
            }
        }
    }
    out
}

/// What `svcmodel why --format json` prints: why the instances a name stands for
/// are part of the system, and why at their version.
#[derive(Serialize, JsonSchema)]
pub struct WhyOutput {
    /// The version of this shape.
    format: u32,
    /// The name asked about: an instance or a service.
    name: String,
    /// One per environment resolved, in the model's order (one with `environment`
    /// `null` for a model without environments).
    systems: Vec<WhySystem>,
}

#[derive(Serialize, JsonSchema)]
struct WhySystem {
    environment: Option<String>,
    /// The instances the name stands for here; empty when none is part of this
    /// system.
    instances: Vec<WhyInstance>,
}

#[derive(Serialize, JsonSchema)]
struct WhyInstance {
    name: String,
    service: String,
    version: String,
    /// It is declared in the files named, not only imported.
    declared: bool,
    /// The chains of requirements that lead to it, each from an instance nothing
    /// requires down to this one (at most 20, shortest first). Empty when nothing
    /// requires it.
    chains: Vec<Vec<String>>,
    /// Why this version.
    version_reason: VersionReason,
}

/// Why an instance runs the version it runs.
#[derive(Serialize, JsonSchema)]
struct VersionReason {
    /// `locked`: the version locked in svcmodel.lock; `newest`: the newest the model
    /// holds that meets every requirement and rule; `only`: the only version the model
    /// holds.
    choice: VersionChoice,
    /// Every version of the service the model holds, newest first.
    versions: Vec<String>,
    /// Every requirement on the service in this system.
    requirements: Vec<VersionRequirement>,
    /// The `use` rules in force here that name the service.
    policies: Vec<VersionPolicy>,
}

#[derive(Serialize, JsonSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum VersionChoice {
    Locked,
    Newest,
    Only,
}

#[derive(Serialize, JsonSchema)]
struct VersionRequirement {
    /// The instance that requires the service.
    consumer: String,
    /// As written, such as `^15` or `>=15, <17`.
    requirement: String,
}

#[derive(Serialize, JsonSchema)]
struct VersionPolicy {
    policy: String,
    /// The versions the rule allows, such as `^16`.
    allows: String,
    /// The policy's `because`; `null` when it has none.
    because: Option<String>,
}

fn why_instance(
    compilation: &SystemCompilation,
    system: &ResolvedSystem,
    instance: &svcmodel_model::system::Instance,
) -> WhyInstance {
    WhyInstance {
        name: instance.name.clone(),
        service: instance.service.clone(),
        version: instance.version.to_string(),
        declared: matches!(instance.origin, svcmodel_model::system::Origin::System),
        chains: system
            .graph
            .why(instance.id, 20)
            .into_iter()
            .filter(|chain| chain.len() > 1)
            .map(|chain| {
                chain
                    .iter()
                    .map(|id| system.instance(*id).name.clone())
                    .collect()
            })
            .collect(),
        version_reason: version_reason(compilation, system, instance),
    }
}

fn why_text(instance: &WhyInstance) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "`{}` {} is part of the system because:",
        instance.name, instance.version
    );
    if instance.declared {
        let _ = writeln!(
            out,
            "  it is declared in the files named, not only imported"
        );
    }
    for chain in &instance.chains {
        let names: Vec<String> = chain.iter().map(|name| format!("`{name}`")).collect();
        let _ = writeln!(out, "  {}", names.join(" requires "));
    }
    let reason = &instance.version_reason;
    let choice = match reason.choice {
        VersionChoice::Locked => "is the version locked in svcmodel.lock".to_string(),
        VersionChoice::Newest => {
            format!("is the newest of {} that meets", reason.versions.join(", "))
        }
        VersionChoice::Only => "is the only version the model holds".to_string(),
    };
    let reasons: Vec<String> = reason
        .requirements
        .iter()
        .map(|r| format!("`{}` requires {}", r.consumer, r.requirement))
        .chain(reason.policies.iter().map(|p| {
            let because = p
                .because
                .as_ref()
                .map_or(String::new(), |b| format!(" ({b})"));
            format!("policy `{}` allows {} here{because}", p.policy, p.allows)
        }))
        .collect();
    if reasons.is_empty() {
        let _ = writeln!(out, "version {} {choice}", instance.version);
    } else {
        let _ = writeln!(
            out,
            "version {} {choice}{}",
            instance.version,
            if reason.choice == VersionChoice::Newest {
                ":"
            } else {
                ", and meets:"
            }
        );
        for reason in reasons {
            let _ = writeln!(out, "  {reason}");
        }
    }
    out
}

pub fn why(service: &str, args: &SystemArgs, format: Format, color: Color) -> Exit {
    let compilation = match resolve(args, &[], false, format, color) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    let systems = systems(&compilation);
    let output = WhyOutput {
        format: 1,
        name: service.to_string(),
        systems: systems
            .iter()
            .map(|system| WhySystem {
                environment: system.environment.clone(),
                instances: matching(system, service)
                    .map(|instance| why_instance(&compilation, system, instance))
                    .collect(),
            })
            .collect(),
    };
    if output.systems.iter().all(|s| s.instances.is_empty()) {
        return not_found(service, systems);
    }
    match format {
        Format::Json => output::print_json(&output),
        Format::Human => print_grouped(systems, &output.systems, |system| {
            system.instances.iter().map(why_text).collect()
        }),
    }
    Exit::Success
}

/// Why this version: the versions held, every requirement on the service in this
/// system, the `use` rules in force here, and the lockfile's pin.
fn version_reason(
    compilation: &SystemCompilation,
    system: &ResolvedSystem,
    instance: &svcmodel_model::system::Instance,
) -> VersionReason {
    let model = &compilation.model;
    let mut held: Vec<&semver::Version> = model
        .service_versions(&instance.service)
        .map(|s| &s.version.value)
        .collect();
    held.sort_by(|a, b| b.cmp(a));
    held.dedup();
    let versions: Vec<String> = held.iter().map(|v| v.to_string()).collect();
    let mut requirements = Vec::new();
    for consumer in &system.instances {
        for dependency in &consumer.dependencies {
            // One version per service: every requirement on the service counts.
            if system.instance(dependency.instance).service == instance.service {
                let requirement =
                    &model.services[consumer.definition].requires[dependency.requirement];
                requirements.push(VersionRequirement {
                    consumer: consumer.name.clone(),
                    requirement: requirement.version.value.to_string(),
                });
            }
        }
    }
    let environment = system
        .environment
        .as_deref()
        .and_then(|e| model.environment(e));
    let mut policies = Vec::new();
    for policy in &model.policies {
        let svcmodel_model::PolicyRule::Use { versions } = &policy.rule else {
            continue;
        };
        let applies = policy.when.as_ref().is_none_or(|when| {
            environment.is_some()
                && svcmodel_model::eval::holds(
                    &when.value,
                    svcmodel_model::eval::Context {
                        service: None,
                        environment,
                    },
                )
        });
        for (service, requirement) in versions {
            if applies && service.value == instance.service {
                policies.push(VersionPolicy {
                    policy: policy.name.value.clone(),
                    allows: requirement.value.to_string(),
                    because: policy.because.as_ref().map(|b| b.value.clone()),
                });
            }
        }
    }
    let locked = compilation
        .resolution
        .as_ref()
        .and_then(|r| r.previous_lock.as_ref())
        .and_then(|lock| lock.pins.get(&system.environment))
        .and_then(|pins| pins.get(&instance.service))
        .is_some_and(|pin| pin.version == instance.version);
    let choice = if locked {
        VersionChoice::Locked
    } else if versions.len() > 1 {
        VersionChoice::Newest
    } else {
        VersionChoice::Only
    };
    VersionReason {
        choice,
        versions,
        requirements,
        policies,
    }
}

/// What `svcmodel impact --format json` prints: what is affected if the instances a
/// name stands for fail.
#[derive(Serialize, JsonSchema)]
pub struct ImpactOutput {
    /// The version of this shape.
    format: u32,
    /// The name asked about: an instance or a service.
    name: String,
    /// One per environment resolved, in the model's order (one with `environment`
    /// `null` for a model without environments).
    systems: Vec<ImpactSystem>,
}

#[derive(Serialize, JsonSchema)]
struct ImpactSystem {
    environment: Option<String>,
    /// The instances the name stands for here; empty when none is part of this
    /// system.
    instances: Vec<ImpactInstance>,
}

#[derive(Serialize, JsonSchema)]
struct ImpactInstance {
    name: String,
    version: String,
    /// Every instance that requires it, directly or through others, nearest first.
    /// Empty when nothing requires it.
    affected: Vec<Affected>,
}

#[derive(Serialize, JsonSchema)]
struct Affected {
    name: String,
    /// 1: it requires the failed instance directly; 2: through one instance in
    /// between; and so on.
    distance: usize,
}

fn impact_text(instance: &ImpactInstance) -> String {
    let mut out = String::new();
    let affected = &instance.affected;
    if affected.is_empty() {
        let _ = writeln!(
            out,
            "if `{}` fails, nothing else is affected: nothing requires it",
            instance.name
        );
        return out;
    }
    let _ = writeln!(
        out,
        "if `{}` fails, {} affected:",
        instance.name,
        if affected.len() == 1 {
            "1 instance is".to_string()
        } else {
            format!("{} instances are", affected.len())
        }
    );
    for dependent in affected {
        let distance = dependent.distance;
        let how = if distance == 1 {
            "directly".to_string()
        } else {
            format!(
                "through {} {}",
                distance - 1,
                if distance == 2 { "hop" } else { "hops" }
            )
        };
        let _ = writeln!(out, "  {} ({how})", dependent.name);
    }
    out
}

pub fn impact(service: &str, args: &SystemArgs, format: Format, color: Color) -> Exit {
    let compilation = match resolve(args, &[], false, format, color) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    let systems = systems(&compilation);
    let output = ImpactOutput {
        format: 1,
        name: service.to_string(),
        systems: systems
            .iter()
            .map(|system| ImpactSystem {
                environment: system.environment.clone(),
                instances: matching(system, service)
                    .map(|instance| ImpactInstance {
                        name: instance.name.clone(),
                        version: instance.version.to_string(),
                        affected: system
                            .graph
                            .impact(instance.id)
                            .into_iter()
                            .map(|(id, distance)| Affected {
                                name: system.instance(id).name.clone(),
                                distance,
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect(),
    };
    if output.systems.iter().all(|s| s.instances.is_empty()) {
        return not_found(service, systems);
    }
    match format {
        Format::Json => output::print_json(&output),
        Format::Human => print_grouped(systems, &output.systems, |system| {
            system.instances.iter().map(impact_text).collect()
        }),
    }
    Exit::Success
}

/// What `svcmodel lock --format json` prints: the lockfile and what it pins.
#[derive(Serialize, JsonSchema)]
pub struct LockOutput {
    /// The version of this shape.
    format: u32,
    /// The lockfile's path, relative to the current folder where possible.
    lockfile: String,
    /// svcmodel wrote the lockfile; `false` when it was up to date.
    written: bool,
    /// Every pin the lockfile now holds, by environment, then service.
    pins: Vec<LockPin>,
}

#[derive(Serialize, JsonSchema)]
struct LockPin {
    /// `null` for a model without environments.
    environment: Option<String>,
    service: String,
    version: String,
    /// The content hash of the definition used.
    hash: String,
}

pub fn lock(args: &SystemArgs, update: &[String], format: Format, color: Color) -> Exit {
    let compilation = match resolve(args, update, true, format, color) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    let Some(resolution) = &compilation.resolution else {
        return Exit::ModelErrors;
    };
    let names: Vec<&str> = compilation
        .model
        .services
        .iter()
        .map(|s| s.name.value.as_str())
        .collect();
    for name in update {
        if !names.contains(&name.as_str()) {
            output::failure(
                Diagnostic::error(
                    Code::UnknownService,
                    format!("`--update {name}`: the model has no service `{name}`"),
                )
                .help(
                    svcmodel_compiler::suggest::did_you_mean(name, names.iter().copied())
                        .unwrap_or_else(|| "name a service the model declares".to_string()),
                ),
            );
            return Exit::Usage;
        }
    }
    let mut lock = resolution.lock.clone();
    // Resolving one environment keeps the others' pins as they were.
    if args.environment.is_some()
        && let Some(previous) = &resolution.previous_lock
    {
        for (environment, pins) in &previous.pins {
            lock.pins
                .entry(environment.clone())
                .or_insert_with(|| pins.clone());
        }
        lock.placement = previous.placement.clone();
    }
    // Where every replica runs, from where the lock had it: what placement starts
    // from next time. Only with every environment resolved: a landscape is placed
    // whole.
    if args.environment.is_none() && !compilation.model.environments.is_empty() {
        let fresh = svcmodel_compiler::place::Previous::new();
        let placed = svcmodel_compiler::place::place_from(
            &compilation.model,
            &resolution.systems,
            svcmodel_compiler::place::Options::without_reasons(),
            resolution
                .previous_lock
                .as_ref()
                .map_or(&fresh, |lock| &lock.placement),
        );
        for placed in &placed {
            let Some(placement) = placed.placement.as_ref() else {
                continue;
            };
            // Where there is a choice to keep: an environment among several, or
            // failure domains.
            let several = placed.problem.envs.len() > 1;
            for a in placement
                .assignments
                .iter()
                .filter(|a| several || a.replicas.iter().any(|r| !r.is_empty()))
            {
                lock.placement
                    .entry(a.environment.clone())
                    .or_default()
                    .insert(
                        a.instance.clone(),
                        a.replicas
                            .iter()
                            .filter(|r| !r.is_empty())
                            .map(svcmodel_compiler::place::replica_path)
                            .collect(),
                    );
            }
        }
    }
    let text = lock.render();
    let unchanged = std::fs::read_to_string(&compilation.lock_path).is_ok_and(|old| old == text);
    let cwd = std::fs::canonicalize(super::current_dir()).unwrap_or_else(|_| super::current_dir());
    let lock_path = std::fs::canonicalize(&compilation.lock_path)
        .unwrap_or_else(|_| compilation.lock_path.clone());
    let shown = svcmodel_compiler::load::relative(&lock_path, &cwd)
        .display()
        .to_string();
    if !unchanged && let Err(error) = super::write_atomically(&compilation.lock_path, &text) {
        output::failure(
            Diagnostic::error(
                Code::CannotWrite,
                format!("cannot write `{shown}`: {error}"),
            )
            .help("make the project folder writable, then run `svcmodel lock` again"),
        );
        return Exit::Failure;
    }
    let pins: Vec<LockPin> = lock
        .pins
        .iter()
        .flat_map(|(environment, pins)| {
            pins.iter().map(|(service, pin)| LockPin {
                environment: environment.clone(),
                service: service.clone(),
                version: pin.version.to_string(),
                hash: pin.hash.clone(),
            })
        })
        .collect();
    match format {
        Format::Json => output::print_json(&LockOutput {
            format: 1,
            lockfile: shown,
            written: !unchanged,
            pins,
        }),
        Format::Human if unchanged => println!("{shown} is up to date"),
        Format::Human => println!("wrote {shown}: {}", plural(pins.len(), "pin")),
    }
    Exit::Success
}

pub fn schema(name: SchemaName) -> Exit {
    let schema = match name {
        SchemaName::Compile => schemars::schema_for!(view::CompileOutput),
        SchemaName::Graph => schemars::schema_for!(super::graph::GraphOutput),
        SchemaName::Render => schemars::schema_for!(super::render::RenderOutput),
        SchemaName::Place => schemars::schema_for!(super::place::PlaceOutput),
        SchemaName::Risk => schemars::schema_for!(super::place::RiskOutput),
        SchemaName::Slo => schemars::schema_for!(super::place::SloOutput),
        SchemaName::Check => schemars::schema_for!(super::check::CheckOutput),
        SchemaName::Fmt => schemars::schema_for!(super::fmt::FmtOutput),
        SchemaName::Why => schemars::schema_for!(WhyOutput),
        SchemaName::Impact => schemars::schema_for!(ImpactOutput),
        SchemaName::Lock => schemars::schema_for!(LockOutput),
        SchemaName::Plan => schemars::schema_for!(super::deploy::PlanOutput),
        SchemaName::Deploy => schemars::schema_for!(super::deploy::DeployOutput),
        SchemaName::Status => schemars::schema_for!(super::deploy::StatusOutput),
        SchemaName::Reconcile => schemars::schema_for!(super::deploy::ReconcileOutput),
        SchemaName::Destroy => schemars::schema_for!(super::deploy::DestroyOutput),
        SchemaName::StateUnlock => schemars::schema_for!(super::deploy::UnlockOutput),
        SchemaName::StateAdopt => schemars::schema_for!(super::deploy::AdoptOutput),
        SchemaName::Explain => schemars::schema_for!(super::explain::ExplainOutput),
        SchemaName::Audit => schemars::schema_for!(super::audit::AuditOutput),
        SchemaName::Describe => schemars::schema_for!(DescribeOutput),
        SchemaName::Report => schemars::schema_for!(super::report::ReportOutput),
    };
    output::print_json(&schema);
    Exit::Success
}
