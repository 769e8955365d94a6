//! Reading typed values out of expressions: strings, numbers, quantities with units,
//! choices, versions, and parameter values against their declared type.

use std::collections::BTreeMap;

use svcmodel_model::quantity::{QuantityError, to_base_unit, to_whole_base_unit};
use svcmodel_model::{ParamType, QuantityKind, Span, Spanned, Value};

use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::suggest;
use crate::syntax::ast::{Expr, ItemKind, NumberLit, UnaryOp};

pub fn mismatch(expr: &Expr, expected: &str, key: &str) -> Diagnostic {
    Diagnostic::error(
        Code::TypeMismatch,
        format!("expected {expected}, found {}", expr.describe()),
    )
    .label(expr.span(), format!("`{key}` needs {expected}"))
}

/// A string without interpolation.
pub fn string(expr: &Expr, key: &str, d: &mut Diagnostics) -> Option<Spanned<String>> {
    match expr {
        Expr::String(s) => match s.as_plain() {
            Some(text) => Some(Spanned::new(text, s.span)),
            None => {
                d.push(
                    Diagnostic::error(
                        Code::InvalidReference,
                        format!("`{key}` cannot hold a `${{...}}` reference"),
                    )
                    .label(s.span, "a plain string is needed here")
.help("write the value itself; references are resolved only in `image`, `run`, `config` and health commands"),
                );
                None
            }
        },
        Expr::Error(_) => None,
        other => {
            d.push(
                mismatch(other, "a string", key)
                    .help(format!("put the value in double quotes: `{key} = \"...\"`")),
            );
            None
        }
    }
}

pub fn strings(expr: &Expr, key: &str, d: &mut Diagnostics) -> Vec<Spanned<String>> {
    match expr {
        Expr::List(list) => list
            .elements
            .iter()
            .filter_map(|e| string(&e.expr, key, d))
            .collect(),
        Expr::Error(_) => Vec::new(),
        other => {
            d.push(
                mismatch(other, "a list of strings", key)
                    .help(format!("write a list: `{key} = [\"a\", \"b\"]`")),
            );
            Vec::new()
        }
    }
}

/// A number with its sign, unit and span, looking through a leading `-`.
fn signed_number(expr: &Expr) -> Option<(f64, &NumberLit, Span)> {
    match expr {
        Expr::Number(n) => Some((n.value, n, n.span)),
        Expr::Unary {
            op: UnaryOp::Neg,
            operand,
            span,
        } => match operand.as_ref() {
            Expr::Number(n) => Some((-n.value, n, *span)),
            _ => None,
        },
        _ => None,
    }
}

pub fn bool(expr: &Expr, key: &str, d: &mut Diagnostics) -> Option<bool> {
    match expr {
        Expr::Bool(b, _) => Some(*b),
        Expr::Error(_) => None,
        other => {
            d.push(
                mismatch(other, "`true` or `false`", key)
                    .help(format!("write `{key} = true` or `{key} = false`")),
            );
            None
        }
    }
}

/// A plain number as a value: whole numbers exactly (up to 2^53), others as floats.
pub fn number(expr: &Expr, key: &str, d: &mut Diagnostics) -> Option<svcmodel_model::Value> {
    let n = float(expr, key, d)?;
    Some(if n.value.fract() == 0.0 && n.value.abs() < 9.0e15 {
        svcmodel_model::Value::Int(n.value as i64)
    } else {
        svcmodel_model::Value::Float(n.value)
    })
}

/// A plain number (no unit).
pub fn float(expr: &Expr, key: &str, d: &mut Diagnostics) -> Option<Spanned<f64>> {
    match signed_number(expr) {
        Some((value, n, span)) if n.unit.is_empty() => Some(Spanned::new(value, span)),
        Some((_, n, _)) => {
            d.push(
                Diagnostic::error(
                    Code::InvalidQuantity,
                    format!(
                        "`{key}` takes a plain number, not one with the unit `{}`",
                        n.unit
                    ),
                )
                .label(n.unit_span, "remove this unit")
                .help(format!(
                    "write the number alone, e.g. `{key} = {}`",
                    n.value
                )),
            );
            None
        }
        None if matches!(expr, Expr::Error(_)) => None,
        None => {
            d.push(
                mismatch(expr, "a number", key).help(format!("write a number, e.g. `{key} = 1.5`")),
            );
            None
        }
    }
}

