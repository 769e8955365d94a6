//! `plan`, `deploy`, `status`, `reconcile`, `destroy` and `state unlock`: the model
//! against what runs, through the state under `.svcmodel/` and an engine.
//!
//! Each works on one environment (`-e ENV`) or on every environment of the model at
//! once: a deploy then runs in waves across environments, so a service placed in one
//! environment starts after what it requires in another.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use svcmodel_compiler::SystemCompilation;
use svcmodel_compiler::codes::Code;
use svcmodel_compiler::diagnostic::{Diagnostic, JsonDiagnostic, Severity};
use svcmodel_deploy::audit::{AuditLog, Audited};
use svcmodel_deploy::deploy::{self, Action, Desired, Engine, Event, Plan};
use svcmodel_deploy::local::LocalEngine;
use svcmodel_deploy::reconcile::Advice;
use svcmodel_deploy::state::{State, StateError, Store};
use svcmodel_model::system::ResolvedSystem;
use svcmodel_targets::view::Input;

use crate::cli::{Color, DriftFormat, Format, SystemArgs};
use crate::exit::Exit;
use crate::output;

/// The targets svcmodel deploys to.
const DEPLOYABLE: [&str; 4] = ["local", "compose", "swarm", "kubernetes"];

/// The model, resolved once, and the environments a command works on.
struct Selection {
    compilation: SystemCompilation,
    /// In the model's order; a run over several deploys in waves across them.
    envs: Vec<Environment>,
}

/// What should run in one environment.
struct Environment {
    system: ResolvedSystem,
    name: String,
    /// `local` (processes), `compose` (containers on the Docker Engine), `swarm` or
    /// `kubernetes`.
    target: String,
    desired: Vec<Desired>,
    store: Store,
    /// The kubeconfig or Docker context the environment names; `None`: the current one.
    context: Option<String>,
    /// The key of the secret fingerprints; empty when no service has a secret.
    secret_key: Vec<u8>,
    /// Services recorded here that placement moved to another environment, with why.
    moved: BTreeMap<String, String>,
    /// What placement warns of here (E0904), for a JSON output; printed for a person.
    warnings: Vec<Diagnostic>,
}

fn lookup(variable: &str) -> Option<String> {
    std::env::var(variable).ok()
}

/// Resolves the model and builds what should run in the environment `-e` names, or
/// in every environment of the model, with deploy waves across them.
fn select(args: &SystemArgs, format: Format, color: Color) -> Result<Selection, Exit> {
    output::set_mode(format, color);
    let mut compilation = super::system::resolve(args, &[], false, format, color)?;
    let model_names: Vec<String> = compilation
        .model
        .environments
        .iter()
        .map(|e| e.name.value.clone())
        .collect();
    let names = match &args.environment {
        Some(name) => vec![name.clone()],
        None if model_names.is_empty() => vec!["default".to_string()],
        None => model_names,
    };
    let targets: Vec<String> = names
        .iter()
        .map(|name| {
            compilation
                .model
                .environment(name)
                .map_or_else(|| "local".to_string(), |e| e.target.value.clone())
        })
        .collect();
    let undeployable: Vec<(&String, &String)> = names
        .iter()
        .zip(&targets)
        .filter(|(_, target)| !DEPLOYABLE.contains(&target.as_str()))
        .collect();
    if let Some((name, target)) = undeployable.first() {
        if args.environment.is_some() {
            output::failure(
                Diagnostic::error(
                    Code::NotDeployable,
                    format!(
                        "environment `{name}` runs on `{target}`, and svcmodel deploys to local processes, Docker (`compose`), Swarm and Kubernetes only so far"
                    ),
                )
                .help(format!("write its manifests with `svcmodel render -e {name} -o DIR`, and deploy them with that target's tool")),
            );
        } else {
            let list: Vec<String> = undeployable
                .iter()
                .map(|(name, target)| format!("`{name}` runs on `{target}`"))
                .collect();
            let deployable: Vec<&str> = names
                .iter()
                .zip(&targets)
                .filter(|(_, target)| DEPLOYABLE.contains(&target.as_str()))
                .map(|(name, _)| name.as_str())
                .collect();
            output::failure(
                Diagnostic::error(
                    Code::NotDeployable,
                    format!(
                        "not every environment of the model can be deployed: {}; svcmodel deploys to local processes, Docker (`compose`), Swarm and Kubernetes only so far",
                        list.join(", ")
                    ),
                )
                .help(format!(
                    "choose an environment with -e ENV{}",
                    if deployable.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", deployable.join(", "))
                    }
                )),
            );
        }
        return Err(Exit::Usage);
    }
    // Placed once for every environment of the command.
    let fresh = svcmodel_compiler::place::Previous::new();
    let placements = super::place::Placements::for_command(
        args,
        &compilation.model,
        compilation
            .resolution
            .as_ref()
            .map_or(&[][..], |r| r.systems.as_slice()),
        compilation
            .resolution
            .as_ref()
            .and_then(|r| r.previous_lock.as_ref())
            .map_or(&fresh, |lock| &lock.placement),
        true,
    );
    let mut envs = Vec::new();
    for (name, target) in names.into_iter().zip(targets) {
        envs.push(prepare(
            &mut compilation,
            args,
            &placements,
            name,
            target,
            color,
        )?);
    }
    // Each environment's landscape, by its position: two landscapes may share a name
    // (a tier, and an environment without one named like it).
    let landscapes = svcmodel_compiler::place::landscapes(&compilation.model);
    let landscape_of = |name: &str| -> String {
        landscapes
            .iter()
            .position(|(_, members)| {
                members
                    .iter()
                    .any(|&e| compilation.model.environments[e].name.value == name)
            })
            .map_or_else(|| format!("alone: {name}"), |at| at.to_string())
    };
    let keys: Vec<String> = envs.iter().map(|e| landscape_of(&e.name)).collect();
    let mut sites: Vec<_> = envs
        .iter_mut()
        .zip(&keys)
        .map(|(env, key)| (&env.system, key.as_str(), env.desired.as_mut_slice()))
        .collect();
    if let Err(message) = deploy::landscape_waves(&mut sites) {
        output::failure(Diagnostic::error(Code::DependencyCycle, message).help(
            "place the services of the cycle in one environment, or mark one requirement `ordering = false`",
        ));
        return Err(Exit::ModelErrors);
    }
    Ok(Selection { compilation, envs })
}

