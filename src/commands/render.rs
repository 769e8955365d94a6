//! `render`: the manifests of each environment, with that environment's target (or
//! `--target`), to a folder per environment or to standard output.
//!
//! Written output replaces an environment's folder as a whole (rendered beside it, then
//! swapped in), so a removed service never leaves a stale manifest behind; a folder
//! svcmodel did not write is never replaced.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use svcmodel_compiler::SystemCompilation;
use svcmodel_compiler::codes::Code;
use svcmodel_compiler::diagnostic::{Diagnostic, Severity};
use svcmodel_compiler::source::{SourceFile, SourceMap};
use svcmodel_model::system::ResolvedSystem;
use svcmodel_targets::problem::{Problem, ProblemKind};
use svcmodel_targets::view::Input;
use svcmodel_targets::{RenderedFile, Target, builtin};

use crate::cli::{Color, Format, SystemArgs};
use crate::exit::Exit;
use crate::output;

/// The file that marks a folder as svcmodel's output, safe to replace.
const MARKER: &str = ".svcmodel-rendered";

pub struct RenderArgs<'a> {
    pub system: &'a SystemArgs,
    pub output: Option<&'a Path>,
    pub stdout: bool,
    pub target: Option<&'a str>,
    pub services: &'a [String],
    pub view: bool,
    pub format: Format,
    pub color: Color,
}

