//! Loading: the files named on the command line and everything they import.
//!
//! Input: entry paths and a project root. Output: a [`SourceMap`] and one parsed
//! [`ast::File`] per model file, each file once. Imports are relative to the importing
//! file; a folder import takes every `.svc` file below it, in path order. An import that
//! leaves the project root (by `..`, an absolute path or a symlink), a missing file and an
//! import cycle are diagnostics on the `import` line.
//!
//! The compiler never touches the file system itself: a [`Loader`] does, so tests and
//! fuzzing run from memory ([`MemoryLoader`]).

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Component, Path, PathBuf};

use svcmodel_model::{FileId, Span};

use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::source::{SourceFile, SourceMap};
use crate::suggest;
use crate::syntax::{self, ast};

/// The largest model file read; a larger one is reported, not read.
pub const MAX_FILE_SIZE: u64 = 16 * 1024 * 1024;

/// Model files end in this extension; a folder import takes only these.
pub const EXTENSION: &str = "svc";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Folder,
}

/// The compiler's window on the file system.
pub trait Loader {
    /// The path with `..` and symlinks resolved; an error if it does not exist.
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf>;
    fn kind(&self, path: &Path) -> io::Result<EntryKind>;
    fn size(&self, path: &Path) -> io::Result<u64>;
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// The entries of a folder, files and folders, in any order.
    fn list(&self, path: &Path) -> io::Result<Vec<PathBuf>>;
}

/// Files held in memory, for tests and fuzzing. Paths are normalised lexically; there
/// are no symlinks.
#[derive(Debug, Default, Clone)]
pub struct MemoryLoader {
    files: BTreeMap<PathBuf, Vec<u8>>,
}

impl MemoryLoader {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_file(mut self, path: impl AsRef<Path>, text: impl Into<Vec<u8>>) -> Self {
        self.files.insert(normalize(path.as_ref()), text.into());
        self
    }
}

impl Loader for MemoryLoader {
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        let path = normalize(path);
        self.kind(&path)?;
        Ok(path)
    }

    fn kind(&self, path: &Path) -> io::Result<EntryKind> {
        let path = normalize(path);
        if self.files.contains_key(&path) {
            Ok(EntryKind::File)
        } else if self.files.keys().any(|f| f.starts_with(&path)) {
            Ok(EntryKind::Folder)
        } else {
            Err(io::ErrorKind::NotFound.into())
        }
    }

    fn size(&self, path: &Path) -> io::Result<u64> {
        self.read(path).map(|b| b.len() as u64)
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.files
            .get(&normalize(path))
            .cloned()
            .ok_or_else(|| io::ErrorKind::NotFound.into())
    }

    fn list(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        let path = normalize(path);
        let mut entries: Vec<PathBuf> = self
            .files
            .keys()
            .filter_map(|f| {
                let rest = f.strip_prefix(&path).ok()?;
                let first = rest.components().next()?;
                Some(path.join(first))
            })
            .collect();
        entries.dedup();
        Ok(entries)
    }
}

/// `a/./b/../c` to `a/c`, without touching the file system.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                // `/..` is `/`, as the operating system reads it.
                if out.parent().is_some() && !out.ends_with("..") {
                    out.pop();
                } else if !out.has_root() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// What loading produced: what `per_file` made of each file, in load order.
pub struct Loaded<T> {
    pub sources: SourceMap,
    pub files: Vec<T>,
    /// The files named on the command line (or found below a folder named there), as
    /// opposed to files only imported: their services are the system's own.
    pub entry_files: std::collections::HashSet<svcmodel_model::FileId>,
}

/// Loads `entries` (files or folders) and their imports, all inside `root`.
/// `display_base` is the folder file names are shown relative to. Each file's syntax
/// tree is handed to `per_file` (lowering, say) and dropped: only one tree per core is
/// alive at a time, so memory stays small on large models.
pub fn load<T: Send>(
    loader: &(dyn Loader + Sync),
    entries: &[PathBuf],
    root: &Path,
    display_base: &Path,
    per_file: &(dyn Fn(&ast::File, &mut Diagnostics) -> T + Sync),
    diagnostics: &mut Diagnostics,
) -> Loaded<T> {
    let root = loader
        .canonicalize(root)
        .unwrap_or_else(|_| normalize(root));
    let mut state = LoadState {
        loader,
        per_file,
        root,
        display_base: loader
            .canonicalize(display_base)
            .unwrap_or_else(|_| normalize(display_base)),
        sources: SourceMap::new(),
        files: Vec::new(),
        by_path: HashMap::new(),
        stack: Vec::new(),
        entry_files: std::collections::HashSet::new(),
        preparsed: HashMap::new(),
        by_id: HashMap::new(),
        diagnostics,
    };
    for entry in entries {
        state.load_entry(entry, None);
    }
    Loaded {
        sources: state.sources,
        files: state.files,
        entry_files: state.entry_files,
    }
}

