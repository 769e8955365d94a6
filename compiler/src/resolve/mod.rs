//! Resolution: the model becomes one consistent system per environment.
//!
//! Input: a lowered [`Model`], values files and `--set` flags (already in the source
//! map), and the lockfile if there is one. Output: a [`ResolvedSystem`] per environment
//! (or one for a model without environments), the lockfile those resolutions imply, and
//! diagnostics. Algorithm, per environment:
//! 1. the `use` rules whose `when` holds there;
//! 2. versions by PubGrub ([`versions`]): the services of the files named on the command
//!    line are the roots, imported catalog services join when required; locked versions
//!    are kept while they still fit;
//! 3. instances: one per shared service, one per consumer for `per_consumer` services;
//! 4. the dependency graph, whose ordering cycles are errors;
//! 5. parameter values ([`values`]).

pub mod lock;
pub mod values;
pub mod versions;

use rustc_hash::{FxHashMap, FxHashSet};

use svcmodel_model::graph::{DependencyGraph, Edge};
use svcmodel_model::system::{Dependency, Instance, InstanceId, Origin, ResolvedSystem};
use svcmodel_model::{Instancing, Model, PolicyRule, Span, eval};

use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics, Severity};
use crate::source::SourceMap;
use lock::{Lockfile, Pin};
use values::Values;

/// What the command line adds to the model.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// Resolve for this environment only; all environments when `None`.
    pub environment: Option<String>,
    /// Values files, in order, already in the source map.
    pub values_files: Vec<svcmodel_model::FileId>,
    /// `--set` flags, in order, each already in the source map as its own file.
    pub sets: Vec<svcmodel_model::FileId>,
    /// The lockfile, already in the source map, if the project has one.
    pub lockfile: Option<svcmodel_model::FileId>,
    /// Fail (rather than warn) when the lockfile is out of date.
    pub locked: bool,
    /// Services whose locked versions are ignored (`svcmodel lock --update SERVICE`).
    pub update: Vec<String>,
    /// Compute the lockfile even when none exists yet (`svcmodel lock`).
    pub write_lock: bool,
}

pub struct Resolution {
    pub systems: Vec<ResolvedSystem>,
    /// The lockfile these resolutions imply; empty unless a lockfile was read, `--locked`
    /// was given, or [`Options::write_lock`] asked for it.
    pub lock: Lockfile,
    /// The lockfile as read, if any.
    pub previous_lock: Option<Lockfile>,
}