/// What should run in the environment `name`: in a landscape of several
/// environments, only what placement put there.
fn prepare(
    compilation: &mut SystemCompilation,
    args: &SystemArgs,
    placements: &super::place::Placements,
    name: String,
    target: String,
    color: Color,
) -> Result<Environment, Exit> {
    let Some(system) = compilation
        .resolution
        .as_ref()
        .and_then(|r| {
            r.systems
                .iter()
                .find(|s| s.environment.as_deref().unwrap_or("default") == name)
        })
        .cloned()
    else {
        let names: Vec<String> = compilation
            .model
            .environments
            .iter()
            .map(|e| format!("`{}`", e.name.value))
            .collect();
        output::failure(
            Diagnostic::error(
                Code::UnknownEnvironment,
                format!("there is no environment `{name}` in the model"),
            )
            .help(if names.is_empty() {
                "declare the environment, or leave out -e".to_string()
            } else {
                format!("choose one of {}", names.join(", "))
            }),
        );
        return Err(Exit::Usage);
    };
    let cwd = super::current_dir();
    let entries = super::entries(&args.paths, &cwd);
    let root = super::project_root(args.root.as_deref(), &entries, &cwd);
    let file_dirs: Vec<String> = compilation
        .sources
        .files()
        .map(|(_, file)| {
            cwd.join(&file.name)
                .parent()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    let Some(local) = svcmodel_targets::builtin::built_in(&target) else {
        output::failure(
            Diagnostic::error(
                Code::InternalError,
                format!("the built-in target `{target}` is missing"),
            )
            .help("this is a bug in svcmodel: report it"),
        );
        return Err(Exit::Failure);
    };
    let no_templates = BTreeMap::new();
    let root_dir = root.to_string_lossy().into_owned();
    let placed = match placements.for_environment(&compilation.model, &system, &name) {
        Ok(placed) => placed,
        Err(found) => {
            print_model_errors(&found, &compilation.sources, color);
            if !output::json_mode() {
                eprintln!("error: environment `{name}` cannot be placed");
            }
            return Err(Exit::ModelErrors);
        }
    };
    let only: Vec<String> = match &placed {
        // An empty list means every instance: a name no instance has means none.
        Some((here, _)) if here.is_empty() => vec![String::new()],
        Some((here, _)) => here.clone(),
        None => Vec::new(),
    };
    let placed_view = placed.as_ref().map(|(_, view)| view);
    let mut problems = Vec::new();
    let view = svcmodel_targets::view::build(
        &Input {
            model: &compilation.model,
            system: &system,
            file_dirs: &file_dirs,
            root_dir: &root_dir,
            template_files: &no_templates,
            only: &only,
            placed: placed_view,
        },
        &local.manifest,
        &mut problems,
    );
    let folder = root.join("templates").join(&target);
    let diagnostics: Vec<Diagnostic> = problems
        .iter()
        .map(|p| super::render::diagnostic(p, &folder, &mut compilation.sources))
        .collect();
    if diagnostics.iter().any(|d| d.severity == Severity::Error) {
        print_model_errors(&diagnostics, &compilation.sources, color);
        if !output::json_mode() {
            eprintln!("error: environment `{name}` cannot run on `{target}`");
        }
        return Err(Exit::ModelErrors);
    }
    // What the Docker and Swarm engines do not apply yet: refused before anything
    // starts, rather than started without it.
    if matches!(target.as_str(), "compose" | "swarm" | "local")
        && let Some(service) = view
            .services
            .iter()
            .find(|s| !s.files.is_empty() || !s.secret_files.is_empty())
    {
        output::failure(
            Diagnostic::error(
                Code::TargetUnsupported,
                format!(
                    "the {} engine does not deploy configuration files yet, and `{}` has {}",
                    match target.as_str() {
                        "swarm" => "Swarm",
                        "local" => "local",
                        _ => "Docker",
                    },
                    service.name,
                    output::plural(service.files.len() + service.secret_files.len(), "file")
                ),
            )
            .help(format!(
                "deploy the rendered files with `docker compose` (`svcmodel render -e {name} -o DIR`), or pass the values as environment variables"
            )),
        );
        return Err(Exit::ModelErrors);
    }
    let waves = deploy::wave_names(&system);
    let desired = match target.as_str() {
        "compose" | "swarm" => svcmodel_deploy::docker::desired(&view.services, &waves, &name),
        "kubernetes" => {
            let files = kubernetes_files(
                compilation,
                &system,
                &root,
                &file_dirs,
                (&only, placed_view),
                color,
            )?;
            svcmodel_deploy::kubernetes::desired(
                &view.services,
                &files,
                &waves,
                &name,
                &view.environment.namespace,
            )
            .map_err(|message| {
                output::failure(Diagnostic::error(Code::TemplateFailed, message).help(
                    "render a `SERVICE/manifest.yaml` per service from `templates/kubernetes/`, as the built-in target does",
                ));
                Exit::Failure
            })?
        }
        _ => deploy::desired_local(&view.services, &waves),
    };
    let context = compilation
        .model
        .environment(&name)
        .and_then(|e| e.context.as_ref())
        .map(|c| c.value.clone());
    let store =
        Store::new(super::state_root(args.root.as_deref(), &entries, &cwd).join(".svcmodel"));
    let secret_key = if desired.iter().any(|d| !d.secrets.is_empty()) {
        store.secret_key().map_err(|e| state_error(&e))?
    } else {
        Vec::new()
    };
    // What runs here now and placement put elsewhere: a move, not a removal.
    let deployed: Vec<String> = store
        .load(&name)
        .ok()
        .flatten()
        .map(|state| state.services.keys().cloned().collect())
        .unwrap_or_default();
    let moved = placements.moved_from(&name, &deployed);
    // Degraded spreads: the run goes ahead, and says what is at risk: on standard
    // error for a person, in the JSON output for a pipeline.
    let warnings = placements.warnings(&name);
    if !output::json_mode() {
        output::print_human(&warnings, &compilation.sources, color);
    }
    Ok(Environment {
        system,
        name,
        target,
        desired,
        store,
        context,
        secret_key,
        moved,
        warnings,
    })
}

/// The manifests `svcmodel render` writes for a Kubernetes environment (with the
/// project's `templates/kubernetes/`), which the Kubernetes engine applies as they are.
fn kubernetes_files(
    compilation: &mut SystemCompilation,
    system: &ResolvedSystem,
    root: &Path,
    file_dirs: &[String],
    (only, placed): (&[String], Option<&svcmodel_targets::view::PlacedView>),
    color: Color,
) -> Result<Vec<svcmodel_targets::RenderedFile>, Exit> {
    let folder = root.join("templates").join("kubernetes");
    let target = super::render::load_target(root, "kubernetes").map_err(|problem| {
        let d = super::render::diagnostic(&problem, &folder, &mut compilation.sources);
        print_model_errors(&[d], &compilation.sources, color);
        Exit::ModelErrors
    })?;
    let cwd = super::current_dir();
    let (template_files, mut diagnostics) =
        super::render::read_config_templates(compilation, &cwd, root);
    let root_dir = root.to_string_lossy().into_owned();
    let rendered = svcmodel_targets::render(
        &Input {
            model: &compilation.model,
            system,
            file_dirs,
            root_dir: &root_dir,
            template_files: &template_files,
            only,
            placed,
        },
        &target,
    );
    for problem in &rendered.problems {
        diagnostics.push(super::render::diagnostic(
            problem,
            &folder,
            &mut compilation.sources,
        ));
    }
    if diagnostics.iter().any(|d| d.severity == Severity::Error) {
        print_model_errors(&diagnostics, &compilation.sources, color);
        return Err(Exit::ModelErrors);
    }
    Ok(rendered.files)
}

/// Diagnostics that stop a command before it changes anything: the JSON report under
/// `--format json`, as a compiler prints them otherwise.
fn print_model_errors(
    diagnostics: &[Diagnostic],
    sources: &svcmodel_compiler::source::SourceMap,
    color: Color,
) {
    if output::json_mode() {
        output::print_json_diagnostics(diagnostics, sources, &serde_json::json!({}));
    } else {
        output::print_human(diagnostics, sources, color);
    }
}

/// The engine of the environment's target, connected through its `context`.
fn engine<'a>(env: &Environment) -> Result<Box<dyn Engine + 'a>, Exit> {
    use svcmodel_deploy::{docker::DockerEngine, kubernetes::KubernetesEngine, swarm::SwarmEngine};
    fn boxed<'a>(engine: impl Engine + 'a) -> Box<dyn Engine + 'a> {
        Box::new(engine)
    }
    let context = env.context.as_deref();
    let connected = match env.target.as_str() {
        "kubernetes" => KubernetesEngine::connect(&lookup, context).map(boxed),
        "swarm" => SwarmEngine::connect(&env.name, &lookup, context).map(boxed),
        "compose" => DockerEngine::connect(&env.name, &lookup, context).map(boxed),
        _ => Ok(boxed(LocalEngine {
            logs: env.store.log_dir(&env.name).map_err(|e| state_error(&e))?,
            lookup: &lookup,
            // Every service runs under `svcmodel supervise`, which honours its
            // restart policy after svcmodel has exited.
            supervisor: std::env::current_exe().ok(),
        })),
    };
    connected.map_err(|message| {
        output::failure(Diagnostic::error(Code::EngineUnreachable, message).help(
            "start the engine, or check `DOCKER_HOST`, `KUBECONFIG` or the environment's `context`",
        ));
        Exit::Failure
    })
}

/// What `status` and `reconcile` look at: the environments, and each one's state
/// (read without the lock: they change nothing) and engine.
type Observed<'a> = (Selection, Vec<(Option<State>, Box<dyn Engine + 'a>)>);

fn observe_selection<'a>(
    args: &SystemArgs,
    format: Format,
    color: Color,
) -> Result<Observed<'a>, Exit> {
    let selection = select(args, format, color)?;
    let mut opened = Vec::new();
    for env in &selection.envs {
        let state = env.store.load(&env.name).map_err(|e| state_error(&e))?;
        opened.push((state, engine(env)?));
    }
    Ok((selection, opened))
}

/// Prints a state error as its coded diagnostic; the exit code it ends with.
fn state_error(error: &StateError) -> Exit {
    let (code, help, exit) = match error {
        StateError::Locked(_) | StateError::LockedUnreadable(_) => (
            Code::EnvironmentLocked,
            "wait for the other run, or give a longer --lock-timeout",
            Exit::Locked,
        ),
        StateError::NotHeld(_) | StateError::HeldByLiveRun(_) => (
            Code::LockNotReleased,
            "check the lock id in the lock error, or wait for the run that holds it to end",
            Exit::Usage,
        ),
        StateError::UnsafeName(..) => (
            Code::UnsafeName,
            "rename the environment with letters, digits, `-`, `_` and `.`",
            Exit::ModelErrors,
        ),
        StateError::Io(..) | StateError::Corrupt(..) => (
            Code::StateUnusable,
            "restore the state from its `.backup` beside it, or fix the folder, then run the command again",
            Exit::Failure,
        ),
    };
    output::failure(Diagnostic::error(code, error.to_string()).help(help));
    exit
}

