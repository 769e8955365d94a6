//! The syntax tree: a generic tree of items (attributes and blocks), like HCL's.
//! The language's meaning (which keys a `service` has) lives in lowering, not here, so
//! the parser recovers well and the formatter needs no knowledge of the schema.
//!
//! Every node keeps its span; comments are attached to the nearest item or list element
//! so that `svcmodel fmt` never loses one.

use svcmodel_model::{FileId, Span};

pub use super::lexer::Comment;

#[derive(Debug, Clone, PartialEq)]
pub struct File {
    pub id: FileId,
    pub body: Body,
}

/// The inside of a block, a file or a map: items in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Body {
    pub items: Vec<Item>,
    /// Comments after the last item.
    pub trailing_comments: Vec<Comment>,
    /// Whether it was written on one line (`{ a = 1, b = 2 }`).
    pub inline: bool,
    pub span: Span,
}

/// `key label... = value`, `key label... { body }` or `key label...`.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub key: Ident,
    pub labels: Vec<Label>,
    pub kind: ItemKind,
    pub span: Span,
    pub leading_comments: Vec<Comment>,
    /// Boxed: rare, and it keeps every item small.
    pub trailing_comment: Option<Box<Comment>>,
    /// Whether a blank line separated it (or its first comment) from what came before.
    pub blank_line_before: bool,
    /// Whether a blank line separated its last leading comment from its key.
    pub blank_line_before_key: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ItemKind {
    Attribute(Expr),
    Block(Body),
    /// Only a key and labels: `import "../catalog"`, `near "postgres"`.
    Bare,
}

impl Item {
    pub fn label_span(&self) -> Span {
        self.labels
            .iter()
            .fold(self.key.span, |span, label| span.to(label.span()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Label {
    String(StringLit),
    Ident(Ident),
}

impl Label {
    pub fn span(&self) -> Span {
        match self {
            Label::String(s) => s.span,
            Label::Ident(i) => i.span,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StringLit {
    pub parts: Vec<StrPart>,
    /// The source text, quotes included, for the formatter.
    pub raw: String,
    pub span: Span,
}

impl StringLit {
    /// The text when there is no interpolation, borrowed when it is one piece.
    pub fn plain_str(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self.parts.as_slice() {
            [StrPart::Text(text)] => Some(std::borrow::Cow::Borrowed(text.as_str())),
            _ => self.as_plain().map(std::borrow::Cow::Owned),
        }
    }

    /// The text when there is no interpolation.
    pub fn as_plain(&self) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                StrPart::Text(text) => out.push_str(text),
                StrPart::Interpolation { .. } => return None,
            }
        }
        Some(out)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum StrPart {
    Text(String),
    /// `${a.b.c}`: a dotted path.
    Interpolation {
        path: Vec<Ident>,
        span: Span,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct NumberLit {
    /// The number as written, without `_` separators.
    pub value: f64,
    /// Whether it was written without a decimal point.
    pub is_integer: bool,
    pub unit: String,
    /// The source text, for the formatter.
    pub raw: String,
    pub span: Span,
    pub unit_span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    String(StringLit),
    Number(NumberLit),
    Bool(bool, Span),
    /// `a`, `param.workers`, `service.data.classification`.
    Path(Vec<Ident>),
    List(List),
    Map(Body),
    Call {
        callee: Ident,
        args: Vec<Expr>,
        span: Span,
    },
    Range {
        low: Box<Expr>,
        high: Box<Expr>,
        span: Span,
    },
    Unary {
        op: UnaryOp,
        operand: Box<Expr>,
        span: Span,
    },
    Binary {
        op: BinaryOp,
        left: Box<Expr>,
        right: Box<Expr>,
        span: Span,
    },
    Paren(Box<Expr>, Span),
    /// Where the parser could not make sense of the input; already reported.
    Error(Span),
}

impl Expr {
    pub fn span(&self) -> Span {
        match self {
            Expr::String(s) => s.span,
            Expr::Number(n) => n.span,
            Expr::Bool(_, span) | Expr::Paren(_, span) | Expr::Error(span) => *span,
            Expr::Path(parts) => match (parts.first(), parts.last()) {
                (Some(first), Some(last)) => first.span.to(last.span),
                _ => Span::new(FileId(0), 0, 0),
            },
            Expr::List(list) => list.span,
            Expr::Map(body) => body.span,
            Expr::Call { span, .. }
            | Expr::Range { span, .. }
            | Expr::Unary { span, .. }
            | Expr::Binary { span, .. } => *span,
        }
    }

    /// A short description for "expected ..., found ..." messages.
    pub fn describe(&self) -> &'static str {
        match self {
            Expr::String(_) => "a string",
            Expr::Number(n) if !n.unit.is_empty() => "a quantity",
            Expr::Number(_) => "a number",
            Expr::Bool(..) => "a boolean",
            Expr::Path(_) => "a reference",
            Expr::List(_) => "a list",
            Expr::Map(_) => "a map",
            Expr::Call { .. } => "a function call",
            Expr::Range { .. } => "a range",
            Expr::Unary { .. } | Expr::Binary { .. } | Expr::Paren(..) => "an expression",
            Expr::Error(_) => "an error",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct List {
    pub elements: Vec<ListElement>,
    pub trailing_comments: Vec<Comment>,
    /// Whether it was written over several lines.
    pub multiline: bool,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ListElement {
    pub expr: Expr,
    pub leading_comments: Vec<Comment>,
    pub trailing_comment: Option<Comment>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Not,
    Neg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    And,
    Or,
}

impl BinaryOp {
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::In => "in",
            BinaryOp::And => "&&",
            BinaryOp::Or => "||",
        }
    }

    /// Binding strength: higher binds tighter.
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And => 2,
            _ => 3,
        }
    }
}
