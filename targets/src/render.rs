//! Rendering: a target's templates applied to the view, through handlebars in strict
//! mode (a missing value is an error naming the template and line), with the escape of
//! each file's syntax as the default for `{{x}}`, never handlebars' HTML escape.
//!
//! Files render on every core; the output is sorted by path, so it is byte-for-byte the
//! same for the same input.

use std::collections::BTreeMap;

use handlebars::{
    Context, Handlebars, Helper, HelperResult, Output, RenderContext, RenderError,
    RenderErrorReason,
};
use serde::Serialize;

use crate::escape::{self, Format};
use crate::manifest::{Each, Interpolation, TargetManifest};
use crate::problem::{Problem, ProblemKind, TemplateLocation};
use crate::view::{self, Input, Outline, ServiceView, SystemView};
use svcmodel_model::system::Instance;

/// A target ready to render: its manifest and the text of its templates.
#[derive(Debug, Clone)]
pub struct Target {
    pub manifest: TargetManifest,
    /// Template file name → text.
    pub templates: BTreeMap<String, String>,
    /// Where the templates come from, for messages: `built-in` or a folder.
    pub origin: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RenderedFile {
    /// Relative to the environment's folder, with `/` separators.
    pub path: String,
    pub contents: String,
    /// Unix permission bits.
    pub mode: u32,
}

#[derive(Debug, Default)]
pub struct Rendered {
    pub files: Vec<RenderedFile>,
    pub problems: Vec<Problem>,
}

impl Rendered {
    pub fn has_errors(&self) -> bool {
        self.problems.iter().any(|p| !p.warning)
    }
}

/// What one template sees.
#[derive(Serialize)]
struct ServiceContext<'a> {
    service: &'a ServiceView,
    environment: &'a view::EnvironmentView,
    target: &'a str,
}

#[derive(Serialize)]
struct EnvironmentContext<'a> {
    services: &'a [ServiceView],
    secrets: &'a [view::SecretView],
    files: &'a [view::NamedFileView],
    volumes: &'a [String],
    environment: &'a view::EnvironmentView,
    target: &'a str,
}

impl<'a> EnvironmentContext<'a> {
    /// The environment-wide context of a whole view, with `services` (empty for
    /// targets whose templates never name them).
    fn of(view: &'a SystemView, services: &'a [ServiceView]) -> EnvironmentContext<'a> {
        EnvironmentContext {
            services,
            secrets: &view.secrets,
            files: &view.files,
            volumes: &view.volumes,
            environment: &view.environment,
            target: &view.target,
        }
    }
}

/// Where files go as they are rendered: called from every rendering thread at once,
/// in no particular order.
pub type Sink<'a> = dyn Fn(RenderedFile) -> std::io::Result<()> + Sync + 'a;

