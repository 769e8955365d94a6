//! The lexer: source text to tokens with byte spans, and comments set aside for the
//! formatter. It never fails: a character it does not know becomes a diagnostic and
//! is skipped.

use svcmodel_model::{FileId, Span};

use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Ident,
    /// A double-quoted string, quotes included; decoded by [`super::string`].
    String,
    /// A number with an optional unit suffix: `8080`, `0.5`, `250m`, `4Gi`, `99.9%`.
    Number,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    LParen,
    RParen,
    Eq,
    EqEq,
    NotEq,
    Lt,
    Le,
    Gt,
    Ge,
    AndAnd,
    OrOr,
    Bang,
    Minus,
    Comma,
    Dot,
    DotDot,
    Newline,
    Eof,
}

impl TokenKind {
    /// How the token reads in "expected ..., found ..." messages.
    pub fn describe(self) -> &'static str {
        match self {
            TokenKind::Ident => "a name",
            TokenKind::String => "a string",
            TokenKind::Number => "a number",
            TokenKind::LBrace => "`{`",
            TokenKind::RBrace => "`}`",
            TokenKind::LBracket => "`[`",
            TokenKind::RBracket => "`]`",
            TokenKind::LParen => "`(`",
            TokenKind::RParen => "`)`",
            TokenKind::Eq => "`=`",
            TokenKind::EqEq => "`==`",
            TokenKind::NotEq => "`!=`",
            TokenKind::Lt => "`<`",
            TokenKind::Le => "`<=`",
            TokenKind::Gt => "`>`",
            TokenKind::Ge => "`>=`",
            TokenKind::AndAnd => "`&&`",
            TokenKind::OrOr => "`||`",
            TokenKind::Bang => "`!`",
            TokenKind::Minus => "`-`",
            TokenKind::Comma => "`,`",
            TokenKind::Dot => "`.`",
            TokenKind::DotDot => "`..`",
            TokenKind::Newline => "a new line",
            TokenKind::Eof => "the end of the file",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Span,
}

/// A `#` or `//` comment, kept for the formatter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// The text with its marker, without the line end.
    pub text: String,
    pub span: Span,
    /// Whether an empty line separates it from what comes before.
    pub blank_line_before: bool,
}

/// Whether the text before `offset` ends in an empty line.
pub fn blank_line_before(text: &str, offset: usize) -> bool {
    let before = &text[..offset];
    let gap = before.len() - before.trim_end().len();
    before[before.len() - gap..].matches('\n').count() >= 2
}

pub struct Lexed {
    pub tokens: Vec<Token>,
    pub comments: Vec<Comment>,
}