/// A whole number within `min..=max`.
pub fn int(
    expr: &Expr,
    key: &str,
    min: i64,
    max: i64,
    d: &mut Diagnostics,
) -> Option<Spanned<i64>> {
    let value = float(expr, key, d)?;
    let is_integer = signed_number(expr).is_some_and(|(_, n, _)| n.is_integer);
    if !is_integer {
        d.push(mismatch(expr, "a whole number", key).help(format!(
            "write a whole number, e.g. `{key} = {}`",
            value.value.round()
        )));
        return None;
    }
    if value.value < min as f64 || value.value > max as f64 {
        d.push(
            Diagnostic::error(
                Code::OutOfRange,
                format!("`{key}` must be between {min} and {max}"),
            )
            .label(value.span, format!("{} is out of range", value.value))
            .help(format!("choose a value from {min} to {max}")),
        );
        return None;
    }
    Some(Spanned::new(value.value as i64, value.span))
}

fn quantity_error(
    n: &NumberLit,
    kind: QuantityKind,
    key: &str,
    error: QuantityError,
) -> Diagnostic {
    match error {
        QuantityError::UnknownUnit { unit, suggestion } => {
            let help = match suggestion {
                Some(s)
                    if kind == QuantityKind::Size && unit.ends_with('B') && s.ends_with('i') =>
                {
                    format!(
                        "write `{}{s}` for {} × 1024^{} bytes, or `{}{}` for the decimal unit",
                        n.raw.trim_end_matches(unit.as_str()),
                        n.raw.trim_end_matches(unit.as_str()),
                        power_of(&s),
                        n.raw.trim_end_matches(unit.as_str()),
                        &s[..1]
                    )
                }
                Some(s) => format!("write `{}{s}`", n.raw.trim_end_matches(unit.as_str())),
                None => format!("use a {} unit: {}", kind.name(), kind.example()),
            };
            Diagnostic::error(
                Code::InvalidQuantity,
                format!("unknown {} unit `{unit}`", kind.name()),
            )
            .label(n.unit_span, format!("not a unit of {}", kind.name()))
            .help(help)
        }
        QuantityError::MissingUnit => {
            Diagnostic::error(Code::InvalidQuantity, format!("`{key}` needs a unit"))
                .label(n.span, format!("a {} without a unit", kind.name()))
                .help(format!("add a unit: {}", kind.example()))
        }
        QuantityError::OutOfRange => Diagnostic::error(
            Code::OutOfRange,
            format!("`{}` is not a valid {}", n.raw, kind.name()),
        )
        .label(
            n.span,
            "too large, negative, or finer than the smallest unit",
        )
        .help(format!(
            "write a {} such as {}",
            kind.name(),
            kind.example()
        )),
    }
}

fn power_of(unit: &str) -> u32 {
    match unit.chars().next() {
        Some('K') => 1,
        Some('M') => 2,
        Some('G') => 3,
        Some('T') => 4,
        Some('P') => 5,
        _ => 0,
    }
}

/// A quantity in whole base units (bytes, nanoseconds, bits per second, millicores).
pub fn quantity(
    expr: &Expr,
    kind: QuantityKind,
    key: &str,
    d: &mut Diagnostics,
) -> Option<Spanned<u64>> {
    match signed_number(expr) {
        Some((value, n, span)) => {
            if value < 0.0 {
                d.push(
                    Diagnostic::error(Code::OutOfRange, format!("`{key}` cannot be negative"))
                        .label(span, "a negative quantity")
                        .help(format!(
                            "write a positive {}, e.g. {}",
                            kind.name(),
                            kind.example()
                        )),
                );
                return None;
            }
            match to_whole_base_unit(value, &n.unit, kind) {
                Ok(v) => Some(Spanned::new(v, span)),
                Err(error) => {
                    d.push(quantity_error(n, kind, key, error));
                    None
                }
            }
        }
        None if matches!(expr, Expr::Error(_)) => None,
        None => {
            d.push(
                mismatch(expr, &format!("a {}", kind.name()), key).help(format!(
                    "write a {} such as {}",
                    kind.name(),
                    kind.example()
                )),
            );
            None
        }
    }
}

