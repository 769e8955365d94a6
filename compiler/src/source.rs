//! The source map: every file the compiler has read, by [`FileId`], with line lookup.
//!
//! Diagnostics and (later) drift reports carry a [`Span`]; this map turns one back into
//! a file name, a line and a column.

use svcmodel_model::{FileId, Span};

/// One loaded model file.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The name users see: the path relative to the project root where possible.
    pub name: String,
    pub text: String,
    /// Where each line starts; found the first time a position is asked for, since most
    /// files of a clean model never are.
    line_starts: std::sync::OnceLock<Vec<u32>>,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        SourceFile {
            name: name.into(),
            text: text.into(),
            line_starts: std::sync::OnceLock::new(),
        }
    }

    fn line_starts(&self) -> &[u32] {
        self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(self.text.match_indices('\n').map(|(i, _)| i as u32 + 1))
                .collect()
        })
    }

    /// One-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: u32) -> (usize, usize) {
        let line_starts = self.line_starts();
        let line = line_starts.partition_point(|&start| start <= offset) - 1;
        let start = line_starts[line] as usize;
        let end = (offset as usize).min(self.text.len());
        let column = self
            .text
            .get(start..end)
            .map_or(end - start, |s| s.chars().count());
        (line + 1, column + 1)
    }

    pub fn slice(&self, span: Span) -> &str {
        self.text
            .get(span.start as usize..span.end as usize)
            .unwrap_or_default()
    }
}

/// Every file read in one compilation.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, file: SourceFile) -> FileId {
        self.files.push(file);
        FileId(self.files.len() as u32 - 1)
    }

    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    /// Replaces the text under `span` with `*`, byte for byte, so every other span
    /// still points where it did. For secrets given where they do not belong.
    pub fn redact(&mut self, span: Span) {
        let Some(file) = self.files.get_mut(span.file.0 as usize) else {
            return;
        };
        let (start, end) = (
            span.start as usize,
            (span.end as usize).min(file.text.len()),
        );
        if start >= end {
            return;
        }
        let mut bytes = std::mem::take(&mut file.text).into_bytes();
        for b in &mut bytes[start..end] {
            *b = b'*';
        }
        // Whole UTF-8 sequences at the edges may be cut: lossy keeps it valid text, and
        // a cut sequence becomes U+FFFD, which shows nothing of the secret either.
        file.text = String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    }

    pub fn files(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| (FileId(i as u32), f))
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}
