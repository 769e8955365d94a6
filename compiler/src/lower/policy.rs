//! Lowering `policy` blocks: exactly one rule (require, forbid, prefer, spread or use),
//! an optional `when`, and conditions over `service.*` and `environment.*` attributes,
//! type-checked so that a rule never silently compares a size with a string.

use svcmodel_model::{
    self as model, BinaryOp, FailureDomainKind, Policy, PolicyRule, QuantityKind, Span, Spanned,
    Subject, Value,
};

use super::fields::{Field, Fields, attr, body_of};
use super::values;
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::suggest;
use crate::syntax::ast::{self, Expr, Ident, Item, UnaryOp};

const SCHEMA: &[Field] = &[
    attr("description"),
    attr("when"),
    attr("require"),
    attr("forbid"),
    attr("prefer"),
    attr("weight"),
    attr("spread"),
    attr("services"),
    attr("degraded"),
    attr("use"),
    attr("because"),
];

const RULES: &[&str] = &["require", "forbid", "prefer", "spread", "use"];

/// `weight`, above zero, for a preference or a preferred spread.
fn weight(f: &Fields, d: &mut Diagnostics) -> Option<f64> {
    let weight = f
        .attr("weight")
        .and_then(|e| values::float(e, "weight", d))?;
    if weight.value <= 0.0 {
        d.push(
            Diagnostic::error(Code::OutOfRange, "`weight` must be above zero")
                .label(weight.span, "not a positive weight")
                .help("give a positive weight; a larger weight makes the preference stronger"),
        );
    }
    Some(weight.value)
}

