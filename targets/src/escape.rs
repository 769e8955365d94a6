//! Escaping for each output syntax. Every string a template writes goes through one of
//! these (the default escape of `{{x}}` is the file's format), so a value can never
//! break out of its place in the output, whatever it holds.
//!
//! Each escaper returns a complete quoted scalar, so `key: {{x}}` is always one value.
//! Values with secrets or run-time parts are written by [`value_parts`], which escapes the
//! literal parts for the engine (`$` in Kubernetes and Compose) and for the syntax, and
//! writes the references in the engine's own form.

use serde::Deserialize;

use crate::manifest::Interpolation;

/// The syntax of a rendered file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// A YAML double-quoted scalar (JSON-compatible).
    Yaml,
    /// A JSON string.
    Json,
    /// An HCL quoted template, with `${` and `%{` escaped.
    Hcl,
    /// A systemd unit: `ExecStart=` words in double quotes with C escapes, `%` and `$`
    /// doubled.
    Systemd,
    /// An environment file as systemd and Docker read it: double quotes with `\`, `"`,
    /// `$` and `` ` `` escaped.
    Env,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Yaml => "yaml",
            Format::Json => "json",
            Format::Hcl => "hcl",
            Format::Systemd => "systemd",
            Format::Env => "env",
        }
    }
}

/// `text` as one quoted scalar of `format`.
pub fn quote(format: Format, text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    escape_inner(format, text, &mut out);
    out.push('"');
    out
}

/// The inside of a quoted scalar (without the quotes).
pub fn escape_inner(format: Format, text: &str, out: &mut String) {
    match format {
        Format::Yaml | Format::Json => json_inner(text, out),
        Format::Hcl => hcl_inner(text, out),
        Format::Systemd => systemd_inner(text, out),
        Format::Env => env_inner(text, out),
    }
}

/// JSON string escapes, with everything outside printable ASCII that YAML or a
/// JavaScript parser could misread (controls, DEL, C1, U+2028, U+2029, U+FEFF) as
/// `\uXXXX`. Valid in both JSON and a YAML double-quoted scalar.
fn json_inner(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_unicode_escape(c) => push_utf16_escapes(c, out),
            c => out.push(c),
        }
    }
}