/// A percentage such as `99.9%`, between 0 and 100.
pub fn percent(expr: &Expr, key: &str, d: &mut Diagnostics) -> Option<Spanned<f64>> {
    let (value, n, span) = match signed_number(expr) {
        Some(found) => found,
        None if matches!(expr, Expr::Error(_)) => return None,
        None => {
            d.push(
                mismatch(expr, "a percentage", key)
                    .help(format!("write a percentage, e.g. `{key} = 99.9%`")),
            );
            return None;
        }
    };
    match to_base_unit(value, &n.unit, QuantityKind::Percent) {
        Ok(v) if n.unit == "%" && (0.0..=100.0).contains(&v) => Some(Spanned::new(v, span)),
        Ok(_) if n.unit == "%" => {
            d.push(
                Diagnostic::error(
                    Code::OutOfRange,
                    format!("`{key}` must be between 0% and 100%"),
                )
                .label(span, "not a percentage")
                .help("write a percentage from 0% to 100%, e.g. `99.9%`"),
            );
            None
        }
        Ok(_) | Err(QuantityError::MissingUnit) => {
            d.push(
                Diagnostic::error(Code::InvalidQuantity, format!("`{key}` needs a `%`"))
                    .label(span, "a percentage without `%`")
                    .help(format!("write `{}%`", n.raw)),
            );
            None
        }
        Err(error) => {
            d.push(quantity_error(n, QuantityKind::Percent, key, error));
            None
        }
    }
}

/// One of a fixed set of strings.
pub fn choice<T: Copy>(
    expr: &Expr,
    choices: &[(&str, T)],
    key: &str,
    d: &mut Diagnostics,
) -> Option<Spanned<T>> {
    let text = string(expr, key, d)?;
    if let Some((_, value)) = choices.iter().find(|(name, _)| *name == text.value) {
        return Some(Spanned::new(*value, text.span));
    }
    let names: Vec<String> = choices.iter().map(|(n, _)| format!("`\"{n}\"`")).collect();
    let help = suggest::did_you_mean(&text.value, choices.iter().map(|(n, _)| *n))
        .unwrap_or_else(|| format!("use one of {}", names.join(", ")));
    d.push(
        Diagnostic::error(
            Code::UnknownChoice,
            format!("`{}` is not a valid `{key}`", text.value),
        )
        .label(text.span, format!("expected one of {}", names.join(", ")))
        .help(help),
    );
    None
}

pub fn version(expr: &Expr, d: &mut Diagnostics) -> Option<Spanned<semver::Version>> {
    let text = string(expr, "version", d)?;
    match semver::Version::parse(text.value.trim()) {
        Ok(v) => Some(Spanned::new(v, text.span)),
        Err(error) => {
            let dots = text.value.matches('.').count();
            let help = if dots < 2
                && text.value.chars().all(|c| c.is_ascii_digit() || c == '.')
                && !text.value.is_empty()
            {
                format!(
                    "write a full version: `\"{}{}\"`",
                    text.value,
                    ".0".repeat(2 - dots)
                )
            } else {
                "write a semantic version: `MAJOR.MINOR.PATCH`, e.g. `\"15.4.0\"`".to_string()
            };
            d.push(
                Diagnostic::error(
                    Code::InvalidVersion,
                    format!("`{}` is not a semantic version", text.value),
                )
                .label(text.span, error.to_string())
                .help(help),
            );
            None
        }
    }
}

pub fn version_req(
    expr: &Expr,
    key: &str,
    d: &mut Diagnostics,
) -> Option<Spanned<semver::VersionReq>> {
    let text = string(expr, key, d)?;
    match semver::VersionReq::parse(text.value.trim()) {
        Ok(v) => Some(Spanned::new(v, text.span)),
        Err(error) => {
            d.push(
                Diagnostic::error(
                    Code::InvalidVersion,
                    format!("`{}` is not a version requirement", text.value),
                )
                .label(text.span, error.to_string())
                .help("write a semver requirement such as `\"^15\"`, `\">=1.2, <2\"` or `\"*\"`"),
            );
            None
        }
    }
}

/// The quantity kind behind a parameter type, if it has one.
pub fn quantity_kind(ty: &ParamType) -> Option<QuantityKind> {
    Some(match ty {
        ParamType::Duration => QuantityKind::Duration,
        ParamType::Size => QuantityKind::Size,
        ParamType::Bandwidth => QuantityKind::Bandwidth,
        ParamType::Cpu => QuantityKind::Cpu,
        ParamType::Percent => QuantityKind::Percent,
        _ => return None,
    })
}

