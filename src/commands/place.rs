//! `svcmodel place`: where every service runs, and why.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;
use svcmodel_compiler::codes::Code;
use svcmodel_compiler::diagnostic::{Diagnostic, JsonDiagnostic};
use svcmodel_compiler::place::{self, Placed, VerdictKind};
use svcmodel_compiler::source::SourceMap;
use svcmodel_model::Span;
use svcmodel_model::system::ResolvedSystem;
use svcmodel_targets::view::PlacedView;

use crate::cli::{Color, Format, SystemArgs};
use crate::exit::Exit;
use crate::output;

#[derive(Debug, Serialize, JsonSchema)]
pub struct PlaceOutput {
    /// The version of this output's shape.
    pub format: u32,
    pub landscapes: Vec<LandscapeOutput>,
    /// Warnings of placement: spread rules that failure domains out of service keep
    /// from holding (E0904).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<JsonDiagnostic>,
    /// With `--lose` or `--without`: every instance that would move, against the
    /// placement of the model as it is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub moves: Vec<MoveOutput>,
}

/// An instance that a what-if (`--lose`, `--without`) would move: to another
/// environment, or to other failure domains in its own.
#[derive(Debug, Serialize, JsonSchema)]
pub struct MoveOutput {
    pub instance: String,
    pub from_environment: String,
    pub to_environment: String,
    /// Per replica, its failure domains from the largest kind down (`room-a/a-r01`).
    pub from: Vec<String>,
    pub to: Vec<String>,
    /// The rule that rules the old environment out, or the domain lost.
    pub cause: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct LandscapeOutput {
    /// The environments' shared `tier`, or the environment's name when it has none.
    pub name: String,
    pub environments: Vec<String>,
    /// Whether the search proved that no placement has a lower objective.
    pub optimal: bool,
    /// Cost plus the weights of unmet preferences: what placement minimises.
    pub objective: f64,
    /// Per hour, in the currency of the environments' cost rates.
    pub cost_per_hour: f64,
    /// The weights of `prefer` rules left unmet.
    pub penalty: f64,
    /// What the moves from where `svcmodel.lock` ran each instance cost, once; the
    /// objective counts it over a month (730 hours).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub moves_once: f64,
    /// No placement can have a lower objective than this.
    pub lower_bound: f64,
    pub loads: Vec<LoadOutput>,
    pub assignments: Vec<AssignmentOutput>,
    /// With `--explain SERVICE`: every environment, with why it was or was not chosen.
    pub explanations: Vec<ExplanationOutput>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct LoadOutput {
    pub environment: String,
    pub millicpu: u64,
    pub memory_bytes: u64,
    pub capacity_millicpu: Option<u64>,
    pub capacity_memory_bytes: Option<u64>,
    pub cost_per_hour: f64,
    /// The part that pays for data (`storage_gib_month`).
    pub storage_per_hour: f64,
    /// `cost_per_hour` over a month of 730 hours.
    pub cost_per_month: f64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AssignmentOutput {
    pub instance: String,
    pub service: String,
    pub environment: String,
    /// Per replica: its failure domain of each kind the environment declares.
    pub replicas: Vec<BTreeMap<String, String>>,
    pub cost_per_hour: f64,
    pub unmet_preferences: Vec<String>,
    /// What decided the environment.
    pub reason: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ExplanationOutput {
    pub instance: String,
    pub verdicts: Vec<VerdictOutput>,
    /// Why its replicas got their failure domains in the chosen environment: the
    /// spread rules and how far each is met, the tree, the domains out of service.
    pub domains: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct VerdictOutput {
    pub environment: String,
    /// `chosen`; `ruled` (a rule forbids it whatever else is placed); `blocked` (it
    /// would break a rule with what is placed); `costlier` (allowed, higher objective).
    pub verdict: String,
    pub text: String,
    /// The rules behind the verdict, where they are declared.
    pub rules: Vec<RuleOutput>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RuleOutput {
    pub rule: String,
    pub file: String,
    pub line: usize,
}

/// What a command does with the placed landscapes: the source map, the landscapes, and
/// the warnings for a JSON output (already printed for a human one).
type PlacedThen<'a> =
    dyn Fn(&SourceMap, &[Placed], Vec<JsonDiagnostic>, Vec<MoveOutput>) -> Exit + 'a;

/// Resolves and places the model (every environment: `-e` picks the landscapes that
/// hold it), with what `what_if` assumes (domains or environments lost, policies
/// dropped); prints placement errors, or the warnings, and hands the placed
/// landscapes to `then` with the warnings for a JSON output.
pub(super) fn with_placement(
    args: &SystemArgs,
    what_if: &WhatIf,
    options: place::Options,
    format: Format,
    color: Color,
    then: &PlacedThen<'_>,
) -> Exit {
    let all = SystemArgs {
        environment: None,
        ..args.clone()
    };
    let mut compilation = match super::system::resolve(&all, &[], false, format, color) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    if let Some(env) = &args.environment
        && compilation.model.environment(env).is_none()
    {
        let hint = svcmodel_compiler::suggest::did_you_mean(
            env,
            compilation
                .model
                .environments
                .iter()
                .map(|e| e.name.value.as_str()),
        );
        output::failure(
            Diagnostic::error(
                Code::UnknownEnvironment,
                format!("there is no environment `{env}` in the model"),
            )
            .help(hint.unwrap_or_else(|| "name an environment the model declares".to_string())),
        );
        return Exit::Usage;
    }
    // The model as it is, to say what the what-if moves.
    let as_it_is = what_if.asks().then(|| compilation.model.clone());
    if let Err((code, message, help)) = what_if.apply(&mut compilation.model) {
        output::failure(Diagnostic::error(code, message).help(help));
        return Exit::Usage;
    }
    let Some(resolution) = compilation.resolution.as_ref() else {
        return Exit::ModelErrors;
    };
    let fresh = place::Previous::new();
    let previous = resolution
        .previous_lock
        .as_ref()
        .map_or(&fresh, |lock| &lock.placement);
    let started = std::time::Instant::now();
    let placed: Vec<Placed> =
        place::place_from(&compilation.model, &resolution.systems, options, previous)
            .into_iter()
            .filter(|p| {
                args.environment
                    .as_ref()
                    .is_none_or(|env| p.problem.envs.iter().any(|e| &e.name == env))
            })
            .collect();
    output::timing(
        &format!("placed {}", output::plural(placed.len(), "landscape")),
        started,
    );
    let diagnostics: Vec<_> = placed.iter().flat_map(|p| p.diagnostics.clone()).collect();
    let errors = diagnostics.len();
    if errors > 0 {
        match format {
            Format::Json => output::print_json_diagnostics(
                &diagnostics,
                &compilation.sources,
                &serde_json::json!({}),
            ),
            Format::Human => output::print_human(&diagnostics, &compilation.sources, color),
        }
        output::print_error_summary(errors, compilation.model_files);
        return Exit::ModelErrors;
    }
    let warnings: Vec<Diagnostic> = placed
        .iter()
        .flat_map(|p| p.warnings.iter().map(|(_, d)| d.clone()))
        .collect();
    let warnings = match format {
        Format::Json => warnings
            .iter()
            .map(|d| JsonDiagnostic::new(d, &compilation.sources))
            .collect(),
        Format::Human => {
            output::print_human(&warnings, &compilation.sources, color);
            Vec::new()
        }
    };
    let moves = if what_if.diff {
        lock_moves(&placed, previous, &what_if.lose)
    } else {
        as_it_is.map_or_else(Vec::new, |model| {
            let before = place::place(
                &model,
                &resolution.systems,
                place::Options::without_reasons(),
            );
            what_if.moves(&before, &placed)
        })
    };
    if what_if.diff && previous.is_empty() && format == Format::Human {
        crate::say!(
            "note: svcmodel.lock records no placement: `svcmodel lock` records where everything runs, for `--diff` to compare with"
        );
    }
    then(&compilation.sources, &placed, warnings, moves)
}

/// Every instance placed elsewhere than `svcmodel.lock`'s `[placement]` ran it: in
/// another environment, or on other failure domains, each with its cause.
fn lock_moves(placed: &[Placed], previous: &place::Previous, lost: &[String]) -> Vec<MoveOutput> {
    let mut out = Vec::new();
    for placed in placed {
        let p = &placed.problem;
        let Some(now) = placed.placement.as_ref() else {
            continue;
        };
        for (i, a) in now.assignments.iter().enumerate() {
            let item = &p.items[i];
            let Some(was) = item.previous_env else {
                continue;
            };
            let old_env = &p.envs[was].name;
            let old_paths: Vec<String> = previous
                .get(old_env)
                .and_then(|instances| instances.get(&a.instance))
                .cloned()
                .unwrap_or_default();
            let new_paths: Vec<String> = a
                .replicas
                .iter()
                .filter(|r| !r.is_empty())
                .map(place::replica_path)
                .collect();
            if *old_env == a.environment && old_paths == new_paths {
                continue;
            }
            let Some(here) = p.envs.iter().position(|e| e.name == a.environment) else {
                continue;
            };
            let cause = if *old_env != a.environment {
                env_move_cause(p, i, was, here)
            } else {
                domain_move_cause(p, here, &old_paths, lost)
            };
            out.push(MoveOutput {
                instance: a.instance.clone(),
                from_environment: old_env.clone(),
                to_environment: a.environment.clone(),
                from: old_paths,
                to: new_paths,
                cause,
            });
        }
    }
    out
}

/// Why an instance left the environment it ran in: a rule that now rules it out, or
/// what it saves against what moving costs once.
fn env_move_cause(p: &place::Problem, i: usize, was: usize, here: usize) -> String {
    let item = &p.items[i];
    if let Some(rejection) = item.rejections[was].first() {
        return rejection.text.clone();
    }
    let running = |e: usize| item.cost[e] + item.penalty[e];
    let saved = (running(was) - running(here)) * place::HOURS_PER_MONTH;
    if saved > 0.0 {
        format!(
            "{:.3}/h there against {:.3}/h in `{}`: it saves {saved:.2} a month, more than moving costs once ({:.2})",
            item.cost[here], item.cost[was], p.envs[was].name, item.move_once[here]
        )
    } else {
        format!(
            "`{}` has no room left for it, or what it must run with moved",
            p.envs[was].name
        )
    }
}

/// Why an instance's replicas left their failure domains: domains out of service, or
/// a spread the recorded domains no longer give.
fn domain_move_cause(
    p: &place::Problem,
    e: usize,
    old_paths: &[String],
    lost: &[String],
) -> String {
    let env = &p.envs[e];
    let gone: std::collections::BTreeSet<&str> = old_paths
        .iter()
        .flat_map(|path| path.split('/'))
        .filter(|d| {
            lost.iter().any(|l| l == d) || !env.domains.values().any(|v| v.iter().any(|x| x == d))
        })
        .collect();
    let names: Vec<String> = gone.iter().map(|d| format!("`{d}`")).collect();
    match names.len() {
        0 => "its recorded domains no longer spread it as well as another choice (a domain or replica was added, or a rule changed)".to_string(),
        1 => format!("{} is out of service", names[0]),
        _ => format!("{} are out of service", names.join(", ")),
    }
}

/// What `place`, `risk` and `slo` are asked to assume for one run.
pub struct WhatIf {
    /// `--lose`: environments or failure domains out of service.
    pub lose: Vec<String>,
    /// `--without`: policies dropped.
    pub without: Vec<String>,
    /// `place --diff`: list the moves against `svcmodel.lock`'s placement instead of
    /// against the model as it is.
    pub diff: bool,
}

impl WhatIf {
    /// What `risk` and `slo` assume: lost domains and dropped policies, no `--diff`.
    pub fn assuming(lose: Vec<String>, without: Vec<String>) -> WhatIf {
        WhatIf {
            lose,
            without,
            diff: false,
        }
    }

    /// Whether it assumes anything.
    fn asks(&self) -> bool {
        !self.lose.is_empty() || !self.without.is_empty()
    }

    /// Every instance placed otherwise than `before` placed it, with the cause.
    fn moves(&self, before: &[Placed], after: &[Placed]) -> Vec<MoveOutput> {
        let mut out = Vec::new();
        for placed in after {
            let p = &placed.problem;
            let (Some(now), Some(then)) = (
                placed.placement.as_ref(),
                before
                    .iter()
                    .find(|b| b.problem.landscape == p.landscape)
                    .and_then(|b| b.placement.as_ref()),
            ) else {
                continue;
            };
            for (i, a) in now.assignments.iter().enumerate() {
                let Some(old) = then.assignment(&a.instance) else {
                    continue;
                };
                if old.environment == a.environment && old.replicas == a.replicas {
                    continue;
                }
                let cause = if old.environment != a.environment {
                    p.envs
                        .iter()
                        .position(|e| e.name == old.environment)
                        .and_then(|e| p.items[i].rejections[e].first())
                        .map_or_else(
                            || "it costs less there, or meets more preferences".to_string(),
                            |r| r.text.clone(),
                        )
                } else {
                    let lost: std::collections::BTreeSet<&String> = old
                        .replicas
                        .iter()
                        .flat_map(|r| r.values())
                        .filter(|d| self.lose.contains(d))
                        .collect();
                    let names: Vec<String> = lost.iter().map(|d| format!("`{d}`")).collect();
                    match names.len() {
                        0 => "its domains were chosen again around what moved or was lost"
                            .to_string(),
                        1 => format!("{} is out of service (`--lose`)", names[0]),
                        _ => format!("{} are out of service (`--lose`)", names.join(", ")),
                    }
                };
                out.push(MoveOutput {
                    instance: a.instance.clone(),
                    from_environment: old.environment.clone(),
                    to_environment: a.environment.clone(),
                    from: old.replicas.iter().map(domain_text).collect(),
                    to: a.replicas.iter().map(domain_text).collect(),
                    cause,
                });
            }
        }
        out
    }

    /// Edits the model as the what-if says: what cannot be applied is a code, a
    /// message and help.
    fn apply(&self, model: &mut svcmodel_model::Model) -> Result<(), (Code, String, String)> {
        for name in &self.lose {
            take_out_of_service(model, name)?;
        }
        for name in &self.without {
            let Some(at) = model.policies.iter().position(|p| &p.name.value == name) else {
                let hint = svcmodel_compiler::suggest::did_you_mean(
                    name,
                    model.policies.iter().map(|p| p.name.value.as_str()),
                );
                return Err((
                    Code::UnknownPolicy,
                    format!("`--without {name}`: no policy has this name"),
                    hint.unwrap_or_else(|| "name a policy the model declares".to_string()),
                ));
            };
            if matches!(
                model.policies[at].rule,
                svcmodel_model::PolicyRule::Use { .. }
            ) {
                return Err((
                    Code::UnknownPolicy,
                    format!(
                        "`--without {name}`: a `use` rule picks versions as the system resolves, not placement"
                    ),
                    "edit the model to try without it".to_string(),
                ));
            }
            model.policies.remove(at);
        }
        Ok(())
    }
}

/// `--lose NAME`: the environment of that name as a whole, or every failure domain
/// of that name, out of service.
fn take_out_of_service(
    model: &mut svcmodel_model::Model,
    name: &str,
) -> Result<(), (Code, String, String)> {
    if let Some(env) = model.environments.iter_mut().find(|e| e.name.value == name) {
        env.lost = true;
        return Ok(());
    }
    let mut found = false;
    for env in &mut model.environments {
        if env
            .failure_domains
            .values()
            .flatten()
            .any(|d| d.value == name)
            && !env.out_of_service.iter().any(|d| d.value == name)
        {
            env.out_of_service.push(svcmodel_model::Spanned::new(
                name.to_string(),
                env.name.span,
            ));
            found = true;
        }
    }
    if found {
        return Ok(());
    }
    let known: Vec<&str> = model
        .environments
        .iter()
        .flat_map(|e| {
            std::iter::once(e.name.value.as_str()).chain(
                e.failure_domains
                    .values()
                    .flatten()
                    .map(|d| d.value.as_str()),
            )
        })
        .collect();
    let hint = svcmodel_compiler::suggest::did_you_mean(name, known.iter().copied());
    Err((
        Code::UnknownEnvironment,
        format!("`--lose {name}`: no environment or failure domain has this name"),
        hint.unwrap_or_else(|| {
            "name an environment or a failure domain the model declares".to_string()
        }),
    ))
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RiskOutput {
    /// The version of this output's shape.
    pub format: u32,
    pub landscapes: Vec<place::risk::RiskReport>,
    /// Warnings of placement (E0904), as `place` gives them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<JsonDiagnostic>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SloOutput {
    /// The version of this output's shape.
    pub format: u32,
    pub landscapes: Vec<place::slo::SloReport>,
    /// Warnings of placement (E0904), as `place` gives them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<JsonDiagnostic>,
}

/// An assessment (`risk`, `slo`) of every placed landscape.
pub(super) fn assess<T>(
    placed: &[Placed],
    assessment: fn(&place::Problem, &svcmodel_model::placement::Placement, &[usize]) -> T,
) -> Vec<T> {
    placed
        .iter()
        .filter_map(|p| {
            Some(assessment(
                &p.problem,
                p.placement.as_ref()?,
                &p.solution.as_ref()?.env_of,
            ))
        })
        .collect()
}

/// `svcmodel risk`.
pub fn risk(args: &SystemArgs, what_if: &WhatIf, format: Format, color: Color) -> Exit {
    with_placement(
        args,
        what_if,
        place::Options::without_reasons(),
        format,
        color,
        &|_, placed, warnings, _| {
            let reports = assess(placed, place::risk::risk);
            match format {
                Format::Json => output::print_json(&RiskOutput {
                    format: 1,
                    landscapes: reports,
                    warnings,
                }),
                Format::Human => reports.iter().for_each(print_risk),
            }
            Exit::Success
        },
    )
}

/// `svcmodel slo`: exit 5 when a target is not met.
pub fn slo(args: &SystemArgs, what_if: &WhatIf, format: Format, color: Color) -> Exit {
    with_placement(
        args,
        what_if,
        place::Options::without_reasons(),
        format,
        color,
        &|_, placed, warnings, _| {
            let reports = assess(placed, place::slo::slo);
            let missed = reports
                .iter()
                .flat_map(|r| &r.entrypoints)
                .any(|e| e.availability_met == Some(false) || e.latency_met == Some(false));
            match format {
                Format::Json => output::print_json(&SloOutput {
                    format: 1,
                    landscapes: reports,
                    warnings,
                }),
                Format::Human => reports.iter().for_each(print_slo),
            }
            if missed { Exit::Changes } else { Exit::Success }
        },
    )
}

fn print_risk(r: &place::risk::RiskReport) {
    println!(
        "landscape `{}`: entry points {}",
        r.landscape,
        list(&r.entrypoints)
    );
    for l in &r.losses {
        if l.stopped.is_empty() && l.degraded.is_empty() {
            continue;
        }
        let scope = if l.kind == "environment" {
            format!("environment `{}`", l.name)
        } else {
            format!("{} `{}` of `{}`", l.kind, l.name, l.environment)
        };
        let mut parts = Vec::new();
        if !l.stopped.is_empty() {
            parts.push(format!("stops {}", list(&l.stopped)));
        }
        if !l.degraded.is_empty() {
            parts.push(format!(
                "degrades {}",
                l.degraded
                    .iter()
                    .map(|d| format!("`{}` ({} of {} replicas)", d.service, d.lost, d.replicas))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !l.stopped_through.is_empty() {
            parts.push(format!(
                "then stops {}",
                l.stopped_through
                    .iter()
                    .map(|t| format!("`{}` (requires `{}`)", t.service, t.requires))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !l.entrypoints_down.is_empty() {
            parts.push(format!("entry points down: {}", list(&l.entrypoints_down)));
        }
        println!("  lose {scope}: {}", parts.join("; "));
    }
    if r.single_points_of_failure.is_empty() {
        println!("  no single failure domain stops an entry point");
    } else {
        println!("  single points of failure (one failure domain stops an entry point):");
        for s in &r.single_points_of_failure {
            println!(
                "    {} `{}` of `{}`: holds every replica of {}; stops {}",
                s.kind,
                s.name,
                s.environment,
                list(&s.services),
                list(&s.entrypoints_down)
            );
        }
    }
    for c in &r.concentration {
        let spread = if c.not_spread.is_empty() {
            String::new()
        } else {
            format!("; not spread: {}", list(&c.not_spread))
        };
        println!(
            "  critical services in `{}` by {}: {} replicas, at most {} ({:.0}%) on `{}`{spread}",
            c.environment,
            c.kind,
            c.critical_replicas,
            c.busiest_replicas,
            c.busiest_share * 100.0,
            c.busiest
        );
    }
    println!();
}

fn print_slo(r: &place::slo::SloReport) {
    let mut targets = Vec::new();
    if let Some(a) = r.availability_target {
        targets.push(format!("availability {a}%"));
    }
    if let Some(l) = r.latency_target_ms {
        targets.push(format!("latency {}", place::slo::ms_text(l)));
    }
    let targets = if targets.is_empty() {
        "no targets declared".to_string()
    } else {
        format!("targets {}", targets.join(", "))
    };
    println!("landscape `{}`: {targets}", r.landscape);
    let verdict = |met: Option<bool>| match met {
        Some(true) => ": met",
        Some(false) => ": NOT MET",
        None => "",
    };
    for e in &r.entrypoints {
        println!(
            "  `{}`: availability {:.4}%{}",
            e.name,
            e.availability,
            verdict(e.availability_met)
        );
        if !e.weakest.is_empty() {
            println!(
                "    weakest links: {}",
                e.weakest
                    .iter()
                    .map(|w| format!(
                        "`{}` {:.3}% ({} of {} replicas independent; {:.0}% of the downtime)",
                        w.service, w.availability, w.independent, w.replicas, w.share
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if !e.unknown_availability.is_empty() {
            println!(
                "    counted as always up (no `availability` declared): {}",
                list(&e.unknown_availability)
            );
        }
        println!(
            "    slowest request path: {}: at most {} by the declared budgets (network {}){}",
            e.slowest_path.join(" → "),
            place::slo::ms_text(e.latency_bound_ms),
            place::slo::ms_text(e.network_ms),
            verdict(e.latency_met)
        );
    }
    println!();
}

fn list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `svcmodel place`.
pub fn run(
    args: &SystemArgs,
    explain: Option<&str>,
    max_nodes: u64,
    what_if: &WhatIf,
    format: Format,
    color: Color,
) -> Exit {
    let options = place::Options {
        nodes: max_nodes,
        explain: true,
    };
    with_placement(
        args,
        what_if,
        options,
        format,
        color,
        &|sources, placed, warnings, moves| {
            if let Some(name) = explain
                && !placed
                    .iter()
                    .any(|p| p.problem.items.iter().any(|i| i.name == name))
            {
                let known = placed
                    .iter()
                    .flat_map(|p| p.problem.items.iter().map(|i| i.name.as_str()));
                let hint = svcmodel_compiler::suggest::did_you_mean(name, known);
                output::failure(
                    Diagnostic::error(
                        Code::UnknownService,
                        format!("there is no service `{name}` in the system"),
                    )
                    .help(hint.unwrap_or_else(|| {
                        "run `svcmodel compile` to see the instances".to_string()
                    })),
                );
                return Exit::Usage;
            }
            let landscapes: Vec<LandscapeOutput> = placed
                .iter()
                .filter_map(|p| landscape_output(p, explain, sources))
                .collect();
            match format {
                Format::Json => output::print_json(&PlaceOutput {
                    format: 1,
                    landscapes,
                    warnings,
                    moves,
                }),
                Format::Human => {
                    landscapes.iter().for_each(print_landscape);
                    print_moves(what_if, &moves);
                }
            }
            Exit::Success
        },
    )
}

pub(super) fn landscape_output(
    placed: &Placed,
    explain: Option<&str>,
    sources: &SourceMap,
) -> Option<LandscapeOutput> {
    let placement = placed.placement.as_ref()?;
    let solution = placed.solution.as_ref()?;
    let p = &placed.problem;
    let explanations = explain
        .and_then(|name| p.items.iter().position(|i| i.name == name))
        .map(|i| {
            let verdicts = place::verdicts(p, &solution.env_of, i)
                .into_iter()
                .map(|v| VerdictOutput {
                    environment: p.envs[v.environment].name.clone(),
                    verdict: match v.kind {
                        VerdictKind::Chosen => "chosen",
                        VerdictKind::Ruled => "ruled",
                        VerdictKind::Blocked => "blocked",
                        VerdictKind::Costlier => "costlier",
                    }
                    .to_string(),
                    text: v.text,
                    rules: v
                        .rules
                        .iter()
                        .filter_map(|r| place::rule_label(p, *r))
                        .map(|(span, rule)| {
                            let (file, line) = location(sources, span);
                            RuleOutput { rule, file, line }
                        })
                        .collect(),
                })
                .collect();
            ExplanationOutput {
                instance: p.items[i].name.clone(),
                verdicts,
                domains: place::domain_reasons(p, &solution.env_of, placement, i),
            }
        })
        .into_iter()
        .collect();
    Some(LandscapeOutput {
        name: placement.landscape.clone(),
        environments: placement.environments.clone(),
        optimal: placement.optimal,
        objective: round(placement.objective),
        cost_per_hour: round(placement.cost_per_hour),
        penalty: round(placement.penalty),
        moves_once: round(placement.moves_once),
        lower_bound: round(placement.lower_bound),
        loads: placement
            .loads
            .iter()
            .map(|l| LoadOutput {
                environment: l.environment.clone(),
                millicpu: l.millicpu,
                memory_bytes: l.memory_bytes,
                capacity_millicpu: l.capacity_millicpu,
                capacity_memory_bytes: l.capacity_memory_bytes,
                cost_per_hour: round(l.cost_per_hour),
                storage_per_hour: round(l.storage_per_hour),
                cost_per_month: round(l.cost_per_hour * place::problem::HOURS_PER_MONTH),
            })
            .collect(),
        assignments: placement
            .assignments
            .iter()
            .map(|a| AssignmentOutput {
                instance: a.instance.clone(),
                service: a.service.clone(),
                environment: a.environment.clone(),
                replicas: a.replicas.clone(),
                cost_per_hour: round(a.cost_per_hour),
                unmet_preferences: a.unmet_preferences.clone(),
                reason: a.reason.clone(),
            })
            .collect(),
        explanations,
    })
}

/// Six decimals: enough for any rate, and no float noise in the output.
fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

fn round(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

fn location(sources: &SourceMap, span: Span) -> (String, usize) {
    let file = sources.get(span.file);
    let line = file.text[..(span.start as usize).min(file.text.len())]
        .matches('\n')
        .count()
        + 1;
    (file.name.clone(), line)
}

fn print_landscape(l: &LandscapeOutput) {
    println!(
        "landscape `{}` ({}): {:.3}/h{}{}{}",
        l.name,
        l.environments.join(", "),
        l.cost_per_hour,
        if l.penalty > 0.0 {
            format!(" + {} for unmet preferences", l.penalty)
        } else {
            String::new()
        },
        if l.moves_once > 0.0 {
            format!(
                " + moves from svcmodel.lock: {:.2} once ({:.3}/h over a month)",
                l.moves_once,
                l.moves_once / svcmodel_compiler::place::HOURS_PER_MONTH
            )
        } else {
            String::new()
        },
        if l.optimal {
            ", optimal".to_string()
        } else {
            format!(
                ", within {:.3}/h of the best possible",
                l.objective - l.lower_bound
            )
        }
    );
    let width = l.environments.iter().map(String::len).max().unwrap_or(0);
    for load in &l.loads {
        let cap = |used: String, cap: Option<String>| match cap {
            Some(c) => format!("{used} of {c}"),
            None => used,
        };
        let storage = if load.storage_per_hour > 0.0 {
            format!(" (storage {:.3}/h)", load.storage_per_hour)
        } else {
            String::new()
        };
        println!(
            "  {:width$}  cpu {}, memory {}, {:.3}/h{storage}, {:.2}/month",
            load.environment,
            cap(
                place::problem::cpu_text(load.millicpu),
                load.capacity_millicpu.map(place::problem::cpu_text)
            ),
            cap(
                place::problem::memory_text(load.memory_bytes),
                load.capacity_memory_bytes.map(place::problem::memory_text)
            ),
            load.cost_per_hour,
            load.cost_per_month
        );
    }
    println!();
    let name_width = l
        .assignments
        .iter()
        .map(|a| a.instance.len())
        .max()
        .unwrap_or(0);
    for a in &l.assignments {
        let domains: Vec<String> = a
            .replicas
            .iter()
            .filter(|r| !r.is_empty())
            .map(domain_text)
            .collect();
        let domains = if domains.is_empty() {
            String::new()
        } else {
            format!("  [{}]", domains.join(", "))
        };
        println!(
            "  {:name_width$}  {:width$}{domains}",
            a.instance, a.environment
        );
        println!("  {:name_width$}  {}", "", a.reason);
    }
    for e in &l.explanations {
        println!();
        println!("why `{}` runs where it does:", e.instance);
        for v in &e.verdicts {
            let mark = match v.verdict.as_str() {
                "chosen" => "✓",
                _ => "✗",
            };
            println!("  {mark} {:width$}  {}", v.environment, v.text);
            for rule in &v.rules {
                println!(
                    "    {:width$}  {} ({}:{})",
                    "", rule.rule, rule.file, rule.line
                );
            }
        }
        if !e.domains.is_empty() {
            println!("  its failure domains:");
            for reason in &e.domains {
                println!("    - {reason}");
            }
        }
    }
    println!();
}

/// What a what-if moves, one line per instance.
fn print_moves(what_if: &WhatIf, moves: &[MoveOutput]) {
    if what_if.diff {
        if moves.is_empty() {
            println!("nothing moves against svcmodel.lock");
            return;
        }
        println!("what moves against svcmodel.lock:");
    } else if !what_if.asks() {
        return;
    }
    let assumed: Vec<String> = what_if
        .lose
        .iter()
        .map(|d| format!("`{d}` lost"))
        .chain(what_if.without.iter().map(|p| format!("without `{p}`")))
        .collect();
    if what_if.diff {
    } else if moves.is_empty() {
        println!("nothing moves with {}", assumed.join(", "));
        return;
    } else {
        println!("what moves with {}:", assumed.join(", "));
    }
    let width = moves.iter().map(|m| m.instance.len()).max().unwrap_or(0);
    let domains = |paths: &[String]| {
        if paths.is_empty() {
            String::new()
        } else {
            format!(" [{}]", paths.join(", "))
        }
    };
    for m in moves {
        println!(
            "  {:width$}  {}{} → {}{}: {}",
            m.instance,
            m.from_environment,
            domains(&m.from),
            m.to_environment,
            domains(&m.to),
            m.cause
        );
    }
    println!();
}

/// A replica's failure domains, coarsest first: `eu-central-1a`, `fra-r01/fra-hv02`.
fn domain_text(replica: &BTreeMap<String, String>) -> String {
    place::replica_path(replica)
}

/// The placements of the landscapes with more than one environment: what rendering
/// and deploying one of their environments needs.
pub(super) struct Placements {
    landscapes: Vec<LandscapePlacement>,
}

/// A landscape's environments, its placement or why there is none, and its warnings
/// by environment.
type LandscapePlacement = (
    Vec<String>,
    Result<svcmodel_model::placement::Placement, Vec<Diagnostic>>,
    Vec<(String, Diagnostic)>,
    Rejections,
);

/// Per instance and environment, the first rule that rules it out there: the cause of
/// a move out of it.
type Rejections = BTreeMap<(String, String), String>;

impl Placements {
    /// Places the landscapes that `systems` (the environments resolved so far) touch,
    /// starting from where `previous` had the replicas; when `-e` left some of their
    /// environments out, resolves them all again. `keep_causes` keeps what rules each
    /// instance out of each environment, for `moved_from` (deploy, plan, reconcile;
    /// rendering needs none of it).
    pub(super) fn for_command(
        args: &SystemArgs,
        model: &svcmodel_model::Model,
        systems: &[ResolvedSystem],
        previous: &place::Previous,
        keep_causes: bool,
    ) -> Placements {
        let resolved = |e: &usize| {
            let name = &model.environments[*e].name.value;
            systems
                .iter()
                .any(|s| s.environment.as_deref() == Some(name.as_str()))
        };
        // The landscapes of the environments at hand, and whether all of theirs are.
        let touched: Vec<(String, Vec<usize>)> = place::landscapes(model)
            .into_iter()
            .filter(|(_, envs)| envs.iter().any(resolved))
            .collect();
        if touched.iter().all(|(_, envs)| envs.iter().all(resolved)) {
            return Placements::new(model, systems, touched, previous, keep_causes);
        }
        match super::system::resolve_every_environment(args) {
            Some(all) => {
                let systems = all
                    .resolution
                    .as_ref()
                    .map(|r| r.systems.clone())
                    .unwrap_or_default();
                Placements::new(&all.model, &systems, touched, previous, keep_causes)
            }
            None => Placements {
                landscapes: Vec::new(),
            },
        }
    }

    fn new(
        model: &svcmodel_model::Model,
        systems: &[ResolvedSystem],
        landscapes: Vec<(String, Vec<usize>)>,
        previous: &place::Previous,
        keep_causes: bool,
    ) -> Placements {
        let landscapes = landscapes
            .into_iter()
            .map(|(name, envs)| {
                let names = envs
                    .iter()
                    .map(|&e| model.environments[e].name.value.clone())
                    .collect();
                let mut problem = place::Problem::build(model, systems, &name, &envs);
                problem.start_from(previous);
                // Rendering and deploying never print why: no reasons to work out.
                let placed = place::place_landscape(problem, place::Options::without_reasons());
                let mut rejections = Rejections::new();
                if keep_causes {
                    for item in &placed.problem.items {
                        for (e, env) in placed.problem.envs.iter().enumerate() {
                            if let Some(r) = item.rejections[e].first() {
                                rejections
                                    .insert((item.name.clone(), env.name.clone()), r.text.clone());
                            }
                        }
                    }
                }
                let result = match placed.placement {
                    Some(p) if placed.diagnostics.is_empty() => Ok(p),
                    _ => Err(placed.diagnostics),
                };
                (names, result, placed.warnings, rejections)
            })
            .collect();
        Placements { landscapes }
    }

    /// What placement warns of in `environment`: spread rules that domains out of
    /// service keep from holding.
    pub(super) fn warnings(&self, environment: &str) -> Vec<Diagnostic> {
        self.landscapes
            .iter()
            .flat_map(|(_, _, warnings, _)| warnings)
            .filter(|(env, _)| env == environment)
            .map(|(_, d)| d.clone())
            .collect()
    }

    /// Of the services `deployed` in `environment`, those placement put in another
    /// environment of its landscape: "moved to `B`: the rule that rules it out here".
    pub(super) fn moved_from(
        &self,
        environment: &str,
        deployed: &[String],
    ) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let Some((_, Ok(placement), _, rejections)) = self
            .landscapes
            .iter()
            .find(|(envs, _, _, _)| envs.iter().any(|e| e == environment))
        else {
            return out;
        };
        for a in &placement.assignments {
            if a.environment == environment || !deployed.contains(&a.instance) {
                continue;
            }
            let why = match rejections.get(&(a.instance.clone(), environment.to_string())) {
                Some(rule) => rule.clone(),
                None => format!(
                    "it costs less there, or meets more preferences (`svcmodel place --explain {}`)",
                    a.instance
                ),
            };
            out.insert(
                a.instance.clone(),
                format!("moved it to `{}`: {why}", a.environment),
            );
        }
        out
    }

    /// For `environment`: the instances placed there and what the view needs (for an
    /// environment alone in its landscape, every instance, pinned to its failure
    /// domains); `None` for a model without environments.
    pub(super) fn for_environment(
        &self,
        model: &svcmodel_model::Model,
        system: &ResolvedSystem,
        environment: &str,
    ) -> Result<Option<(Vec<String>, PlacedView)>, Vec<Diagnostic>> {
        let Some((_, result, _, _)) = self
            .landscapes
            .iter()
            .find(|(envs, _, _, _)| envs.iter().any(|e| e == environment))
        else {
            return Ok(None);
        };
        let placement = result.as_ref().map_err(Clone::clone)?;
        let here: Vec<String> = placement
            .assignments
            .iter()
            .filter(|a| a.environment == environment)
            .map(|a| a.instance.clone())
            .collect();
        let mut view = PlacedView::default();
        let mut diagnostics = Vec::new();
        for a in &placement.assignments {
            if a.environment == environment {
                view.domains.insert(a.instance.clone(), a.replicas.clone());
                continue;
            }
            let Some(env) = model.environment(&a.environment) else {
                continue;
            };
            match &env.address {
                Some(address) => {
                    view.remote.insert(
                        a.instance.clone(),
                        address.value.replace("{name}", &a.instance),
                    );
                }
                None => {
                    // Only a problem if something placed here requires it.
                    for consumer in here.iter().filter_map(|n| system.find(n)) {
                        for dep in &consumer.dependencies {
                            if system.instance(dep.instance).name != a.instance {
                                continue;
                            }
                            diagnostics.push(
                                Diagnostic::error(
                                    Code::Unreachable,
                                    format!(
                                        "`{}` (placed in `{environment}`) requires `{}`, placed in `{}`, which declares no `address`",
                                        consumer.name, a.instance, a.environment
                                    ),
                                )
                                .label(dep.span, "this requirement crosses environments")
                                .label(env.name.span, "no `address` here")
                                .help(format!(
                                    "add `address = \"{{name}}.{}.example.internal\"` (the host other environments reach its services at) to environment `{}`",
                                    a.environment, a.environment
                                )),
                            );
                        }
                    }
                }
            }
        }
        if diagnostics.is_empty() {
            Ok(Some((here, view)))
        } else {
            Err(diagnostics)
        }
    }
}
