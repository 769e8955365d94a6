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
pub mod generate;
pub mod load;
pub mod lower;
pub mod place;
pub mod resolve;
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
    loader: &(dyn load::Loader + Sync),
    entries: &[PathBuf],
    root: &Path,
    display_base: &Path,
) -> Compilation {
    let mut diagnostics = Diagnostics::default();
    let (sources, model) = front_end(loader, entries, root, display_base, &mut diagnostics);
    Compilation {
        sources,
        model,
        diagnostics: diagnostics.into_sorted(),
    }
}

/// Load and lower: every file read and lowered, then the cross-file checks.
fn front_end(
    loader: &(dyn load::Loader + Sync),
    entries: &[PathBuf],
    root: &Path,
    display_base: &Path,
    diagnostics: &mut Diagnostics,
) -> (SourceMap, Model) {
    let loaded = load::load(
        loader,
        entries,
        root,
        display_base,
        &lower::lower_file,
        diagnostics,
    );
    let model = lower::finish(loaded.files, &loaded.entry_files, diagnostics);
    let is_custom = |target: &str| {
        let manifest = root.join("templates").join(target).join("target.toml");
        safe_name(target)
            && loader
                .kind(&manifest)
                .is_ok_and(|k| k == load::EntryKind::File)
    };
    lower::check_targets(&model, &is_custom, diagnostics);
    (loaded.sources, model)
}

/// A custom target's name is a folder name: no separators, no `..`.
fn safe_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
}

/// Compiles one file held in memory, for tests: `name` is its path from the root `/`.
pub fn compile_str(name: &str, text: &str) -> Compilation {
    let path = Path::new("/").join(name);
    let loader = load::MemoryLoader::new().with_file(&path, text);
    compile(&loader, &[path], Path::new("/"), Path::new("/"))
}

/// A compilation that goes on to resolve the system: what the command line adds.
#[derive(Debug, Default, Clone)]
pub struct SystemRequest {
    pub entries: Vec<PathBuf>,
    pub root: PathBuf,
    pub display_base: PathBuf,
    /// Values files (`-f`), in order.
    pub values_files: Vec<PathBuf>,
    /// `--set SERVICE.PARAM=VALUE` flags, in order.
    pub sets: Vec<String>,
    pub environment: Option<String>,
    pub locked: bool,
    pub update: Vec<String>,
    /// Compute the lockfile even if none exists (for `svcmodel lock`).
    pub write_lock: bool,
}

pub struct SystemCompilation {
    pub sources: SourceMap,
    pub model: Model,
    /// `None` when the model itself has errors: resolution needs a sound model.
    pub resolution: Option<resolve::Resolution>,
    pub diagnostics: Vec<Diagnostic>,
    /// Where the lockfile lives.
    pub lock_path: PathBuf,
    /// How many model files were read (the source map also holds values files, the
    /// lockfile and `--set` flags).
    pub model_files: usize,
}

impl SystemCompilation {
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }
}

/// Compiles and resolves: load, lower, then versions, instances, graph and values.
pub fn compile_system(
    loader: &(dyn load::Loader + Sync),
    request: &SystemRequest,
) -> SystemCompilation {
    let mut diagnostics = Diagnostics::default();
    let (mut sources, model) = front_end(
        loader,
        &request.entries,
        &request.root,
        &request.display_base,
        &mut diagnostics,
    );
    // The lockfile belongs to the system: next to the first file named, or in the
    // first folder named (several systems may share one project root).
    let lock_dir = match request.entries.first() {
        Some(entry)
            if loader
                .kind(entry)
                .is_ok_and(|k| k == load::EntryKind::Folder) =>
        {
            entry.clone()
        }
        Some(entry) => entry
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| request.root.clone()),
        None => request.root.clone(),
    };
    let lock_path = lock_dir.join(resolve::lock::FILE_NAME);
    let model_files = sources.len();
    let mut options = resolve::Options {
        environment: request.environment.clone(),
        locked: request.locked,
        update: request.update.clone(),
        write_lock: request.write_lock,
        ..Default::default()
    };
    for path in &request.values_files {
        if let Some(id) = load::read_extra(
            loader,
            path,
            None,
            &request.display_base,
            &mut sources,
            &mut diagnostics,
        ) {
            options.values_files.push(id);
        }
    }
    for (i, set) in request.sets.iter().enumerate() {
        let name = if request.sets.len() == 1 {
            "--set".to_string()
        } else {
            format!("--set #{}", i + 1)
        };
        options
            .sets
            .push(sources.add(source::SourceFile::new(name, set.clone())));
    }
    if loader.kind(&lock_path).is_ok() {
        options.lockfile = load::read_extra(
            loader,
            &lock_path,
            Some(&request.root),
            &request.display_base,
            &mut sources,
            &mut diagnostics,
        );
    }
    let resolution = (!diagnostics.has_errors())
        .then(|| resolve::resolve(&model, &sources, &options, &mut diagnostics));
    for span in diagnostics.take_redactions() {
        sources.redact(span);
    }
    SystemCompilation {
        sources,
        model,
        resolution,
        diagnostics: diagnostics.into_sorted(),
        lock_path,
        model_files,
    }
}

/// Compiles and resolves one file held in memory, for tests.
pub fn compile_system_str(name: &str, text: &str) -> SystemCompilation {
    let path = Path::new("/").join(name);
    let loader = load::MemoryLoader::new().with_file(&path, text);
    compile_system(
        &loader,
        &SystemRequest {
            entries: vec![path],
            root: PathBuf::from("/"),
            display_base: PathBuf::from("/"),
            ..Default::default()
        },
    )
}