pub fn lower(item: &Item, name: Spanned<String>, d: &mut Diagnostics) -> Option<Policy> {
    let context = format!("policy `{}`", name.value);
    let f = Fields::check(body_of(item)?, SCHEMA, &context, d);
    let rules: Vec<&Item> = RULES.iter().filter_map(|r| f.item(r)).collect();
    let rule_item = match rules.as_slice() {
        [] => {
            d.push(
                Diagnostic::error(Code::MissingKey, format!("{context} has no rule"))
                    .label(
                        item.label_span(),
                        "a policy without `require`, `forbid`, `prefer`, `spread` or `use`",
                    )
                    .help("add one rule, e.g. `require = environment.jurisdiction == \"EU\"`"),
            );
            return None;
        }
        [one] => *one,
        [first, second, ..] => {
            d.push(
                Diagnostic::error(
                    Code::ConflictingKeys,
                    format!(
                        "{context} has both `{}` and `{}`",
                        first.key.name, second.key.name
                    ),
                )
                .label(second.key.span, "a second rule")
                .label(first.key.span, "the first rule")
                .help("give each rule its own policy, so each has its own `because`"),
            );
            return None;
        }
    };
    let only_with = |key: &str, rule: &str, d: &mut Diagnostics| {
        if let Some(extra) = f.item(key)
            && rule_item.key.name != rule
        {
            d.push(
                Diagnostic::error(
                    Code::ConflictingKeys,
                    format!("`{key}` applies only to `{rule}` rules"),
                )
                .label(extra.key.span, format!("`{key}` without `{rule}`"))
                .label(
                    rule_item.key.span,
                    format!("this is a `{}` rule", rule_item.key.name),
                )
                .help(format!("remove `{key}`")),
            );
        }
    };
    if rule_item.key.name != "spread" {
        only_with("weight", "prefer", d);
    }
    only_with("services", "spread", d);
    only_with("degraded", "spread", d);
    let when = f.attr("when").and_then(|e| condition(e, "when", d));
    let expr = f.attr(&rule_item.key.name)?;
    let rule = match rule_item.key.name.as_str() {
        "require" => PolicyRule::Require {
            condition: condition(expr, "require", d)?,
        },
        "forbid" => PolicyRule::Forbid {
            condition: condition(expr, "forbid", d)?,
        },
        "prefer" => PolicyRule::Prefer {
            condition: condition(expr, "prefer", d)?,
            weight: weight(&f, d).unwrap_or(1.0),
        },
        "spread" => {
            let over_text = values::string(expr, "spread", d)?;
            let Some(over) = FailureDomainKind::parse(&over_text.value) else {
                let help = suggest::did_you_mean(
                    &over_text.value,
                    FailureDomainKind::ALL.iter().map(|k| k.as_str()),
                )
                .unwrap_or_else(|| {
                    "spread over `\"zone\"`, `\"cluster\"`, `\"rack\"` or `\"hypervisor\"`"
                        .to_string()
                });
                d.push(
                    Diagnostic::error(
                        Code::UnknownChoice,
                        format!("`{}` is not a kind of failure domain", over_text.value),
                    )
                    .label(
                        over_text.span,
                        "expected `\"zone\"`, `\"cluster\"`, `\"rack\"` or `\"hypervisor\"`",
                    )
                    .help(help),
                );
                return None;
            };
            let services = f
                .attr("services")
                .map(|e| values::strings(e, "services", d))
                .unwrap_or_default();
            if services.is_empty() && when.is_none() {
                d.push(
                    Diagnostic::error(Code::MissingKey, format!("{context} does not say which services to spread"))
                        .label(rule_item.key.span, "spread what?")
                        .help("add `services = [\"a\", \"b\"]`, or `when = service.criticality == \"critical\"`"),
                );
                return None;
            }
            let weight = weight(&f, d);
            let block_degraded = match f.attr("degraded") {
                None => false,
                Some(e) => {
                    let text = values::string(e, "degraded", d)?;
                    match text.value.as_str() {
                        "warn" => false,
                        "block" => true,
                        other => {
                            d.push(
                                Diagnostic::error(
                                    Code::UnknownChoice,
                                    format!("`{other}` is not what a degraded spread does"),
                                )
                                .label(text.span, "expected `\"warn\"` or `\"block\"`")
                                .help("write `degraded = \"block\"` to stop placement while domains out of service leave too few, or `\"warn\"` (the default) to go ahead with a warning"),
                            );
                            return None;
                        }
                    }
                }
            };
            if weight.is_some() && block_degraded {
                d.push(
                    Diagnostic::error(
                        Code::ConflictingKeys,
                        "a spread with a `weight` is a preference: it never blocks",
                    )
                    .label(rule_item.key.span, "a preferred spread")
                    .help("remove `weight` to make the spread a rule, or remove `degraded`"),
                );
            }
            PolicyRule::Spread {
                services,
                over: Spanned::new(over, over_text.span),
                weight,
                block_degraded,
            }
        }
        _ => {
            let Expr::Map(body) = expr else {
                d.push(
                    Diagnostic::error(
                        Code::TypeMismatch,
                        format!("expected a map, found {}", expr.describe()),
                    )
                    .label(
                        expr.span(),
                        "`use` needs a map of services to version requirements",
                    )
                    .help("write `use = { postgres = \"^16\" }`"),
                );
                return None;
            };
            let mut versions = Vec::new();
            for entry in &body.items {
                let ast::ItemKind::Attribute(value) = &entry.kind else {
                    d.push(
                        Diagnostic::error(
                            Code::WrongForm,
                            format!("`{}` is written the wrong way", entry.key.name),
                        )
                        .label(entry.label_span(), "expected `service = \"requirement\"`")
                        .help("write `use = { postgres = \"^16\" }`"),
                    );
                    continue;
                };
                if let Some(req) = values::version_req(value, &entry.key.name, d) {
                    versions.push((Spanned::new(entry.key.name.clone(), entry.key.span), req));
                }
            }
            PolicyRule::Use { versions }
        }
    };
    Some(Policy {
        description: f
            .attr("description")
            .and_then(|e| values::string(e, "description", d))
            .map(|s| s.value),
        when,
        rule,
        because: f
            .attr("because")
            .and_then(|e| values::string(e, "because", d)),
        name,
        span: item.span,
    })
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Ty {
    Bool,
    Str,
    Num(Option<QuantityKind>),
    List,
}

impl Ty {
    fn describe(self) -> String {
        match self {
            Ty::Bool => "a condition".into(),
            Ty::Str => "a string".into(),
            Ty::Num(None) => "a number".into(),
            Ty::Num(Some(kind)) => format!("a {}", kind.name()),
            Ty::List => "a list".into(),
        }
    }
}

/// The attributes a condition may read, with their types.
fn attribute(subject: Subject, path: &[&str]) -> Option<Ty> {
    use QuantityKind::*;
    Some(match (subject, path) {
        (_, ["labels", _]) => Ty::Str,
        (Subject::Service, ["name" | "version" | "criticality" | "instancing"]) => Ty::Str,
        (Subject::Service, ["replicas"]) => Ty::Num(None),
        (Subject::Service, ["availability"]) => Ty::Num(Some(Percent)),
        (Subject::Service, ["data", "classification"]) => Ty::Str,
        (Subject::Service, ["data", "size"]) => Ty::Num(Some(Size)),
        (Subject::Service, ["resources", "cpu"]) => Ty::Num(Some(Cpu)),
        (Subject::Service, ["resources", "memory"]) => Ty::Num(Some(Size)),
        (
            Subject::Environment,
            ["name" | "target" | "provider" | "jurisdiction" | "region" | "tier"],
        ) => Ty::Str,
        (Subject::Environment, ["capacity", "cpu"]) => Ty::Num(Some(Cpu)),
        (Subject::Environment, ["capacity", "memory"]) => Ty::Num(Some(Size)),
        _ => return None,
    })
}

const SERVICE_ATTRIBUTES: &[&str] = &[
    "name",
    "version",
    "criticality",
    "instancing",
    "replicas",
    "availability",
    "data.classification",
    "data.size",
    "resources.cpu",
    "resources.memory",
    "labels.NAME",
];
const ENVIRONMENT_ATTRIBUTES: &[&str] = &[
    "name",
    "target",
    "provider",
    "jurisdiction",
    "region",
    "tier",
    "capacity.cpu",
    "capacity.memory",
    "labels.NAME",
];

fn condition(expr: &Expr, key: &str, d: &mut Diagnostics) -> Option<Spanned<model::Expr>> {
    let (lowered, ty) = lower_expr(expr, d)?;
    if ty != Ty::Bool {
        d.push(
            Diagnostic::error(
                Code::TypeMismatch,
                format!("expected a condition, found {}", ty.describe()),
            )
            .label(
                expr.span(),
                format!("`{key}` needs something true or false"),
            )
            .help("compare it: e.g. `environment.jurisdiction == \"EU\"`"),
        );
        return None;
    }
    Some(Spanned::new(lowered, expr.span()))
}

fn path_attribute(path: &[Ident], d: &mut Diagnostics) -> Option<(model::Expr, Ty)> {
    let span = path.first()?.span.to(path.last()?.span);
    let subject = match path[0].name.as_str() {
        "service" => Subject::Service,
        "environment" => Subject::Environment,
        other => {
            let help =
                suggest::did_you_mean(other, ["service", "environment"]).unwrap_or_else(|| {
                    "start with `service.` or `environment.`, or quote a string: `\"text\"`"
                        .to_string()
                });
            d.push(
                Diagnostic::error(
                    Code::UnknownAttribute,
                    format!("`{other}` is not something a policy can look at"),
                )
                .label(path[0].span, "expected `service` or `environment`")
                .help(help),
            );
            return None;
        }
    };
    let rest: Vec<&str> = path[1..].iter().map(|i| i.name.as_str()).collect();
    let Some(ty) = attribute(subject, &rest) else {
        let known = if subject == Subject::Service {
            SERVICE_ATTRIBUTES
        } else {
            ENVIRONMENT_ATTRIBUTES
        };
        let written = rest.join(".");
        let help = suggest::did_you_mean(&written, known.iter().copied())
            .map(|s| {
                s.replacen(
                    "did you mean `",
                    &format!("did you mean `{}.", path[0].name),
                    1,
                )
            })
            .unwrap_or_else(|| {
                format!(
                    "use one of: {}",
                    known
                        .iter()
                        .map(|k| format!("`{}.{k}`", path[0].name))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            });
        d.push(
            Diagnostic::error(
                Code::UnknownAttribute,
                format!("{} has no attribute `{written}`", path[0].name),
            )
            .label(span, "unknown attribute")
            .help(help),
        );
        return None;
    };
    Some((
        model::Expr::Attribute {
            subject,
            path: rest.iter().map(|s| s.to_string()).collect(),
        },
        ty,
    ))
}

/// A literal number as the quantity kind `kind` (or a plain number).
fn number(
    expr: &Expr,
    kind: Option<QuantityKind>,
    d: &mut Diagnostics,
) -> Option<(model::Expr, Ty)> {
    let value = match kind {
        None => Value::Float(values::float(expr, "condition", d)?.value),
        Some(QuantityKind::Percent) => Value::Percent(values::percent(expr, "condition", d)?.value),
        Some(kind) => {
            let v = values::quantity(expr, kind, "condition", d)?.value;
            match kind {
                QuantityKind::Size => Value::Size(v),
                QuantityKind::Duration => Value::Duration(v),
                QuantityKind::Bandwidth => Value::Bandwidth(v),
                _ => Value::Cpu(v),
            }
        }
    };
    Some((model::Expr::Literal { value }, Ty::Num(kind)))
}

fn lower_expr(expr: &Expr, d: &mut Diagnostics) -> Option<(model::Expr, Ty)> {
    match expr {
        Expr::String(_) => {
            let text = values::string(expr, "condition", d)?;
            Some((
                model::Expr::Literal {
                    value: Value::String(text.value),
                },
                Ty::Str,
            ))
        }
        Expr::Bool(b, _) => Some((
            model::Expr::Literal {
                value: Value::Bool(*b),
            },
            Ty::Bool,
        )),
        Expr::Number(_) => number(expr, None, d),
        Expr::Path(path) => path_attribute(path, d),
        Expr::Paren(inner, _) => lower_expr(inner, d),
        Expr::List(list) => {
            let items = list
                .elements
                .iter()
                .map(|e| lower_expr(&e.expr, d).map(|(x, _)| x))
                .collect::<Option<Vec<_>>>()?;
            Some((model::Expr::List { items }, Ty::List))
        }
        Expr::Unary {
            op: UnaryOp::Not,
            operand,
            ..
        } => {
            let (inner, ty) = lower_expr(operand, d)?;
            expect(ty, Ty::Bool, operand.span(), "`!`", d)?;
            Some((
                model::Expr::Not {
                    operand: Box::new(inner),
                },
                Ty::Bool,
            ))
        }
        Expr::Unary {
            op: UnaryOp::Neg, ..
        } => number(expr, None, d),
        Expr::Binary {
            op, left, right, ..
        } => binary(*op, left, right, d),
        Expr::Error(_) => None,
        other => {
            d.push(
                Diagnostic::error(
                    Code::TypeMismatch,
                    format!("{} cannot be used in a condition", other.describe()),
                )
                .label(other.span(), "not allowed here")
                .help("write a comparison such as `service.data.classification == \"pii\"`"),
            );
            None
        }
    }
}

/// Types must agree exactly: a size is never compared with a count or a duration.
fn expect(found: Ty, wanted: Ty, span: Span, context: &str, d: &mut Diagnostics) -> Option<()> {
    if found == wanted {
        return Some(());
    }
    d.push(
        Diagnostic::error(
            Code::TypeMismatch,
            format!("expected {}, found {}", wanted.describe(), found.describe()),
        )
        .label(span, format!("{context} needs {}", wanted.describe()))
        .help("compare values of the same kind: strings with strings, sizes with sizes"),
    );
    None
}

fn binary(
    op: ast::BinaryOp,
    left: &Expr,
    right: &Expr,
    d: &mut Diagnostics,
) -> Option<(model::Expr, Ty)> {
    let model_op = match op {
        ast::BinaryOp::Eq => BinaryOp::Eq,
        ast::BinaryOp::Ne => BinaryOp::Ne,
        ast::BinaryOp::Lt => BinaryOp::Lt,
        ast::BinaryOp::Le => BinaryOp::Le,
        ast::BinaryOp::Gt => BinaryOp::Gt,
        ast::BinaryOp::Ge => BinaryOp::Ge,
        ast::BinaryOp::In => BinaryOp::In,
        ast::BinaryOp::And => BinaryOp::And,
        ast::BinaryOp::Or => BinaryOp::Or,
    };
    let context = format!("`{}`", op.as_str());
    let is_number = |e: &Expr| {
        matches!(
            e,
            Expr::Number(_)
                | Expr::Unary {
                    op: UnaryOp::Neg,
                    ..
                }
        )
    };
    // A literal number takes the unit kind of the attribute on the other side, so
    // `service.data.size > 100Gi` and `100Gi < service.data.size` both read as sizes.
    let (l, lt, r, rt) = if is_number(left) && !is_number(right) {
        let (r, rt) = lower_expr(right, d)?;
        let kind = match rt {
            Ty::Num(kind) => kind,
            _ => None,
        };
        let (l, lt) = number(left, kind, d)?;
        (l, lt, r, rt)
    } else {
        let (l, lt) = lower_expr(left, d)?;
        let (r, rt) = match (lt, right) {
            (Ty::Num(kind), right) if is_number(right) => number(right, kind, d)?,
            (Ty::Str | Ty::Bool | Ty::Num(_), Expr::List(list)) if op == ast::BinaryOp::In => {
                // The elements of `x in [...]` have the type of `x`.
                let mut items = Vec::new();
                for element in &list.elements {
                    let (item, ty) = match lt {
                        Ty::Num(kind) if is_number(&element.expr) => {
                            number(&element.expr, kind, d)?
                        }
                        _ => lower_expr(&element.expr, d)?,
                    };
                    expect(ty, lt, element.expr.span(), "`in`", d)?;
                    items.push(item);
                }
                (model::Expr::List { items }, Ty::List)
            }
            _ => lower_expr(right, d)?,
        };
        (l, lt, r, rt)
    };
    match op {
        ast::BinaryOp::And | ast::BinaryOp::Or => {
            expect(lt, Ty::Bool, left.span(), &context, d)?;
            expect(rt, Ty::Bool, right.span(), &context, d)?;
        }
        ast::BinaryOp::In => expect(rt, Ty::List, right.span(), &context, d)?,
        ast::BinaryOp::Eq | ast::BinaryOp::Ne => expect(rt, lt, right.span(), &context, d)?,
        _ => {
            if !matches!(lt, Ty::Num(_)) {
                expect(lt, Ty::Num(None), left.span(), &context, d)?;
            }
            expect(rt, lt, right.span(), &context, d)?;
        }
    }
    Some((
        model::Expr::Binary {
            op: model_op,
            left: Box::new(l),
            right: Box::new(r),
        },
        Ty::Bool,
    ))
}