/// Renders `input` with `target`, the files sorted by path. Nothing is rendered when
/// the view has errors: a partial set of manifests must never look complete.
pub fn render(input: &Input, target: &Target) -> Rendered {
    let files = std::sync::Mutex::new(Vec::new());
    let collect = |file: RenderedFile| {
        files
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(file);
        Ok(())
    };
    // Collecting into memory cannot fail.
    let mut rendered = render_into(input, target, &collect).unwrap_or_default();
    let mut files = files
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if rendered.has_errors() {
        files.clear();
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    rendered.files = files;
    rendered
}

/// Renders `input` with `target`, handing each file to `sink` as soon as it is
/// rendered, so that no more than a few files are held at once: the returned
/// `Rendered` has no files, only problems. When it has errors, some files may already
/// have gone to `sink`: the caller throws them away. An error of `sink` stops rendering
/// and is returned.
pub fn render_into(input: &Input, target: &Target, sink: &Sink) -> std::io::Result<Rendered> {
    match Registries::new(target) {
        Ok(registries) if !registries.mention_services => {
            render_streamed(input, target, &registries, sink)
        }
        _ => render_whole(input, target, sink),
    }
}

/// Renders with the whole system's view built first: for templates that list every
/// service (`services`), and for a target whose templates do not compile.
fn render_whole(input: &Input, target: &Target, sink: &Sink) -> std::io::Result<Rendered> {
    let mut problems = Vec::new();
    let view = view::build(input, &target.manifest, &mut problems);
    check_environment_name(input, target, &mut problems);
    if problems.iter().any(|p| !p.warning) {
        return Ok(Rendered {
            files: Vec::new(),
            problems,
        });
    }
    let registries = match Registries::new(target) {
        Ok(r) => r,
        Err(problem) => {
            problems.push(*problem);
            return Ok(Rendered {
                files: Vec::new(),
                problems,
            });
        }
    };
    let mut paths = Vec::new();
    for spec in &target.manifest.files {
        let registry = registries.for_format(spec.format);
        match spec.each {
            Each::Environment => {
                // Serializing every service is most of the cost of a large render: only
                // targets whose templates name `services` get them.
                let services: &[ServiceView] = if registries.mention_services {
                    &view.services
                } else {
                    &[]
                };
                let context = EnvironmentContext::of(&view, services);
                emit(
                    render_one(registry, &registries.paths, spec, &context),
                    &mut paths,
                    sink,
                    &mut problems,
                )?;
            }
            Each::Service if spec.join.is_some() => {
                let mut texts = Vec::new();
                for service in &view.services {
                    let context = ServiceContext {
                        service,
                        environment: &view.environment,
                        target: &view.target,
                    };
                    match render_text(registry, spec, &context) {
                        Ok(text) => texts.extend(text),
                        Err(problem) => {
                            if !problems.contains(&problem) {
                                problems.push(*problem);
                            }
                        }
                    }
                }
                let context = EnvironmentContext::of(&view, &[]);
                emit(
                    joined_file(&registries.paths, spec, texts, &context),
                    &mut paths,
                    sink,
                    &mut problems,
                )?;
            }
            Each::Service => {
                let results = render_services(registry, &registries.paths, spec, &view, sink)?;
                for result in results {
                    match result {
                        Ok(Some(path)) => paths.push(path),
                        Ok(None) => {}
                        Err(problem) => {
                            // One broken template fails for every service: say it once.
                            if !problems.contains(&problem) {
                                problems.push(*problem);
                            }
                        }
                    }
                }
            }
        }
    }
    check_unique_paths(target, paths, &mut problems);
    Ok(Rendered {
        files: Vec::new(),
        problems,
    })
}

/// What one rendering thread gathers from its share of the instances.
#[derive(Default)]
struct Share {
    gathered: view::Gathered,
    /// Problems of building the views, in instance order.
    view_problems: Vec<Problem>,
    /// Problems of the templates, each said once.
    template_problems: Vec<Problem>,
    paths: Vec<String>,
    /// Each joined per-service file's part from these instances (their texts with
    /// the separator between them), by its place among the per-service files.
    joined: Vec<String>,
}

/// Renders the files of each service as its view is built, on every core, and drops
/// the view once its files went to `sink`: only the files of an environment as a
/// whole wait for the end, with what they need of each service gathered on the way.
/// The problems are those the whole view would have: when building a view finds an
/// error, rendering stops, and the template problems found so far are not said.
fn render_streamed(
    input: &Input,
    target: &Target,
    registries: &Registries,
    sink: &Sink,
) -> std::io::Result<Rendered> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let mut problems = Vec::new();
    let stream = view::Stream::new(input, &target.manifest, &mut problems);
    let mut environment_problems = Vec::new();
    check_environment_name(input, target, &mut environment_problems);
    let failed = AtomicBool::new(environment_problems.iter().any(|p| !p.warning));
    let service_specs: Vec<_> = target
        .manifest
        .files
        .iter()
        .filter(|spec| spec.each == Each::Service)
        .collect();
    // Any template but the per-service ones (partials included) may read the lists.
    let mention = |word: &str| {
        target
            .templates
            .iter()
            .filter(|(name, _)| !service_specs.iter().any(|spec| &spec.template == *name))
            .any(|(_, text)| text.contains(word))
    };
    let wanted = view::Wanted {
        secrets: mention("secrets"),
        files: mention("files"),
        volumes: mention("volumes"),
    };
    let render_share = |instances: &[&Instance]| -> std::io::Result<Share> {
        let mut share = Share {
            joined: vec![String::new(); service_specs.len()],
            ..Share::default()
        };
        for instance in instances {
            let before = share.view_problems.len();
            let views = stream.views(instance, &mut share.view_problems);
            if share.view_problems[before..].iter().any(|p| !p.warning) {
                failed.store(true, Ordering::Relaxed);
            }
            for view in &views {
                share.gathered.add(view, instance, input, wanted);
            }
            // The views are still built, for their problems.
            if failed.load(Ordering::Relaxed) {
                continue;
            }
            for (k, spec) in service_specs.iter().enumerate() {
                let registry = registries.for_format(spec.format);
                for service in &views {
                    let context = ServiceContext {
                        service,
                        environment: stream.environment(),
                        target: &target.manifest.name,
                    };
                    if spec.join.is_some() {
                        match render_text(registry, spec, &context) {
                            Ok(Some(text)) => {
                                let part = &mut share.joined[k];
                                if !part.is_empty() {
                                    part.push_str(spec.join.as_deref().unwrap_or_default());
                                }
                                part.push_str(&text);
                            }
                            Ok(None) => {}
                            Err(problem) => {
                                if !share.template_problems.contains(&problem) {
                                    share.template_problems.push(*problem);
                                }
                            }
                        }
                        continue;
                    }
                    match render_one(registry, &registries.paths, spec, &context) {
                        Ok(Some(file)) => {
                            share.paths.push(file.path.clone());
                            if let Err(error) = sink(file) {
                                failed.store(true, Ordering::Relaxed);
                                return Err(error);
                            }
                        }
                        Ok(None) => {}
                        // One broken template fails for every service: say it once.
                        Err(problem) => {
                            if !share.template_problems.contains(&problem) {
                                share.template_problems.push(*problem);
                            }
                        }
                    }
                }
            }
        }
        Ok(share)
    };
    let shares = on_every_core(&stream.instances, 64, render_share);
    let mut all = Share::default();
    // Each joined file's parts, one per thread, in instance order.
    let mut joined_parts: Vec<Vec<String>> = vec![Vec::new(); service_specs.len()];
    for share in shares {
        let share = share.unwrap_or_else(|| {
            Err(std::io::Error::other(
                "a rendering thread stopped unexpectedly",
            ))
        })?;
        problems.extend(share.view_problems);
        all.gathered.append(share.gathered);
        all.paths.extend(share.paths);
        for (parts, part) in joined_parts.iter_mut().zip(share.joined) {
            parts.push(part);
        }
        for problem in share.template_problems {
            if !all.template_problems.contains(&problem) {
                all.template_problems.push(problem);
            }
        }
    }
    view::check_across(
        input,
        &target.manifest,
        &all.gathered.outlines,
        &mut problems,
    );
    problems.extend(environment_problems);
    if problems.iter().any(|p| !p.warning) {
        return Ok(Rendered {
            files: Vec::new(),
            problems,
        });
    }
    problems.extend(all.template_problems);
    let mut gathered = all.gathered;
    gathered.secrets.sort();
    let mut paths = all.paths;
    let context = EnvironmentContext {
        services: &[],
        secrets: &gathered.secrets,
        files: &gathered.files,
        volumes: &gathered.volumes,
        environment: stream.environment(),
        target: &target.manifest.name,
    };
    // Joining the parts joins every text: a part is its texts joined.
    for (spec, texts) in service_specs.iter().zip(joined_parts) {
        if spec.join.is_none() {
            continue;
        }
        emit(
            joined_file(&registries.paths, spec, texts, &context),
            &mut paths,
            sink,
            &mut problems,
        )?;
    }
    for spec in &target.manifest.files {
        if spec.each != Each::Environment {
            continue;
        }
        let registry = registries.for_format(spec.format);
        emit(
            render_one(registry, &registries.paths, spec, &context),
            &mut paths,
            sink,
            &mut problems,
        )?;
    }
    check_unique_paths(target, paths, &mut problems);
    Ok(Rendered {
        files: Vec::new(),
        problems,
    })
}