/// What `svcmodel render --format json` prints: every file of every environment.
#[derive(Serialize, schemars::JsonSchema)]
pub struct RenderOutput {
    /// The version of this shape.
    format: u32,
    environments: Vec<EnvironmentOutput>,
    /// What rendered but deserves a look: a feature the target may not honour, a
    /// spread degraded by domains out of service.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<svcmodel_compiler::diagnostic::JsonDiagnostic>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct EnvironmentOutput {
    /// `null` when the model declares no environment.
    environment: Option<String>,
    target: String,
    /// Sorted by path.
    files: Vec<FileOutput>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct FileOutput {
    /// Relative to the environment's folder, `/`-separated.
    path: String,
    /// Unix permission bits, e.g. 420 (0644).
    mode: u32,
    contents: String,
}

impl From<RenderedFile> for FileOutput {
    fn from(file: RenderedFile) -> Self {
        FileOutput {
            path: file.path,
            mode: file.mode,
            contents: file.contents,
        }
    }
}

pub fn run(args: &RenderArgs) -> Exit {
    let mut compilation =
        match super::system::resolve(args.system, &[], false, args.format, args.color) {
            Ok(c) => c,
            Err(exit) => return exit,
        };
    // Taken, not cloned: at 100,000 services the resolution is tens of megabytes, and
    // only the source map is needed again (for diagnostics).
    let (systems, previous): (Vec<ResolvedSystem>, _) = compilation
        .resolution
        .take()
        .map(|r| {
            let previous = r
                .previous_lock
                .map(|lock| lock.placement)
                .unwrap_or_default();
            (r.systems, previous)
        })
        .unwrap_or_default();
    let cwd = super::current_dir();
    let entries = super::entries(&args.system.paths, &cwd);
    let root = super::project_root(args.system.root.as_deref(), &entries, &cwd);
    let root_dir = root.to_string_lossy().into_owned();
    let file_dirs: Vec<String> = compilation
        .sources
        .files()
        .map(|(_, file)| {
            let path = cwd.join(&file.name);
            path.parent()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();

    let template_files = read_config_templates(&compilation, &cwd, &root);
    let mut diagnostics: Vec<Diagnostic> = template_files.1;
    let template_files = template_files.0;
    for name in args.services {
        if !systems.iter().any(|s| s.find(name).is_some()) {
            let known: Vec<&str> = systems
                .iter()
                .flat_map(|s| s.instances.iter().map(|i| i.name.as_str()))
                .collect();
            let hint = svcmodel_compiler::suggest::did_you_mean(name, known.iter().copied());
            output::failure(
                Diagnostic::error(
                    Code::UnknownService,
                    format!("there is no service `{name}` in the system"),
                )
                .help(
                    hint.unwrap_or_else(|| {
                        "run `svcmodel compile` to see the instances".to_string()
                    }),
                ),
            );
            return Exit::Usage;
        }
    }

    let mut outputs = Vec::new();
    let mut views = Vec::new();
    // With `-o`, files go to disk as they are rendered: a large system is never held
    // in memory as a whole.
    let out_dir = match (args.output, args.stdout || args.view) {
        (Some(dir), false) => Some(super::current_dir().join(dir)),
        _ => None,
    };
    let mut written = Written::new(out_dir.as_deref());
    let placements = super::place::Placements::for_command(
        args.system,
        &compilation.model,
        &systems,
        &previous,
        false,
    );
    for system in &systems {
        // In a landscape of several environments, only what placement put here.
        let placed = match &system.environment {
            Some(env) => match placements.for_environment(&compilation.model, system, env) {
                Ok(placed) => {
                    diagnostics.extend(placements.warnings(env));
                    placed
                }
                Err(found) => {
                    diagnostics.extend(found);
                    continue;
                }
            },
            None => None,
        };
        let only: Vec<String> = match &placed {
            // Placement put every instance here: no list of 100,000 names to look in.
            Some((here, _)) if args.services.is_empty() && here.len() == system.instances.len() => {
                Vec::new()
            }
            Some((here, _)) => {
                let chosen: Vec<String> = here
                    .iter()
                    .filter(|n| args.services.is_empty() || args.services.contains(n))
                    .cloned()
                    .collect();
                // An empty list means every instance: a name no instance has means none.
                if chosen.is_empty() {
                    vec![String::new()]
                } else {
                    chosen
                }
            }
            None => args.services.to_vec(),
        };
        let target_name = match (args.target, &system.environment) {
            (Some(t), _) => t.to_string(),
            (None, Some(env)) => compilation
                .model
                .environment(env)
                .map(|e| e.target.value.clone())
                .unwrap_or_default(),
            (None, None) => "local".to_string(),
        };
        let target = match load_target(&root, &target_name) {
            Ok(t) => t,
            Err(problem) => {
                let folder = root.join("templates").join(&target_name);
                diagnostics.push(diagnostic(&problem, &folder, &mut compilation.sources));
                continue;
            }
        };
        let input = Input {
            model: &compilation.model,
            system,
            file_dirs: &file_dirs,
            root_dir: &root_dir,
            template_files: &template_files,
            only: &only,
            placed: placed.as_ref().map(|(_, view)| view),
        };
        if args.view {
            let mut problems = Vec::new();
            views.push(svcmodel_targets::view::build(
                &input,
                &target.manifest,
                &mut problems,
            ));
            continue;
        }
        let folder = root.join("templates").join(&target_name);
        let rendered = match &out_dir {
            None => {
                let rendered = svcmodel_targets::render(&input, &target);
                outputs.push(EnvironmentOutput {
                    environment: system.environment.clone(),
                    target: target_name,
                    files: rendered.files.into_iter().map(FileOutput::from).collect(),
                });
                rendered.problems
            }
            Some(dir) => {
                // Once writing failed, the other environments still render, to a sink
                // that keeps nothing: their model errors come first, as without `-o`.
                let staging = match &written.failure {
                    Some(_) => None,
                    None => {
                        let name = system.environment.as_deref().unwrap_or("default");
                        match Staging::begin(dir, name) {
                            Ok(staging) => Some(staging),
                            Err(message) => {
                                written.failure = Some(message);
                                None
                            }
                        }
                    }
                };
                let sink = |file: RenderedFile| staging.as_ref().map_or(Ok(()), |s| s.write(&file));
                match svcmodel_targets::render_into(&input, &target, &sink) {
                    Ok(rendered) => {
                        written.stagings.extend(staging);
                        rendered.problems
                    }
                    Err(error) => {
                        if let Some(staging) = staging {
                            written.failure = Some(staging.failed(&error));
                        }
                        continue;
                    }
                }
            }
        };
        for problem in &rendered {
            diagnostics.push(diagnostic(problem, &folder, &mut compilation.sources));
        }
    }
    if args.view {
        output::print_json(&views);
        return Exit::Success;
    }
    report(args, &compilation, diagnostics, outputs, written)
}

/// What `render -o` has written so far: an unfinished folder per environment.
#[derive(Default)]
struct Written {
    stagings: Vec<Staging>,
    /// Why writing stopped, if it did.
    failure: Option<String>,
    /// The folders this run made to hold the `-o` folder and the folder itself,
    /// innermost first: a render that fails leaves none of them behind.
    made: Vec<PathBuf>,
}

impl Written {
    fn new(out: Option<&Path>) -> Written {
        let made = out
            .map(|out| {
                out.ancestors()
                    .take_while(|folder| !folder.as_os_str().is_empty() && !folder.exists())
                    .map(Path::to_path_buf)
                    .collect()
            })
            .unwrap_or_default();
        Written {
            made,
            ..Written::default()
        }
    }

    fn abandon(&mut self) {
        for staging in self.stagings.drain(..) {
            staging.abandon();
        }
        // `remove_dir` removes only empty folders: never what someone else put there.
        for folder in self.made.drain(..) {
            let _ = std::fs::remove_dir(folder);
        }
    }
}

fn report(
    args: &RenderArgs,
    compilation: &SystemCompilation,
    mut diagnostics: Vec<Diagnostic>,
    outputs: Vec<EnvironmentOutput>,
    mut written: Written,
) -> Exit {
    diagnostics.sort_by_key(|d| (d.severity, d.primary_span()));
    let (errors, _) = output::count(&diagnostics);
    if errors > 0 {
        written.abandon();
    }
    if args.format == Format::Json {
        if errors > 0 {
            output::print_json_diagnostics(
                &diagnostics,
                &compilation.sources,
                &serde_json::json!({}),
            );
            return Exit::ModelErrors;
        }
        if args.stdout || args.output.is_none() {
            output::print_json(&RenderOutput {
                format: 1,
                environments: outputs,
                warnings: diagnostics
                    .iter()
                    .map(|d| {
                        svcmodel_compiler::diagnostic::JsonDiagnostic::new(d, &compilation.sources)
                    })
                    .collect(),
            });
            return Exit::Success;
        }
    } else {
        output::print_human(&diagnostics, &compilation.sources, args.color);
    }
    if errors > 0 {
        eprintln!(
            "error: nothing was rendered: {}",
            output::plural(errors, "error")
        );
        return Exit::ModelErrors;
    }
    if args.stdout || args.output.is_none() {
        return print_files(&outputs);
    }
    let Some(dir) = args.output else {
        return Exit::Success;
    };
    if let Some(message) = written.failure.take() {
        written.abandon();
        output::failure(Diagnostic::error(Code::CannotWrite, message).help(WRITE_HELP));
        return Exit::Failure;
    }
    let environments = written.stagings.len();
    let mut files = 0;
    let mut stagings = written.stagings.into_iter();
    while let Some(staging) = stagings.next() {
        match staging.commit() {
            Ok(count) => files += count,
            Err(message) => {
                stagings.for_each(Staging::abandon);
                output::failure(Diagnostic::error(Code::CannotWrite, message).help(WRITE_HELP));
                return Exit::Failure;
            }
        }
    }
    if args.format == Format::Human {
        crate::say!(
            "rendered {} for {} into {}",
            output::plural(files, "file"),
            output::plural(environments, "environment"),
            super::current_dir().join(dir).display()
        );
    }
    Exit::Success
}

/// A path as the user gave it: relative to the current folder where it lies below it.
fn shown(path: &Path) -> String {
    let cwd = super::current_dir();
    match path.strip_prefix(&cwd) {
        Ok(relative) => relative.display().to_string(),
        Err(_) => path.display().to_string(),
    }
}

/// What to do when `render -o` cannot write its folder.
const WRITE_HELP: &str =
    "choose a folder you can write with -o, free space, or move away files svcmodel did not write";

/// Each file after a header line naming it, as `tail` does.
fn print_files(outputs: &[EnvironmentOutput]) -> Exit {
    use std::io::Write;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let result = (|| -> std::io::Result<()> {
        for env in outputs {
            let name = env.environment.as_deref().unwrap_or("default");
            for file in &env.files {
                writeln!(
                    out,
                    "==> {name}/{} ({}, mode {:04o}) <==",
                    file.path, env.target, file.mode
                )?;
                out.write_all(file.contents.as_bytes())?;
                if !file.contents.ends_with('\n') {
                    out.write_all(b"\n")?;
                }
            }
        }
        out.flush()
    })();
    match result {
        Ok(()) => Exit::Success,
        Err(error) => {
            output::exit_if_closed_pipe(&error);
            output::failure(
                Diagnostic::error(
                    Code::CannotWrite,
                    format!("cannot write to standard output: {error}"),
                )
                .help("write the files into a folder with -o DIR instead"),
            );
            Exit::Failure
        }
    }
}

/// An environment's folder while `render -o` writes it: files go into a sibling
/// folder, swapped in for the real one as a whole once everything rendered. `dir` is
/// replaced only when svcmodel wrote it (it holds the marker) or it is empty.
struct Staging {
    dir: PathBuf,
    staging: PathBuf,
    files: std::sync::atomic::AtomicUsize,
}

impl Staging {
    /// Checks that `out/environment` may be replaced and makes its staging folder.
    fn begin(out: &Path, environment: &str) -> Result<Staging, String> {
        // `check` refuses such names (E0409); this is the last line of defence before
        // a name becomes a path.
        if let Err(why) = svcmodel_model::names::check_path_safe(environment) {
            return Err(format!(
                "environment `{environment}` cannot name a folder: {why}"
            ));
        }
        let dir = out.join(environment);
        if dir.exists() {
            let ours = dir.join(MARKER).exists();
            let empty = std::fs::read_dir(&dir)
                .map(|mut d| d.next().is_none())
                .unwrap_or(false);
            if !ours && !empty {
                return Err(format!(
                    "`{}` exists and was not written by svcmodel render; choose another folder with -o or remove it",
                    shown(&dir)
                ));
            }
        }
        let staging = out.join(format!(
            ".{environment}.svcmodel-render.{}",
            std::process::id()
        ));
        let made = std::fs::create_dir_all(&staging).and_then(|()| {
            std::fs::write(
                staging.join(MARKER),
                "Written by `svcmodel render`; replaced as a whole on every render.\n",
            )
        });
        let staging = Staging {
            dir,
            staging,
            files: Default::default(),
        };
        match made {
            Ok(()) => Ok(staging),
            Err(error) => Err(staging.failed(&error)),
        }
    }

    /// Writes one file; called from every rendering thread.
    fn write(&self, file: &RenderedFile) -> std::io::Result<()> {
        // A file's path stays inside its environment's folder.
        if Path::new(&file.path)
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("`{}` leaves the environment's folder", file.path),
            ));
        }
        let path = self.staging.join(&file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        write_file(&path, &file.contents, file.mode)?;
        self.files
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// The message for `error`, once the staging folder is gone.
    fn failed(self, error: &std::io::Error) -> String {
        let message = format!("cannot write `{}`: {error}", shown(&self.dir));
        self.abandon();
        message
    }

    fn abandon(self) {
        let _ = std::fs::remove_dir_all(&self.staging);
    }

    /// Swaps the staging folder in for the environment's folder: the number of files.
    fn commit(self) -> Result<usize, String> {
        let parent = self.dir.parent().unwrap_or(Path::new("."));
        let result = (|| -> std::io::Result<()> {
            // One flush of the file system instead of one per file: every file and
            // folder of the staging tree is on disk before the swap makes it visible.
            let staged = std::fs::File::open(&self.staging)?;
            rustix::fs::syncfs(&staged)?;
            if self.dir.exists() {
                let name = self
                    .dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let old = parent.join(format!(".{name}.svcmodel-old.{}", std::process::id()));
                std::fs::rename(&self.dir, &old)?;
                std::fs::rename(&self.staging, &self.dir)?;
                flush_folder(parent)?;
                remove_tree(&old)
            } else {
                std::fs::rename(&self.staging, &self.dir)?;
                flush_folder(parent)
            }
        })();
        match result {
            Ok(()) => Ok(self.files.into_inner()),
            Err(error) => Err(self.failed(&error)),
        }
    }
}

/// Removes a rendered tree, its top-level entries on every core: on a slow file
/// system, removing one folder per service costs as much as writing them.
fn remove_tree(root: &Path) -> std::io::Result<()> {
    let entries: Vec<PathBuf> = std::fs::read_dir(root)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = entries.len().div_ceil(threads).max(64);
    std::thread::scope(|scope| {
        let handles: Vec<_> = entries
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter().try_for_each(|path| {
                        if path.is_dir() {
                            std::fs::remove_dir_all(path)
                        } else {
                            std::fs::remove_file(path)
                        }
                    })
                })
            })
            .collect();
        handles.into_iter().try_for_each(|h| {
            h.join().unwrap_or_else(|_| {
                Err(std::io::Error::other(
                    "a removing thread stopped unexpectedly",
                ))
            })
        })
    })?;
    std::fs::remove_dir(root)
}

