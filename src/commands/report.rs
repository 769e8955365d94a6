//! `svcmodel report`: one self-contained HTML page (no script, no font, no request:
//! its Content-Security-Policy allows none) for the people who read about a system
//! rather than run it: the dependency graph coloured by placement, the landscape down
//! to failure domains, risk, service levels, cost, every placement's reason, and, for
//! the environments that were deployed, the plan and the drift with their source
//! lines. `--format json` gives the same data.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use svcmodel_compiler::place::{self, Placed};

use super::deploy::DeployedReport;
use super::graph::{self, GraphView, xml};
use super::place::{LandscapeOutput, WhatIf};
use crate::cli::{Color, Format, SystemArgs};
use crate::exit::Exit;
use crate::output;

/// What `svcmodel report --format json` prints, and what the page shows.
#[derive(Serialize, schemars::JsonSchema)]
pub struct ReportOutput {
    /// The version of this shape.
    format: u32,
    /// The model's `system`: its name and description, when it declares one.
    system: Option<String>,
    description: Option<String>,
    /// The dependency graph of each distinct resolution, as `graph --format json`.
    graphs: Vec<GraphView>,
    /// Every placed landscape, with each assignment's reason, as `place --format json`.
    landscapes: Vec<LandscapeOutput>,
    risk: Vec<place::risk::RiskReport>,
    slo: Vec<place::slo::SloReport>,
    /// The environments with a state: what `plan` would change, and the drift.
    deployed: Vec<DeployedReport>,
}

pub fn run(args: &SystemArgs, format: Format, color: Color) -> Exit {
    let none = WhatIf::assuming(Vec::new(), Vec::new());
    let options = place::Options {
        nodes: 2_000_000,
        explain: true,
    };
    // The graph needs the resolution, the rest the placement: both from one run, and
    // the report leaves `with_placement`'s closure through this cell.
    let made: std::cell::RefCell<Option<ReportOutput>> = std::cell::RefCell::new(None);
    let exit = super::place::with_placement(
        args,
        &none,
        options,
        format,
        color,
        &|sources, placed: &[Placed], _warnings, _moves| {
            let model = placed.first().map(|p| p.problem.model);
            let system = model.and_then(|m| m.systems.first());
            let mut graphs: Vec<GraphView> = Vec::new();
            for p in placed {
                for env in &p.problem.envs {
                    let (Some(resolved), Some(model)) = (env.system, model) else {
                        continue;
                    };
                    let mut view = graph::graph_view(resolved, model);
                    match graphs
                        .iter_mut()
                        .find(|g| g.nodes == view.nodes && g.edges == view.edges)
                    {
                        Some(existing) => existing.environments.append(&mut view.environments),
                        None => graphs.push(view),
                    }
                }
            }
            let report = ReportOutput {
                format: 1,
                system: system.map(|s| s.name.value.clone()),
                description: system.and_then(|s| s.description.clone()),
                graphs,
                landscapes: placed
                    .iter()
                    .filter_map(|p| super::place::landscape_output(p, None, sources))
                    .collect(),
                risk: super::place::assess(placed, place::risk::risk),
                slo: super::place::assess(placed, place::slo::slo),
                deployed: Vec::new(),
            };
            *made.borrow_mut() = Some(report);
            Exit::Success
        },
    );
    if exit != Exit::Success {
        return exit;
    }
    let Some(mut report) = made.into_inner() else {
        return Exit::Failure;
    };
    report.deployed = super::deploy::deployed_reports(args, color);
    match format {
        Format::Json => output::print_json(&report),
        Format::Human => print!("{}", page(&report)),
    }
    Exit::Success
}

/// Colours for environments, in the model's order: distinct in light and dark.
const PALETTE: [&str; 8] = [
    "#cfe3ff", "#d5f0d0", "#ffe1c2", "#ead6fb", "#fff3b0", "#c9f1ef", "#ffd3dc", "#e3e3e3",
];

