//! The parser: tokens to a [`File`], never failing. Errors are collected and the parser
//! resynchronises at the next line or closing brace, so one run reports many mistakes.
//!
//! Nesting is limited to [`MAX_DEPTH`]: deeper input is reported and skipped without
//! recursion, so no input can overflow the stack.

use svcmodel_model::{FileId, Span};

use super::ast::*;
use super::lexer::{Comment, Token, TokenKind, lex};
use super::string;
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};

/// How deep blocks, lists, maps and expressions may nest.
pub const MAX_DEPTH: usize = 64;

/// Blocks that only stand at the top of a file: seeing one at the start of a line
/// inside another block means a `}` is missing.
const TOP_LEVEL_KEYWORDS: &[&str] = &["system", "environment", "service", "policy", "import"];

pub fn parse(text: &str, file: FileId, diagnostics: &mut Diagnostics) -> File {
    let lexed = lex(text, file, diagnostics);
    let mut parser = Parser {
        text,
        file,
        tokens: lexed.tokens,
        pos: 0,
        comments: lexed.comments,
        next_comment: 0,
        diagnostics,
        depth: 0,
        item_stack: Vec::new(),
    };
    let body = parser.body(None);
    File { id: file, body }
}

struct Parser<'a> {
    text: &'a str,
    file: FileId,
    tokens: Vec<Token>,
    pos: usize,
    comments: Vec<Comment>,
    next_comment: usize,
    diagnostics: &'a mut Diagnostics,
    depth: usize,
    /// Items of the bodies being parsed, innermost last.
    item_stack: Vec<Item>,
}

/// The block a body belongs to, for "this `{` is never closed" messages.
struct Opener {
    brace: Span,
    owner: String,
}

