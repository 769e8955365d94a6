//! svcmodel's compiler: model files in, a checked [`svcmodel_model::Model`] and
//! diagnostics out.
//!
//! ```text
//! files --load--> sources --syntax--> ast::File --lower--> model::Model
//!         (imports, Loader)              (fmt prints it back)
//! ```
//!
//! Architecture invariant: the compiler is pure. It reads files only through the
//! [`load::Loader`] trait, so every stage can be tested from strings.

pub mod codes;
pub mod diagnostic;
pub mod explain;
pub mod fmt;
pub mod load;
pub mod lower;
pub mod source;
pub mod suggest;
pub mod syntax;

use std::path::{Path, PathBuf};

use diagnostic::{Diagnostic, Diagnostics, Severity};
use source::SourceMap;
use svcmodel_model::Model;

/// The result of compiling a model: always a model (possibly partial) and diagnostics.
pub struct Compilation {
    pub sources: SourceMap,
    pub model: Model,
    /// Sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
}

impl Compilation {
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }
}

/// Loads `entries` and their imports through `loader`, parses, lowers and checks them.
pub fn compile(
    loader: &dyn load::Loader,
    entries: &[PathBuf],
    root: &Path,
    display_base: &Path,
) -> Compilation {
    let mut diagnostics = Diagnostics::default();
    let loaded = load::load(loader, entries, root, display_base, &mut diagnostics);
    let model = lower::lower(&loaded.files, &mut diagnostics);
    Compilation {
        sources: loaded.sources,
        model,
        diagnostics: diagnostics.into_sorted(),
    }
}

/// Compiles one file held in memory, for tests: `name` is its path from the root `/`.
pub fn compile_str(name: &str, text: &str) -> Compilation {
    let path = Path::new("/").join(name);
    let loader = load::MemoryLoader::new().with_file(&path, text);
    compile(&loader, &[path], Path::new("/"), Path::new("/"))
}