/// Prints why a deploy stopped before its waves; the exit code it ends with.
fn deploy_error(error: &deploy::DeployError) -> Exit {
    use deploy::DeployError;
    let (code, help) = match error {
        DeployError::State(e) => return state_error(e),
        DeployError::Unrecorded { environment, .. } => (
            Code::UnrecordedServices,
            format!(
                "run `svcmodel state adopt -e {environment}` to record them (the next deploy replaces them), or stop them yourself"
            ),
        ),
        DeployError::PortClash { .. } => (
            Code::PortClash,
            "give one of them another port, or deploy the environments one at a time with -e"
                .to_string(),
        ),
        DeployError::PortTaken { .. } => (
            Code::PortTaken,
            "stop that process, or give the service another port".to_string(),
        ),
    };
    output::failure(Diagnostic::error(code, error.to_string()).help(help));
    Exit::DeployFailed
}

/// The fingerprints of each service's secrets, under the project's key.
fn hashes(env: &Environment) -> BTreeMap<String, BTreeMap<String, String>> {
    env.desired
        .iter()
        .map(|d| {
            (
                d.name.clone(),
                deploy::secret_hashes(d, &env.secret_key, &lookup),
            )
        })
        .collect()
}

// ---------------------------------------------------------------- plan

pub fn plan(args: &SystemArgs, operations: bool, format: Format, color: Color) -> Exit {
    let selection = match select(args, format, color) {
        Ok(selection) => selection,
        Err(exit) => return exit,
    };
    let mut plans = Vec::new();
    for env in &selection.envs {
        let state = match env.store.load(&env.name) {
            Ok(state) => state,
            Err(e) => return state_error(&e),
        };
        let mut plan = deploy::plan(&env.name, state.as_ref(), &env.desired, &hashes(env));
        plan.mark_moved(&env.moved);
        if operations {
            let engine = match engine(env) {
                Ok(engine) => engine,
                Err(exit) => return exit,
            };
            plan.operations = Some(deploy::operations(
                &env.store,
                state.as_ref(),
                &plan,
                &env.desired,
                engine.as_ref(),
                false,
            ));
        }
        plans.push(plan);
    }
    match format {
        Format::Json => output::print_json(&PlanOutput {
            format: 2,
            environments: &plans,
            warnings: selection_warnings(&selection),
        }),
        Format::Human => plans.iter().for_each(|plan| {
            print!("{}", plan_text(plan));
            if let Some(steps) = &plan.operations {
                print!("{}", operations_text(steps));
            }
        }),
    }
    if plans.iter().any(Plan::has_changes) {
        Exit::Changes
    } else {
        Exit::Success
    }
}

/// What `svcmodel plan --format json` prints: a plan per environment.
#[derive(Serialize, schemars::JsonSchema)]
pub struct PlanOutput<'a> {
    /// The version of this shape.
    format: u32,
    /// The environment `-e` names, or every environment of the model, in its order.
    /// Waves count across them: a service waits for what it requires in another
    /// environment.
    environments: &'a [Plan],
    /// Placement's warnings (E0904).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<JsonDiagnostic>,
}

/// Placement's warnings for every environment of a run, as JSON.
fn selection_warnings(selection: &Selection) -> Vec<JsonDiagnostic> {
    selection
        .envs
        .iter()
        .flat_map(|env| &env.warnings)
        .map(|d| JsonDiagnostic::new(d, &selection.compilation.sources))
        .collect()
}

fn plan_text(plan: &Plan) -> String {
    let mut out = format!("plan for environment `{}`:\n", plan.environment);
    for pending in &plan.pending {
        out.push_str(&format!(
            "  ! {} was left pending ({}) by an interrupted run: the next deploy converges it\n",
            pending.service, pending.action
        ));
    }
    let mut counts = BTreeMap::new();
    for item in &plan.items {
        let (sign, word) = match item.action {
            Action::Create => ("+", "create"),
            Action::Update => ("~", "update"),
            Action::Delete => ("-", "delete"),
            Action::Unchanged => ("=", "unchanged"),
        };
        *counts.entry(word).or_insert(0) += 1;
        let why = match &item.moved {
            Some(moved) => format!("{word}: {moved}"),
            None => word.to_string(),
        };
        out.push_str(&format!(
            "  {sign} {} {} ({why})\n",
            item.name,
            item.version.as_deref().unwrap_or("")
        ));
        for change in &item.changes {
            out.push_str(&format!(
                "      {}: {} → {}\n",
                change.field,
                change.from.as_deref().unwrap_or("(none)"),
                change.to.as_deref().unwrap_or("(none)")
            ));
        }
    }
    let summary: Vec<String> = ["create", "update", "delete", "unchanged"]
        .iter()
        .filter_map(|w| {
            counts
                .get(w)
                .map(|n| format!("{n} to {w}").replace("to unchanged", "unchanged"))
        })
        .collect();
    out.push_str(&format!("{}\n", summary.join(", ")));
    out
}

/// The engine's operations in the order a deploy performs them.
fn operations_text(steps: &[deploy::Step]) -> String {
    if steps.is_empty() {
        return "no engine operations\n".to_string();
    }
    let mut out = String::from("engine operations, in order (a wave's services start at once):\n");
    let mut heading = None;
    for step in steps {
        let this = match (step.wave, step.action.as_str()) {
            (Some(wave), _) => format!("wave {}", wave + 1),
            (None, "converge") => "before the waves".to_string(),
            (None, _) => "after the waves".to_string(),
        };
        if heading.as_ref() != Some(&this) {
            out.push_str(&format!("  {this}:\n"));
            heading = Some(this);
        }
        out.push_str(&format!("    {} ({}):\n", step.service, step.action));
        for operation in &step.operations {
            out.push_str(&format!(
                "      {} {}\n",
                operation.operation, operation.object
            ));
        }
    }
    out
}

/// Each environment's engine, wrapped so that every call that changes something is
/// appended to the project's audit log under one run id; the logs the wrappers write.
fn audit_logs(envs: &[Environment], command: &str) -> Result<Vec<AuditLog>, Exit> {
    let run = svcmodel_deploy::state::new_id();
    envs.iter()
        .map(|env| {
            AuditLog::open(env.store.dir(), command, &run)
                .map(|log| log.echo(output::verbose()))
                .map_err(|e| {
                    state_error(&StateError::Io(
                        env.store.dir().join(svcmodel_deploy::audit::FILE),
                        e,
                    ))
                })
        })
        .collect()
}

/// `engine`, with its calls recorded in `log`; `state` names what it already runs.
fn audited<'a>(
    env: &Environment,
    engine: &'a dyn Engine,
    log: &'a AuditLog,
    redactor: &'a svcmodel_deploy::secrets::Redactor,
    state: Option<&State>,
) -> Audited<'a> {
    let known = state
        .into_iter()
        .flat_map(|s| &s.services)
        .map(|(name, record)| {
            (
                record.engine_id.clone(),
                name.clone(),
                record.model_hash.clone(),
            )
        });
    Audited::new(engine, log, &env.name, redactor, known)
}

// ---------------------------------------------------------------- deploy

pub struct DeployArgs<'a> {
    /// The command, as the audit log names the run: `deploy` or `reconcile`.
    pub command: &'static str,
    pub system: &'a SystemArgs,
    pub yes: bool,
    pub repair_unhealthy: bool,
    pub rollback: bool,
    pub timeout: u64,
    pub lock_timeout: u64,
    pub format: Format,
    pub color: Color,
}

/// What `svcmodel deploy --format json` prints: what the run did in each environment.
#[derive(Serialize, schemars::JsonSchema)]
pub struct DeployOutput {
    /// The version of this shape.
    format: u32,
    /// Every wave became healthy in every environment.
    ok: bool,
    /// The wave that failed, counted from 0 across every environment of the run;
    /// `null` when none did.
    failed_wave: Option<usize>,
    /// One per environment of the run, in the model's order.
    environments: Vec<deploy::Report>,
    /// Placement's warnings (E0904): the run went ahead with them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<JsonDiagnostic>,
}

pub fn deploy(args: &DeployArgs) -> Exit {
    match select(args.system, args.format, args.color) {
        Ok(selection) => deploy_selection(&selection, args),
        Err(exit) => exit,
    }
}

