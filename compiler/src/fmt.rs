//! The formatter: one canonical layout for a parsed file.
//!
//! Input: an [`ast::File`] without syntax errors. Output: text. Layout: two-space
//! indentation; one item per line; `=` aligned within a run of one-line attributes;
//! at most one blank line kept between items; a block, map or list written on one line
//! stays on one line if it fits in [`WIDTH`] columns and holds no comment. Every
//! comment is kept, attached to the item it precedes or follows.
//! Idempotent: formatting its own output changes nothing (a property test checks it).

use crate::syntax::ast::{Body, Comment, Expr, Item, ItemKind, Label, List, UnaryOp};

pub const WIDTH: usize = 100;
const INDENT: &str = "  ";

pub fn format_file(file: &crate::syntax::ast::File) -> String {
    let mut out = String::new();
    // `items` prints the body's trailing comments too.
    items(&mut out, &file.body, 0);
    while out.ends_with("\n\n") {
        out.pop();
    }
    if out.is_empty() {
        return out;
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

fn pad(out: &mut String, indent: usize) {
    for _ in 0..indent {
        out.push_str(INDENT);
    }
}

fn comments(out: &mut String, list: &[Comment], indent: usize) {
    for comment in list {
        let after_open = out.is_empty() || out.ends_with("{\n") || out.ends_with("[\n");
        if comment.blank_line_before && !after_open && !out.ends_with("\n\n") {
            out.push('\n');
        }
        pad(out, indent);
        out.push_str(&comment.text);
        out.push('\n');
    }
}

fn head(item: &Item) -> String {
    let mut head = item.key.name.clone();
    for label in &item.labels {
        head.push(' ');
        match label {
            Label::String(s) => head.push_str(&s.raw),
            Label::Ident(i) => head.push_str(&i.name),
        }
    }
    head
}

/// The items of a multi-line body, each on its own line.
fn items(out: &mut String, body: &Body, indent: usize) {
    let rendered: Vec<(String, Option<String>)> = body
        .items
        .iter()
        .map(|item| {
            let head = head(item);
            let value = match &item.kind {
                ItemKind::Attribute(expr) => {
                    Some(expr_text(expr, indent, head.len() + 3 + indent * 2))
                }
                _ => None,
            };
            (head, value)
        })
        .collect();
    // Align `=` over runs of one-line attributes not broken by a blank line or block.
    let mut widths = vec![0usize; body.items.len()];
    let mut run_start = 0;
    for i in 0..=body.items.len() {
        let aligned = |i: usize| {
            i < body.items.len() && rendered[i].1.as_ref().is_some_and(|v| !v.contains('\n'))
        };
        let breaks = i == body.items.len()
            || !aligned(i)
            || (i > run_start && body.items[i].blank_line_before);
        if breaks {
            let width = (run_start..i)
                .map(|j| rendered[j].0.len())
                .max()
                .unwrap_or(0);
            for w in &mut widths[run_start..i] {
                *w = width;
            }
            run_start = if i < body.items.len() && aligned(i) {
                i
            } else {
                i + 1
            };
        }
    }
    for (i, item) in body.items.iter().enumerate() {
        if i > 0 && item.blank_line_before {
            out.push('\n');
        }
        for (j, comment) in item.leading_comments.iter().enumerate() {
            if j > 0 && comment.blank_line_before {
                out.push('\n');
            }
            pad(out, indent);
            out.push_str(&comment.text);
            out.push('\n');
        }
        if item.blank_line_before_key {
            out.push('\n');
        }
        pad(out, indent);
        let (head, value) = &rendered[i];
        out.push_str(head);
        match &item.kind {
            ItemKind::Attribute(_) => {
                for _ in head.len()..widths[i].max(head.len()) {
                    out.push(' ');
                }
                out.push_str(" = ");
                out.push_str(value.as_deref().unwrap_or_default());
            }
            ItemKind::Block(block) => {
                out.push(' ');
                out.push_str(&body_text(block, indent, indent * 2 + head.len() + 1));
            }
            ItemKind::Bare => {}
        }
        if let Some(comment) = &item.trailing_comment {
            out.push_str("  ");
            out.push_str(&comment.text);
        }
        out.push('\n');
    }
    comments(out, &body.trailing_comments, indent);
}

fn has_comments(body: &Body) -> bool {
    !body.trailing_comments.is_empty()
        || body.items.iter().any(|item| {
            !item.leading_comments.is_empty()
                || item.trailing_comment.is_some()
                || match &item.kind {
                    ItemKind::Block(b) => has_comments(b),
                    ItemKind::Attribute(e) => expr_has_comments(e),
                    ItemKind::Bare => false,
                }
        })
}

fn expr_has_comments(expr: &Expr) -> bool {
    match expr {
        Expr::List(list) => {
            !list.trailing_comments.is_empty()
                || list.elements.iter().any(|e| {
                    !e.leading_comments.is_empty()
                        || e.trailing_comment.is_some()
                        || expr_has_comments(&e.expr)
                })
        }
        Expr::Map(body) => has_comments(body),
        Expr::Call { args, .. } => args.iter().any(expr_has_comments),
        Expr::Range { low, high, .. } => expr_has_comments(low) || expr_has_comments(high),
        Expr::Unary { operand, .. } | Expr::Paren(operand, _) => expr_has_comments(operand),
        Expr::Binary { left, right, .. } => expr_has_comments(left) || expr_has_comments(right),
        _ => false,
    }
}

/// `{ ... }` for a block or map whose opening brace is at column `column`.
fn body_text(body: &Body, indent: usize, column: usize) -> String {
    if body.items.is_empty() && body.trailing_comments.is_empty() {
        return "{}".to_string();
    }
    if body.inline && !has_comments(body) {
        let parts: Vec<String> = body
            .items
            .iter()
            .map(|item| match &item.kind {
                ItemKind::Attribute(expr) => {
                    format!("{} = {}", head(item), expr_text(expr, indent, column))
                }
                ItemKind::Block(b) => format!("{} {}", head(item), body_text(b, indent, column)),
                ItemKind::Bare => head(item),
            })
            .collect();
        let line = format!("{{ {} }}", parts.join(", "));
        if !line.contains('\n') && column + line.len() <= WIDTH {
            return line;
        }
    }
    let mut out = String::from("{\n");
    items(&mut out, body, indent + 1);
    pad(&mut out, indent);
    out.push('}');
    out
}

fn list_text(list: &List, indent: usize, column: usize) -> String {
    let commented = expr_has_comments(&Expr::List(list.clone()));
    if !list.multiline && !commented {
        let parts: Vec<String> = list
            .elements
            .iter()
            .map(|e| expr_text(&e.expr, indent, column))
            .collect();
        let line = format!("[{}]", parts.join(", "));
        if !line.contains('\n') && column + line.len() <= WIDTH {
            return line;
        }
    }
    if list.elements.is_empty() && list.trailing_comments.is_empty() {
        return "[]".to_string();
    }
    let mut out = String::from("[\n");
    for element in &list.elements {
        for comment in &element.leading_comments {
            pad(&mut out, indent + 1);
            out.push_str(&comment.text);
            out.push('\n');
        }
        pad(&mut out, indent + 1);
        out.push_str(&expr_text(&element.expr, indent + 1, (indent + 1) * 2));
        out.push(',');
        if let Some(comment) = &element.trailing_comment {
            out.push_str("  ");
            out.push_str(&comment.text);
        }
        out.push('\n');
    }
    comments(&mut out, &list.trailing_comments, indent + 1);
    pad(&mut out, indent);
    out.push(']');
    out
}

/// An expression's canonical text; `column` is where it starts, for width decisions.
pub fn expr_text(expr: &Expr, indent: usize, column: usize) -> String {
    match expr {
        Expr::String(s) => s.raw.clone(),
        Expr::Number(n) => n.raw.clone(),
        Expr::Bool(b, _) => b.to_string(),
        Expr::Path(path) => path
            .iter()
            .map(|i| i.name.as_str())
            .collect::<Vec<_>>()
            .join("."),
        Expr::List(list) => list_text(list, indent, column),
        Expr::Map(body) => body_text(body, indent, column),
        Expr::Call { callee, args, .. } => {
            let args: Vec<String> = args.iter().map(|a| expr_text(a, indent, column)).collect();
            format!("{}({})", callee.name, args.join(", "))
        }
        Expr::Range { low, high, .. } => {
            format!(
                "{}..{}",
                expr_text(low, indent, column),
                expr_text(high, indent, column)
            )
        }
        Expr::Unary { op, operand, .. } => {
            let op = match op {
                UnaryOp::Not => "!",
                UnaryOp::Neg => "-",
            };
            format!("{op}{}", expr_text(operand, indent, column + 1))
        }
        Expr::Binary {
            op, left, right, ..
        } => format!(
            "{} {} {}",
            expr_text(left, indent, column),
            op.as_str(),
            expr_text(right, indent, column)
        ),
        Expr::Paren(inner, _) => format!("({})", expr_text(inner, indent, column + 1)),
        // Files with syntax errors are never formatted; keep something visible anyway.
        Expr::Error(_) => "<error>".to_string(),
    }
}