pub fn resolve(
    model: &Model,
    sources: &SourceMap,
    options: &Options,
    d: &mut Diagnostics,
) -> Resolution {
    let mut values = Values::default();
    for file in &options.values_files {
        values.add_file(model, sources, *file, d);
    }
    for flag in &options.sets {
        values.add_set(model, sources, *flag, d);
    }
    let previous_lock = options
        .lockfile
        .and_then(|file| match Lockfile::parse(sources, file) {
            Ok(lock) => Some(lock),
            Err(diagnostic) => {
                d.push(diagnostic);
                None
            }
        });
    let environments: Vec<Option<&svcmodel_model::Environment>> = match &options.environment {
        Some(name) => match model.environment(name) {
            Some(environment) => vec![Some(environment)],
            None => {
                let names: Vec<&str> = model
                    .environments
                    .iter()
                    .map(|e| e.name.value.as_str())
                    .collect();
                let help = crate::suggest::did_you_mean(name, names.iter().copied())
                    .unwrap_or_else(|| {
                        if names.is_empty() {
                            "the model declares no environment; leave out `-e`".to_string()
                        } else {
                            format!(
                                "use one of {}",
                                names
                                    .iter()
                                    .map(|n| format!("`{n}`"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        }
                    });
                d.push(
                    Diagnostic::error(
                        Code::UnknownEnvironment,
                        format!("unknown environment `{name}`"),
                    )
                    .help(help),
                );
                return Resolution {
                    systems: Vec::new(),
                    lock: Lockfile::default(),
                    previous_lock,
                };
            }
        },
        None if model.environments.is_empty() => vec![None],
        None => model.environments.iter().map(Some).collect(),
    };
    // In declaration order (each name once): deterministic, and the searches below then
    // walk the model in the order it lies in memory. The results do not depend on it.
    let mut seen: FxHashSet<&str> = FxHashSet::default();
    let roots: Vec<String> = model
        .services
        .iter()
        .filter(|s| !s.imported && seen.insert(s.name.value.as_str()))
        .map(|s| s.name.value.clone())
        .collect();
    let mut systems = Vec::new();
    let mut lock = Lockfile::default();
    // Hashing every definition costs time: only when a lockfile is read or written.
    let want_lock = previous_lock.is_some() || options.locked || options.write_lock;
    let mut hashes: FxHashMap<usize, String> = FxHashMap::default();
    for environment in environments {
        let env_name = environment.map(|e| e.name.value.clone());
        let mut inputs = versions::Inputs {
            roots: roots.clone(),
            ..Default::default()
        };
        for policy in &model.policies {
            let PolicyRule::Use { versions } = &policy.rule else {
                continue;
            };
            let applies = policy.when.as_ref().is_none_or(|when| {
                environment.is_some()
                    && eval::holds(
                        &when.value,
                        eval::Context {
                            service: None,
                            environment,
                        },
                    )
            });
            if !applies {
                continue;
            }
            for (service, requirement) in versions {
                inputs.rules.entry(service.value.clone()).or_default().push(
                    versions::VersionRule {
                        requirement: requirement.value.clone(),
                        policy: policy.name.value.clone(),
                        span: requirement.span,
                    },
                );
            }
        }
        if let Some(pins) = previous_lock.as_ref().and_then(|l| l.pins.get(&env_name)) {
            for (service, pin) in pins {
                if !options.update.contains(service) {
                    inputs
                        .preferred
                        .insert(service.as_str(), pin.version.clone());
                }
            }
        }
        let solution = match versions::resolve(model, &inputs) {
            Ok(solution) => solution,
            Err(diagnostic) => {
                d.push(diagnostic);
                continue;
            }
        };
        if want_lock {
            let pins = lock.pins.entry(env_name.clone()).or_default();
            for (name, definition) in &solution {
                let hash = hashes
                    .entry(*definition)
                    .or_insert_with(|| lock::definition_hash(&model.services[*definition]))
                    .clone();
                pins.insert(
                    name.to_string(),
                    Pin {
                        version: model.services[*definition].version.value.clone(),
                        hash,
                        span: None,
                    },
                );
            }
        }
        let Some(mut system) = instantiate(model, &roots, &solution, env_name.clone(), d) else {
            continue;
        };
        // Values per instance are independent: share them out over the cores, while
        // this thread looks for cycles.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = system.instances.len().div_ceil(threads).max(1);
        let environment = env_name.as_deref();
        let values = &values;
        let (found, cycles) = std::thread::scope(|scope| {
            let graph = &system.graph;
            let names: Vec<&str> = system.instances.iter().map(|i| i.name.as_str()).collect();
            let cycles = scope.spawn(move || {
                let mut d = Diagnostics::default();
                report_cycles(graph, &names, &mut d);
                d.into_vec()
            });
            let handles: Vec<_> = system
                .instances
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        let mut d = Diagnostics::default();
                        let found: Vec<_> = part
                            .iter()
                            .map(|instance| {
                                let def = &model.services[instance.definition];
                                let params = values.resolve(
                                    &instance.name,
                                    &instance.service,
                                    &def.params,
                                    environment,
                                    &mut d,
                                );
                                let resources = values.resolve_resources(
                                    &instance.name,
                                    &instance.service,
                                    def,
                                    environment,
                                    &mut d,
                                );
                                (params, resources)
                            })
                            .collect();
                        (found, d)
                    })
                })
                .collect();
            let found: Vec<_> = handles.into_iter().filter_map(|h| h.join().ok()).collect();
            (found, cycles.join().unwrap_or_default())
        });
        let mut all_values = Vec::with_capacity(system.instances.len());
        for (part, diagnostics) in found {
            all_values.extend(part);
            d.append(diagnostics);
        }
        for (instance, (values, resources)) in system.instances.iter_mut().zip(all_values) {
            instance.values = values;
            instance.resources = resources;
        }
        d.extend(cycles);
        systems.push(system);
    }
    if let Some(previous) = &previous_lock {
        let in_scope =
            |e: &Option<String>| options.environment.is_none() || *e == options.environment;
        let scoped = |l: &Lockfile| Lockfile {
            pins: l
                .pins
                .iter()
                .filter(|(e, _)| in_scope(e))
                .map(|(e, p)| (e.clone(), p.clone()))
                .collect(),
            placement: std::collections::BTreeMap::new(),
        };
        let differences = scoped(previous).differences(&scoped(&lock));
        if !differences.is_empty() && !d.has_errors() {
            d.push(stale_lock(&differences, options.locked));
        }
    } else if options.locked {
        d.push(
            Diagnostic::error(
                Code::StaleLock,
                format!("`--locked` was given but there is no `{}`", lock::FILE_NAME),
            )
            .help("run `svcmodel lock` and commit the lockfile"),
        );
    }
    Resolution {
        systems,
        lock,
        previous_lock,
    }
}