fn write_file(path: &Path, contents: &str, mode: u32) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())
}

/// Makes a rename inside `folder` durable.
fn flush_folder(folder: &Path) -> std::io::Result<()> {
    std::fs::File::open(folder)?.sync_all()
}

/// A built-in target, with the project's `templates/<target>/` applied if it exists.
pub(super) fn load_target(root: &Path, name: &str) -> Result<Target, Box<Problem>> {
    let folder = root.join("templates").join(name);
    let files = if folder.is_dir() && !name.contains(['/', '\\', '.']) {
        Some(read_folder(&folder).map_err(|e| {
            Box::new(
                Problem::new(
                    ProblemKind::TargetManifest,
                    format!("cannot read `{}`: {e}", folder.display()),
                )
                .help("make the folder and its files readable"),
            )
        })?)
    } else {
        None
    };
    let display = relative(&folder);
    builtin::resolve(name, files.as_ref().map(|f| (display.as_str(), f)))
}

fn relative(path: &Path) -> String {
    let cwd = super::current_dir();
    path.strip_prefix(&cwd)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

fn read_folder(folder: &Path) -> std::io::Result<BTreeMap<String, String>> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(folder)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type()?.is_file() && (name.ends_with(".hbs") || name == "target.toml") {
            if entry.metadata()?.len() > MAX_TEMPLATE_SIZE {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("`{name}` is larger than 16 MiB"),
                ));
            }
            let bytes = std::fs::read(entry.path())?;
            let text = String::from_utf8(bytes).map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("`{name}` is not UTF-8"),
                )
            })?;
            files.insert(name, text);
        }
    }
    Ok(files)
}

