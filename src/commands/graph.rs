//! `svcmodel graph`: the dependency graph as DOT, Mermaid, JSON or a self-contained SVG.
//! Edges point from a consumer to what it requires; dashed edges do not order a deploy.

use std::fmt::Write as _;

use schemars::JsonSchema;
use serde::Serialize;
use svcmodel_model::system::ResolvedSystem;

use crate::cli::{Color, Format, GraphFormat, SystemArgs};
use crate::exit::Exit;
use crate::output;

#[derive(Debug, Serialize, JsonSchema)]
pub struct GraphOutput {
    /// The version of this output's shape.
    pub format: u32,
    /// One graph per distinct resolution; environments with the same graph share one.
    pub graphs: Vec<GraphView>,
}

#[derive(Debug, Serialize, JsonSchema, PartialEq)]
pub struct GraphView {
    /// The environments this graph is for; empty when the model declares none.
    pub environments: Vec<String>,
    pub nodes: Vec<NodeView>,
    pub edges: Vec<EdgeView>,
    /// Deploy waves, by node name.
    pub waves: Vec<Vec<String>>,
}

#[derive(Debug, Serialize, JsonSchema, PartialEq)]
pub struct NodeView {
    pub name: String,
    pub service: String,
    pub version: String,
    /// The deploy wave, from 0.
    pub wave: usize,
}

#[derive(Debug, Serialize, JsonSchema, PartialEq)]
pub struct EdgeView {
    /// The consumer.
    pub from: String,
    /// What it requires.
    pub to: String,
    /// Whether `to` must be healthy before `from` starts.
    pub ordering: bool,
    /// The version requirement as written.
    pub requirement: String,
}

pub(super) fn graph_view(system: &ResolvedSystem, model: &svcmodel_model::Model) -> GraphView {
    let waves = system.graph.waves().unwrap_or_default();
    let mut wave_of = vec![0; system.instances.len()];
    for (w, wave) in waves.iter().enumerate() {
        for id in wave {
            wave_of[id.index()] = w;
        }
    }
    GraphView {
        environments: system.environment.iter().cloned().collect(),
        nodes: system
            .instances
            .iter()
            .map(|i| NodeView {
                name: i.name.clone(),
                service: i.service.clone(),
                version: i.version.to_string(),
                wave: wave_of[i.id.index()],
            })
            .collect(),
        edges: system
            .instances
            .iter()
            .flat_map(|i| {
                i.dependencies.iter().map(move |d| EdgeView {
                    from: i.name.clone(),
                    to: system.instance(d.instance).name.clone(),
                    ordering: d.ordering,
                    requirement: model.services[i.definition].requires[d.requirement]
                        .version
                        .value
                        .to_string(),
                })
            })
            .collect(),
        waves: waves
            .iter()
            .map(|w| {
                w.iter()
                    .map(|id| system.instance(*id).name.clone())
                    .collect()
            })
            .collect(),
    }
}

pub fn run(args: &SystemArgs, format: GraphFormat, color: Color) -> Exit {
    let json = if format == GraphFormat::Json {
        Format::Json
    } else {
        Format::Human
    };
    let compilation = match super::system::resolve(args, &[], false, json, color) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    let systems = compilation
        .resolution
        .as_ref()
        .map_or(&[][..], |r| r.systems.as_slice());
    // Environments that resolve to the same graph share one drawing.
    let mut graphs: Vec<GraphView> = Vec::new();
    for system in systems {
        let mut view = graph_view(system, &compilation.model);
        let environments = std::mem::take(&mut view.environments);
        match graphs
            .iter_mut()
            .find(|g| g.nodes == view.nodes && g.edges == view.edges)
        {
            Some(existing) => existing.environments.extend(environments),
            None => {
                view.environments = environments;
                graphs.push(view);
            }
        }
    }
    let text = match format {
        GraphFormat::Json => {
            output::print_json(&GraphOutput { format: 1, graphs });
            return Exit::Success;
        }
        GraphFormat::Dot => dot(&graphs),
        GraphFormat::Mermaid => mermaid(&graphs),
        GraphFormat::Svg => svg(&graphs),
    };
    print!("{text}");
    Exit::Success
}