/// Where a path was named: an `import` item, or the command line (no span).
#[derive(Clone, Copy)]
struct ImportSite {
    span: Span,
}

enum FileState {
    /// Being loaded: on the import stack.
    InProgress,
    Done,
}

struct LoadState<'a, T> {
    loader: &'a (dyn Loader + Sync),
    per_file: &'a (dyn Fn(&ast::File, &mut Diagnostics) -> T + Sync),
    root: PathBuf,
    display_base: PathBuf,
    sources: SourceMap,
    files: Vec<T>,
    by_path: HashMap<PathBuf, FileState>,
    /// The chain of files being loaded, with the import that led to the next one.
    stack: Vec<(PathBuf, Option<ImportSite>)>,
    entry_files: std::collections::HashSet<svcmodel_model::FileId>,
    /// Files parsed ahead, in parallel, waiting for their turn to be loaded.
    preparsed: HashMap<PathBuf, Parsed<T>>,
    /// The file id of every file read, by path.
    by_id: HashMap<PathBuf, svcmodel_model::FileId>,
    diagnostics: &'a mut Diagnostics,
}

/// A file parsed ahead: its id, its imports, what `per_file` made of it, diagnostics.
struct Parsed<T> {
    id: FileId,
    imports: Vec<(String, Span)>,
    made: T,
    diagnostics: Vec<Diagnostic>,
}