/// The most a configuration template may hold, as for model files.
const MAX_TEMPLATE_SIZE: u64 = 16 << 20;

/// Reads every configuration template the model names (`template("FILE")`), from the
/// folder of the model file that names it; what cannot be read is a diagnostic.
pub(super) fn read_config_templates(
    compilation: &SystemCompilation,
    cwd: &Path,
    root: &Path,
) -> (BTreeMap<(u32, String), String>, Vec<Diagnostic>) {
    use svcmodel_model::ConfigValue;
    let mut files = BTreeMap::new();
    let mut diagnostics = Vec::new();
    let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    for service in &compilation.model.services {
        let config = &service.config;
        let values = config
            .env
            .iter()
            .chain(&config.files)
            .map(|e| &e.value)
            .chain(&config.args);
        for value in values {
            let ConfigValue::TemplateFile { path } = &value.value else {
                continue;
            };
            let key = (value.span.file.0, path.clone());
            if files.contains_key(&key) {
                continue;
            }
            let model_file = cwd.join(&compilation.sources.get(value.span.file).name);
            let dir = model_file.parent().unwrap_or(cwd);
            match read_template(&dir.join(path), &root) {
                Ok(text) => {
                    files.insert(key, text);
                }
                Err((code, message, help)) => diagnostics.push(
                    Diagnostic::error(code, message)
                        .label(value.span, "the configuration template")
                        .help(help),
                ),
            }
        }
    }
    (files, diagnostics)
}