fn dot_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn title(graph: &GraphView) -> String {
    if graph.environments.is_empty() {
        "system".to_string()
    } else {
        graph.environments.join(", ")
    }
}

pub fn dot(graphs: &[GraphView]) -> String {
    let mut out = String::from(
        "digraph svcmodel {\n  rankdir=TB;\n  node [shape=box, fontname=\"Helvetica\"];\n",
    );
    for (g, graph) in graphs.iter().enumerate() {
        let indent = if graphs.len() > 1 { "    " } else { "  " };
        if graphs.len() > 1 {
            let _ = writeln!(
                out,
                "  subgraph cluster_{g} {{\n    label={};",
                dot_string(&title(graph))
            );
        }
        let id = |name: &str| {
            if graphs.len() > 1 {
                dot_string(&format!("{g}:{name}"))
            } else {
                dot_string(name)
            }
        };
        for node in &graph.nodes {
            let _ = writeln!(
                out,
                "{indent}{} [label={}];",
                id(&node.name),
                dot_string(&format!("{}\n{}", node.name, node.version))
            );
        }
        for edge in &graph.edges {
            let style = if edge.ordering { "" } else { ", style=dashed" };
            let _ = writeln!(
                out,
                "{indent}{} -> {} [label={}{style}];",
                id(&edge.from),
                id(&edge.to),
                dot_string(&edge.requirement)
            );
        }
        if graphs.len() > 1 {
            out.push_str("  }\n");
        }
    }
    out.push_str("}\n");
    out
}

fn mermaid_label(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' => "#quot;".to_string(),
            '<' => "#lt;".to_string(),
            '>' => "#gt;".to_string(),
            '#' => "#35;".to_string(),
            c if c.is_control() => " ".to_string(),
            c => c.to_string(),
        })
        .collect()
}

pub fn mermaid(graphs: &[GraphView]) -> String {
    let mut out = String::from("flowchart TD\n");
    for (g, graph) in graphs.iter().enumerate() {
        let indent = if graphs.len() > 1 { "    " } else { "  " };
        if graphs.len() > 1 {
            let _ = writeln!(out, "  subgraph g{g}[\"{}\"]", mermaid_label(&title(graph)));
        }
        let index = |name: &str| graph.nodes.iter().position(|n| n.name == name).unwrap_or(0);
        for (i, node) in graph.nodes.iter().enumerate() {
            let _ = writeln!(
                out,
                "{indent}g{g}n{i}[\"{} {}\"]",
                mermaid_label(&node.name),
                mermaid_label(&node.version)
            );
        }
        for edge in &graph.edges {
            let arrow = if edge.ordering { "-->" } else { "-.->" };
            let _ = writeln!(
                out,
                "{indent}g{g}n{} {arrow} g{g}n{}",
                index(&edge.from),
                index(&edge.to)
            );
        }
        if graphs.len() > 1 {
            out.push_str("  end\n");
        }
    }
    out
}