/// Two files at one path would overwrite each other.
fn check_unique_paths(target: &Target, mut paths: Vec<String>, problems: &mut Vec<Problem>) {
    paths.sort_unstable();
    if let Some(pair) = paths.windows(2).find(|pair| pair[0] == pair[1]) {
        problems.push(Problem::new(
            ProblemKind::TargetManifest,
            format!(
                "two files of target `{}` render to the same path `{}`",
                target.manifest.name, pair[0]
            ),
        ).help("make each file's `path` in `target.toml` unique per service, e.g. with `{{service.name}}`"));
    }
}

/// A file's path once it went to the sink, or nothing for a file that rendered empty.
type PathResult = Result<Option<String>, Box<Problem>>;

/// Renders one file per service on every core, each file going to `sink` as soon as
/// it is rendered; the results come back in service order.
fn render_services(
    registry: &Handlebars<'static>,
    paths: &Handlebars<'static>,
    spec: &crate::manifest::FileSpec,
    view: &SystemView,
    sink: &Sink,
) -> std::io::Result<Vec<PathResult>> {
    let render_chunk = |services: &[ServiceView]| -> std::io::Result<Vec<PathResult>> {
        let mut results = Vec::with_capacity(services.len());
        for service in services {
            let context = ServiceContext {
                service,
                environment: &view.environment,
                target: &view.target,
            };
            results.push(match render_one(registry, paths, spec, &context) {
                Ok(Some(file)) => {
                    let path = file.path.clone();
                    sink(file)?;
                    Ok(Some(path))
                }
                Ok(None) => Ok(None),
                Err(problem) => Err(problem),
            });
        }
        Ok(results)
    };
    let mut results = Vec::with_capacity(view.services.len());
    for chunk in on_every_core(&view.services, 64, render_chunk) {
        match chunk {
            Some(chunk) => results.extend(chunk?),
            // A chunk that did not finish must not look like fewer services.
            None => results.push(Err(Box::new(
                Problem::new(
                    ProblemKind::Template,
                    format!("rendering `{}` stopped unexpectedly", spec.template),
                )
                .help("this is a bug in svcmodel: please report it with the model"),
            ))),
        }
    }
    Ok(results)
}

/// Runs `work` on `items` in one chunk per core (of at least `min_chunk` items), the
/// results in the items' order; `None` for a chunk whose thread could not start or
/// stopped unexpectedly.
pub(crate) fn on_every_core<T: Sync, R: Send>(
    items: &[T],
    min_chunk: usize,
    work: impl Fn(&[T]) -> R + Sync,
) -> Vec<Option<R>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = items.len().div_ceil(threads).max(min_chunk);
    if items.len() <= chunk {
        return vec![Some(work(items))];
    }
    let work = &work;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| {
                // Deeply nested templates recurse: give the threads the stack the main
                // thread has.
                std::thread::Builder::new()
                    .stack_size(8 << 20)
                    .spawn_scoped(scope, move || work(part))
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.ok().and_then(|h| h.join().ok()))
            .collect()
    })
}

type FileResult = Result<Option<RenderedFile>, Box<Problem>>;