const STYLE: &str = r#"
:root { --bg: #ffffff; --fg: #1b2a41; --muted: #5a6b82; --card: #f5f7fb; --line: #d5dce6;
  --bad: #b3261e; --good: #1e7b34; --warn: #8a5a00; color-scheme: light dark; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #11151c; --fg: #e6ebf2; --muted: #9aa8bb; --card: #1a202a; --line: #2d3644;
    --bad: #ff8a80; --good: #7dd68a; --warn: #f5c26b; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header, main { max-width: 1100px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 28px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 36px 0 10px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 16px; margin: 18px 0 8px; }
.muted { color: var(--muted); }
nav a { color: var(--fg); margin-right: 14px; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 16px; }
th, td { text-align: left; vertical-align: top; padding: 6px 8px; border-bottom: 1px solid var(--line); }
th { color: var(--muted); font-weight: 600; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; margin: 10px 0; }
.envs { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 12px; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 3px; margin-right: 6px; vertical-align: -1px; border: 1px solid var(--line); }
.graph { background: #fff; border-radius: 8px; padding: 8px; overflow-x: auto; border: 1px solid var(--line); }
.graph img { display: block; max-width: 100%; height: auto; }
.bad { color: var(--bad); font-weight: 600; }
.good { color: var(--good); font-weight: 600; }
.warn { color: var(--warn); font-weight: 600; }
ul.tree { list-style: none; padding-left: 16px; margin: 4px 0; }
ul.tree li { margin: 2px 0; }
code { font: 13px ui-monospace, "SFMono-Regular", Menlo, monospace; }
details summary { cursor: pointer; }
footer { max-width: 1100px; margin: 40px auto 30px; padding: 0 24px; }
"#;

/// The page: escaped everywhere, the same bytes for the same model and state.
fn page(r: &ReportOutput) -> String {
    let title = r.system.clone().unwrap_or_else(|| "the model".to_string());
    let mut colour: BTreeMap<String, &str> = BTreeMap::new();
    for l in &r.landscapes {
        for env in &l.environments {
            let next = PALETTE[colour.len() % PALETTE.len()];
            colour.entry(env.clone()).or_insert(next);
        }
    }
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n\
<title>{} — svcmodel report</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<header>\n<h1>{}</h1>\n",
        xml(&title),
        xml(&title)
    );
    if let Some(description) = &r.description {
        let _ = writeln!(out, "<p class=\"muted\">{}</p>", xml(description));
    }
    let services: usize = r.landscapes.iter().map(|l| l.assignments.len()).sum();
    let environments: usize = r.landscapes.iter().map(|l| l.environments.len()).sum();
    let cost: f64 = r.landscapes.iter().map(|l| l.cost_per_hour).sum();
    let _ = writeln!(
        out,
        "<p><strong>{}</strong> placed in <strong>{}</strong>, <strong>{cost:.3}/h</strong> ({:.2}/month).</p>",
        output::plural(services, "instance"),
        output::plural(environments, "environment"),
        cost * place::HOURS_PER_MONTH
    );
    out.push_str("<nav><a href=\"#graph\">Graph</a><a href=\"#landscape\">Landscape</a><a href=\"#risk\">Risk</a><a href=\"#slo\">Service levels</a><a href=\"#placement\">Placement</a><a href=\"#deployed\">Deployed</a></nav>\n</header>\n<main>\n");

    // The graph, its boxes coloured by where each instance runs.
    out.push_str("<section id=\"graph\">\n<h2>Dependency graph</h2>\n");
    let mut legend = String::new();
    for (env, c) in &colour {
        let _ = write!(
            legend,
            "<span><span class=\"swatch\" style=\"background:{c}\"></span>{} </span>",
            xml(env)
        );
    }
    let _ = writeln!(out, "<p>{legend}</p>");
    let placed_in: BTreeMap<(String, String), String> = r
        .landscapes
        .iter()
        .flat_map(|l| {
            l.assignments.iter().flat_map(|a| {
                l.environments
                    .iter()
                    .map(|e| ((e.clone(), a.instance.clone()), a.environment.clone()))
            })
        })
        .collect();
    for g in &r.graphs {
        let environment = g.environments.first().cloned().unwrap_or_default();
        let fill = |name: &str| -> Option<String> {
            let chosen = placed_in.get(&(environment.clone(), name.to_string()))?;
            colour.get(chosen).map(|c| c.to_string())
        };
        let svg = graph::svg_with(std::slice::from_ref(g), &fill);
        let _ = writeln!(
            out,
            "<div class=\"graph\"><img alt=\"the dependency graph of {}\" src=\"data:image/svg+xml;base64,{}\"></div>",
            xml(&g.environments.join(", ")),
            base64(svg.as_bytes())
        );
    }
    out.push_str("</section>\n");

    // Landscapes: environments with their load and cost, down to failure domains.
    out.push_str("<section id=\"landscape\">\n<h2>Landscape</h2>\n");
    for l in &r.landscapes {
        let _ = writeln!(
            out,
            "<h3>Landscape <code>{}</code>: {:.3}/h{}</h3>\n<div class=\"envs\">",
            xml(&l.name),
            l.cost_per_hour,
            if l.optimal { ", optimal" } else { "" }
        );
        for load in &l.loads {
            let c = colour.get(&load.environment).copied().unwrap_or("#ccc");
            let _ = writeln!(
                out,
                "<div class=\"card\"><strong><span class=\"swatch\" style=\"background:{c}\"></span>{}</strong><br>\
<span class=\"muted\">cpu {} of {}, memory {} of {}</span><br>{:.3}/h ({:.2}/month{})",
                xml(&load.environment),
                cores(load.millicpu),
                load.capacity_millicpu
                    .map_or("unlimited".to_string(), cores),
                gib(load.memory_bytes),
                load.capacity_memory_bytes
                    .map_or("unlimited".to_string(), gib),
                load.cost_per_hour,
                load.cost_per_month,
                if load.storage_per_hour > 0.0 {
                    format!(", storage {:.3}/h", load.storage_per_hour)
                } else {
                    String::new()
                }
            );
            // Failure domains, largest kind first, with the replicas in each.
            let mut tree: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for a in l
                .assignments
                .iter()
                .filter(|a| a.environment == load.environment)
            {
                for replica in &a.replicas {
                    let path: Vec<&str> = ["zone", "cluster", "rack", "hypervisor"]
                        .iter()
                        .filter_map(|k| replica.get(*k).map(String::as_str))
                        .collect();
                    tree.entry(path.join(" › "))
                        .or_default()
                        .push(a.instance.clone());
                }
            }
            out.push_str("<ul class=\"tree\">");
            for (path, instances) in &tree {
                let at = if path.is_empty() {
                    "(no failure domains)"
                } else {
                    path
                };
                let mut counted: BTreeMap<&str, usize> = BTreeMap::new();
                for instance in instances {
                    *counted.entry(instance.as_str()).or_default() += 1;
                }
                let listed: Vec<String> = counted
                    .iter()
                    .map(|(name, n)| {
                        if *n > 1 {
                            format!("{name} ×{n}")
                        } else {
                            name.to_string()
                        }
                    })
                    .collect();
                let _ = write!(
                    out,
                    "<li><code>{}</code>: {}</li>",
                    xml(at),
                    xml(&listed.join(", "))
                );
            }
            out.push_str("</ul></div>\n");
        }
        out.push_str("</div>\n");
    }
    out.push_str("</section>\n");

    // Risk: what each loss stops, and the single points of failure.
    out.push_str("<section id=\"risk\">\n<h2>Risk</h2>\n");
    for risk in &r.risk {
        let _ = writeln!(
            out,
            "<h3>Landscape <code>{}</code></h3>\n<table><tr><th>if this is lost</th><th>stops</th><th>entry points down</th><th>runs with fewer replicas</th></tr>",
            xml(&risk.landscape)
        );
        for loss in risk.losses.iter().filter(|l| {
            !l.stopped.is_empty() || !l.degraded.is_empty() || !l.entrypoints_down.is_empty()
        }) {
            let degraded: Vec<String> = loss
                .degraded
                .iter()
                .map(|d| format!("{} ({} of {} lost)", d.service, d.lost, d.replicas))
                .collect();
            let down = if loss.entrypoints_down.is_empty() {
                "<span class=\"good\">none</span>".to_string()
            } else {
                format!(
                    "<span class=\"bad\">{}</span>",
                    xml(&loss.entrypoints_down.join(", "))
                )
            };
            let _ = writeln!(
                out,
                "<tr><td>{} <code>{}</code> ({})</td><td>{}</td><td>{down}</td><td>{}</td></tr>",
                xml(&loss.kind),
                xml(&loss.name),
                xml(&loss.environment),
                xml(&loss.stopped.join(", ")),
                xml(&degraded.join(", "))
            );
        }
        out.push_str("</table>\n");
        if risk.single_points_of_failure.is_empty() {
            out.push_str("<p class=\"good\">No single failure domain stops an entry point.</p>\n");
        } else {
            out.push_str("<p><strong>Single points of failure</strong></p><ul>\n");
            for spof in &risk.single_points_of_failure {
                let _ = writeln!(
                    out,
                    "<li class=\"warn\">{} <code>{}</code> ({}): holds every replica of {}; stops {}</li>",
                    xml(&spof.kind),
                    xml(&spof.name),
                    xml(&spof.environment),
                    xml(&spof.services.join(", ")),
                    xml(&spof.entrypoints_down.join(", "))
                );
            }
            out.push_str("</ul>\n");
        }
    }
    out.push_str("</section>\n");

    // Service levels: each entry point against the system's targets.
    out.push_str("<section id=\"slo\">\n<h2>Service levels</h2>\n");
    for slo in &r.slo {
        let _ = writeln!(
            out,
            "<h3>Landscape <code>{}</code>: target availability {}, latency {}</h3>\n<table><tr><th>entry point</th><th>availability</th><th>weakest links</th><th>slowest path</th></tr>",
            xml(&slo.landscape),
            slo.availability_target
                .map_or("none".to_string(), |a| format!("{a}%")),
            slo.latency_target_ms
                .map_or("none".to_string(), |l| format!("{l} ms"))
        );
        for e in &slo.entrypoints {
            let verdict = |met: Option<bool>| match met {
                Some(true) => "<span class=\"good\">met</span>",
                Some(false) => "<span class=\"bad\">NOT MET</span>",
                None => "<span class=\"muted\">no target</span>",
            };
            let weakest: Vec<String> = e
                .weakest
                .iter()
                .map(|w| {
                    format!(
                        "{} {:.3}% ({:.0}% of the downtime)",
                        w.service, w.availability, w.share
                    )
                })
                .collect();
            let _ = writeln!(
                out,
                "<tr><td><code>{}</code></td><td>{:.4}%: {}</td><td>{}</td><td>{}: at most {:.0} ms, {}</td></tr>",
                xml(&e.name),
                e.availability,
                verdict(e.availability_met),
                xml(&weakest.join("; ")),
                xml(&e.slowest_path.join(" → ")),
                e.latency_bound_ms,
                verdict(e.latency_met)
            );
        }
        out.push_str("</table>\n");
    }
    out.push_str("</section>\n");

    // Placement: every instance with the reason placement gives.
    out.push_str("<section id=\"placement\">\n<h2>Placement</h2>\n<table><tr><th>instance</th><th>environment</th><th>cost</th><th>why</th></tr>\n");
    for l in &r.landscapes {
        for a in &l.assignments {
            let c = colour.get(&a.environment).copied().unwrap_or("#ccc");
            let domains: Vec<String> = a
                .replicas
                .iter()
                .map(|r| {
                    ["zone", "cluster", "rack", "hypervisor"]
                        .iter()
                        .filter_map(|k| r.get(*k).cloned())
                        .collect::<Vec<_>>()
                        .join("/")
                })
                .filter(|p| !p.is_empty())
                .collect();
            let replicas = if domains.is_empty() {
                String::new()
            } else {
                format!(
                    "<details><summary>replicas</summary><code>{}</code></details>",
                    xml(&domains.join(", "))
                )
            };
            let _ = writeln!(
                out,
                "<tr><td><code>{}</code></td><td><span class=\"swatch\" style=\"background:{c}\"></span>{}{replicas}</td><td>{:.3}/h</td><td>{}</td></tr>",
                xml(&a.instance),
                xml(&a.environment),
                a.cost_per_hour,
                xml(&a.reason)
            );
        }
    }
    out.push_str("</table>\n</section>\n");

    // Deployed: the plan and the drift, pointing at the model.
    out.push_str("<section id=\"deployed\">\n<h2>Deployed</h2>\n");
    if r.deployed.is_empty() {
        out.push_str("<p class=\"muted\">Nothing of this model has been deployed from this project (no state under <code>.svcmodel/</code>).</p>\n");
    }
    for d in &r.deployed {
        let _ = writeln!(
            out,
            "<h3>Environment <code>{}</code> (state serial {})</h3>",
            xml(&d.environment),
            d.serial
        );
        let changes: Vec<&svcmodel_deploy::deploy::PlanItem> = d
            .plan
            .iter()
            .filter(|i| i.action != svcmodel_deploy::deploy::Action::Unchanged)
            .collect();
        if changes.is_empty() {
            out.push_str("<p class=\"good\">The plan is empty: what is deployed is what the model says.</p>\n");
        } else {
            out.push_str("<table><tr><th>service</th><th>plan</th><th>changes</th></tr>\n");
            for item in changes {
                let fields: Vec<String> = item
                    .changes
                    .iter()
                    .map(|c| {
                        format!(
                            "{}: {} → {}",
                            c.field,
                            c.from.as_deref().unwrap_or("(none)"),
                            c.to.as_deref().unwrap_or("(none)")
                        )
                    })
                    .chain(item.moved.clone())
                    .collect();
                let _ = writeln!(
                    out,
                    "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                    xml(&item.name),
                    xml(&format!("{:?}", item.action).to_lowercase()),
                    xml(&fields.join("; "))
                );
            }
            out.push_str("</table>\n");
        }
        if d.drift.is_empty() {
            out.push_str("<p class=\"good\">No drift: it runs as modelled.</p>\n");
        } else {
            out.push_str("<table><tr><th>drift</th><th>what</th><th>in the model</th></tr>\n");
            for drift in &d.drift {
                let at = drift
                    .labels
                    .first()
                    .map(|l| format!("{}:{}", l.file, l.line))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "<tr><td class=\"bad\">{}</td><td>{}<br><span class=\"muted\">{}</span></td><td><code>{}</code></td></tr>",
                    xml(&drift.code),
                    xml(&drift.message),
                    xml(drift.help.as_deref().unwrap_or("")),
                    xml(&at)
                );
            }
            out.push_str("</table>\n");
        }
    }
    let _ = write!(
        out,
        "</section>\n</main>\n<footer class=\"muted\">svcmodel {}: <code>svcmodel report --format json</code> gives the same data.</footer>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION")
    );
    out
}

fn cores(millicpu: u64) -> String {
    place::problem::cpu_text(millicpu)
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

/// Standard base64, for the graph's `data:` address.
fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