impl<T: Send> LoadState<'_, T> {
    fn display(&self, path: &Path) -> String {
        relative(path, &self.display_base).display().to_string()
    }

    fn report(&mut self, site: Option<ImportSite>, diagnostic: Diagnostic, label: &str) {
        let diagnostic = match site {
            Some(site) => diagnostic.label(site.span, label),
            None => diagnostic,
        };
        self.diagnostics.push(diagnostic);
    }

    /// Loads a file or folder named by `path` (already joined to its base).
    fn load_entry(&mut self, path: &Path, site: Option<ImportSite>) {
        let lexical = normalize(path);
        let canonical = match self.loader.canonicalize(&lexical) {
            Ok(canonical) if canonical.starts_with(&self.root) => canonical,
            Ok(_) if lexical.starts_with(&self.root) => {
                self.report_outside_root(
                    &lexical,
                    "it is a symlink pointing out of the project",
                    site,
                );
                return;
            }
            // A path that reaches the root through a symlinked way in is still inside:
            // only where a file really is counts.
            Ok(_) => {
                self.report_outside_root(&lexical, "it leaves the project", site);
                return;
            }
            Err(_) if !lexical.starts_with(&self.root) => {
                self.report_outside_root(&lexical, "it leaves the project", site);
                return;
            }
            Err(error) => {
                let shown = self.display(&lexical);
                let help = self.suggest_path(&lexical).map_or_else(
                    || "check the path; imports are relative to the importing file".to_string(),
                    |s| format!("did you mean `{s}`?"),
                );
                let diagnostic = Diagnostic::error(
                    Code::CannotRead,
                    format!("cannot read `{shown}`: {}", io_reason(&error)),
                )
                .help(help);
                self.report(site, diagnostic, "imported here");
                return;
            }
        };
        match self.loader.kind(&canonical) {
            Ok(EntryKind::Folder) => {
                let files = self.svc_files_below(&canonical, site);
                if files.is_empty() {
                    let diagnostic = Diagnostic::error(
                        Code::CannotRead,
                        format!("`{}` holds no `.{EXTENSION}` files", self.display(&lexical)),
                    )
                    .help("import a folder that holds model files, or remove this import");
                    self.report(site, diagnostic, "imported here");
                }
                self.preparse(&files);
                for file in files {
                    self.load_file(&file, site);
                }
            }
            Ok(EntryKind::File) => self.load_file(&canonical, site),
            Err(error) => {
                let diagnostic = Diagnostic::error(
                    Code::CannotRead,
                    format!(
                        "cannot read `{}`: {}",
                        self.display(&lexical),
                        io_reason(&error)
                    ),
                )
                .help("check that the path exists and can be read");
                self.report(site, diagnostic, "imported here");
            }
        }
    }

    fn report_outside_root(&mut self, path: &Path, why: &str, site: Option<ImportSite>) {
        let diagnostic = Diagnostic::error(
            Code::ImportOutsideRoot,
            format!(
                "`{}` is outside the project root: {why}",
                self.display(path)
            ),
        )
        .help(format!(
            "keep model files inside `{}`, or pass `--root` with a folder that holds them all",
            self.display(&self.root)
        ));
        self.report(site, diagnostic, "imported here");
    }

    /// Every `.svc` file below `folder`, sorted, each checked against the root.
    fn svc_files_below(&mut self, folder: &Path, site: Option<ImportSite>) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let mut pending = vec![folder.to_path_buf()];
        while let Some(dir) = pending.pop() {
            let Ok(entries) = self.loader.list(&dir) else {
                continue;
            };
            for entry in entries {
                let Ok(canonical) = self.loader.canonicalize(&entry) else {
                    continue;
                };
                if !canonical.starts_with(&self.root) {
                    let diagnostic = Diagnostic::error(
                        Code::ImportOutsideRoot,
                        format!(
                            "`{}` is outside the project root: it is a symlink pointing out of the project",
                            self.display(&entry)
                        ),
                    )
                    .help("replace the symlink with the files themselves, or remove it");
                    self.report(site, diagnostic, "imported here");
                    continue;
                }
                match self.loader.kind(&canonical) {
                    // A symlinked folder inside the root could loop; only follow real ones.
                    Ok(EntryKind::Folder)
                        if canonical.starts_with(folder) && canonical != *folder =>
                    {
                        pending.push(canonical)
                    }
                    Ok(EntryKind::File) if entry.extension().is_some_and(|e| e == EXTENSION) => {
                        found.push(canonical)
                    }
                    _ => {}
                }
            }
        }
        found.sort();
        found.dedup();
        found
    }

    fn load_file(&mut self, path: &Path, site: Option<ImportSite>) {
        match self.by_path.get(path) {
            Some(FileState::Done) => {
                // Imported first, named on the command line too: it is the system's own.
                if site.is_none()
                    && let Some(id) = self.by_id.get(path)
                {
                    self.entry_files.insert(*id);
                }
                return;
            }
            Some(FileState::InProgress) => {
                self.report_cycle(path, site);
                return;
            }
            None => {}
        }
        if let Some(parsed) = self.preparsed.remove(path) {
            self.by_id.insert(path.to_path_buf(), parsed.id);
            if site.is_none() {
                self.entry_files.insert(parsed.id);
            }
            self.diagnostics.extend(parsed.diagnostics);
            self.finish_file(path, site, parsed.imports, parsed.made);
            return;
        }
        let shown = self.display(path);
        match self.loader.size(path) {
            Ok(size) if size > MAX_FILE_SIZE => {
                let diagnostic = Diagnostic::error(
                    Code::FileTooLarge,
                    format!(
                        "`{shown}` is {} MiB, more than the {} MiB a model file may have",
                        size / (1024 * 1024),
                        MAX_FILE_SIZE / (1024 * 1024)
                    ),
                )
                .help("split the model into several files and import their folder");
                self.report(site, diagnostic, "imported here");
                return;
            }
            _ => {}
        }
        let bytes = match self.loader.read(path) {
            Ok(bytes) => bytes,
            Err(error) => {
                let diagnostic = Diagnostic::error(
                    Code::CannotRead,
                    format!("cannot read `{shown}`: {}", io_reason(&error)),
                )
                .help("check that the file exists and can be read");
                self.report(site, diagnostic, "imported here");
                return;
            }
        };
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(error) => {
                let valid_up_to = error.utf8_error().valid_up_to();
                let text = String::from_utf8_lossy(error.as_bytes()).into_owned();
                let offset = text
                    .char_indices()
                    .nth(
                        String::from_utf8_lossy(&error.as_bytes()[..valid_up_to])
                            .chars()
                            .count(),
                    )
                    .map_or(text.len(), |(i, _)| i);
                let id = self.sources.add(SourceFile::new(shown.clone(), text));
                let span = Span::new(id, offset as u32, (offset + '\u{fffd}'.len_utf8()) as u32);
                self.diagnostics.push(
                    Diagnostic::error(Code::NotUtf8, format!("`{shown}` is not UTF-8 text"))
                        .label(span, "this byte is not valid UTF-8")
                        .help("save the file as UTF-8"),
                );
                self.by_path.insert(path.to_path_buf(), FileState::Done);
                return;
            }
        };
        let id = self.sources.add(SourceFile::new(shown, text));
        self.by_id.insert(path.to_path_buf(), id);
        if site.is_none() {
            self.entry_files.insert(id);
        }
        let file = syntax::parse(&self.sources.get(id).text, id, self.diagnostics);
        let made = (self.per_file)(&file, self.diagnostics);
        self.finish_file(path, site, imports(&file), made);
    }

    /// Reads and parses the files of a folder on every core before they are loaded in
    /// order. A file with any problem (size, encoding) is left for `load_file` to report.
    fn preparse(&mut self, files: &[PathBuf]) {
        let mut batch: Vec<(PathBuf, FileId)> = Vec::new();
        for path in files {
            if self.by_path.contains_key(path) || self.preparsed.contains_key(path) {
                continue;
            }
            if self
                .loader
                .size(path)
                .is_ok_and(|size| size > MAX_FILE_SIZE)
            {
                continue;
            }
            let Ok(Ok(text)) = self.loader.read(path).map(String::from_utf8) else {
                continue;
            };
            let id = self.sources.add(SourceFile::new(self.display(path), text));
            batch.push((path.clone(), id));
        }
        if batch.is_empty() {
            return;
        }
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(batch.len());
        let chunk = batch.len().div_ceil(threads);
        let sources = &self.sources;
        let per_file = self.per_file;
        let parsed: Vec<(PathBuf, Parsed<T>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = batch
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .map(|(path, id)| {
                                let mut diagnostics = Diagnostics::default();
                                let file =
                                    syntax::parse(&sources.get(*id).text, *id, &mut diagnostics);
                                let made = per_file(&file, &mut diagnostics);
                                let parsed = Parsed {
                                    id: *id,
                                    imports: imports(&file),
                                    made,
                                    diagnostics: diagnostics.into_vec(),
                                };
                                (path.clone(), parsed)
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        });
        for (path, parsed) in parsed {
            self.preparsed.insert(path, parsed);
        }
    }

    fn finish_file(
        &mut self,
        path: &Path,
        site: Option<ImportSite>,
        imports: Vec<(String, Span)>,
        made: T,
    ) {
        self.by_path
            .insert(path.to_path_buf(), FileState::InProgress);
        self.stack.push((path.to_path_buf(), site));
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        for (import, span) in imports {
            let site = Some(ImportSite { span });
            if Path::new(&import).is_absolute() {
                let diagnostic = Diagnostic::error(
                    Code::ImportOutsideRoot,
                    format!("`{import}` is an absolute path"),
                )
                .help("write imports relative to the importing file, e.g. `import \"../catalog\"`");
                self.report(site, diagnostic, "imported here");
                continue;
            }
            self.load_entry(&dir.join(&import), site);
        }
        self.stack.pop();
        self.by_path.insert(path.to_path_buf(), FileState::Done);
        self.files.push(made);
    }

    fn report_cycle(&mut self, path: &Path, site: Option<ImportSite>) {
        let Some(start) = self.stack.iter().position(|(p, _)| p == path) else {
            return;
        };
        let chain: Vec<String> = self.stack[start..]
            .iter()
            .map(|(p, _)| self.display(p))
            .chain(std::iter::once(self.display(path)))
            .collect();
        let mut diagnostic = Diagnostic::error(
            Code::ImportCycle,
            format!("import cycle: {}", chain.join(" -> ")),
        );
        // Label every import on the cycle, ending with the one that closes it.
        let sites = self.stack[start + 1..]
            .iter()
            .filter_map(|(_, s)| *s)
            .chain(site);
        let mut labels: Vec<Span> = sites.map(|s| s.span).collect();
        // The closing import first: it is the primary label.
        labels.rotate_right(1);
        for (i, span) in labels.into_iter().enumerate() {
            let text = if i == 0 {
                "this import closes the cycle"
            } else {
                "imported here"
            };
            diagnostic = diagnostic.label(span, text);
        }
        self.diagnostics.push(diagnostic.help(
            "move what both files need into a third file that imports neither, and import that",
        ));
    }

    fn suggest_path(&self, missing: &Path) -> Option<String> {
        let parent = missing.parent()?;
        let name = missing.file_name()?.to_str()?;
        let entries = self.loader.list(parent).ok()?;
        let names: Vec<String> = entries
            .iter()
            .filter_map(|e| e.file_name()?.to_str().map(str::to_string))
            .collect();
        let best = suggest::closest(name, names.iter().map(String::as_str))?;
        Some(self.display(&parent.join(best)))
    }
}