/// A value of the parameter type `ty`.
pub fn typed_value(expr: &Expr, ty: &ParamType, key: &str, d: &mut Diagnostics) -> Option<Value> {
    match ty {
        ParamType::Int => int(expr, key, i64::MIN, i64::MAX, d).map(|v| Value::Int(v.value)),
        ParamType::Float => float(expr, key, d).map(|v| Value::Float(v.value)),
        ParamType::Bool => bool(expr, key, d).map(Value::Bool),
        ParamType::String | ParamType::Secret => {
            string(expr, key, d).map(|v| Value::String(v.value))
        }
        ParamType::Percent => percent(expr, key, d).map(|v| Value::Percent(v.value)),
        ParamType::Duration => {
            quantity(expr, QuantityKind::Duration, key, d).map(|v| Value::Duration(v.value))
        }
        ParamType::Size => quantity(expr, QuantityKind::Size, key, d).map(|v| Value::Size(v.value)),
        ParamType::Bandwidth => {
            quantity(expr, QuantityKind::Bandwidth, key, d).map(|v| Value::Bandwidth(v.value))
        }
        ParamType::Cpu => quantity(expr, QuantityKind::Cpu, key, d).map(|v| Value::Cpu(v.value)),
        ParamType::Enum(choices) => {
            let text = string(expr, key, d)?;
            if choices.contains(&text.value) {
                return Some(Value::String(text.value));
            }
            let names: Vec<String> = choices.iter().map(|c| format!("`\"{c}\"`")).collect();
            let help = suggest::did_you_mean(&text.value, choices.iter().map(String::as_str))
                .unwrap_or_else(|| format!("use one of {}", names.join(", ")));
            d.push(
                Diagnostic::error(
                    Code::UnknownChoice,
                    format!("`{}` is not one of the values of `{key}`", text.value),
                )
                .label(text.span, format!("expected one of {}", names.join(", ")))
                .help(help),
            );
            None
        }
        ParamType::List(inner) => match expr {
            Expr::List(list) => {
                let values: Vec<Option<Value>> = list
                    .elements
                    .iter()
                    .map(|e| typed_value(&e.expr, inner, key, d))
                    .collect();
                values
                    .into_iter()
                    .collect::<Option<Vec<_>>>()
                    .map(Value::List)
            }
            Expr::Error(_) => None,
            other => {
                d.push(
                    mismatch(other, &format!("a list of {inner}"), key)
                        .help(format!("write a list: `{key} = [...]`")),
                );
                None
            }
        },
        ParamType::Map(inner) => match expr {
            Expr::Map(body) => {
                let mut map = BTreeMap::new();
                let mut ok = true;
                for item in &body.items {
                    match (&item.kind, item.labels.is_empty()) {
                        (ItemKind::Attribute(value), true) => {
                            if map.contains_key(&item.key.name) {
                                d.push(
                                    Diagnostic::error(
                                        Code::DuplicateKey,
                                        format!("`{}` is given twice in `{key}`", item.key.name),
                                    )
                                    .label(item.key.span, "given again here")
                                    .help("remove one of them; a later one never silently wins"),
                                );
                                ok = false;
                                continue;
                            }
                            match typed_value(value, inner, key, d) {
                                Some(v) => {
                                    map.insert(item.key.name.clone(), v);
                                }
                                None => ok = false,
                            }
                        }
                        _ => {
                            d.push(
                                Diagnostic::error(
                                    Code::WrongForm,
                                    format!("`{}` is written the wrong way", item.key.name),
                                )
                                .label(item.label_span(), "expected `name = value`")
                                .help("write each entry of a map as `name = value`"),
                            );
                            ok = false;
                        }
                    }
                }
                ok.then_some(Value::Map(map))
            }
            Expr::Error(_) => None,
            other => {
                d.push(
                    mismatch(other, &format!("a map of {inner}"), key)
                        .help(format!("write a map: `{key} = {{ name = value }}`")),
                );
                None
            }
        },
    }
}

/// A map of plain strings: `labels = { team = "payments" }`.
pub fn string_map(expr: &Expr, key: &str, d: &mut Diagnostics) -> BTreeMap<String, String> {
    match typed_value(expr, &ParamType::Map(Box::new(ParamType::String)), key, d) {
        Some(Value::Map(map)) => map
            .into_iter()
            .filter_map(|(k, v)| match v {
                Value::String(s) => Some((k, s)),
                _ => None,
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}