pub fn lex(text: &str, file: FileId, diagnostics: &mut Diagnostics) -> Lexed {
    let bytes = text.as_bytes();
    // About one token per four bytes of model text: sized once, not grown.
    let mut tokens = Vec::with_capacity(text.len() / 4 + 16);
    let mut comments = Vec::new();
    let mut i = 0usize;
    let span = |start: usize, end: usize| Span::new(file, start as u32, end as u32);
    while i < bytes.len() {
        let start = i;
        let c = bytes[i];
        let kind = match c {
            b' ' | b'\t' | b'\r' => {
                i += 1;
                continue;
            }
            b'\n' => {
                i += 1;
                TokenKind::Newline
            }
            b'#' => {
                i = line_end(bytes, i);
                comments.push(Comment {
                    text: text[start..i].trim_end().to_string(),
                    span: span(start, i),
                    blank_line_before: blank_line_before(text, start),
                });
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i = line_end(bytes, i);
                comments.push(Comment {
                    text: text[start..i].trim_end().to_string(),
                    span: span(start, i),
                    blank_line_before: blank_line_before(text, start),
                });
                continue;
            }
            b'"' => {
                i = string_end(bytes, i, file, diagnostics);
                TokenKind::String
            }
            b'0'..=b'9' => {
                i = number_end(text, i);
                TokenKind::Number
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                // Names may hold `-` between letters (`catalog-api`), as in HCL.
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric()
                        || bytes[i] == b'_'
                        || (bytes[i] == b'-'
                            && bytes
                                .get(i + 1)
                                .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')))
                {
                    i += 1;
                }
                TokenKind::Ident
            }
            _ => {
                let two = |second: u8, kind: TokenKind, single: Option<TokenKind>| {
                    if bytes.get(start + 1) == Some(&second) {
                        Some((kind, 2))
                    } else {
                        single.map(|k| (k, 1))
                    }
                };
                let found = match c {
                    b'{' => Some((TokenKind::LBrace, 1)),
                    b'}' => Some((TokenKind::RBrace, 1)),
                    b'[' => Some((TokenKind::LBracket, 1)),
                    b']' => Some((TokenKind::RBracket, 1)),
                    b'(' => Some((TokenKind::LParen, 1)),
                    b')' => Some((TokenKind::RParen, 1)),
                    b',' => Some((TokenKind::Comma, 1)),
                    b'-' => Some((TokenKind::Minus, 1)),
                    b'=' => two(b'=', TokenKind::EqEq, Some(TokenKind::Eq)),
                    b'!' => two(b'=', TokenKind::NotEq, Some(TokenKind::Bang)),
                    b'<' => two(b'=', TokenKind::Le, Some(TokenKind::Lt)),
                    b'>' => two(b'=', TokenKind::Ge, Some(TokenKind::Gt)),
                    b'&' => two(b'&', TokenKind::AndAnd, None),
                    b'|' => two(b'|', TokenKind::OrOr, None),
                    b'.' => two(b'.', TokenKind::DotDot, Some(TokenKind::Dot)),
                    _ => None,
                };
                match found {
                    Some((kind, len)) => {
                        i += len;
                        kind
                    }
                    None => {
                        let ch = text[start..].chars().next().unwrap_or('\u{fffd}');
                        i += ch.len_utf8();
                        diagnostics.push(unexpected_character(ch, span(start, i)));
                        continue;
                    }
                }
            }
        };
        tokens.push(Token {
            kind,
            span: span(start, i),
        });
    }
    tokens.push(Token {
        kind: TokenKind::Eof,
        span: span(bytes.len(), bytes.len()),
    });
    Lexed { tokens, comments }
}

fn unexpected_character(ch: char, span: Span) -> Diagnostic {
    let help = match ch {
        '\'' => "write strings in double quotes: \"like this\"".to_string(),
        ';' => "end an item with a new line or a `,` instead of `;`".to_string(),
        ':' => "assign with `=`: `key = value`".to_string(),
        '&' => "write `&&` for \"and\"".to_string(),
        '|' => "write `||` for \"or\"".to_string(),
        _ => "remove this character, or put it inside a string".to_string(),
    };
    let shown = if ch.is_control() || ch.is_whitespace() {
        format!("{:?}", ch)
    } else {
        format!("`{ch}`")
    };
    Diagnostic::error(
        Code::UnexpectedCharacter,
        format!("unexpected character {shown}"),
    )
    .label(span, "not part of the language")
    .help(help)
}

fn line_end(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && bytes[i] != b'\n' {
        i += 1;
    }
    i
}

/// The end of a string starting at `start` (its opening quote). Strings end at the line.
fn string_end(bytes: &[u8], start: usize, file: FileId, diagnostics: &mut Diagnostics) -> usize {
    let mut i = start + 1;
    let mut in_interpolation = false;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if i + 1 < bytes.len() && bytes[i + 1] != b'\n' => i += 2,
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                in_interpolation = true;
                i += 2;
            }
            b'}' if in_interpolation => {
                in_interpolation = false;
                i += 1;
            }
            b'"' if !in_interpolation => return i + 1,
            b'\n' => break,
            _ => i += 1,
        }
    }
    // An interpolation left open swallows the quote; end the string there instead.
    let end = i;
    diagnostics.push(
        Diagnostic::error(Code::UnterminatedString, "unterminated string")
            .label(
                Span::new(file, start as u32, end as u32),
                "this string is never closed",
            )
            .help("close the string with `\"` on the same line; write a line break as `\\n`"),
    );
    end
}

/// The end of a number and its unit suffix. `1..5` is a range: the dots are not a decimal point.
fn number_end(text: &str, start: usize) -> usize {
    let bytes = text.as_bytes();
    let mut i = start;
    let digits = |mut i: usize| {
        while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'_') {
            i += 1;
        }
        i
    };
    i = digits(i);
    // Every `.digits` run belongs to the number, so `1.2.3` is one (malformed) token.
    while bytes.get(i) == Some(&b'.') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
        i = digits(i + 1);
    }
    // The unit: letters, `%`, or `µ` (two bytes in UTF-8), and digits after a letter,
    // so `0x10` and `1e3` stay one token and are reported as one malformed number.
    loop {
        match bytes.get(i) {
            Some(b) if b.is_ascii_alphanumeric() || *b == b'%' || *b == b'_' => i += 1,
            Some(_) if text[i..].starts_with('µ') => i += 'µ'.len_utf8(),
            _ => break,
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<TokenKind> {
        let mut diagnostics = Diagnostics::default();
        lex(text, FileId(0), &mut diagnostics)
            .tokens
            .into_iter()
            .map(|t| t.kind)
            .collect()
    }

    #[test]
    fn a_range_is_not_a_decimal_point() {
        use TokenKind::*;
        assert_eq!(kinds("1..64"), vec![Number, DotDot, Number, Eof]);
        assert_eq!(
            kinds("0.5 250m 4Gi 99.9%"),
            vec![Number, Number, Number, Number, Eof]
        );
    }

    #[test]
    fn comments_are_set_aside() {
        let mut diagnostics = Diagnostics::default();
        let lexed = lex("a = 1 # one\n// two\n", FileId(0), &mut diagnostics);
        assert_eq!(lexed.comments.len(), 2);
        assert_eq!(lexed.comments[0].text, "# one");
        assert!(!diagnostics.has_errors());
    }
}
