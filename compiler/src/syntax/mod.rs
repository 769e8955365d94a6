//! Syntax: `.svc` text to a tree that keeps every span and comment.
//!
//! Input: one file's text. Output: an [`ast::File`] and diagnostics; parsing never
//! fails. Algorithm: a hand-written lexer, then recursive descent with precedence
//! climbing for expressions, depth-limited (see [`parser::MAX_DEPTH`]).

pub mod ast;
pub mod lexer;
pub mod parser;
pub mod string;

pub use parser::{MAX_DEPTH, parse};
