//! The built-in targets: their manifests and templates, embedded in the binary, and
//! how a project's `templates/<target>/` folder overrides or adds to them.

use std::collections::BTreeMap;

use crate::manifest::TargetManifest;
use crate::problem::{Problem, ProblemKind, TemplateLocation};
use crate::render::Target;

macro_rules! files {
    ($target:literal: $($file:literal),* $(,)?) => {
        &[
            ("target.toml", include_str!(concat!("../templates/", $target, "/target.toml"))),
            $(($file, include_str!(concat!("../templates/", $target, "/", $file))),)*
        ]
    };
}

/// Each built-in target's files: `target.toml` first, then its templates.
static BUILT_IN: &[(&str, &[(&str, &str)])] = &[
    (
        "kubernetes",
        files!("kubernetes": "namespace.yaml.hbs", "manifest.yaml.hbs", "_probe.yaml.hbs"),
    ),
    ("compose", files!("compose": "compose.yaml.hbs")),
    (
        "swarm",
        &[
            (
                "target.toml",
                include_str!("../templates/swarm/target.toml"),
            ),
            (
                "compose.yaml.hbs",
                include_str!("../templates/compose/compose.yaml.hbs"),
            ),
        ],
    ),
    ("nomad", files!("nomad": "job.nomad.hcl.hbs")),
    ("systemd", files!("systemd": "unit.service.hbs", "env.hbs")),
    ("local", files!("local": "process.json.hbs")),
];

/// The names of the built-in targets.
pub fn names() -> impl Iterator<Item = &'static str> {
    BUILT_IN.iter().map(|(name, _)| *name)
}

/// A built-in target as shipped.
pub fn built_in(name: &str) -> Option<Target> {
    let (_, files) = BUILT_IN.iter().find(|(n, _)| *n == name)?;
    let mut templates = BTreeMap::new();
    let mut manifest_text = "";
    for (file, text) in *files {
        if *file == "target.toml" {
            manifest_text = text;
        } else {
            templates.insert((*file).to_string(), (*text).to_string());
        }
    }
    // The built-in manifests are tested; a broken one is a bug in svcmodel.
    let manifest = TargetManifest::parse(name, manifest_text).ok()?;
    Some(Target {
        manifest,
        templates,
        origin: "built-in".to_string(),
    })
}

/// The target `name` with a project's folder applied: a folder's `target.toml`
/// replaces the manifest and its `*.hbs` files replace or add templates. A custom
/// target (not built in) needs a `target.toml`.
///
/// `folder` holds the folder's files by name (`None` when there is no folder).
pub fn resolve(
    name: &str,
    folder: Option<(&str, &BTreeMap<String, String>)>,
) -> Result<Target, Box<Problem>> {
    let base = built_in(name);
    let Some((folder_name, files)) = folder else {
        return base.ok_or_else(|| {
            Box::new(
                Problem::new(
                    ProblemKind::TargetManifest,
                    format!("there is no target `{name}`"),
                )
                .help(format!(
                    "use a built-in target ({}) or create `templates/{name}/target.toml` in the project",
                    names().collect::<Vec<_>>().join(", ")
                )),
            )
        });
    };
    let manifest = match (files.get("target.toml"), &base) {
        (Some(text), _) => TargetManifest::parse(name, text).map_err(|e| {
            Box::new(
                Problem::new(
                    ProblemKind::TargetManifest,
                    format!(
                        "`{folder_name}/target.toml` is not a valid target manifest: {}",
                        e.message
                    ),
                )
                .at_template(TemplateLocation {
                    template: "target.toml".to_string(),
                    line: e.line,
                    column: e.column,
                })
                .help("see docs/targets.md for the keys of `target.toml`"),
            )
        })?,
        (None, Some(base)) => base.manifest.clone(),
        (None, None) => {
            return Err(Box::new(
                Problem::new(
                    ProblemKind::TargetManifest,
                    format!("the custom target `{name}` has no `target.toml`"),
                )
                .help(format!(
                    "create `{folder_name}/target.toml` naming its files (see docs/targets.md)"
                )),
            ));
        }
    };
    let mut templates = base.map(|b| b.templates).unwrap_or_default();
    for (file, text) in files {
        if file.ends_with(".hbs") {
            templates.insert(file.clone(), text.clone());
        }
    }
    for spec in &manifest.files {
        if !templates.contains_key(&spec.template) {
            return Err(Box::new(
                Problem::new(
                    ProblemKind::TargetManifest,
                    format!(
                        "`target.toml` of `{name}` names the template `{}`, which `{folder_name}` does not hold",
                        spec.template
                    ),
                )
                .help(format!("create `{folder_name}/{}` or correct the name", spec.template)),
            ));
        }
    }
    Ok(Target {
        manifest,
        templates,
        origin: folder_name.to_string(),
    })
}
