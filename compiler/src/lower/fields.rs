//! Checking a body against the keys its block may have: unknown keys (with "did you
//! mean"), keys in the wrong form, and duplicates, all reported before the block's own
//! lowering reads the keys it knows.

use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::suggest;
use crate::syntax::ast::{Body, Expr, Item, ItemKind, Label};

/// How a key is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `key = value`
    Attr,
    /// `key { ... }`
    Block,
    /// `key "label" { ... }`
    LabeledBlock,
    /// `key "label" = value`
    LabeledAttr,
    /// `key "label"`
    LabeledBare,
}

impl Form {
    fn example(self, key: &str) -> String {
        match self {
            Form::Attr => format!("{key} = ..."),
            Form::Block => format!("{key} {{ ... }}"),
            Form::LabeledBlock => format!("{key} \"name\" {{ ... }}"),
            Form::LabeledAttr => format!("{key} \"name\" = ..."),
            Form::LabeledBare => format!("{key} \"name\""),
        }
    }

    fn of(item: &Item) -> Option<Form> {
        Some(match (&item.kind, item.labels.len()) {
            (ItemKind::Attribute(_), 0) => Form::Attr,
            (ItemKind::Block(_), 0) => Form::Block,
            (ItemKind::Block(_), 1) => Form::LabeledBlock,
            (ItemKind::Attribute(_), 1) => Form::LabeledAttr,
            (ItemKind::Bare, 1) => Form::LabeledBare,
            _ => return None,
        })
    }
}

/// A key a block may hold.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub key: &'static str,
    pub forms: &'static [Form],
}

impl Field {
    /// Whether the key may appear more than once (labelled keys, each label once).
    fn repeats(&self) -> bool {
        self.forms.iter().any(|f| {
            matches!(
                f,
                Form::LabeledBlock | Form::LabeledAttr | Form::LabeledBare
            )
        })
    }
}

pub const fn attr(key: &'static str) -> Field {
    Field {
        key,
        forms: &[Form::Attr],
    }
}

pub const fn block(key: &'static str) -> Field {
    Field {
        key,
        forms: &[Form::Block],
    }
}

pub const fn labeled_block(key: &'static str) -> Field {
    Field {
        key,
        forms: &[Form::LabeledBlock],
    }
}

pub const fn labeled_attr(key: &'static str) -> Field {
    Field {
        key,
        forms: &[Form::LabeledAttr],
    }
}

pub const fn labeled_bare(key: &'static str) -> Field {
    Field {
        key,
        forms: &[Form::LabeledBare],
    }
}

/// A body's items that passed the check, looked up by key.
pub struct Fields<'a> {
    /// Accepted items with the index of their key in the schema.
    items: Vec<(usize, &'a Item)>,
    /// The schema, so a lookup compares an index, not a string, per item.
    schema: &'static [Field],
}