fn stale_lock(differences: &[(String, Option<Span>)], locked: bool) -> Diagnostic {
    let mut diagnostic = Diagnostic::error(
        Code::StaleLock,
        format!("`{}` is out of date: {}", lock::FILE_NAME, differences[0].0),
    );
    if !locked {
        diagnostic.severity = Severity::Warning;
    }
    for (text, span) in differences {
        if let Some(span) = span {
            diagnostic = diagnostic.label(*span, text.clone());
        }
    }
    let more = if differences.len() > 1 {
        format!(" ({} differences)", differences.len())
    } else {
        String::new()
    };
    diagnostic.help(format!(
        "run `svcmodel lock` to update it, review the change and commit it{more}"
    ))
}

/// An instance before ids are given.
struct Pending<'m> {
    /// Borrowed from the model for shared instances; made for per-consumer ones.
    name: std::borrow::Cow<'m, str>,
    service: &'m str,
    definition: usize,
    /// Index into the pending list.
    consumer: Option<usize>,
    origin: Origin,
}

/// Creates the instances the solution calls for and joins them by their requirements.
fn instantiate(
    model: &Model,
    roots: &[String],
    solution: &versions::Solution,
    environment: Option<String>,
    d: &mut Diagnostics,
) -> Option<ResolvedSystem> {
    let mut pending: Vec<Pending> = Vec::with_capacity(solution.len());
    let mut index: FxHashMap<std::borrow::Cow<'_, str>, usize> =
        FxHashMap::with_capacity_and_hasher(solution.len(), Default::default());
    // (consumer, dependency, requirement index, ordering, span), by pending index.
    let mut edges: Vec<(usize, usize, usize, bool, Span)> = Vec::with_capacity(solution.len() * 3);
    let per_consumer =
        |definition: usize| model.services[definition].instancing.value == Instancing::PerConsumer;
    let chosen = solution;
    // A per-consumer service gets an instance for each consumer; only when nothing
    // requires it does it run once, on its own.
    // (Built only if some root is per-consumer: few models have one.)
    let mut required: Option<FxHashSet<&str>> = None;
    for root in roots {
        let definition = *solution.get(root.as_str())?;
        let name: &str = model.services[definition].name.value.as_str();
        if per_consumer(definition) {
            let required = required.get_or_insert_with(|| {
                solution
                    .values()
                    .flat_map(|definition| {
                        model.services[*definition]
                            .requires
                            .iter()
                            .map(|r| r.service.value.as_str())
                    })
                    .collect()
            });
            if required.contains(name) {
                continue;
            }
        }
        index.insert(std::borrow::Cow::Borrowed(name), pending.len());
        pending.push(Pending {
            name: std::borrow::Cow::Borrowed(name),
            service: name,
            definition,
            consumer: None,
            origin: Origin::System,
        });
    }
    let mut collided = false;
    // Every instance is visited once, in creation order: each requirement is one edge.
    let mut next = 0;
    while next < pending.len() {
        let consumer = next;
        next += 1;
        let definition = pending[consumer].definition;
        for (requirement_index, requirement) in
            model.services[definition].requires.iter().enumerate()
        {
            let Some(&dep_definition) = chosen.get(requirement.service.value.as_str()) else {
                continue;
            };
            // The model's own copy of the name: it outlives this function's borrows.
            let dependency: &str = model.services[dep_definition].name.value.as_str();
            let dep_definition = &dep_definition;
            let separate = per_consumer(*dep_definition);
            let derived;
            let instance_name: &str = if separate {
                derived = format!("{}-{dependency}", pending[consumer].name);
                &derived
            } else {
                dependency
            };
            let target = match index.get(instance_name) {
                Some(&existing) if separate && pending[existing].consumer != Some(consumer) => {
                    collided = true;
                    let consumer_name = &pending[consumer].name;
                    d.push(
                        Diagnostic::error(
                            Code::NameCollision,
                            format!("the instance of `{dependency}` for `{consumer_name}` would be named `{instance_name}`, which is taken"),
                        )
                        .label(requirement.service.span, format!("`{consumer_name}` gets its own `{dependency}`"))
                        .label(
                            model.services[pending[existing].definition].name.span,
                            format!("`{instance_name}` is already this service"),
                        )
                        .help(format!("rename `{instance_name}`, or make `{dependency}` shared")),
                    );
                    continue;
                }
                Some(&existing) => existing,
                None => {
                    let name: std::borrow::Cow<'_, str> = if separate {
                        std::borrow::Cow::Owned(instance_name.to_string())
                    } else {
                        std::borrow::Cow::Borrowed(dependency)
                    };
                    index.insert(name.clone(), pending.len());
                    pending.push(Pending {
                        name,
                        service: dependency,
                        definition: *dep_definition,
                        consumer: separate.then_some(consumer),
                        origin: Origin::Required,
                    });
                    pending.len() - 1
                }
            };
            edges.push((
                consumer,
                target,
                requirement_index,
                requirement.ordering,
                requirement.service.span,
            ));
        }
    }
    if collided {
        return None;
    }
    // Ids follow the names' order, so every output is sorted and deterministic. The
    // first eight bytes of each name, read as a number, decide most comparisons
    // without touching the names themselves.
    let prefix = |name: &str| {
        let mut bytes = [0u8; 8];
        let len = name.len().min(8);
        bytes[..len].copy_from_slice(&name.as_bytes()[..len]);
        u64::from_be_bytes(bytes)
    };
    let mut order: Vec<(u64, usize)> = pending
        .iter()
        .enumerate()
        .map(|(i, p)| (prefix(&p.name), i))
        .collect();
    order.sort_unstable_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| pending[a.1].name.cmp(&pending[b.1].name))
    });
    let order: Vec<usize> = order.into_iter().map(|(_, i)| i).collect();
    let mut id_of = vec![InstanceId(0); pending.len()];
    for (id, p) in order.iter().enumerate() {
        id_of[*p] = InstanceId(id as u32);
    }
    let mut graph = DependencyGraph::new(pending.len());
    let mut slots: Vec<Option<Pending>> = pending.into_iter().map(Some).collect();
    let mut instances: Vec<Instance> = order
        .iter()
        .filter_map(|p| {
            let pending = slots[*p].take()?;
            Some(Instance {
                id: id_of[*p],
                version: model.services[pending.definition].version.value.clone(),
                name: pending.name.into_owned(),
                service: pending.service.to_string(),
                definition: pending.definition,
                consumer: pending.consumer.map(|c| id_of[c]),
                origin: pending.origin,
                values: Vec::new(),
                resources: model.services[pending.definition].resources.clone(),
                dependencies: Vec::with_capacity(model.services[pending.definition].requires.len()),
            })
        })
        .collect();
    for (consumer, dependency, requirement, ordering, span) in edges {
        let (from, to) = (id_of[consumer], id_of[dependency]);
        instances[from.index()].dependencies.push(Dependency {
            instance: to,
            requirement,
            ordering,
            span,
        });
        graph.add_dependency(from, to, Edge { span, ordering });
    }
    Some(ResolvedSystem {
        environment,
        instances,
        graph,
    })
}

fn report_cycles(graph: &DependencyGraph, names: &[&str], d: &mut Diagnostics) {
    for cycle in graph.cycles() {
        let names: Vec<&str> = cycle.instances.iter().map(|i| names[i.index()]).collect();
        let mut path = names.join(" -> ");
        path.push_str(" -> ");
        path.push_str(names[0]);
        let mut diagnostic =
            Diagnostic::error(Code::DependencyCycle, format!("dependency cycle: {path}"));
        for (i, edge) in cycle.edges.iter().enumerate() {
            let from = names[i];
            let to = names[(i + 1) % names.len()];
            diagnostic = diagnostic.label(edge.span, format!("`{from}` requires `{to}`"));
        }
        d.push(diagnostic.help(
            "break the cycle: if one of these calls need not wait for the other to be healthy, mark it `ordering = false`; otherwise remove a requirement",
        ));
    }
}