/// Sends a rendered file to `sink`, keeping its path; a problem is kept instead.
fn emit(
    result: FileResult,
    paths: &mut Vec<String>,
    sink: &Sink,
    problems: &mut Vec<Problem>,
) -> std::io::Result<()> {
    match result {
        Ok(Some(file)) => {
            paths.push(file.path.clone());
            sink(file)
        }
        Ok(None) => Ok(()),
        Err(problem) => {
            problems.push(*problem);
            Ok(())
        }
    }
}

fn render_one<T: Serialize>(
    registry: &Handlebars<'static>,
    paths: &Handlebars<'static>,
    spec: &crate::manifest::FileSpec,
    context: &T,
) -> FileResult {
    // The context becomes a JSON tree once, for the file and its path: serializing a
    // service's view is most of a file's cost.
    let context = handlebars::Context::wraps(context)
        .map_err(|e| Box::new(template_problem(&spec.template, &e)))?;
    let contents = registry
        .render_with_context(&spec.template, &context)
        .map_err(|e| Box::new(template_problem(&spec.template, &e)))?;
    if contents.trim().is_empty() {
        return Ok(None);
    }
    let path = render_path(paths, spec, &context)?;
    Ok(Some(RenderedFile {
        path,
        contents,
        mode: spec.mode,
    }))
}

/// One service's text of a joined file, or nothing when it renders blank.
fn render_text<T: Serialize>(
    registry: &Handlebars<'static>,
    spec: &crate::manifest::FileSpec,
    context: &T,
) -> Result<Option<String>, Box<Problem>> {
    let contents = registry
        .render(&spec.template, context)
        .map_err(|e| Box::new(template_problem(&spec.template, &e)))?;
    Ok((!contents.trim().is_empty()).then_some(contents))
}

fn render_path(
    paths: &Handlebars<'static>,
    spec: &crate::manifest::FileSpec,
    context: &Context,
) -> Result<String, Box<Problem>> {
    let path_key = path_template_name(&spec.template);
    let path = paths
        .render_with_context(&path_key, context)
        .map_err(|e| Box::new(template_problem(&format!("path of {}", spec.template), &e)))?;
    check_path(&path).map_err(|why| {
        Box::new(
            Problem::new(
                ProblemKind::TargetManifest,
                format!(
                    "the file `{}` renders to the path `{path}`, which {why}",
                    spec.template
                ),
            )
            .help(
                "give the file a relative `path` in `target.toml` made of names, `.`, `-` and `_`",
            ),
        )
    })?;
    Ok(path)
}

/// The one file of a joined spec: the services' texts in order, its path rendered
/// with the environment (a joined file has no `service`).
fn joined_file<T: Serialize>(
    paths: &Handlebars<'static>,
    spec: &crate::manifest::FileSpec,
    texts: impl IntoIterator<Item = String>,
    environment: &T,
) -> FileResult {
    let separator = spec.join.as_deref().unwrap_or_default();
    let texts: Vec<String> = texts.into_iter().filter(|t| !t.is_empty()).collect();
    let size = texts.iter().map(|t| t.len() + separator.len()).sum();
    let mut contents = String::with_capacity(size);
    for text in texts {
        if !contents.is_empty() {
            contents.push_str(separator);
        }
        contents.push_str(&text);
    }
    if contents.is_empty() {
        return Ok(None);
    }
    let context = handlebars::Context::wraps(environment)
        .map_err(|e| Box::new(template_problem(&spec.template, &e)))?;
    let path = render_path(paths, spec, &context)?;
    Ok(Some(RenderedFile {
        path,
        contents,
        mode: spec.mode,
    }))
}

fn path_template_name(template: &str) -> String {
    format!("path:{template}")
}

/// A rendered path stays inside the output folder and is portable.
fn check_path(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("is empty");
    }
    for part in path.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return Err("is not a plain relative path");
        }
        if !part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@' | '+'))
        {
            return Err("holds characters other than letters, digits, `.`, `-`, `_`, `@` and `+`");
        }
    }
    Ok(())
}

/// What went wrong in a render, in a diagnostic's words.
pub(crate) fn describe(error: &RenderError) -> String {
    match error.reason() {
        RenderErrorReason::MissingVariable(Some(name)) => {
            format!("the template uses `{name}`, which the view does not have")
        }
        RenderErrorReason::TemplateNotFound(name) => format!("there is no template `{name}`"),
        RenderErrorReason::HelperNotFound(name) => format!("there is no helper `{name}`"),
        other => other.to_string().to_lowercase(),
    }
}

fn template_problem(template: &str, error: &RenderError) -> Problem {
    let reason = describe(error);
    Problem::new(
        ProblemKind::Template,
        format!("template `{template}` failed: {reason}"),
    )
    .at_template(TemplateLocation {
        template: error.template_name.clone().unwrap_or_else(|| template.to_string()),
        line: error.line_no.unwrap_or(0),
        column: error.column_no.unwrap_or(0),
    })
    .help("use only the fields listed in docs/targets.md; `svcmodel render --view` prints the view a template sees")
}

