//! Decoding string literals: escapes and `${...}` interpolations.

use svcmodel_model::Span;

use super::ast::{Ident, StrPart, StringLit};
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};

/// Decodes the string token `raw` (quotes included) found at `span`.
pub fn decode(raw: &str, span: Span, diagnostics: &mut Diagnostics) -> StringLit {
    let at = |start: usize, end: usize| {
        Span::new(
            span.file,
            span.start + start as u32,
            span.start + end as u32,
        )
    };
    let closed = raw.len() >= 2 && raw.ends_with('"');
    let inner_end = if closed { raw.len() - 1 } else { raw.len() };
    // Most strings hold no escape and no reference: take them whole.
    let inner = raw.get(1..inner_end).unwrap_or_default();
    if !inner.contains(['\\', '$']) {
        return StringLit {
            parts: vec![StrPart::Text(inner.to_string())],
            raw: raw.to_string(),
            span,
        };
    }
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut chars = raw[..inner_end].char_indices().skip(1).peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                let Some((_, escaped)) = chars.next() else {
                    break;
                };
                match escaped {
                    'n' => text.push('\n'),
                    't' => text.push('\t'),
                    'r' => text.push('\r'),
                    '0' => text.push('\0'),
                    '\\' | '"' | '$' => text.push(escaped),
                    'u' => match unicode_escape(&raw[i..inner_end]) {
                        Some((ch, len)) => {
                            text.push(ch);
                            // `\u` is two characters, already consumed.
                            for _ in 2..len {
                                chars.next();
                            }
                        }
                        None => diagnostics.push(invalid_escape(at(i, i + 2), "\\u")),
                    },
                    other => diagnostics.push(invalid_escape(
                        at(i, i + 1 + other.len_utf8()),
                        &format!("\\{other}"),
                    )),
                }
            }
            '$' if chars.peek().map(|&(_, c)| c) == Some('{') => {
                chars.next();
                let body_start = i + 2;
                let Some(close) = raw[body_start..inner_end].find('}') else {
                    diagnostics.push(
                        Diagnostic::error(Code::InvalidInterpolation, "unclosed interpolation")
                            .label(at(i, inner_end), "this `${` is never closed")
                            .help(
                                "close the reference with `}`, or write `\\${` for a literal `${`",
                            ),
                    );
                    break;
                };
                let body_end = body_start + close;
                while chars.peek().is_some_and(|&(j, _)| j <= body_end) {
                    chars.next();
                }
                if !text.is_empty() {
                    parts.push(StrPart::Text(std::mem::take(&mut text)));
                }
                let whole = at(i, body_end + 1);
                match interpolation_path(&raw[body_start..body_end], span.start + body_start as u32, span) {
                    Some(path) => parts.push(StrPart::Interpolation { path, span: whole }),
                    None => diagnostics.push(
                        Diagnostic::error(
                            Code::InvalidInterpolation,
                            format!("`${{{}}}` is not a reference", &raw[body_start..body_end]),
                        )
                        .label(whole, "expected a dotted name such as `postgres.sql.host`")
                        .help("write a reference as `${service.port.host}`, `${param.name}` or `${self.port.port}`; write `\\${` for a literal `${`"),
                    ),
                }
            }
            _ => text.push(c),
        }
    }
    if !text.is_empty() || parts.is_empty() {
        parts.push(StrPart::Text(text));
    }
    StringLit {
        parts,
        raw: raw.to_string(),
        span,
    }
}

/// `\u{1F600}` at the start of `rest`: the character and the escape's length in bytes.
fn unicode_escape(rest: &str) -> Option<(char, usize)> {
    let body = rest.strip_prefix("\\u{")?;
    let close = body.find('}')?;
    let code = u32::from_str_radix(&body[..close], 16).ok()?;
    Some((char::from_u32(code)?, 3 + close + 1))
}

fn invalid_escape(span: Span, escape: &str) -> Diagnostic {
    Diagnostic::error(Code::InvalidEscape, format!("unknown escape `{escape}` in a string"))
        .label(span, "not an escape the language knows")
        .help("use one of `\\n`, `\\t`, `\\r`, `\\0`, `\\\\`, `\\\"`, `\\$` or `\\u{1F600}`; write a backslash as `\\\\`")
}

/// `a.b.c` inside `${...}`, with spans; `None` when it is not a dotted name.
fn interpolation_path(body: &str, body_start: u32, span: Span) -> Option<Vec<Ident>> {
    let trimmed_start = body.len() - body.trim_start().len();
    let trimmed = body.trim();
    if trimmed.is_empty() {
        return None;
    }
    let mut offset = body_start + trimmed_start as u32;
    let mut path = Vec::new();
    for segment in trimmed.split('.') {
        let valid = segment
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && !segment.ends_with('-')
            && segment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return None;
        }
        path.push(Ident {
            name: segment.to_string(),
            span: Span::new(span.file, offset, offset + segment.len() as u32),
        });
        offset += segment.len() as u32 + 1;
    }
    Some(path)
}