impl<'a> Fields<'a> {
    /// Checks `body` against `schema`; `context` names the block in messages
    /// (e.g. "service `orders`").
    pub fn check(
        body: &'a Body,
        schema: &'static [Field],
        context: impl std::fmt::Display,
        diagnostics: &mut Diagnostics,
    ) -> Self {
        let mut items: Vec<(usize, &'a Item)> = Vec::with_capacity(body.items.len());
        for item in &body.items {
            let key = item.key.name.as_str();
            let Some((field_index, field)) = schema.iter().enumerate().find(|(_, f)| f.key == key)
            else {
                let help =
                    suggest::did_you_mean(key, schema.iter().map(|f| f.key)).unwrap_or_else(|| {
                        let keys: Vec<String> =
                            schema.iter().map(|f| format!("`{}`", f.key)).collect();
                        format!("use one of {}", keys.join(", "))
                    });
                diagnostics.push(
                    Diagnostic::error(
                        Code::UnknownKey,
                        format!("unknown key `{key}` in {context}"),
                    )
                    .label(item.key.span, format!("{context} has no `{key}`"))
                    .help(help),
                );
                continue;
            };
            if !form_ok(item, field, diagnostics) {
                continue;
            }
            let label = item.labels.first().map(label_str);
            if let Some(Label::String(string)) = item.labels.first()
                && label.as_ref().is_some_and(Option::is_none)
            {
                diagnostics.push(
                    Diagnostic::error(
                        Code::InvalidReference,
                        format!("the name of `{key}` cannot hold a `${{...}}` reference"),
                    )
                    .label(string.span, "a name must be plain text")
                    .help("write the name itself, e.g. `\"workers\"`"),
                );
                continue;
            }
            let label = label.flatten();
            // Bodies are small: a linear scan finds duplicates without allocating.
            let first = items.iter().find(|(other_index, other)| {
                *other_index == field_index && other.labels.first().and_then(label_str) == label
            });
            if let Some((_, first)) = first {
                let shown = match &label {
                    Some(label) if field.repeats() => format!("`{key} \"{label}\"`"),
                    _ => format!("`{key}`"),
                };
                diagnostics.push(
                    Diagnostic::error(
                        Code::DuplicateKey,
                        format!("{shown} is given twice in {context}"),
                    )
                    .label(item.label_span(), "given again here")
                    .label(first.label_span(), "first given here")
                    .help("remove one of them; a later one never silently wins"),
                );
                continue;
            }
            items.push((field_index, item));
        }
        Fields { items, schema }
    }

    fn index(&self, key: &str) -> Option<usize> {
        self.schema.iter().position(|f| f.key == key)
    }

    pub fn attr(&self, key: &str) -> Option<&'a Expr> {
        let index = self.index(key)?;
        self.items.iter().find_map(|(i, item)| match &item.kind {
            ItemKind::Attribute(expr) if *i == index => Some(expr),
            _ => None,
        })
    }

    /// The quantity at `key`, in the base unit of `kind`, if given and valid.
    pub fn quantity(
        &self,
        key: &str,
        kind: svcmodel_model::QuantityKind,
        diagnostics: &mut Diagnostics,
    ) -> Option<svcmodel_model::Spanned<u64>> {
        self.attr(key)
            .and_then(|e| super::values::quantity(e, kind, key, diagnostics))
    }

    pub fn item(&self, key: &str) -> Option<&'a Item> {
        let index = self.index(key)?;
        self.items
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, item)| *item)
    }

    pub fn all(&self, key: &'a str) -> impl Iterator<Item = &'a Item> + '_ {
        let index = self.index(key);
        self.items
            .iter()
            .filter(move |(i, _)| Some(*i) == index)
            .map(|(_, item)| *item)
    }
}

/// Whether `item` is written in one of `field`'s forms; reports it when not.
pub fn form_ok(item: &Item, field: &Field, diagnostics: &mut Diagnostics) -> bool {
    let key = item.key.name.as_str();
    if Form::of(item).is_some_and(|f| field.forms.contains(&f)) {
        return true;
    }
    let expected: Vec<String> = field
        .forms
        .iter()
        .map(|f| format!("`{}`", f.example(key)))
        .collect();
    diagnostics.push(
        Diagnostic::error(Code::WrongForm, format!("`{key}` is written the wrong way"))
            .label(
                item.label_span(),
                format!("expected {}", expected.join(" or ")),
            )
            .help(format!("write it as {}", expected.join(" or "))),
    );
    false
}

/// A label's text without allocating where it can; `None` for a string holding `${...}`.
pub fn label_str(label: &Label) -> Option<std::borrow::Cow<'_, str>> {
    match label {
        Label::String(s) => s.plain_str(),
        Label::Ident(i) => Some(std::borrow::Cow::Borrowed(i.name.as_str())),
    }
}

/// A label's text: a string's decoded value or a name.
pub fn label_text(label: &Label) -> String {
    match label {
        Label::String(s) => s.as_plain().unwrap_or_else(|| s.raw.clone()),
        Label::Ident(i) => i.name.clone(),
    }
}

/// The body of a block item.
pub fn body_of(item: &Item) -> Option<&Body> {
    match &item.kind {
        ItemKind::Block(body) => Some(body),
        _ => None,
    }
}