/// One handlebars registry per output syntax in use, each with that syntax's escape as
/// the default and the helpers bound to it; plus one for file paths.
struct Registries {
    by_format: Vec<(Format, Handlebars<'static>)>,
    paths: Handlebars<'static>,
    /// Some template names `services` (the environment-wide list).
    mention_services: bool,
}

impl Registries {
    fn new(target: &Target) -> Result<Self, Box<Problem>> {
        let mut formats: Vec<Format> = target.manifest.files.iter().map(|f| f.format).collect();
        formats.sort_by_key(|f| f.name());
        formats.dedup();
        let mut by_format = Vec::new();
        for format in formats {
            by_format.push((format, registry(target, format)?));
        }
        let mut paths = Handlebars::new();
        paths.set_strict_mode(true);
        paths.register_escape_fn(handlebars::no_escape);
        for spec in &target.manifest.files {
            paths
                .register_template_string(&path_template_name(&spec.template), &spec.path)
                .map_err(|e| {
                    Box::new(
                        Problem::new(
                            ProblemKind::TargetManifest,
                            format!(
                                "the `path` of `{}` in `target.toml` is not a valid template: {}",
                                spec.template,
                                e.reason()
                            ),
                        )
                        .help("write the path as text with `{{service.name}}` where the service's name goes"),
                    )
                })?;
        }
        let mention_services = target.templates.values().any(|t| t.contains("services"));
        Ok(Registries {
            by_format,
            paths,
            mention_services,
        })
    }

    fn for_format(&self, format: Format) -> &Handlebars<'static> {
        self.by_format
            .iter()
            .find(|(f, _)| *f == format)
            .map(|(_, r)| r)
            .unwrap_or(&self.paths)
    }
}

fn registry(target: &Target, format: Format) -> Result<Handlebars<'static>, Box<Problem>> {
    check_structure(&target.templates)?;
    let mut registry = Handlebars::new();
    registry.set_strict_mode(true);
    let interpolation = target.manifest.interpolation;
    // Compose expands `$` anywhere in the file, so every string doubles it.
    if interpolation == Interpolation::Compose {
        registry.register_escape_fn(move |text| escape::quote(format, &text.replace('$', "$$")));
    } else {
        registry.register_escape_fn(move |text| escape::quote(format, text));
    }
    register_helpers(&mut registry, format, interpolation);
    for (name, text) in &target.templates {
        registry.register_template_string(name, text).map_err(|e| {
            Box::new(
                Problem::new(
                    ProblemKind::Template,
                    format!("template `{name}` is not valid handlebars: {}", e.reason()),
                )
                .at_template(TemplateLocation {
                    template: e.name().cloned().unwrap_or_else(|| name.clone()),
                    line: e.pos().map_or(0, |p| p.0),
                    column: e.pos().map_or(0, |p| p.1),
                })
                .help("close every `{{#block}}` with `{{/block}}` and every `{{` with `}}`"),
            )
        })?;
    }
    Ok(registry)
}

/// The helpers that do not depend on the file's syntax (`json`, `int`, `concat`, ...):
/// shared with configuration templates.
pub(crate) fn register_value_helpers(registry: &mut Handlebars<'static>) {
    // `{{json x}}`: any value as JSON (valid YAML flow too), strings escaped.
    registry.register_helper(
        "json",
        Box::new(
            |h: &Helper,
             _: &Handlebars,
             _: &Context,
             _: &mut RenderContext,
             out: &mut dyn Output|
             -> HelperResult {
                out.write(&escape::json(param(h, 0, "json")?))?;
                Ok(())
            },
        ),
    );
    // `{{int x}}`: a number written bare; anything else is an error.
    registry.register_helper(
        "int",
        Box::new(
            |h: &Helper,
             _: &Handlebars,
             _: &Context,
             _: &mut RenderContext,
             out: &mut dyn Output|
             -> HelperResult {
                let value = param(h, 0, "int")?;
                let number = value
                    .as_u64()
                    .map(|n| n.to_string())
                    .or_else(|| value.as_i64().map(|n| n.to_string()));
                match number {
                    Some(n) => {
                        out.write(&n)?;
                        Ok(())
                    }
                    None => Err(RenderErrorReason::Other(format!(
                        "`int` takes a whole number, not {value}"
                    ))
                    .into()),
                }
            },
        ),
    );
    // `(concat a b ...)`: strings joined, e.g. `{{concat service.name "-config"}}`.
    handlebars::handlebars_helper!(concat: |*args| {
        args.iter().map(|a| scalar_text(a)).collect::<String>()
    });
    registry.register_helper("concat", Box::new(concat));
    // `(env_assignment entry)`: `NAME=value` as one value, for `env NAME=value CMD`.
    handlebars::handlebars_helper!(env_assignment: |entry: object| {
        let name = entry.get("name").map(scalar_text).unwrap_or_default();
        let mut value = entry.get("value").cloned().unwrap_or_default();
        if let Some(parts) = value.get_mut("parts").and_then(|p| p.as_array_mut()) {
            parts.insert(0, serde_json::json!({"kind": "text", "text": format!("{name}=")}));
        }
        value
    });
    registry.register_helper("env_assignment", Box::new(env_assignment));
    // `{{json (plan_value v)}}`: a value view as the local deployer reads it: a string
    // when it is plain text, else `{"parts": [...]}` with secrets by variable.
    handlebars::handlebars_helper!(plan_value: |v: Json| plan(v));
    registry.register_helper("plan_value", Box::new(plan_value));
    handlebars::handlebars_helper!(plan_values: |list: array| {
        serde_json::Value::Array(list.iter().map(plan).collect())
    });
    registry.register_helper("plan_values", Box::new(plan_values));
    // `{{json (plan_env service.env)}}`: variables as an object, name to plan value.
    handlebars::handlebars_helper!(plan_env: |list: array| {
        let map: serde_json::Map<String, serde_json::Value> = list
            .iter()
            .map(|e| (e.get("name").map(scalar_text).unwrap_or_default(), plan(e.get("value").unwrap_or(&serde_json::Value::Null))))
            .collect();
        serde_json::Value::Object(map)
    });
    registry.register_helper("plan_env", Box::new(plan_env));
    // `(first list)` and `(rest list)`: a command's program and its arguments.
    handlebars::handlebars_helper!(first: |list: array| list.first().cloned().unwrap_or_default());
    registry.register_helper("first", Box::new(first));
    handlebars::handlebars_helper!(rest: |list: array| {
        serde_json::Value::Array(list.iter().skip(1).cloned().collect())
    });
    registry.register_helper("rest", Box::new(rest));
    // `{{sub a b}}`: a - b for whole numbers, at least 0.
    registry.register_helper(
        "sub",
        Box::new(
            |h: &Helper,
             _: &Handlebars,
             _: &Context,
             _: &mut RenderContext,
             out: &mut dyn Output|
             -> HelperResult {
                let a = param(h, 0, "sub")?.as_u64().unwrap_or(0);
                let b = param(h, 1, "sub")?.as_u64().unwrap_or(0);
                out.write(&a.saturating_sub(b).to_string())?;
                Ok(())
            },
        ),
    );
}