/// `path` relative to `base` (`../x` where needed); `.` for the base itself.
pub fn relative(path: &Path, base: &Path) -> PathBuf {
    let path_parts: Vec<Component> = path.components().collect();
    let base_parts: Vec<Component> = base.components().collect();
    let common = path_parts
        .iter()
        .zip(&base_parts)
        .take_while(|(a, b)| a == b)
        .count();
    // Sharing only `/` is no relation: show the absolute path.
    if common <= 1 && path.has_root() {
        return path.to_path_buf();
    }
    let mut out = PathBuf::new();
    for _ in common..base_parts.len() {
        out.push("..");
    }
    for part in &path_parts[common..] {
        out.push(part);
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

fn io_reason(error: &io::Error) -> &'static str {
    match error.kind() {
        io::ErrorKind::NotFound => "no such file or folder",
        io::ErrorKind::PermissionDenied => "permission denied",
        _ => "the file system refused",
    }
}

/// Reads a file that is not a model file (a values file, the lockfile) into `sources`,
/// with the same limits: at most [`MAX_FILE_SIZE`], UTF-8, and inside `root` when one
/// is given. Values files may live anywhere, as Helm's do (`-f /etc/shop/prod.toml`):
/// they hold values, not model text, and the user named each one.
pub fn read_extra(
    loader: &dyn Loader,
    path: &Path,
    root: Option<&Path>,
    display_base: &Path,
    sources: &mut SourceMap,
    diagnostics: &mut Diagnostics,
) -> Option<svcmodel_model::FileId> {
    let root = root.map(|root| {
        loader
            .canonicalize(root)
            .unwrap_or_else(|_| normalize(root))
    });
    let base = loader
        .canonicalize(display_base)
        .unwrap_or_else(|_| normalize(display_base));
    let shown = relative(&normalize(path), &base).display().to_string();
    let canonical = match loader.canonicalize(path) {
        Ok(canonical) => canonical,
        Err(error) => {
            diagnostics.push(
                Diagnostic::error(
                    Code::CannotRead,
                    format!("cannot read `{shown}`: {}", io_reason(&error)),
                )
                .help("check the path; it is relative to the current folder"),
            );
            return None;
        }
    };
    if let Some(root) = &root
        && !canonical.starts_with(root)
    {
        diagnostics.push(
            Diagnostic::error(Code::ImportOutsideRoot, format!("`{shown}` is outside the project root"))
                .help("keep the lockfile inside the project, or pass `--root` with a folder that holds it"),
        );
        return None;
    }
    if loader
        .size(&canonical)
        .is_ok_and(|size| size > MAX_FILE_SIZE)
    {
        diagnostics.push(
            Diagnostic::error(
                Code::FileTooLarge,
                format!(
                    "`{shown}` is larger than {} MiB",
                    MAX_FILE_SIZE / (1024 * 1024)
                ),
            )
            .help("split it into several files"),
        );
        return None;
    }
    match loader.read(&canonical).map(String::from_utf8) {
        Ok(Ok(text)) => Some(sources.add(SourceFile::new(shown, text))),
        Ok(Err(_)) => {
            diagnostics.push(
                Diagnostic::error(Code::NotUtf8, format!("`{shown}` is not UTF-8 text"))
                    .help("save the file as UTF-8"),
            );
            None
        }
        Err(error) => {
            diagnostics.push(
                Diagnostic::error(
                    Code::CannotRead,
                    format!("cannot read `{shown}`: {}", io_reason(&error)),
                )
                .help("check that the file exists and can be read"),
            );
            None
        }
    }
}

/// The `import "path"` items at the top of a file, with their spans.
pub fn imports(file: &ast::File) -> Vec<(String, Span)> {
    file.body
        .items
        .iter()
        .filter(|item| item.key.name == "import")
        .filter_map(|item| match (&item.kind, item.labels.as_slice()) {
            (ast::ItemKind::Bare, [ast::Label::String(path)]) => path
                .as_plain()
                .filter(|p| !p.trim().is_empty())
                .map(|p| (p, item.label_span())),
            _ => None,
        })
        .collect()
}