fn read_template(path: &Path, root: &Path) -> Result<String, (Code, String, String)> {
    let shown = relative(path);
    let canonical = std::fs::canonicalize(path).map_err(|e| {
        (
            Code::CannotRead,
            format!("cannot read the configuration template `{shown}`: {e}"),
            "create the file next to the model file that names it, or correct the name".to_string(),
        )
    })?;
    if !canonical.starts_with(root) {
        return Err((
            Code::ImportOutsideRoot,
            format!("the configuration template `{shown}` lies outside the project"),
            "keep templates inside the project (the folder with `svcmodel.toml`)".to_string(),
        ));
    }
    let size = std::fs::metadata(&canonical).map(|m| m.len()).unwrap_or(0);
    if size > MAX_TEMPLATE_SIZE {
        return Err((
            Code::FileTooLarge,
            format!("the configuration template `{shown}` is larger than 16 MiB"),
            "split the file, or keep large data out of templates".to_string(),
        ));
    }
    let bytes = std::fs::read(&canonical).map_err(|e| {
        (
            Code::CannotRead,
            format!("cannot read the configuration template `{shown}`: {e}"),
            "make the file readable".to_string(),
        )
    })?;
    String::from_utf8(bytes).map_err(|_| {
        (
            Code::NotUtf8,
            format!("the configuration template `{shown}` is not UTF-8 text"),
            "save the file as UTF-8".to_string(),
        )
    })
}