fn register_helpers(
    registry: &mut Handlebars<'static>,
    format: Format,
    interpolation: Interpolation,
) {
    // `{{value v}}`: a value view with its secrets and run-time parts.
    registry.register_helper(
        "value",
        Box::new(
            move |h: &Helper,
                  _: &Handlebars,
                  _: &Context,
                  _: &mut RenderContext,
                  out: &mut dyn Output|
                  -> HelperResult {
                let param = param(h, 0, "value")?;
                let value = escape::value_of_json(param).ok_or_else(|| {
                    RenderErrorReason::Other(
                        "`value` takes a value view, such as `this.value` of an `env` entry".into(),
                    )
                })?;
                out.write(&escape::value_parts(format, interpolation, &value))?;
                Ok(())
            },
        ),
    );
    // `{{entries map 4}}`: each entry as `key: value` on a line of its own, indented,
    // key and value escaped as `{{x}}` escapes them. One helper call instead of an
    // `each` block: labels are written five times per Kubernetes file.
    registry.register_helper(
        "entries",
        Box::new(
            |h: &Helper,
             registry: &Handlebars,
             _: &Context,
             _: &mut RenderContext,
             out: &mut dyn Output|
             -> HelperResult {
                let map = param(h, 0, "entries")?.as_object().ok_or_else(|| {
                    RenderErrorReason::Other(
                        "`entries` takes a map, such as `service.labels`".into(),
                    )
                })?;
                let indent = param(h, 1, "entries")?
                    .as_u64()
                    .filter(|n| *n <= 64)
                    .ok_or_else(|| {
                        RenderErrorReason::Other(
                            "`entries` takes an indentation from 0 to 64 as its second argument"
                                .into(),
                        )
                    })?;
                let escape = registry.get_escape_fn();
                let pad = " ".repeat(indent as usize);
                let mut text = String::new();
                for (i, (key, value)) in map.iter().enumerate() {
                    if i > 0 {
                        text.push('\n');
                    }
                    text.push_str(&pad);
                    text.push_str(&escape(key));
                    text.push_str(": ");
                    text.push_str(&escape(&scalar_text(value)));
                }
                out.write(&text)?;
                Ok(())
            },
        ),
    );
    // `{{quote s}}`: a string as this syntax's quoted scalar (what `{{s}}` does too).
    register_text_helper(registry, "quote", move |t| escape::quote(format, t));
    // `{{text s}}`: one line of plain text, for settings that take no quotes.
    register_text_helper(registry, "text", move |t| escape::plain_text(format, t));
    // `{{comment s}}`: text for a `#` comment: one line, control characters as spaces.
    register_text_helper(registry, "comment", escape::comment);
    register_value_helpers(registry);
}

/// Registers `{{name x}}`: `x` as text, written as `write` makes it.
fn register_text_helper(
    registry: &mut Handlebars<'static>,
    name: &'static str,
    write: impl Fn(&str) -> String + Send + Sync + 'static,
) {
    registry.register_helper(
        name,
        Box::new(
            move |h: &Helper,
                  _: &Handlebars,
                  _: &Context,
                  _: &mut RenderContext,
                  out: &mut dyn Output|
                  -> HelperResult {
                let text = scalar_text(param(h, 0, name)?);
                out.write(&write(&text))?;
                Ok(())
            },
        ),
    );
}