pub(super) fn xml(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

const CHAR_WIDTH: f64 = 7.5;
const NODE_HEIGHT: f64 = 40.0;
const ROW_GAP: f64 = 70.0;
const COLUMN_GAP: f64 = 30.0;
const MARGIN: f64 = 20.0;
/// How far a routed edge keeps from the boxes it passes.
const PASS: f64 = 8.0;
/// How far above and below a row an edge turns to pass through it.
const CLEARANCE: f64 = 10.0;

/// A layered drawing: one row per deploy wave, what others require at the bottom;
/// inside a row, nodes ordered by the mean position of their consumers (one
/// barycentre pass from the top), to keep edges from crossing.
pub fn svg(graphs: &[GraphView]) -> String {
    svg_with(graphs, &|_| None)
}

/// The drawing, each box filled with the colour `fill` gives its instance (the report
/// colours them by the environment placement chose).
pub(super) fn svg_with(graphs: &[GraphView], fill: &dyn Fn(&str) -> Option<String>) -> String {
    let mut body = String::new();
    let mut y_offset = MARGIN;
    let mut width: f64 = 0.0;
    for graph in graphs {
        let _ = writeln!(
            body,
            "<text x=\"{MARGIN}\" y=\"{:.1}\" class=\"title\">{}</text>",
            y_offset + 14.0,
            xml(&title(graph))
        );
        y_offset += 30.0;
        let rows: Vec<&Vec<String>> = graph.waves.iter().rev().collect();
        let node_width = |name: &str, version: &str| {
            (name.chars().count().max(version.chars().count()) as f64) * CHAR_WIDTH + 24.0
        };
        let mut position: std::collections::HashMap<&str, (f64, f64, f64)> =
            std::collections::HashMap::new();
        for (r, row) in rows.iter().enumerate() {
            let mut ordered: Vec<&String> = row.iter().collect();
            if r > 0 {
                let centre = |name: &str| {
                    let xs: Vec<f64> = graph
                        .edges
                        .iter()
                        .filter(|e| e.to == name)
                        .filter_map(|e| position.get(e.from.as_str()).map(|(x, _, w)| x + w / 2.0))
                        .collect();
                    if xs.is_empty() {
                        f64::MAX
                    } else {
                        xs.iter().sum::<f64>() / xs.len() as f64
                    }
                };
                ordered.sort_by(|a, b| centre(a).total_cmp(&centre(b)).then_with(|| a.cmp(b)));
            }
            let mut x = MARGIN;
            let y = y_offset + r as f64 * (NODE_HEIGHT + ROW_GAP);
            for name in ordered {
                let version = graph
                    .nodes
                    .iter()
                    .find(|n| &n.name == name)
                    .map_or("", |n| n.version.as_str());
                let w = node_width(name, version);
                position.insert(name.as_str(), (x, y, w));
                x += w + COLUMN_GAP;
            }
            width = width.max(x);
        }
        let top = |r: usize| y_offset + r as f64 * (NODE_HEIGHT + ROW_GAP);
        // Each row's boxes, left to right: the gaps between them are where an edge
        // that skips the row passes, so no edge runs behind a box.
        let mut boxes: Vec<Vec<(f64, f64)>> = vec![Vec::new(); rows.len()];
        let mut row_of: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for (r, row) in rows.iter().enumerate() {
            for name in row.iter() {
                if let Some(&(x, _, w)) = position.get(name.as_str()) {
                    boxes[r].push((x, w));
                    row_of.insert(name.as_str(), r);
                }
            }
            boxes[r].sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        // Where in the gaps of row `r` a line aiming at `x` passes: the nearest point
        // at least PASS from every box.
        let pass_at = |r: usize, x: f64| -> f64 {
            let mut best = (f64::MAX, x);
            let mut left = f64::NEG_INFINITY;
            for &(bx, bw) in boxes[r]
                .iter()
                .chain(std::iter::once(&(f64::INFINITY, 0.0)))
            {
                let (lo, hi) = (left + PASS, bx - PASS);
                if lo <= hi {
                    let at = x.clamp(lo, hi);
                    if (at - x).abs() < best.0 {
                        best = ((at - x).abs(), at);
                    }
                }
                left = bx + bw;
            }
            best.1
        };
        // Edges leave a box spread along its bottom (or top) and arrive spread along
        // the other box's top (or bottom), so their labels do not sit on each other.
        let spread = |name: &str, outgoing: bool, edge: &EdgeView| -> f64 {
            let Some(&(x, _, w)) = position.get(name) else {
                return 0.0;
            };
            let ends: Vec<&EdgeView> = graph
                .edges
                .iter()
                .filter(|e| {
                    if outgoing {
                        e.from == name
                    } else {
                        e.to == name
                    }
                })
                .collect();
            let k = ends
                .iter()
                .position(|e| std::ptr::eq(*e, edge))
                .unwrap_or(0);
            x + w * (k as f64 + 1.0) / (ends.len() as f64 + 1.0)
        };
        for edge in &graph.edges {
            let (Some(&from_row), Some(&to_row)) =
                (row_of.get(edge.from.as_str()), row_of.get(edge.to.as_str()))
            else {
                continue;
            };
            let (sx, ex) = (
                spread(&edge.from, true, edge),
                spread(&edge.to, false, edge),
            );
            let mut points: Vec<(f64, f64)> = Vec::new();
            if to_row > from_row {
                points.push((sx, top(from_row) + NODE_HEIGHT));
                for k in from_row + 1..to_row {
                    let aim = sx + (ex - sx) * (k - from_row) as f64 / (to_row - from_row) as f64;
                    let gx = pass_at(k, aim);
                    points.push((gx, top(k) - CLEARANCE));
                    points.push((gx, top(k) + NODE_HEIGHT + CLEARANCE));
                }
                points.push((ex, top(to_row)));
            } else if to_row < from_row {
                points.push((sx, top(from_row)));
                for k in (to_row + 1..from_row).rev() {
                    let aim = sx + (ex - sx) * (from_row - k) as f64 / (from_row - to_row) as f64;
                    let gx = pass_at(k, aim);
                    points.push((gx, top(k) + NODE_HEIGHT + CLEARANCE));
                    points.push((gx, top(k) - CLEARANCE));
                }
                points.push((ex, top(to_row) + NODE_HEIGHT));
            } else {
                // Within one row: under it, through the band below.
                let below = top(from_row) + NODE_HEIGHT + ROW_GAP / 3.0;
                points.push((sx, top(from_row) + NODE_HEIGHT));
                points.push((sx, below));
                points.push((ex, below));
                points.push((ex, top(to_row) + NODE_HEIGHT));
            }
            let dash = if edge.ordering {
                ""
            } else {
                " stroke-dasharray=\"5,4\""
            };
            let path: Vec<String> = points
                .iter()
                .map(|(x, y)| format!("{x:.1},{y:.1}"))
                .collect();
            let _ = writeln!(
                body,
                "<polyline points=\"{}\" class=\"edge\" data-from=\"{}\" data-to=\"{}\" marker-end=\"url(#arrow)\"{dash}><title>{} requires {} {}</title></polyline>",
                path.join(" "),
                xml(&edge.from),
                xml(&edge.to),
                xml(&edge.from),
                xml(&edge.to),
                xml(&edge.requirement)
            );
            // The requirement, readable without hovering: halfway along the edge's first
            // stretch, where edges leaving one box have drawn apart.
            let ((ax, ay), (bx, by)) = (points[0], points[1]);
            let _ = writeln!(
                body,
                "<text x=\"{:.1}\" y=\"{:.1}\" class=\"label\">{}</text>",
                (ax + bx) / 2.0,
                (ay + by) / 2.0 + 3.0,
                xml(&edge.requirement)
            );
        }
        for node in &graph.nodes {
            let Some(&(x, y, w)) = position.get(node.name.as_str()) else {
                continue;
            };
            let style = fill(&node.name)
                .map(|colour| format!(" style=\"fill:{colour}\""))
                .unwrap_or_default();
            let _ = writeln!(
                body,
                "<g class=\"node\"><rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{NODE_HEIGHT}\" rx=\"6\"{style}/><text x=\"{:.1}\" y=\"{:.1}\">{}</text><text x=\"{:.1}\" y=\"{:.1}\" class=\"version\">{}</text></g>",
                x + w / 2.0,
                y + 17.0,
                xml(&node.name),
                x + w / 2.0,
                y + 32.0,
                xml(&node.version)
            );
        }
        // The last row needs no gap below it, only room before the next title.
        y_offset += rows.len() as f64 * (NODE_HEIGHT + ROW_GAP) - ROW_GAP / 2.0;
    }
    let height = y_offset + MARGIN;
    let width = width + MARGIN;
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\">\n\
<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#555\"/></marker></defs>\n\
<style>.node rect{{fill:#eef3fb;stroke:#3b5b8c;stroke-width:1.2}}.node text{{font:13px sans-serif;text-anchor:middle;fill:#1b2a41}}.node .version{{font-size:11px;fill:#5a6b82}}.edge{{stroke:#555;stroke-width:1.2;fill:none}}.label{{font:10px sans-serif;text-anchor:middle;fill:#3d4a5c;paint-order:stroke;stroke:#fff;stroke-width:3px}}.title{{font:bold 14px sans-serif;fill:#1b2a41}}</style>\n\
<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n\
{body}</svg>\n"
    )
}