fn code(kind: ProblemKind) -> Code {
    match kind {
        ProblemKind::Unsupported => Code::TargetUnsupported,
        ProblemKind::InvalidName => Code::TargetInvalidName,
        ProblemKind::Unrepresentable => Code::Unrepresentable,
        ProblemKind::PortClash => Code::PortClash,
        ProblemKind::Template => Code::TemplateFailed,
        ProblemKind::TargetManifest => Code::InvalidTarget,
    }
}

/// A problem as a diagnostic; a template location becomes a label in the template
/// file, which joins the source map.
pub(super) fn diagnostic(problem: &Problem, folder: &Path, sources: &mut SourceMap) -> Diagnostic {
    let mut d = Diagnostic::error(code(problem.kind), problem.message.clone());
    if problem.warning {
        d.severity = Severity::Warning;
    }
    for (span, message) in &problem.labels {
        d = d.label(*span, message.clone());
    }
    if let Some(location) = &problem.template {
        let path = folder.join(&location.template);
        match std::fs::read_to_string(&path) {
            Ok(text) if location.line > 0 => {
                let offset = offset_of(&text, location.line, location.column);
                let end = text[offset..]
                    .find('\n')
                    .map_or(text.len(), |n| offset + n)
                    .max(offset);
                let id = sources.add(SourceFile::new(relative(&path), text));
                d = d.label(
                    svcmodel_model::Span::new(id, offset as u32, end as u32),
                    "here",
                );
            }
            _ if location.line > 0 => {
                d.message = format!(
                    "{} (template `{}`, line {})",
                    d.message, location.template, location.line
                );
            }
            _ => {}
        }
    }
    if let Some(help) = &problem.help {
        d = d.help(help.clone());
    }
    d
}

fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            let col = column.saturating_sub(1);
            return offset
                + l.char_indices()
                    .nth(col)
                    .map_or(0, |(b, _)| b)
                    .min(l.trim_end_matches('\n').len());
        }
        offset += l.len();
    }
    text.len()
}