fn param<'a>(
    h: &'a Helper,
    index: usize,
    helper: &'static str,
) -> Result<&'a serde_json::Value, RenderError> {
    h.param(index)
        .map(|p| p.value())
        .ok_or_else(|| RenderErrorReason::ParamNotFoundForIndex(helper, index).into())
}

/// A value view as plain JSON: its text, or its parts with secrets by variable name.
fn plan(value: &serde_json::Value) -> serde_json::Value {
    if value.is_null() {
        return serde_json::Value::Null;
    }
    if let Some(text) = value.get("text").and_then(|t| t.as_str()) {
        return serde_json::Value::from(text);
    }
    let parts: Vec<serde_json::Value> = value
        .get("parts")
        .and_then(|p| p.as_array())
        .map(|parts| {
            parts
                .iter()
                .map(|p| match p.get("kind").and_then(|k| k.as_str()) {
                    Some("secret") => serde_json::json!({
                        "secret": p.pointer("/secret/param").cloned().unwrap_or_default(),
                        "variable": p.pointer("/secret/variable").cloned().unwrap_or_default(),
                    }),
                    _ => serde_json::json!({ "text": p.get("text").cloned().unwrap_or_default() }),
                })
                .collect()
        })
        .unwrap_or_default();
    serde_json::json!({ "parts": parts })
}

fn scalar_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// On a target where every service shares the host's ports, two services listening on
/// one port cannot both start.
pub(crate) fn port_clashes(input: &Input, outlines: &[Outline], problems: &mut Vec<Problem>) {
    let mut seen: BTreeMap<u16, (&str, svcmodel_model::Span)> = BTreeMap::new();
    for service in outlines {
        let Some(definition) = service.definition else {
            continue;
        };
        let def = &input.model.services[definition];
        for port in &def.provides {
            match seen.get(&port.port.value) {
                Some((other, other_span)) => problems.push(
                    Problem::new(
                        ProblemKind::PortClash,
                        format!(
                            "`{}` and `{other}` both listen on port {} on this host",
                            service.name, port.port.value
                        ),
                    )
                    .label(port.port.span, format!("`{}` listens here", service.name))
                    .label(*other_span, format!("`{other}` listens here"))
                    .help("give one of them another port, or a parameter for its port set per environment"),
                ),
                None => {
                    seen.insert(port.port.value, (&service.name, port.port.span));
                }
            }
        }
    }
}

/// Two services of one environment published at one port of the host or of every
/// node: the second cannot start.
pub(crate) fn published_port_clashes(
    input: &Input,
    outlines: &[Outline],
    problems: &mut Vec<Problem>,
) {
    let mut seen: BTreeMap<u16, (&str, svcmodel_model::Span)> = BTreeMap::new();
    for service in outlines.iter().filter(|s| !s.published.is_empty()) {
        let Some(definition) = service.definition else {
            continue;
        };
        let def = &input.model.services[definition];
        for (port, published) in def.provides.iter().zip(&service.published) {
            let Some(published) = *published else {
                continue;
            };
            let span = port.publish.as_ref().map_or(port.port.span, |p| p.span);
            match seen.get(&published) {
                Some((other, other_span)) => problems.push(
                    Problem::new(
                        ProblemKind::PortClash,
                        format!(
                            "`{}` and `{other}` are both published at port {published}",
                            service.name
                        ),
                    )
                    .label(span, format!("`{}` is published here", service.name))
                    .label(*other_span, format!("`{other}` is published here"))
                    .help("publish one of them at another port: `publish = PORT` in its `provides` block"),
                ),
                None => {
                    seen.insert(published, (&service.name, span));
                }
            }
        }
    }
}

/// Each service's identity is an object of its own, deleted with it: two services
/// of one environment cannot share one.
pub(crate) fn shared_identities(input: &Input, outlines: &[Outline], problems: &mut Vec<Problem>) {
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for service in outlines {
        let Some(other) = seen.insert(&service.identity, &service.name) else {
            continue;
        };
        let span = service
            .definition
            .and_then(|d| input.model.services[d].identity.as_ref())
            .map(|i| i.span);
        let mut problem = Problem::new(
            ProblemKind::Unrepresentable,
            format!(
                "`{}` and `{other}` both run as the identity `{}`",
                service.name, service.identity
            ),
        )
        .help("give each service its own `identity` (a per-consumer service's instances each need their own: remove `identity` there)");
        if let Some(span) = span {
            problem = problem.label(span, "an identity another service has");
        }
        problems.push(problem);
    }
}

fn check_environment_name(input: &Input, target: &Target, problems: &mut Vec<Problem>) {
    let (Some(rule), Some(name)) = (target.manifest.names, input.system.environment.as_deref())
    else {
        return;
    };
    if let Err(why) = rule.check(name) {
        let mut problem = Problem::new(
            ProblemKind::InvalidName,
            format!(
                "`{name}` is not a valid name on target `{}`: {why}",
                target.manifest.name
            ),
        )
        .help(format!("rename the environment: {}", rule.description()));
        if let Some(env) = input.model.environment(name) {
            problem = problem.label(env.name.span, "the environment's name");
        }
        problems.push(problem);
    }
}

