//! `compile`, `why`, `impact`, `lock` and `schema`: the commands that resolve the system.

use std::fmt::Write as _;

use svcmodel_compiler::{SystemCompilation, SystemRequest};
use svcmodel_model::system::ResolvedSystem;

use crate::cli::{Color, Format, SchemaName, SystemArgs};
use crate::exit::Exit;
use crate::fs_loader::FsLoader;
use crate::output::{self, plural};
use crate::view;

/// Compiles and resolves; prints diagnostics; `Err` with the exit code on errors.
pub fn resolve(
    args: &SystemArgs,
    update: &[String],
    write_lock: bool,
    format: Format,
    color: Color,
) -> Result<SystemCompilation, Exit> {
    let cwd = super::current_dir();
    let entries = super::entries(&args.paths, &cwd);
    let root = super::project_root(args.root.as_deref(), &entries, &cwd);
    let request = SystemRequest {
        entries,
        root,
        display_base: cwd.clone(),
        values_files: args.values.iter().map(|v| cwd.join(v)).collect(),
        sets: args.set.clone(),
        environment: args.environment.clone(),
        locked: args.locked,
        update: update.to_vec(),
        write_lock,
    };
    let compilation = svcmodel_compiler::compile_system(&FsLoader, &request);
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
        eprintln!();
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

/// The same text for several environments is printed once, under all their names.
fn print_grouped(
    systems: &[ResolvedSystem],
    render: impl Fn(&ResolvedSystem) -> Option<String>,
) -> bool {
    let mut groups: Vec<(Vec<String>, String)> = Vec::new();
    let mut found = false;
    for system in systems {
        let Some(text) = render(system) else {
            continue;
        };
        found = true;
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
    found
}

fn not_found(name: &str, systems: &[ResolvedSystem]) -> Exit {
    let names: Vec<&str> = systems
        .iter()
        .flat_map(|s| s.instances.iter().map(|i| i.name.as_str()))
        .collect();
    eprintln!("error: no service or instance `{name}` is part of the system");
    match svcmodel_compiler::suggest::did_you_mean(name, names.iter().copied()) {
        Some(help) => eprintln!("help: {help}"),
        None => eprintln!("help: run `svcmodel compile` to see the instances"),
    }
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

pub fn why(service: &str, args: &SystemArgs, color: Color) -> Exit {
    let compilation = match resolve(args, &[], false, Format::Human, color) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    let found = print_grouped(systems(&compilation), |system| {
        let mut out = String::new();
        for instance in matching(system, service) {
            let chains = system.graph.why(instance.id, 20);
            let _ = writeln!(
                out,
                "`{}` {} is part of the system because:",
                instance.name, instance.version
            );
            if matches!(instance.origin, svcmodel_model::system::Origin::System) {
                let _ = writeln!(
                    out,
                    "  it is declared in the files named, not only imported"
                );
            }
            for chain in chains {
                if chain.len() == 1 {
                    continue;
                }
                let names: Vec<String> = chain
                    .iter()
                    .map(|id| format!("`{}`", system.instance(*id).name))
                    .collect();
                let _ = writeln!(out, "  {}", names.join(" requires "));
            }
            explain_version(&mut out, &compilation, system, instance);
        }
        (!out.is_empty()).then_some(out)
    });
    if found {
        Exit::Success
    } else {
        not_found(service, systems(&compilation))
    }
}

/// Why this version: the versions held, every requirement on the service in this
/// system, the `use` rules in force here, and the lockfile's pin.
fn explain_version(
    out: &mut String,
    compilation: &SystemCompilation,
    system: &ResolvedSystem,
    instance: &svcmodel_model::system::Instance,
) {
    let model = &compilation.model;
    let mut held: Vec<&semver::Version> = model
        .service_versions(&instance.service)
        .map(|s| &s.version.value)
        .collect();
    held.sort_by(|a, b| b.cmp(a));
    held.dedup();
    let held: Vec<String> = held.iter().map(|v| v.to_string()).collect();
    let mut reasons: Vec<String> = Vec::new();
    for consumer in &system.instances {
        for dependency in &consumer.dependencies {
            // One version per service: every requirement on the service counts.
            if system.instance(dependency.instance).service == instance.service {
                let requirement =
                    &model.services[consumer.definition].requires[dependency.requirement];
                reasons.push(format!(
                    "`{}` requires {}",
                    consumer.name, requirement.version.value
                ));
            }
        }
    }
    let environment = system
        .environment
        .as_deref()
        .and_then(|e| model.environment(e));
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
                let because = policy
                    .because
                    .as_ref()
                    .map_or(String::new(), |b| format!(" ({})", b.value));
                reasons.push(format!(
                    "policy `{}` allows {} here{because}",
                    policy.name.value, requirement.value
                ));
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
        "is the version locked in svcmodel.lock".to_string()
    } else if held.len() > 1 {
        format!("is the newest of {} that meets", held.join(", "))
    } else {
        "is the only version the model holds".to_string()
    };
    if reasons.is_empty() {
        let _ = writeln!(out, "version {} {choice}", instance.version);
    } else {
        let _ = writeln!(
            out,
            "version {} {choice}{}",
            instance.version,
            if locked || held.len() <= 1 {
                ", and meets:"
            } else {
                ":"
            }
        );
        for reason in reasons {
            let _ = writeln!(out, "  {reason}");
        }
    }
}

pub fn impact(service: &str, args: &SystemArgs, color: Color) -> Exit {
    let compilation = match resolve(args, &[], false, Format::Human, color) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    let found = print_grouped(systems(&compilation), |system| {
        let mut out = String::new();
        for instance in matching(system, service) {
            let affected = system.graph.impact(instance.id);
            if affected.is_empty() {
                let _ = writeln!(
                    out,
                    "if `{}` fails, nothing else is affected: nothing requires it",
                    instance.name
                );
                continue;
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
            for (id, distance) in affected {
                let dependent = system.instance(id);
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
        }
        (!out.is_empty()).then_some(out)
    });
    if found {
        Exit::Success
    } else {
        not_found(service, systems(&compilation))
    }
}

pub fn lock(args: &SystemArgs, update: &[String], color: Color) -> Exit {
    let compilation = match resolve(args, update, true, Format::Human, color) {
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
            eprintln!("error: `--update {name}`: the model has no service `{name}`");
            match svcmodel_compiler::suggest::did_you_mean(name, names.iter().copied()) {
                Some(help) => eprintln!("help: {help}"),
                None => eprintln!("help: name a service the model declares"),
            }
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
    }
    let text = lock.render();
    let unchanged = std::fs::read_to_string(&compilation.lock_path).is_ok_and(|old| old == text);
    let cwd = std::fs::canonicalize(super::current_dir()).unwrap_or_else(|_| super::current_dir());
    let lock_path = std::fs::canonicalize(&compilation.lock_path)
        .unwrap_or_else(|_| compilation.lock_path.clone());
    let shown = svcmodel_compiler::load::relative(&lock_path, &cwd)
        .display()
        .to_string();
    if unchanged {
        println!("{shown} is up to date");
        return Exit::Success;
    }
    match super::write_atomically(&compilation.lock_path, &text) {
        Ok(()) => {
            let count: usize = lock.pins.values().map(|p| p.len()).sum();
            println!("wrote {shown}: {}", plural(count, "pin"));
            Exit::Success
        }
        Err(error) => {
            eprintln!("error: cannot write `{shown}`: {error}");
            Exit::Failure
        }
    }
}

pub fn schema(name: SchemaName) -> Exit {
    let schema = match name {
        SchemaName::Compile => schemars::schema_for!(view::CompileOutput),
        SchemaName::Graph => schemars::schema_for!(super::graph::GraphOutput),
        SchemaName::Render => schemars::schema_for!(super::render::RenderOutput),
        SchemaName::Place => schemars::schema_for!(super::place::PlaceOutput),
        SchemaName::Risk => schemars::schema_for!(super::place::RiskOutput),
        SchemaName::Slo => schemars::schema_for!(super::place::SloOutput),
    };
    output::print_json(&schema);
    Exit::Success
}