impl Parser<'_> {
    fn peek(&self) -> Token {
        self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn kind(&self) -> TokenKind {
        self.peek().kind
    }

    fn bump(&mut self) -> Token {
        let token = self.peek();
        if token.kind != TokenKind::Eof {
            self.pos += 1;
        }
        token
    }

    fn previous_end(&self) -> u32 {
        if self.pos == 0 {
            0
        } else {
            self.tokens[self.pos - 1].span.end
        }
    }

    fn skip_newlines(&mut self) {
        while self.kind() == TokenKind::Newline {
            self.bump();
        }
    }

    fn slice(&self, span: Span) -> &str {
        &self.text[span.start as usize..span.end as usize]
    }

    fn span(&self, start: u32, end: u32) -> Span {
        Span::new(self.file, start, end)
    }

    fn error(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    /// Comments that start before `offset` and have not been attached yet.
    fn leading_comments(&mut self, offset: u32) -> Vec<Comment> {
        let start = self.next_comment;
        while self.next_comment < self.comments.len()
            && self.comments[self.next_comment].span.start < offset
        {
            self.next_comment += 1;
        }
        self.comments[start..self.next_comment].to_vec()
    }

    /// A comment on the same line, right after `end`.
    fn trailing_comment(&mut self, end: u32) -> Option<Comment> {
        let comment = self.comments.get(self.next_comment)?;
        let between = self.text.get(end as usize..comment.span.start as usize)?;
        // Only what directly follows (spaces, a comma) is trailing; after a `}` or `]`
        // the comment belongs to the enclosing item.
        if comment.span.start >= end
            && between
                .chars()
                .all(|c| c == ' ' || c == '\t' || c == ',' || c == '\r')
        {
            self.next_comment += 1;
            return Some(comment.clone());
        }
        None
    }

    fn blank_line_before(&self, offset: u32) -> bool {
        super::lexer::blank_line_before(self.text, offset as usize)
    }

    fn starts_line(&self, span: Span) -> bool {
        span.start == 0 || self.text.as_bytes()[span.start as usize - 1] == b'\n'
    }

    fn expected(&mut self, what: &str, found: Token) -> Diagnostic {
        let found_text = if found.kind == TokenKind::Ident {
            format!("`{}`", self.slice(found.span))
        } else {
            found.kind.describe().to_string()
        };
        Diagnostic::error(
            Code::UnexpectedToken,
            format!("expected {what}, found {found_text}"),
        )
        .label(found.span, format!("expected {what} here"))
    }

    /// Skips to the end of the line (or an unmatched `}`), stepping over nested brackets.
    fn recover_to_line_end(&mut self) {
        let mut depth = 0usize;
        loop {
            match self.kind() {
                TokenKind::Eof => return,
                TokenKind::Newline if depth == 0 => return,
                TokenKind::RBrace | TokenKind::RBracket | TokenKind::RParen if depth == 0 => {
                    return;
                }
                TokenKind::LBrace | TokenKind::LBracket | TokenKind::LParen => depth += 1,
                TokenKind::RBrace | TokenKind::RBracket | TokenKind::RParen => depth -= 1,
                _ => {}
            }
            self.bump();
        }
    }

    /// Skips a bracketed group starting at the current opener, without recursion.
    fn skip_group(&mut self) -> Span {
        let start = self.peek().span.start;
        let mut depth = 0usize;
        loop {
            let token = self.bump();
            match token.kind {
                TokenKind::LBrace | TokenKind::LBracket | TokenKind::LParen => depth += 1,
                TokenKind::RBrace | TokenKind::RBracket | TokenKind::RParen => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return self.span(start, token.span.end);
                    }
                }
                TokenKind::Eof => return self.span(start, token.span.end),
                _ => {}
            }
        }
    }

    fn too_deep(&mut self, at: Span) {
        self.error(
            Diagnostic::error(
                Code::NestingTooDeep,
                format!("nesting deeper than {MAX_DEPTH} levels"),
            )
            .label(at, "this is nested too deeply")
            .help("flatten the model: split deep blocks into separate top-level declarations"),
        );
    }

    /// A file's items, or a block's up to its `}`.
    fn body(&mut self, opener: Option<Opener>) -> Body {
        let start = opener.as_ref().map_or(0, |o| o.brace.start);
        // Items gather on one shared stack and leave it in one exactly sized move: no
        // vector grows item by item. Bodies nest strictly, so the stack unwinds in order.
        let first_item = self.item_stack.len();
        let end;
        loop {
            while matches!(self.kind(), TokenKind::Newline | TokenKind::Comma) {
                self.bump();
            }
            let token = self.peek();
            match token.kind {
                TokenKind::Eof => {
                    if let Some(opener) = &opener {
                        let diagnostic = Diagnostic::error(
                            Code::UnclosedDelimiter,
                            format!("`{}` is never closed", opener.owner),
                        )
                        .label(opener.brace, "this `{` has no matching `}`")
                        .help(format!("add `}}` where `{}` ends", opener.owner));
                        self.error(diagnostic);
                    }
                    end = token.span.end;
                    break;
                }
                TokenKind::RBrace => {
                    if opener.is_some() {
                        self.bump();
                        end = token.span.end;
                        break;
                    }
                    self.bump();
                    self.error(
                        Diagnostic::error(Code::UnexpectedToken, "unexpected `}`")
                            .label(token.span, "no block is open here")
                            .help("remove this `}`, or add the `{` it was meant to close"),
                    );
                }
                TokenKind::Ident => {
                    let name = self.slice(token.span);
                    if let Some(opener) = &opener
                        && self.starts_line(token.span)
                        && TOP_LEVEL_KEYWORDS.contains(&name)
                    {
                        let diagnostic = Diagnostic::error(
                            Code::UnclosedDelimiter,
                            format!("`{}` is never closed", opener.owner),
                        )
                        .label(opener.brace, "this `{` has no matching `}`")
                        .label(
                            token.span,
                            format!("`{name}` starts a new top-level block here"),
                        )
                        .help(format!(
                            "add `}}` to close `{}` before this line",
                            opener.owner
                        ));
                        self.error(diagnostic);
                        end = self.previous_end();
                        break;
                    }
                    let item = self.item();
                    self.item_stack.push(item);
                    let next = self.peek();
                    match next.kind {
                        TokenKind::Newline
                        | TokenKind::Comma
                        | TokenKind::RBrace
                        | TokenKind::Eof => {}
                        // A nested block that stopped at a top-level keyword (a `}` is missing).
                        _ if self.starts_line(next.span) => {}
                        _ => {
                            let key = self
                                .item_stack
                                .last()
                                .map(|i: &Item| i.key.name.clone())
                                .unwrap_or_default();
                            let diagnostic = self
                                .expected("a new line", next)
                                .help(format!("end `{key}` here: put the next item on its own line, or separate them with `,`"));
                            self.error(diagnostic);
                            self.recover_to_line_end();
                        }
                    }
                }
                _ => {
                    let diagnostic = self
                        .expected("a key such as `service` or `version`", token)
                        .help(
                            "start each item with a name: `key = value` or `key \"label\" { ... }`",
                        );
                    self.error(diagnostic);
                    if matches!(
                        token.kind,
                        TokenKind::LBrace | TokenKind::LBracket | TokenKind::LParen
                    ) {
                        self.skip_group();
                    } else {
                        self.bump();
                    }
                    self.recover_to_line_end();
                }
            }
        }
        let trailing_comments = self.leading_comments(end);
        let span = self.span(start, end.max(start));
        let inline = opener.is_some() && !self.slice(span).contains('\n');
        let items = self.item_stack.split_off(first_item);
        Body {
            items,
            trailing_comments,
            inline,
            span,
        }
    }

    fn item(&mut self) -> Item {
        let key_token = self.bump();
        let key = Ident {
            name: self.slice(key_token.span).to_string(),
            span: key_token.span,
        };
        let leading_comments = self.leading_comments(key.span.start);
        let first = leading_comments
            .first()
            .map_or(key.span.start, |c| c.span.start);
        let blank_line_before = self.blank_line_before(first);
        let blank_line_before_key =
            !leading_comments.is_empty() && self.blank_line_before(key.span.start);
        let mut labels = Vec::new();
        loop {
            let token = self.peek();
            match token.kind {
                TokenKind::String => {
                    self.bump();
                    let raw = self.slice(token.span).to_string();
                    labels.push(Label::String(string::decode(
                        &raw,
                        token.span,
                        self.diagnostics,
                    )));
                }
                TokenKind::Ident => {
                    self.bump();
                    labels.push(Label::Ident(Ident {
                        name: self.slice(token.span).to_string(),
                        span: token.span,
                    }));
                }
                _ => break,
            }
        }
        let token = self.peek();
        let kind = match token.kind {
            TokenKind::Eq => {
                self.bump();
                ItemKind::Attribute(self.value())
            }
            TokenKind::LBrace => ItemKind::Block(self.block_body(&key, &labels)),
            TokenKind::Newline | TokenKind::Comma | TokenKind::RBrace | TokenKind::Eof => {
                ItemKind::Bare
            }
            _ => {
                let diagnostic = self
                    .expected(&format!("`=` or `{{` after `{}`", key.name), token)
                    .help(format!("write `{0} = value` or `{0} {{ ... }}`", key.name));
                self.error(diagnostic);
                self.recover_to_line_end();
                ItemKind::Attribute(Expr::Error(token.span))
            }
        };
        let end = self.previous_end().max(key.span.end);
        let trailing_comment = self.trailing_comment(end).map(Box::new);
        Item {
            span: self.span(key.span.start, end),
            key,
            labels,
            kind,
            leading_comments,
            trailing_comment,
            blank_line_before,
            blank_line_before_key,
        }
    }

    fn block_body(&mut self, key: &Ident, labels: &[Label]) -> Body {
        let brace = self.peek().span;
        if self.depth >= MAX_DEPTH {
            self.too_deep(brace);
            let span = self.skip_group();
            return Body {
                items: Vec::new(),
                trailing_comments: Vec::new(),
                inline: true,
                span,
            };
        }
        self.bump();
        let mut owner = key.name.clone();
        for label in labels {
            owner.push(' ');
            owner.push_str(self.slice(label.span()));
        }
        self.depth += 1;
        let body = self.body(Some(Opener { brace, owner }));
        self.depth -= 1;
        body
    }

    /// An attribute's value: an expression, or a range `low..high`.
    fn value(&mut self) -> Expr {
        let low = self.expr(0);
        if self.kind() != TokenKind::DotDot {
            return low;
        }
        self.bump();
        let high = self.expr(0);
        let span = low.span().to(high.span());
        Expr::Range {
            low: Box::new(low),
            high: Box::new(high),
            span,
        }
    }

    fn binary_op(&self) -> Option<BinaryOp> {
        let token = self.peek();
        Some(match token.kind {
            TokenKind::EqEq => BinaryOp::Eq,
            TokenKind::NotEq => BinaryOp::Ne,
            TokenKind::Lt => BinaryOp::Lt,
            TokenKind::Le => BinaryOp::Le,
            TokenKind::Gt => BinaryOp::Gt,
            TokenKind::Ge => BinaryOp::Ge,
            TokenKind::AndAnd => BinaryOp::And,
            TokenKind::OrOr => BinaryOp::Or,
            TokenKind::Ident if self.slice(token.span) == "in" => BinaryOp::In,
            _ => return None,
        })
    }

    /// Precedence climbing; operators bind left to right.
    fn expr(&mut self, min_precedence: u8) -> Expr {
        let mut left = self.unary();
        while let Some(op) = self.binary_op() {
            if op.precedence() < min_precedence {
                break;
            }
            self.bump();
            self.skip_newlines();
            let right = if self.depth >= MAX_DEPTH {
                let at = self.peek().span;
                self.too_deep(at);
                self.recover_to_line_end();
                Expr::Error(at)
            } else {
                self.depth += 1;
                let right = self.expr(op.precedence() + 1);
                self.depth -= 1;
                right
            };
            let span = left.span().to(right.span());
            left = Expr::Binary {
                op,
                left: Box::new(left),
                right: Box::new(right),
                span,
            };
        }
        left
    }

    fn unary(&mut self) -> Expr {
        let token = self.peek();
        let op = match token.kind {
            TokenKind::Bang => UnaryOp::Not,
            TokenKind::Minus => UnaryOp::Neg,
            _ => return self.primary(),
        };
        self.bump();
        if self.depth >= MAX_DEPTH {
            self.too_deep(token.span);
            while matches!(self.kind(), TokenKind::Bang | TokenKind::Minus) {
                self.bump();
            }
            let operand = self.primary();
            return Expr::Error(token.span.to(operand.span()));
        }
        self.depth += 1;
        let operand = self.unary();
        self.depth -= 1;
        let span = token.span.to(operand.span());
        Expr::Unary {
            op,
            operand: Box::new(operand),
            span,
        }
    }

    fn primary(&mut self) -> Expr {
        let token = self.peek();
        match token.kind {
            TokenKind::String => {
                self.bump();
                let raw = self.slice(token.span).to_string();
                Expr::String(string::decode(&raw, token.span, self.diagnostics))
            }
            TokenKind::Number => {
                self.bump();
                self.number(token.span)
            }
            TokenKind::Ident => self.path_or_call(),
            TokenKind::LBracket | TokenKind::LBrace | TokenKind::LParen
                if self.depth >= MAX_DEPTH =>
            {
                self.too_deep(token.span);
                Expr::Error(self.skip_group())
            }
            TokenKind::LBracket => {
                self.depth += 1;
                let list = self.list();
                self.depth -= 1;
                list
            }
            TokenKind::LBrace => {
                self.bump();
                self.depth += 1;
                let body = self.body(Some(Opener {
                    brace: token.span,
                    owner: "{".to_string(),
                }));
                self.depth -= 1;
                Expr::Map(body)
            }
            TokenKind::LParen => {
                self.bump();
                self.depth += 1;
                self.skip_newlines();
                let inner = self.value();
                self.skip_newlines();
                self.depth -= 1;
                let end = self.close(TokenKind::RParen, token.span, "(");
                Expr::Paren(Box::new(inner), self.span(token.span.start, end))
            }
            _ => {
                let diagnostic = self
                    .expected("a value", token)
                    .help("write a value: a string in double quotes, a number, `true`, a list `[...]` or a map `{ ... }`");
                self.error(diagnostic);
                if !matches!(
                    token.kind,
                    TokenKind::Newline
                        | TokenKind::Comma
                        | TokenKind::RBrace
                        | TokenKind::RBracket
                        | TokenKind::RParen
                        | TokenKind::Eof
                ) {
                    self.bump();
                }
                Expr::Error(token.span)
            }
        }
    }

    /// Expects `kind` closing the group opened at `open`; returns the group's end.
    fn close(&mut self, kind: TokenKind, open: Span, open_text: &str) -> u32 {
        let token = self.peek();
        if token.kind == kind {
            self.bump();
            return token.span.end;
        }
        let close_text = kind.describe();
        let diagnostic = self
            .expected(close_text, token)
            .label(open, format!("`{open_text}` opened here"))
            .help(format!("add {close_text} to close the `{open_text}`"));
        self.error(diagnostic);
        // Resynchronise inside the group: skip to its closer if it is on this line.
        self.recover_to_line_end();
        if self.kind() == kind {
            return self.bump().span.end;
        }
        self.previous_end()
    }

    fn number(&mut self, span: Span) -> Expr {
        let raw = self.slice(span).to_string();
        let digits_len = raw
            .find(|c: char| !(c.is_ascii_digit() || c == '_' || c == '.'))
            .unwrap_or(raw.len());
        let digits: std::borrow::Cow<str> = if raw[..digits_len].contains('_') {
            raw[..digits_len]
                .chars()
                .filter(|&c| c != '_')
                .collect::<String>()
                .into()
        } else {
            raw[..digits_len].into()
        };
        let unit = raw[digits_len..].to_string();
        let unit_span = self.span(span.start + digits_len as u32, span.end);
        let unit_is_word = unit.chars().all(|c| !c.is_ascii_digit());
        match digits.parse::<f64>() {
            Ok(value) if value.is_finite() && unit_is_word => Expr::Number(NumberLit {
                value,
                is_integer: !digits.contains('.'),
                unit,
                raw,
                span,
                unit_span,
            }),
            _ => {
                self.error(
                    Diagnostic::error(Code::InvalidNumber, format!("`{raw}` is not a number"))
                        .label(span, "not a valid number")
                        .help("write a decimal number such as `8080`, `0.5` or `4Gi`; exponents and hexadecimal are not supported"),
                );
                Expr::Error(span)
            }
        }
    }

    fn path_or_call(&mut self) -> Expr {
        let first = self.bump();
        match self.slice(first.span) {
            "true" => return Expr::Bool(true, first.span),
            "false" => return Expr::Bool(false, first.span),
            _ => {}
        }
        let name = self.slice(first.span).to_string();
        let callee = Ident {
            name,
            span: first.span,
        };
        // A call's `(` follows its name directly: `template("pg.conf")`.
        if self.kind() == TokenKind::LParen && self.peek().span.start == first.span.end {
            let open = self.bump().span;
            let mut args = Vec::new();
            loop {
                self.skip_newlines();
                if matches!(self.kind(), TokenKind::RParen | TokenKind::Eof) {
                    break;
                }
                args.push(self.value());
                self.skip_newlines();
                if self.kind() == TokenKind::Comma {
                    self.bump();
                } else {
                    break;
                }
            }
            let end = self.close(TokenKind::RParen, open, "(");
            return Expr::Call {
                span: self.span(callee.span.start, end),
                callee,
                args,
            };
        }
        let mut path = vec![callee];
        while self.kind() == TokenKind::Dot {
            self.bump();
            let token = self.peek();
            if token.kind == TokenKind::Ident {
                self.bump();
                path.push(Ident {
                    name: self.slice(token.span).to_string(),
                    span: token.span,
                });
            } else {
                let diagnostic = self
                    .expected("a name after `.`", token)
                    .help("write a dotted name such as `service.data.classification`");
                self.error(diagnostic);
                break;
            }
        }
        Expr::Path(path)
    }

    fn list(&mut self) -> Expr {
        let open = self.bump().span;
        let mut elements = Vec::new();
        let mut multiline = false;
        loop {
            if self.kind() == TokenKind::Newline {
                multiline = true;
                self.skip_newlines();
            }
            if matches!(self.kind(), TokenKind::RBracket | TokenKind::Eof) {
                break;
            }
            let start = self.peek().span.start;
            let leading_comments = self.leading_comments(start);
            let expr = self.value();
            let mut end = expr.span().end;
            let mut separated = false;
            if self.kind() == TokenKind::Comma {
                end = self.bump().span.end;
                separated = true;
            }
            let trailing_comment = self.trailing_comment(end);
            elements.push(ListElement {
                expr,
                leading_comments,
                trailing_comment,
            });
            if self.kind() == TokenKind::Newline {
                multiline = true;
                self.skip_newlines();
            }
            if !separated && !matches!(self.kind(), TokenKind::RBracket | TokenKind::Eof) {
                let token = self.peek();
                let diagnostic = self
                    .expected("`,` or `]`", token)
                    .label(open, "`[` opened here")
                    .help("separate list items with `,`");
                self.error(diagnostic);
                // Skip the rest of the broken list.
                while !matches!(
                    self.kind(),
                    TokenKind::RBracket | TokenKind::Eof | TokenKind::RBrace
                ) {
                    if matches!(
                        self.kind(),
                        TokenKind::LBracket | TokenKind::LBrace | TokenKind::LParen
                    ) {
                        self.skip_group();
                    } else {
                        self.bump();
                    }
                }
                break;
            }
        }
        let close_start = self.peek().span.start;
        let trailing_comments = self.leading_comments(close_start);
        let end = if self.kind() == TokenKind::RBracket {
            self.bump().span.end
        } else {
            let diagnostic = Diagnostic::error(Code::UnclosedDelimiter, "list is never closed")
                .label(open, "this `[` has no matching `]`")
                .help("add `]` after the last item of the list");
            self.error(diagnostic);
            self.previous_end()
        };
        Expr::List(List {
            elements,
            trailing_comments,
            multiline,
            span: self.span(open.start, end),
        })
    }
}