/// How deeply blocks may nest in one template, and partials include partials:
/// handlebars renders recursively, so without a bound a template could exhaust the
/// stack. Real templates stay far below both.
const MAX_BLOCK_DEPTH: usize = 32;
const MAX_PARTIAL_CHAIN: usize = 8;

/// Checks what handlebars does not: block nesting, and partials that are named
/// (not computed), exist, and do not include each other in a cycle.
pub(crate) fn check_structure(templates: &BTreeMap<String, String>) -> Result<(), Box<Problem>> {
    let structure_problem = |template: &str, message: String, help: &str| {
        Box::new(
            Problem::new(
                ProblemKind::Template,
                format!("template `{template}` {message}"),
            )
            .at_template(TemplateLocation {
                template: template.to_string(),
                line: 0,
                column: 0,
            })
            .help(help.to_string()),
        )
    };
    let mut includes: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (name, text) in templates {
        let mut depth = 0usize;
        let mut partials = Vec::new();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("{{") {
            rest = &rest[at + 2..];
            let tag = rest.trim_start_matches(['~', '{']);
            if tag.starts_with('!') {
                continue;
            }
            if let Some(tag) = tag.strip_prefix('#') {
                depth += 1;
                if depth > MAX_BLOCK_DEPTH {
                    return Err(structure_problem(
                        name,
                        format!("nests blocks more than {MAX_BLOCK_DEPTH} deep"),
                        "flatten the template, or move parts into partials",
                    ));
                }
                if let Some(partial) = tag.strip_prefix('>') {
                    partials.push(partial.to_string());
                }
            } else if tag.starts_with('/') {
                depth = depth.saturating_sub(1);
            } else if let Some(partial) = tag.strip_prefix('>') {
                partials.push(partial.to_string());
            }
        }
        let mut names = Vec::new();
        for partial in partials {
            let partial = partial.trim_start();
            if partial.starts_with('(') {
                return Err(structure_problem(
                    name,
                    "includes a partial whose name is computed".to_string(),
                    "name partials directly: `{{> _labels.yaml.hbs}}`",
                ));
            }
            let end = partial
                .find(|c: char| c.is_whitespace() || c == '}' || c == '~')
                .unwrap_or(partial.len());
            names.push(partial[..end].trim_matches(['"', '\'']).to_string());
        }
        includes.insert(name, names);
    }
    // Longest chain of inclusions from each template; a cycle is an error.
    fn chain<'a>(
        name: &'a str,
        includes: &'a BTreeMap<&'a str, Vec<String>>,
        path: &mut Vec<&'a str>,
    ) -> Result<usize, Vec<String>> {
        if path.contains(&name) {
            let mut cycle: Vec<String> = path.iter().map(|s| s.to_string()).collect();
            cycle.push(name.to_string());
            return Err(cycle);
        }
        let Some(children) = includes.get(name) else {
            return Ok(0);
        };
        path.push(name);
        let mut longest = 0;
        for child in children {
            longest = longest.max(chain(child, includes, path)? + 1);
            if longest > MAX_PARTIAL_CHAIN {
                break;
            }
        }
        path.pop();
        Ok(longest)
    }
    for name in includes.keys() {
        match chain(name, &includes, &mut Vec::new()) {
            Err(cycle) => {
                return Err(structure_problem(
                    name,
                    format!("includes itself through partials: {}", cycle.join(" → ")),
                    "break the cycle: a partial must not include the template that includes it",
                ));
            }
            Ok(length) if length > MAX_PARTIAL_CHAIN => {
                return Err(structure_problem(
                    name,
                    format!("includes partials more than {MAX_PARTIAL_CHAIN} deep"),
                    "include fewer partials within partials",
                ));
            }
            Ok(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    // Tests may unwrap: a failure is the test failing.
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn yaml_registry(template: &str) -> Handlebars<'static> {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        registry.register_escape_fn(|text| escape::quote(Format::Yaml, text));
        register_helpers(&mut registry, Format::Yaml, Interpolation::Kubernetes);
        registry.register_template_string("t", template).unwrap();
        registry
    }

    #[test]
    fn entries_writes_each_entry_escaped_and_indented() {
        let registry = yaml_registry("labels:\n{{entries labels 2}}\nend");
        let data = serde_json::json!({ "labels": { "a": "x: y", "b\"": 3 } });
        assert_eq!(
            registry.render("t", &data).unwrap(),
            "labels:\n  \"a\": \"x: y\"\n  \"b\\\"\": \"3\"\nend"
        );
        let empty = serde_json::json!({ "labels": {} });
        assert_eq!(registry.render("t", &empty).unwrap(), "labels:\n\nend");
    }

    #[test]
    fn entries_refuses_what_is_not_a_map_or_an_indentation() {
        for (template, says) in [
            ("{{entries name 2}}", "takes a map"),
            ("{{entries labels 65}}", "from 0 to 64"),
            ("{{entries labels \"2\"}}", "from 0 to 64"),
        ] {
            let registry = yaml_registry(template);
            let data = serde_json::json!({ "name": "api", "labels": { "a": "b" } });
            let error = registry.render("t", &data).unwrap_err();
            assert!(describe(&error).contains(says), "{template}: {error}");
        }
    }
}