/// Deploys a model already resolved and placed: `deploy`, and `reconcile --fix` with
/// the selection it observed.
fn deploy_selection(selection: &Selection, args: &DeployArgs) -> Exit {
    let envs = &selection.envs;
    let several = envs.len() > 1;
    let missing_in = |env: &Environment| -> Vec<String> {
        let mut missing: Vec<String> = env
            .desired
            .iter()
            .flat_map(|d| d.secrets.iter().map(|(_, v)| v.clone()))
            .filter(|v| lookup(v).is_none())
            .collect();
        missing.sort_unstable();
        missing.dedup();
        missing
    };
    let unset: Vec<(&Environment, Vec<String>)> = envs
        .iter()
        .map(|env| (env, missing_in(env)))
        .filter(|(_, missing)| !missing.is_empty())
        .collect();
    if !unset.is_empty() {
        for (env, missing) in &unset {
            output::failure(
                Diagnostic::error(
                    Code::SecretUnset,
                    format!(
                        "the secrets of environment `{}` are not set: {}",
                        env.name,
                        missing
                            .iter()
                            .map(|m| format!("`{m}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
                .help("set these variables on the deploying machine, then run the command again"),
            );
        }
        return Exit::DeployFailed;
    }
    // Locks are taken in name order, so two runs over shared environments never wait
    // for each other in a circle.
    let mut by_name: Vec<&Environment> = envs.iter().collect();
    by_name.sort_by(|a, b| a.name.cmp(&b.name));
    let mut _locks = Vec::new();
    for env in by_name {
        match env
            .store
            .lock(&env.name, "deploy", Duration::from_secs(args.lock_timeout))
        {
            Ok(lock) => _locks.push(lock),
            Err(e) => return state_error(&e),
        }
    }
    let mut states = Vec::new();
    for env in envs {
        match env.store.load(&env.name) {
            Ok(Some(state)) => states.push(state),
            Ok(None) => states.push(State::new(&env.name, &env.target)),
            Err(e) => return state_error(&e),
        }
    }
    let hashes: Vec<_> = envs.iter().map(hashes).collect();
    let mut deletes = Vec::new();
    for ((env, state), hashes) in envs.iter().zip(&states).zip(&hashes) {
        let mut plan = deploy::plan(&env.name, Some(state), &env.desired, hashes);
        plan.mark_moved(&env.moved);
        for pending in &plan.pending {
            crate::say!(
                "note: `{}` was left pending ({}) by an interrupted run; converging it",
                qualified(several, &env.name, &pending.service),
                pending.action
            );
        }
        deletes.extend(
            plan.items
                .iter()
                .filter(|i| i.action == Action::Delete)
                .map(|i| qualified(several, &env.name, &i.name)),
        );
    }
    let delete = if deletes.is_empty() || args.yes {
        true
    } else if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        confirm(&format!("delete {}?", deletes.join(", ")))
    } else {
        output::failure(
            Diagnostic::error(
                Code::ConfirmationNeeded,
                format!(
                    "this deploy would delete {}",
                    deletes
                        .iter()
                        .map(|d| format!("`{d}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .help("read `svcmodel plan`, then pass --yes to allow it"),
        );
        return Exit::Usage;
    };
    let mut engines = Vec::new();
    for env in envs {
        match engine(env) {
            Ok(engine) => engines.push(engine),
            Err(exit) => return exit,
        }
    }
    let options = deploy::Options {
        deadline: Duration::from_secs(args.timeout),
        rollback: args.rollback,
        delete,
        repair_unhealthy: args.repair_unhealthy,
        redactor: svcmodel_deploy::secrets::Redactor::new(deploy::secret_values(
            envs.iter().flat_map(|e| &e.desired),
            &lookup,
        )),
    };
    let logs = match audit_logs(envs, args.command) {
        Ok(logs) => logs,
        Err(exit) => return exit,
    };
    let engines: Vec<Audited> = envs
        .iter()
        .zip(&engines)
        .zip(&logs)
        .zip(&states)
        .map(|(((env, engine), log), state)| {
            audited(env, engine.as_ref(), log, &options.redactor, Some(state))
        })
        .collect();
    let quiet = args.format == Format::Json;
    let bars = (!quiet && std::io::stderr().is_terminal()).then(Bars::new);
    let progress = |environment: &str, event: Event| {
        let event = if several {
            qualified_event(environment, event)
        } else {
            event
        };
        match &bars {
            Some(bars) => bars.show(&event),
            None if !quiet => crate::say!("{}", event_line(&event)),
            None => {}
        }
    };
    let mut sites: Vec<deploy::Site> = envs
        .iter()
        .zip(states.iter_mut())
        .zip(&hashes)
        .zip(&engines)
        .map(|(((env, state), hashes), engine)| deploy::Site {
            store: &env.store,
            state,
            desired: &env.desired,
            hashes,
            engine,
        })
        .collect();
    let reports = match deploy::deploy_sites(&mut sites, &options, &progress) {
        Ok(reports) => reports,
        Err(e) => return deploy_error(&e),
    };
    drop(sites);
    let ok = reports.iter().all(|r| r.ok);
    let failed_wave = reports.iter().find_map(|r| r.failed_wave);
    if args.format == Format::Json {
        output::print_json(&DeployOutput {
            format: 2,
            ok,
            failed_wave,
            environments: reports,
            warnings: selection_warnings(selection),
        });
    } else if ok {
        for (report, state) in reports.iter().zip(&states) {
            let changed = report.outcomes.len();
            if changed == 0 {
                crate::say!("environment `{}`: no changes", report.environment);
            } else {
                crate::say!(
                    "environment `{}`: {} deployed (state serial {})",
                    report.environment,
                    output::plural(changed, "change"),
                    state.serial
                );
            }
        }
    } else {
        let rolled_back = reports.iter().any(|r| r.rolled_back);
        let message = match failed_wave {
            Some(wave) => format!(
                "deploy of {} failed in wave {}{}; the state records what finished",
                names_of(envs),
                wave + 1,
                if rolled_back {
                    ", which was rolled back"
                } else {
                    " (kept: --no-rollback)"
                }
            ),
            None => format!(
                "deploy of {} could not delete every service the model no longer has; the state still records those",
                names_of(envs)
            ),
        };
        output::failure(Diagnostic::error(Code::DeployFailed, message).help(
            "read why each service failed above, fix it, and deploy again; `svcmodel reconcile` shows what runs now",
        ));
    }
    if ok {
        Exit::Success
    } else {
        Exit::DeployFailed
    }
}

/// `environment `a`` or `environments `a`, `b``.
fn names_of(envs: &[Environment]) -> String {
    let names: Vec<String> = envs.iter().map(|e| format!("`{}`", e.name)).collect();
    match names.as_slice() {
        [one] => format!("environment {one}"),
        _ => format!("environments {}", names.join(", ")),
    }
}

/// A service's name as a run over several environments shows it: `ENV/NAME`.
fn qualified(several: bool, environment: &str, name: &str) -> String {
    if several {
        format!("{environment}/{name}")
    } else {
        name.to_string()
    }
}

/// The event with its services named `ENV/NAME`.
fn qualified_event(environment: &str, event: Event) -> Event {
    let q = |name: String| format!("{environment}/{name}");
    match event {
        Event::WaveStarted { wave, services } => Event::WaveStarted {
            wave,
            services: services.into_iter().map(q).collect(),
        },
        Event::Started { name } => Event::Started { name: q(name) },
        Event::Healthy { name, seconds } => Event::Healthy {
            name: q(name),
            seconds,
        },
        Event::Failed { name, message } => Event::Failed {
            name: q(name),
            message,
        },
        Event::RolledBack { name } => Event::RolledBack { name: q(name) },
        Event::Deleted { name } => Event::Deleted { name: q(name) },
        Event::StoppedUnrecorded { name, engine_id } => Event::StoppedUnrecorded {
            name: q(name),
            engine_id,
        },
    }
}

/// Progress on a terminal: a line per service that updates in place.
struct Bars {
    multi: indicatif::MultiProgress,
    bars: std::sync::Mutex<BTreeMap<String, indicatif::ProgressBar>>,
    /// The wave whose heading is shown: each environment of a run starts its part.
    wave: std::sync::Mutex<Option<usize>>,
}

impl Bars {
    fn new() -> Bars {
        Bars {
            multi: indicatif::MultiProgress::new(),
            bars: std::sync::Mutex::new(BTreeMap::new()),
            wave: std::sync::Mutex::new(None),
        }
    }

    fn show(&self, event: &Event) {
        let Ok(mut bars) = self.bars.lock() else {
            return;
        };
        let style = indicatif::ProgressStyle::with_template("{spinner} {prefix:<24} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner());
        match event {
            Event::WaveStarted { wave, services } => {
                if let Ok(mut shown) = self.wave.lock()
                    && *shown != Some(*wave)
                {
                    *shown = Some(*wave);
                    let _ = self.multi.println(format!("wave {}", wave + 1));
                }
                for name in services {
                    let bar = self.multi.add(indicatif::ProgressBar::new_spinner());
                    bar.set_style(style.clone());
                    bar.set_prefix(name.clone());
                    bar.set_message("starting");
                    bar.enable_steady_tick(Duration::from_millis(120));
                    bars.insert(name.clone(), bar);
                }
            }
            Event::Started { name } => {
                if let Some(bar) = bars.get(name) {
                    bar.set_message("waiting for its health check");
                }
            }
            Event::Healthy { name, seconds } => {
                if let Some(bar) = bars.get(name) {
                    bar.finish_with_message(format!("healthy after {seconds:.1} s"));
                }
            }
            Event::Failed { name, message } => match bars.get(name) {
                Some(bar) => bar.abandon_with_message(format!("failed: {message}")),
                None => {
                    let _ = self.multi.println(event_line(event));
                }
            },
            Event::RolledBack { .. } | Event::Deleted { .. } | Event::StoppedUnrecorded { .. } => {
                let _ = self.multi.println(event_line(event));
            }
        }
    }
}

fn event_line(event: &Event) -> String {
    match event {
        Event::WaveStarted { wave, services } => {
            format!("wave {}: {}", wave + 1, services.join(", "))
        }
        Event::Started { name } => format!("  {name}: started"),
        Event::Healthy { name, seconds } => format!("  {name}: healthy after {seconds:.1} s"),
        Event::Failed { name, message } => format!("  {name}: failed: {message}"),
        Event::RolledBack { name } => format!("  {name}: rolled back"),
        Event::Deleted { name } => format!("  {name}: deleted"),
        Event::StoppedUnrecorded { name, engine_id } => format!(
            "  {name}: stopped {engine_id}, which an interrupted run started and did not record"
        ),
    }
}

fn confirm(question: &str) -> bool {
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).is_ok() && matches!(answer.trim(), "y" | "Y" | "yes")
}

// ---------------------------------------------------------------- status

/// What `svcmodel status --format json` prints: the model against what runs, per
/// environment.
#[derive(Serialize, schemars::JsonSchema)]
pub struct StatusOutput {
    /// The version of this shape.
    format: u32,
    /// The environment `-e` names, or every environment of the model, in its order.
    environments: Vec<EnvironmentStatus>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct EnvironmentStatus {
    environment: String,
    /// The state's serial; `null` when nothing was ever deployed.
    serial: Option<u64>,
    /// Every service of the model and every recorded one, by name.
    services: Vec<StatusRow>,
    /// Tuning advice from what the services use (E0807).
    advice: Vec<Advice>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct StatusRow {
    name: String,
    /// The version the model resolves; `null` when the model no longer has it.
    desired_version: Option<String>,
    /// The version the state records; `null` when it is not deployed.
    deployed_version: Option<String>,
    /// The engine sees it running.
    running: bool,
    /// Its health check passes; `null` when it does not run.
    healthy: Option<bool>,
    /// Why the health check fails; `null` when it passes or does not run.
    health: Option<String>,
    /// How what was deployed compares with the model.
    #[schemars(extend("enum" = ["as modelled", "changed", "not deployed", "not in the model", "-"]))]
    configuration: &'static str,
    /// What the engine calls it; `null` when it is not deployed.
    engine_id: Option<String>,
    /// Memory in use (resident), when the engine can tell.
    memory_bytes: Option<u64>,
    /// Processor time used since it started, when the engine can tell.
    cpu_seconds: Option<f64>,
}

pub fn status(args: &SystemArgs, format: Format, color: Color) -> Exit {
    let (selection, opened) = match observe_selection(args, format, color) {
        Ok(opened) => opened,
        Err(exit) => return exit,
    };
    let mut environments = Vec::new();
    for (env, (state, engine)) in selection.envs.iter().zip(&opened) {
        let mut plan = deploy::plan(&env.name, state.as_ref(), &env.desired, &hashes(env));
        plan.mark_moved(&env.moved);
        environments.push(EnvironmentStatus {
            environment: env.name.clone(),
            serial: state.as_ref().map(|s| s.serial),
            services: observe(env, state.as_ref(), engine.as_ref(), &plan),
            advice: advice(env, state.as_ref(), engine.as_ref()),
        });
    }
    match format {
        Format::Json => output::print_json(&StatusOutput {
            format: 2,
            environments,
        }),
        Format::Human => environments.iter().for_each(print_status),
    }
    Exit::Success
}

fn print_status(status: &EnvironmentStatus) {
    println!(
        "environment `{}` (state serial {}):",
        status.environment,
        status.serial.unwrap_or(0)
    );
    println!(
        "  {:<16} {:<9} {:<9} {:<8} {:<10} CONFIG",
        "SERVICE", "MODEL", "DEPLOYED", "RUNNING", "HEALTH"
    );
    for row in &status.services {
        println!(
            "  {:<16} {:<9} {:<9} {:<8} {:<10} {}",
            row.name,
            row.desired_version.as_deref().unwrap_or("-"),
            row.deployed_version.as_deref().unwrap_or("-"),
            if row.running { "yes" } else { "no" },
            match row.healthy {
                Some(true) => "healthy",
                Some(false) => "unhealthy",
                None => "-",
            },
            row.configuration
        );
    }
}

fn observe(
    env: &Environment,
    state: Option<&State>,
    engine: &dyn Engine,
    plan: &Plan,
) -> Vec<StatusRow> {
    let empty = BTreeMap::new();
    let recorded = state.map_or(&empty, |s| &s.services);
    let mut names: Vec<&str> = env.desired.iter().map(|d| d.name.as_str()).collect();
    names.extend(
        recorded
            .keys()
            .map(String::as_str)
            .filter(|n| !env.desired.iter().any(|d| d.name == *n)),
    );
    names.sort_unstable();
    names
        .into_iter()
        .map(|name| {
            let desired = env.desired.iter().find(|d| d.name == name);
            let record = recorded.get(name);
            let running = record.is_some_and(|r| engine.alive(&r.engine_id));
            let check = record
                .filter(|_| running)
                .map(|r| engine.check(&r.engine_id, &r.spec));
            let usage = record.and_then(|r| engine.usage(&r.engine_id));
            StatusRow {
                name: name.to_string(),
                desired_version: desired.map(|d| d.version.clone()),
                deployed_version: record.map(|r| r.version.clone()),
                running,
                healthy: check.as_ref().map(Result::is_ok),
                health: check.and_then(Result::err).map(|e| e.message),
                configuration: match (desired, record) {
                    (Some(_), Some(_))
                        if plan
                            .items
                            .iter()
                            .any(|i| i.name == name && i.action == Action::Unchanged) =>
                    {
                        "as modelled"
                    }
                    (Some(_), Some(_)) => "changed",
                    (Some(_), None) => "not deployed",
                    (None, Some(_)) => "not in the model",
                    (None, None) => "-",
                },
                engine_id: record.map(|r| r.engine_id.clone()),
                memory_bytes: usage.map(|u| u.memory_bytes),
                cpu_seconds: usage.map(|u| u.cpu_seconds),
            }
        })
        .collect()
}

// ---------------------------------------------------------------- tuning

/// Tuning advice for one environment (see `svcmodel_deploy::reconcile::advice`).
fn advice(env: &Environment, state: Option<&State>, engine: &dyn Engine) -> Vec<Advice> {
    svcmodel_deploy::reconcile::advice(&env.system, state, engine)
}

/// The first line of a values file written by `--write-values`: only such a file is
/// ever overwritten.
const WRITTEN_VALUES: &str = "# Written by `svcmodel reconcile --write-values`";

/// Writes the advice as a values file: `[environment.ENV.SERVICE.resources]` tables.
fn write_values(advice: &[(&Environment, &[Advice])], path: &Path) -> Result<(), String> {
    if let Ok(existing) = std::fs::read_to_string(path)
        && !existing.starts_with(WRITTEN_VALUES)
    {
        return Err(format!(
            "`{}` exists and was not written by --write-values; choose another file",
            path.display()
        ));
    }
    let mut environments = toml::Table::new();
    let mut reasons = String::new();
    for (env, advice) in advice {
        let mut services = toml::Table::new();
        for a in *advice {
            let service = services
                .entry(a.service.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let toml::Value::Table(service) = service {
                let resources = service
                    .entry("resources")
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                if let toml::Value::Table(resources) = resources {
                    resources.insert(
                        a.resource.to_string(),
                        toml::Value::String(a.advised.clone()),
                    );
                }
            }
            reasons.push_str(&format!(
                "# {}/{}: {} {} → {} ({}; uses {})\n",
                env.name, a.service, a.resource, a.declared, a.advised, a.why, a.observed
            ));
        }
        if !services.is_empty() {
            environments.insert(env.name.clone(), toml::Value::Table(services));
        }
    }
    let mut root = toml::Table::new();
    root.insert("environment".to_string(), toml::Value::Table(environments));
    let body = toml::to_string(&root).map_err(|e| format!("cannot write the values: {e}"))?;
    let text = format!(
        "{WRITTEN_VALUES} from what {} used.\n# Use it with `-f {}`; the next --write-values replaces it.\n{reasons}\n{body}",
        match advice {
            [(env, _)] => format!("environment `{}`", env.name),
            _ => "the environments".to_string(),
        },
        path.display()
    );
    svcmodel_deploy::state::write_atomically(path, text.as_bytes())
        .map_err(|e| format!("cannot write `{}`: {e}", path.display()))
}

fn print_advice(compilation: &SystemCompilation, advice: &[Advice], color: Color) {
    if advice.is_empty() {
        return;
    }
    let notes: Vec<Diagnostic> = advice
        .iter()
        .map(|a| {
            let mut d = Diagnostic::error(
                Code::TuningAdvice,
                format!(
                    "`{}` could declare {} = {} (declared {}, uses {}): {}",
                    a.service, a.resource, a.advised, a.declared, a.observed, a.why
                ),
            )
            .help(format!(
                "set `{} = {}` in the service's `resources`",
                a.resource, a.advised
            ));
            d.severity = Severity::Warning;
            if let Some(span) = a.span {
                d = d.label(span, format!("declared {}", a.declared));
            }
            d
        })
        .collect();
    output::print_human(&notes, &compilation.sources, color);
}

// ---------------------------------------------------------------- reconcile

/// One difference between the model and what runs.
struct Drift {
    service: String,
    kind: &'static str,
    code: &'static str,
    message: String,
    diagnostic: Diagnostic,
}

/// What `svcmodel reconcile --format json` prints: the drift between the model and
/// what runs.
#[derive(Serialize, schemars::JsonSchema)]
pub struct ReconcileOutput {
    /// The version of this shape.
    format: u32,
    /// The environment `-e` names, or every environment of the model, in its order.
    environments: Vec<EnvironmentDrift>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct EnvironmentDrift {
    environment: String,
    /// Empty when everything runs as modelled.
    drift: Vec<DriftOutput>,
    /// With `--fix`: the drift left after fixing (empty when it converged); `null`
    /// without `--fix`.
    left: Option<Vec<DriftOutput>>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct DriftOutput {
    service: String,
    /// What differs; the diagnostic's code says the same (E0801–E0806, E0808).
    #[schemars(extend("enum" = ["missing", "extra", "stopped", "unhealthy", "version_changed", "config_changed", "placement", "moved"]))]
    kind: &'static str,
    /// The drift as a diagnostic pointing at the model, in the shape `check` uses.
    diagnostic: JsonDiagnostic,
}

pub struct ReconcileArgs<'a> {
    pub system: &'a SystemArgs,
    pub fix: bool,
    pub write_values: Option<&'a Path>,
    pub yes: bool,
    pub timeout: u64,
    pub lock_timeout: u64,
    pub format: DriftFormat,
    pub color: Color,
}

pub fn reconcile(args: &ReconcileArgs) -> Exit {
    let human = if args.format == DriftFormat::Json {
        Format::Json
    } else {
        Format::Human
    };
    let (selection, opened) = match observe_selection(args.system, human, args.color) {
        Ok(opened) => opened,
        Err(exit) => return exit,
    };
    let model = &selection.compilation.model;
    let found: Vec<Vec<Drift>> = selection
        .envs
        .iter()
        .zip(&opened)
        .map(|(env, (state, engine))| drifts(model, env, state.as_ref(), engine.as_ref()))
        .collect();
    let tuning: Vec<Vec<Advice>> = selection
        .envs
        .iter()
        .zip(&opened)
        .map(|(env, (state, engine))| advice(env, state.as_ref(), engine.as_ref()))
        .collect();
    if args.format != DriftFormat::Json {
        print_drifts(&selection, &found, args.format, args.color);
    }
    if args.format == DriftFormat::Human {
        for advice in &tuning {
            print_advice(&selection.compilation, advice, args.color);
        }
    }
    if let Some(path) = args.write_values {
        let advice: Vec<(&Environment, &[Advice])> = selection
            .envs
            .iter()
            .zip(&tuning)
            .map(|(env, advice)| (env, advice.as_slice()))
            .collect();
        match write_values(&advice, &super::current_dir().join(path)) {
            Ok(()) => crate::say!(
                "wrote {} to `{}`",
                output::plural(tuning.iter().map(Vec::len).sum(), "advised value"),
                path.display()
            ),
            Err(message) => {
                output::failure(
                    Diagnostic::error(Code::CannotWrite, message)
                        .help("choose a file in a folder you can write with --write-values"),
                );
                return Exit::Failure;
            }
        }
    }
    let count = found.iter().map(Vec::len).sum::<usize>();
    if count == 0 || !args.fix {
        if args.format == DriftFormat::Json {
            print_json_drifts(&selection, &found, None);
        }
        return if count == 0 {
            Exit::Success
        } else {
            Exit::Changes
        };
    }
    crate::say!("fixing {}:", output::plural(count, "drift"));
    // The model as reconcile resolved and placed it: not a second time.
    let exit = deploy_selection(
        &selection,
        &DeployArgs {
            command: "reconcile",
            system: args.system,
            yes: args.yes,
            repair_unhealthy: true,
            rollback: true,
            timeout: args.timeout,
            lock_timeout: args.lock_timeout,
            format: Format::Human,
            color: args.color,
        },
    );
    let left: Vec<Vec<Drift>> = selection
        .envs
        .iter()
        .zip(&opened)
        .map(|(env, (_, engine))| {
            let state = env.store.load(&env.name).ok().flatten();
            drifts(model, env, state.as_ref(), engine.as_ref())
        })
        .collect();
    let remaining = left.iter().map(Vec::len).sum::<usize>();
    if args.format == DriftFormat::Json {
        print_json_drifts(&selection, &found, Some(&left));
    } else if remaining > 0 {
        print_drifts(&selection, &left, args.format, args.color);
    } else {
        for env in &selection.envs {
            crate::say!("environment `{}` runs as modelled", env.name);
        }
    }
    if exit != Exit::Success {
        return exit;
    }
    if remaining == 0 {
        Exit::Success
    } else {
        eprintln!(
            "error: {} left after --fix",
            output::plural(remaining, "drift")
        );
        Exit::Changes
    }
}

/// Where a service's replicas run against where placement put them (`pins` in the
/// recorded spec: kind to domains): a replica in a domain placement did not choose, or
/// replicas crowded into fewer domains than placement spread them over. The message,
/// the kind, and the domain of the model to point at.
/// The drift of one environment, as diagnostics with their stable codes.
fn drifts(
    model: &svcmodel_model::Model,
    env: &Environment,
    state: Option<&State>,
    engine: &dyn Engine,
) -> Vec<Drift> {
    use svcmodel_deploy::reconcile::{self, DriftKind};
    let hashes = hashes(env);
    let input = reconcile::Input {
        model,
        system: &env.system,
        environment: &env.name,
        target: &env.target,
        desired: &env.desired,
        hashes: &hashes,
        moved: &env.moved,
    };
    reconcile::drifts(&input, state, engine)
        .into_iter()
        .map(|d| {
            let code = match d.kind {
                DriftKind::Missing => Code::DriftMissing,
                DriftKind::Extra => Code::DriftExtra,
                DriftKind::Stopped => Code::DriftStopped,
                DriftKind::Unhealthy => Code::DriftUnhealthy,
                DriftKind::VersionChanged => Code::DriftVersion,
                DriftKind::ConfigChanged => Code::DriftConfig,
                DriftKind::Placement => Code::DriftPlacement,
                DriftKind::Moved => Code::DriftMoved,
            };
            let mut diagnostic = Diagnostic::error(code, d.message.clone()).help(d.help);
            for (span, text) in d.labels {
                diagnostic = diagnostic.label(span, text);
            }
            Drift {
                service: d.service,
                kind: d.kind.as_str(),
                code: code.as_str(),
                message: d.message,
                diagnostic,
            }
        })
        .collect()
}

/// The drift of each environment of the selection, in one document.
fn print_drifts(selection: &Selection, drifts: &[Vec<Drift>], format: DriftFormat, color: Color) {
    let sources = &selection.compilation.sources;
    let each = || selection.envs.iter().zip(drifts);
    match format {
        DriftFormat::Human => {
            for (env, drifts) in each() {
                let diagnostics: Vec<Diagnostic> =
                    drifts.iter().map(|d| d.diagnostic.clone()).collect();
                output::print_human(&diagnostics, sources, color);
                if drifts.is_empty() {
                    crate::say!("environment `{}` runs as modelled", env.name);
                } else {
                    crate::say!(
                        "environment `{}`: {}",
                        env.name,
                        output::plural(drifts.len(), "drift")
                    );
                }
            }
        }
        DriftFormat::Json => print_json_drifts(selection, drifts, None),
        DriftFormat::Markdown => {
            let mut out = String::new();
            for (env, drifts) in each() {
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(&format!("# Drift in `{}`\n\n", env.name));
                if drifts.is_empty() {
                    out.push_str("No drift: everything runs as modelled.\n");
                    continue;
                }
                out.push_str("| service | drift | code | where | what |\n|---|---|---|---|---|\n");
                for d in drifts {
                    out.push_str(&format!(
                        "| {} | {} | {} | {} | {} |\n",
                        d.service,
                        d.kind,
                        d.code,
                        location(&d.diagnostic, sources),
                        d.message.replace('|', "\\|")
                    ));
                }
            }
            print!("{out}");
        }
        DriftFormat::Junit => {
            let mut out =
                String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
            for (env, drifts) in each() {
                let mut by_service: BTreeMap<&str, Vec<&Drift>> = BTreeMap::new();
                for d in drifts {
                    by_service.entry(&d.service).or_default().push(d);
                }
                for desired in &env.desired {
                    by_service.entry(&desired.name).or_default();
                }
                out.push_str(&format!(
                    "  <testsuite name=\"reconcile {}\" tests=\"{}\" failures=\"{}\">\n",
                    xml(&env.name),
                    by_service.len(),
                    drifts.len()
                ));
                for (service, found) in &by_service {
                    out.push_str(&format!(
                        "    <testcase classname=\"{}\" name=\"{}\"",
                        xml(&env.name),
                        xml(service)
                    ));
                    if found.is_empty() {
                        out.push_str("/>\n");
                        continue;
                    }
                    out.push_str(">\n");
                    for d in found {
                        out.push_str(&format!(
                            "      <failure type=\"{}\" message=\"{}\">{}</failure>\n",
                            d.code,
                            xml(&d.message),
                            xml(&location(&d.diagnostic, sources))
                        ));
                    }
                    out.push_str("    </testcase>\n");
                }
                out.push_str("  </testsuite>\n");
            }
            out.push_str("</testsuites>\n");
            print!("{out}");
        }
    }
}

/// `reconcile --format json`: what was found and, with `--fix`, what is left.
fn print_json_drifts(selection: &Selection, found: &[Vec<Drift>], left: Option<&[Vec<Drift>]>) {
    let sources = &selection.compilation.sources;
    let shown = |drifts: &[Drift]| -> Vec<DriftOutput> {
        drifts
            .iter()
            .map(|d| DriftOutput {
                service: d.service.clone(),
                kind: d.kind,
                diagnostic: JsonDiagnostic::new(&d.diagnostic, sources),
            })
            .collect()
    };
    output::print_json(&ReconcileOutput {
        format: 2,
        environments: selection
            .envs
            .iter()
            .zip(found)
            .enumerate()
            .map(|(at, (env, drifts))| EnvironmentDrift {
                environment: env.name.clone(),
                drift: shown(drifts),
                left: left.and_then(|l| l.get(at)).map(|l| shown(l)),
            })
            .collect(),
    });
}

fn location(d: &Diagnostic, sources: &svcmodel_compiler::source::SourceMap) -> String {
    d.primary_span().map_or_else(String::new, |span| {
        let file = sources.get(span.file);
        let (line, column) = file.line_col(span.start);
        format!("{}:{line}:{column}", file.name)
    })
}

fn xml(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect::<String>()
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

// ---------------------------------------------------------------- destroy, unlock

/// What `svcmodel destroy --format json` prints: what was stopped and forgotten.
#[derive(Serialize, schemars::JsonSchema)]
pub struct DestroyOutput {
    /// The version of this shape.
    format: u32,
    /// The environment `-e` names, or every environment of the model, in its order.
    environments: Vec<Destroyed>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Destroyed {
    environment: String,
    /// The services stopped and removed from the state, by name; empty when nothing
    /// was deployed.
    removed: Vec<String>,
    /// The services that could not be stopped: still recorded, so a later destroy
    /// tries again.
    failed: Vec<NotRemoved>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct NotRemoved {
    name: String,
    /// What the engine said.
    message: String,
}

pub fn destroy(
    args: &SystemArgs,
    yes: bool,
    lock_timeout: u64,
    format: Format,
    color: Color,
) -> Exit {
    let selection = match select(args, format, color) {
        Ok(selection) => selection,
        Err(exit) => return exit,
    };
    let envs = &selection.envs;
    let mut by_name: Vec<&Environment> = envs.iter().collect();
    by_name.sort_by(|a, b| a.name.cmp(&b.name));
    let mut _locks = Vec::new();
    for env in by_name {
        match env
            .store
            .lock(&env.name, "destroy", Duration::from_secs(lock_timeout))
        {
            Ok(lock) => _locks.push(lock),
            Err(e) => return state_error(&e),
        }
    }
    let mut states: Vec<Option<State>> = Vec::new();
    for env in envs {
        match env.store.load(&env.name) {
            Ok(state) => states.push(state),
            Err(e) => return state_error(&e),
        }
    }
    let several = envs.len() > 1;
    let doomed: Vec<String> = envs
        .iter()
        .zip(&states)
        .flat_map(|(env, state)| {
            state
                .iter()
                .flat_map(|s| s.services.keys())
                .map(|name| qualified(several, &env.name, name))
        })
        .collect();
    if !yes && !doomed.is_empty() {
        let question = format!(
            "stop and delete {} in {}?",
            doomed.join(", "),
            names_of(envs)
        );
        if !(std::io::stdin().is_terminal() && confirm(&question)) {
            output::failure(
                Diagnostic::error(
                    Code::ConfirmationNeeded,
                    format!("destroy deletes every service of {}", names_of(envs)),
                )
                .help("pass --yes to allow it"),
            );
            return Exit::Usage;
        }
    }
    let mut engines = Vec::new();
    for (env, state) in envs.iter().zip(&states) {
        if state.is_none() {
            // Only to look for marked leftovers: local processes need no connection,
            // and an unreachable engine cannot have anything of ours to find.
            engines.push(if env.target == "local" {
                engine(env).ok()
            } else {
                None
            });
            continue;
        }
        match engine(env) {
            Ok(engine) => engines.push(Some(engine)),
            Err(exit) => return exit,
        }
    }
    let no_hashes = BTreeMap::new();
    let logs = match audit_logs(envs, "destroy") {
        Ok(logs) => logs,
        Err(exit) => return exit,
    };
    // Destroy stops only what the state records: no secret value is in play.
    let no_secrets = svcmodel_deploy::secrets::Redactor::new(Vec::new());
    let audited_engines: Vec<Option<Audited>> = envs
        .iter()
        .zip(&engines)
        .zip(&logs)
        .zip(&states)
        .map(|(((env, engine), log), state)| {
            engine
                .as_ref()
                .map(|engine| audited(env, engine.as_ref(), log, &no_secrets, state.as_ref()))
        })
        .collect();
    // The environments with something deployed, as sites: consumers go first across
    // all of them.
    let mut held: Vec<usize> = Vec::new();
    let mut sites: Vec<deploy::Site> = Vec::new();
    for (at, ((env, state), engine)) in envs
        .iter()
        .zip(states.iter_mut())
        .zip(&audited_engines)
        .enumerate()
    {
        if let (Some(state), Some(engine)) = (state.as_mut(), engine) {
            held.push(at);
            sites.push(deploy::Site {
                store: &env.store,
                state,
                desired: &env.desired,
                hashes: &no_hashes,
                engine,
            });
        }
    }
    let progress = |environment: &str, event: Event| {
        if format == Format::Human {
            let event = if several {
                qualified_event(environment, event)
            } else {
                event
            };
            crate::say!("{}", event_line(&event));
        }
    };
    let mut removals = match deploy::destroy_sites(&mut sites, &progress) {
        Ok(removals) => removals.into_iter(),
        Err(e) => return state_error(&e),
    };
    drop(sites);
    let mut environments = Vec::new();
    let mut exit = Exit::Success;
    for (at, (env, engine)) in envs.iter().zip(&engines).enumerate() {
        let removal = if held.contains(&at) {
            removals.next().unwrap_or_default()
        } else {
            deploy::Removal::default()
        };
        if !held.contains(&at) {
            // Nothing recorded: but what runs with this project's mark has lost its
            // state, and is not destroy's to stop unseen.
            let found = engine
                .as_ref()
                .map(|e| e.find_marked(&env.store.project_id(), &env.name))
                .unwrap_or_default();
            if !found.is_empty() {
                exit = deploy_error(&deploy::DeployError::Unrecorded {
                    environment: env.name.clone(),
                    found,
                });
            } else if format == Format::Human {
                crate::say!("environment `{}` has nothing deployed", env.name);
            }
        } else if format == Format::Human {
            crate::say!(
                "environment `{}`: {} removed{}",
                env.name,
                output::plural(removal.removed.len(), "service"),
                if removal.failed.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", {} could not be stopped and stay recorded",
                        removal.failed.len()
                    )
                }
            );
        }
        if !removal.failed.is_empty() {
            exit = Exit::DeployFailed;
        }
        environments.push(Destroyed {
            environment: env.name.clone(),
            removed: removal.removed,
            failed: removal
                .failed
                .into_iter()
                .map(|(name, message)| NotRemoved { name, message })
                .collect(),
        });
    }
    if format == Format::Json {
        output::print_json(&DestroyOutput {
            format: 2,
            environments,
        });
    }
    exit
}

/// What `svcmodel state adopt --format json` prints.
#[derive(Serialize, schemars::JsonSchema)]
pub struct AdoptOutput {
    /// The version of this shape.
    format: u32,
    environments: Vec<Adopted>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Adopted {
    environment: String,
    /// The services now recorded, with the engine ids they run as.
    adopted: Vec<AdoptedService>,
    /// Second copies of a service already recorded: kept pending, so the next deploy
    /// stops them.
    pending: Vec<AdoptedService>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct AdoptedService {
    name: String,
    engine_id: String,
    /// The lineage of the state that started it.
    lineage: String,
}

/// `svcmodel state adopt`: what runs with this project's mark and no record becomes
/// recorded. Where no state exists, the new state takes the lineage of what it adopts,
/// so their marks stay its own.
pub fn adopt(args: &SystemArgs, lock_timeout: u64, format: Format, color: Color) -> Exit {
    let selection = match select(args, format, color) {
        Ok(selection) => selection,
        Err(exit) => return exit,
    };
    let mut by_name: Vec<&Environment> = selection.envs.iter().collect();
    by_name.sort_by(|a, b| a.name.cmp(&b.name));
    let mut _locks = Vec::new();
    for env in by_name {
        match env
            .store
            .lock(&env.name, "adopt", Duration::from_secs(lock_timeout))
        {
            Ok(lock) => _locks.push(lock),
            Err(e) => return state_error(&e),
        }
    }
    let mut environments = Vec::new();
    for env in &selection.envs {
        let engine = match engine(env) {
            Ok(engine) => engine,
            Err(exit) => return exit,
        };
        let loaded = match env.store.load(&env.name) {
            Ok(state) => state,
            Err(e) => return state_error(&e),
        };
        let found = engine.find_marked(&env.store.project_id(), &env.name);
        let fresh = loaded.is_none();
        let mut state = loaded.unwrap_or_else(|| State::new(&env.name, &env.target));
        let known = |state: &State, id: &str| {
            state
                .services
                .values()
                .map(|r| r.engine_id.as_str())
                .chain(state.pending.iter().filter_map(|p| p.engine_id.as_deref()))
                .any(|known| engine.same_instance(known, id))
        };
        let unknown: Vec<deploy::Marked> = found
            .into_iter()
            .filter(|m| !known(&state, &m.engine_id))
            .collect();
        if fresh && let Some(first) = unknown.first() {
            state.lineage = first.mark.lineage.clone();
        }
        let mut report = Adopted {
            environment: env.name.clone(),
            adopted: Vec::new(),
            pending: Vec::new(),
        };
        for marked in unknown {
            let entry = AdoptedService {
                name: marked.mark.service.clone(),
                engine_id: marked.engine_id.clone(),
                lineage: marked.mark.lineage.clone(),
            };
            if state.services.contains_key(&marked.mark.service) {
                state.pending.push(svcmodel_deploy::state::Pending {
                    service: marked.mark.service.clone(),
                    action: "adopt".to_string(),
                    engine_id: Some(marked.engine_id.clone()),
                    since: svcmodel_deploy::state::now(),
                });
                report.pending.push(entry);
                continue;
            }
            let service = env
                .desired
                .iter()
                .find(|d| d.name == marked.mark.service)
                .map_or_else(|| marked.mark.service.clone(), |d| d.service.clone());
            state.services.insert(
                marked.mark.service.clone(),
                svcmodel_deploy::state::ServiceRecord {
                    service,
                    // Unknown: what it runs is whatever its revision was. The next
                    // deploy sees every field as changed and replaces it.
                    version: "adopted".to_string(),
                    model_hash: String::new(),
                    engine_id: marked.engine_id.clone(),
                    spec: serde_json::json!({ "adopted": true }),
                    revision: marked.mark.revision,
                    deployed_at: svcmodel_deploy::state::now(),
                },
            );
            report.adopted.push(entry);
        }
        if !report.adopted.is_empty() || !report.pending.is_empty() {
            state.record(
                "adopt",
                format!(
                    "{} adopted, {} pending",
                    report.adopted.len(),
                    report.pending.len()
                ),
            );
            if let Err(e) = env.store.save(&mut state) {
                return state_error(&e);
            }
        }
        if format == Format::Human {
            for a in &report.adopted {
                crate::say!(
                    "  {}: adopted {} (lineage {})",
                    a.name,
                    a.engine_id,
                    a.lineage
                );
            }
            for p in &report.pending {
                crate::say!(
                    "  {}: {} is a second copy; the next deploy stops it",
                    p.name,
                    p.engine_id
                );
            }
            crate::say!(
                "environment `{}`: {} adopted",
                env.name,
                output::plural(report.adopted.len() + report.pending.len(), "service")
            );
        }
        environments.push(report);
    }
    if format == Format::Json {
        output::print_json(&AdoptOutput {
            format: 1,
            environments,
        });
    }
    Exit::Success
}

/// What `svcmodel state unlock --format json` prints: the lock it released.
#[derive(Serialize, schemars::JsonSchema)]
pub struct UnlockOutput {
    /// The version of this shape.
    format: u32,
    /// The lock as it was written by the run that took it; `null` when `--force`
    /// released a lock whose text could not be read.
    released: Option<svcmodel_deploy::state::LockInfo>,
}

/// Which lock `state unlock` releases.
pub enum Unlock {
    /// The lock with this id.
    Id(String),
    /// The lock of this environment, whatever it says (`--force -e ENV`).
    Force(String),
}

pub fn unlock(root: Option<&Path>, which: Unlock, format: Format) -> Exit {
    output::set_mode(format, Color::Auto);
    let cwd = super::current_dir();
    let root = super::project_root(root, std::slice::from_ref(&cwd), &cwd);
    let store = Store::new(root.join(".svcmodel"));
    let released = match &which {
        Unlock::Id(id) => store.unlock(id).map(Some),
        Unlock::Force(environment) => store.force_unlock(environment),
    };
    match released {
        Ok(lock) => {
            match format {
                Format::Json => output::print_json(&UnlockOutput {
                    format: 1,
                    released: lock,
                }),
                Format::Human => match (&lock, &which) {
                    (Some(lock), _) => crate::say!(
                        "released lock {} of environment `{}` ({} by pid {} on {})",
                        lock.id,
                        lock.environment,
                        lock.operation,
                        lock.pid,
                        lock.host
                    ),
                    (None, Unlock::Force(environment)) | (None, Unlock::Id(environment)) => {
                        crate::say!("released the lock of environment `{environment}`")
                    }
                },
            }
            Exit::Success
        }
        Err(e) => state_error(&e),
    }
}

// ---------------------------------------------------------------- report

/// What `svcmodel report` shows of an environment that has been deployed: what
/// `plan` would change and the drift `reconcile` finds.
#[derive(Serialize, schemars::JsonSchema)]
pub struct DeployedReport {
    pub environment: String,
    /// The state's serial: how many times it was written.
    pub serial: u64,
    pub plan: Vec<deploy::PlanItem>,
    /// Each drift as the diagnostic `reconcile` reports, pointing at the model.
    pub drift: Vec<JsonDiagnostic>,
}

/// Plan and drift of every environment of the model that has a state. An environment
/// whose engine cannot be reached is left out, with its reason on standard error.
pub(super) fn deployed_reports(args: &SystemArgs, color: Color) -> Vec<DeployedReport> {
    let Ok(compilation) = super::system::resolve(args, &[], false, Format::Human, color) else {
        return Vec::new();
    };
    let cwd = super::current_dir();
    let entries = super::entries(&args.paths, &cwd);
    let store =
        Store::new(super::state_root(args.root.as_deref(), &entries, &cwd).join(".svcmodel"));
    let names: Vec<String> = compilation
        .model
        .environments
        .iter()
        .map(|e| e.name.value.clone())
        .filter(|name| args.environment.as_ref().is_none_or(|e| e == name))
        .filter(|name| store.state_path(name).is_file())
        .collect();
    let mut reports = Vec::new();
    for name in names {
        let one = SystemArgs {
            environment: Some(name.clone()),
            ..args.clone()
        };
        let Ok((selection, opened)) = observe_selection(&one, Format::Human, color) else {
            continue;
        };
        for (env, (state, engine)) in selection.envs.iter().zip(&opened) {
            let Some(state) = state else {
                continue;
            };
            let mut plan = deploy::plan(&env.name, Some(state), &env.desired, &hashes(env));
            plan.mark_moved(&env.moved);
            let drift = drifts(
                &selection.compilation.model,
                env,
                Some(state),
                engine.as_ref(),
            )
            .iter()
            .map(|d| JsonDiagnostic::new(&d.diagnostic, &selection.compilation.sources))
            .collect();
            reports.push(DeployedReport {
                environment: env.name.clone(),
                serial: state.serial,
                plan: plan.items,
                drift,
            });
        }
    }
    reports
}