fn needs_unicode_escape(c: char) -> bool {
    matches!(c, '\0'..='\x1f' | '\x7f'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{feff}')
        || matches!(c, '\u{fffe}' | '\u{ffff}')
}

fn push_utf16_escapes(c: char, out: &mut String) {
    let mut units = [0u16; 2];
    for unit in c.encode_utf16(&mut units) {
        out.push_str(&format!("\\u{unit:04x}"));
    }
}

/// HCL: `\"`, `\\`, `\n`, `\r`, `\t`, `\uXXXX`; `${` as `$${` and `%{` as `%%{`.
fn hcl_inner(text: &str, out: &mut String) {
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if needs_unicode_escape(c) => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
}

/// systemd's quoted word: C escapes, specifiers (`%`) and variables (`$`) doubled.
fn systemd_inner(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '%' => out.push_str("%%"),
            '$' => out.push_str("$$"),
            c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if needs_unicode_escape(c) => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
}

/// An environment file's double-quoted value: `\`, `"`, `$` and `` ` `` take a
/// backslash; a line break stays a line break inside the quotes.
fn env_inner(text: &str, out: &mut String) {
    for c in text.chars() {
        if matches!(c, '\\' | '"' | '$' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
}

/// A one-line text for places that take no quoting (a systemd `Description=`): control
/// characters become spaces and `%` is doubled.
pub fn plain_text(format: Format, text: &str) -> String {
    match format {
        Format::Systemd => text
            .chars()
            .map(|c| {
                if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
                    ' '
                } else {
                    c
                }
            })
            .collect::<String>()
            .replace('%', "%%")
            .trim_end_matches('\\')
            .to_string(),
        other => quote(other, text),
    }
}

/// Text for a comment line in any of the syntaxes: line breaks and other control
/// characters (and the Unicode line separators) become spaces.
pub fn comment(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{85}') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// A value view as templates hold it (JSON), borrowed rather than rebuilt: rendering
/// calls this once per value.
pub struct ValueRef<'a> {
    parts: Vec<PartRef<'a>>,
    variable: Option<&'a str>,
}

enum PartRef<'a> {
    Text(&'a str),
    Secret {
        variable: &'a str,
        host_variable: &'a str,
    },
    Address,
}

pub fn value_of_json(json: &serde_json::Value) -> Option<ValueRef<'_>> {
    if let Some(text) = json.get("text").and_then(|t| t.as_str()) {
        return Some(ValueRef {
            parts: vec![PartRef::Text(text)],
            variable: None,
        });
    }
    let parts = json.get("parts")?.as_array()?;
    let mut out = Vec::with_capacity(parts.len());
    for part in parts {
        out.push(match part.get("kind")?.as_str()? {
            "text" => PartRef::Text(part.get("text")?.as_str()?),
            "secret" => PartRef::Secret {
                variable: part.pointer("/secret/variable")?.as_str()?,
                host_variable: part.pointer("/secret/host_variable")?.as_str()?,
            },
            "address" => PartRef::Address,
            _ => return None,
        });
    }
    Some(ValueRef {
        parts: out,
        variable: json.get("variable").and_then(|v| v.as_str()),
    })
}

/// A value with its secrets and run-time parts, as one quoted scalar of `format`.
pub fn value_parts(format: Format, interpolation: Interpolation, value: &ValueRef) -> String {
    let mut out = String::from("\"");
    for part in &value.parts {
        match part {
            PartRef::Text(text) => match interpolation {
                Interpolation::Kubernetes | Interpolation::Compose if text.contains('$') => {
                    escape_inner(format, &text.replace('$', "$$"), &mut out);
                }
                _ => escape_inner(format, text, &mut out),
            },
            PartRef::Secret {
                variable,
                host_variable,
            } => out.push_str(&match interpolation {
                Interpolation::Kubernetes => format!("$({variable})"),
                Interpolation::Compose => {
                    format!("${{{host_variable}:?set {host_variable} to the secret}}")
                }
                Interpolation::Nomad | Interpolation::Systemd | Interpolation::Plain => {
                    format!("${{{variable}}}")
                }
            }),
            PartRef::Address => {
                // Only Nomad has run-time addresses; the whole value lives in its Go
                // template under `variable`, and is referred to here.
                if let Some(variable) = value.variable {
                    out.push_str(&format!("${{{variable}}}"));
                    return finish(out);
                }
            }
        }
    }
    finish(out)
}

fn finish(mut out: String) -> String {
    out.push('"');
    out
}

/// Any JSON value with strings escaped by [`json_inner`]: valid JSON and valid YAML flow.
pub fn json(value: &serde_json::Value) -> String {
    let mut out = String::new();
    write_json(value, &mut out);
    out
}

fn write_json(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::String(s) => {
            out.push('"');
            json_inner(s, out);
            out.push('"');
        }
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(item, out);
            }
            out.push(']');
        }
        serde_json::Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push('"');
                json_inner(k, out);
                out.push_str("\":");
                write_json(v, out);
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_escapes_what_breaks_a_line() {
        assert_eq!(quote(Format::Yaml, "a\nb: c"), r#""a\nb: c""#);
        assert_eq!(quote(Format::Yaml, "\u{2028}\0"), r#""\u2028\u0000""#);
    }

    #[test]
    fn hcl_escapes_interpolation() {
        assert_eq!(quote(Format::Hcl, "${x} %{y} $x"), r#""$${x} %%{y} $x""#);
        assert_eq!(quote(Format::Hcl, "$${"), r#""$$${""#);
    }

    #[test]
    fn systemd_doubles_specifiers_and_variables() {
        assert_eq!(
            quote(Format::Systemd, "50% of $HOME"),
            r#""50%% of $$HOME""#
        );
    }

    #[test]
    fn env_files_escape_shell_characters() {
        assert_eq!(quote(Format::Env, "a\"$b`\\"), r#""a\"\$b\`\\""#);
    }
}
