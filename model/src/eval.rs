//! Evaluating policy conditions against a service and an environment.

use crate::{BinaryOp, Environment, Expr, Service, Subject, Value};

/// What a condition may look at. Either side may be absent (a `use` rule looks only at
/// the environment); an attribute of an absent subject makes the condition false.
#[derive(Clone, Copy, Default)]
pub struct Context<'a> {
    pub service: Option<&'a Service>,
    pub environment: Option<&'a Environment>,
}

/// Whether `expr` holds. Conditions are type-checked when lowered, so a mismatch here
/// (which cannot happen for a lowered model) counts as false.
pub fn holds(expr: &Expr, context: Context) -> bool {
    matches!(eval(expr, context), Some(Value::Bool(true)))
}

fn eval(expr: &Expr, context: Context) -> Option<Value> {
    match expr {
        Expr::Literal { value } => Some(value.clone()),
        Expr::Attribute { subject, path } => attribute(*subject, path, context),
        Expr::List { items } => Some(Value::List(
            items.iter().filter_map(|i| eval(i, context)).collect(),
        )),
        Expr::Not { operand } => match eval(operand, context)? {
            Value::Bool(b) => Some(Value::Bool(!b)),
            _ => None,
        },
        Expr::Binary { op, left, right } => {
            let result = match op {
                BinaryOp::And => holds(left, context) && holds(right, context),
                BinaryOp::Or => holds(left, context) || holds(right, context),
                BinaryOp::In => {
                    let needle = eval(left, context)?;
                    match eval(right, context)? {
                        Value::List(items) => items.iter().any(|i| equal(i, &needle)),
                        _ => false,
                    }
                }
                BinaryOp::Eq => equal(&eval(left, context)?, &eval(right, context)?),
                BinaryOp::Ne => !equal(&eval(left, context)?, &eval(right, context)?),
                _ => {
                    let l = eval(left, context)?.magnitude()?;
                    let r = eval(right, context)?.magnitude()?;
                    match op {
                        BinaryOp::Lt => l < r,
                        BinaryOp::Le => l <= r,
                        BinaryOp::Gt => l > r,
                        _ => l >= r,
                    }
                }
            };
            Some(Value::Bool(result))
        }
    }
}

fn equal(a: &Value, b: &Value) -> bool {
    match (a.magnitude(), b.magnitude()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn text(value: Option<&crate::Spanned<String>>) -> Option<Value> {
    value.map(|v| Value::String(v.value.clone()))
}

fn attribute(subject: Subject, path: &[String], context: Context) -> Option<Value> {
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    match subject {
        Subject::Service => {
            let s = context.service?;
            match path.as_slice() {
                ["name"] => Some(Value::String(s.name.value.clone())),
                ["version"] => Some(Value::String(s.version.value.to_string())),
                ["criticality"] => Some(Value::String(
                    crate::Criticality::ALL
                        .iter()
                        .find(|(_, c)| *c == s.criticality.value)?
                        .0
                        .to_string(),
                )),
                ["instancing"] => Some(Value::String(
                    crate::Instancing::ALL
                        .iter()
                        .find(|(_, c)| *c == s.instancing.value)?
                        .0
                        .to_string(),
                )),
                ["replicas"] => Some(Value::Int(i64::from(s.total_replicas()))),
                ["availability"] => s.availability.as_ref().map(|a| Value::Percent(a.value)),
                ["data", "classification"] => text(s.data.as_ref()?.classification.as_ref()),
                ["data", "size"] => s
                    .data
                    .as_ref()?
                    .size_bytes
                    .as_ref()
                    .map(|v| Value::Size(v.value)),
                ["resources", "cpu"] => s.resources.millicpu.as_ref().map(|v| Value::Cpu(v.value)),
                ["resources", "memory"] => s
                    .resources
                    .memory_bytes
                    .as_ref()
                    .map(|v| Value::Size(v.value)),
                ["labels", name] => s.labels.get(*name).map(|v| Value::String(v.clone())),
                _ => None,
            }
        }
        Subject::Environment => {
            let e = context.environment?;
            match path.as_slice() {
                ["name"] => Some(Value::String(e.name.value.clone())),
                ["target"] => Some(Value::String(e.target.value.clone())),
                ["provider"] => text(e.provider.as_ref()),
                ["jurisdiction"] => text(e.jurisdiction.as_ref()),
                ["region"] => text(e.region.as_ref()),
                ["tier"] => text(e.tier.as_ref()),
                ["capacity", "cpu"] => e.capacity.as_ref()?.millicpu.map(Value::Cpu),
                ["capacity", "memory"] => e.capacity.as_ref()?.memory_bytes.map(Value::Size),
                ["labels", name] => e.labels.get(*name).map(|v| Value::String(v.clone())),
                _ => None,
            }
        }
    }
}
