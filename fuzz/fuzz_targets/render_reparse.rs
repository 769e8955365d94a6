//! Any model that compiles, rendered with every built-in target: rendering never
//! panics, and every file it writes parses in its syntax (YAML, HCL, JSON).
//! Seed it with the examples joined into one file (see fuzz/README.md).
#![no_main]

use libfuzzer_sys::fuzz_target;
use svcmodel_targets::view::Input;
use svcmodel_targets::{builtin, render};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let compilation = svcmodel_compiler::compile_system_str("main.svc", &text);
    let Some(resolution) = compilation.resolution.as_ref() else {
        return;
    };
    if compilation.has_errors() {
        return;
    }
    for system in &resolution.systems {
        for name in builtin::names() {
            let Some(target) = builtin::built_in(name) else {
                continue;
            };
            let rendered = render(
                &Input {
                    model: &compilation.model,
                    system,
                    file_dirs: &[],
                    root_dir: "",
            template_files: &Default::default(),
                    only: &[],
                    placed: None,
                },
                &target,
            );
            for file in &rendered.files {
                if file.path.ends_with(".yaml") {
                    if let Err(e) = yaml_rust2::YamlLoader::load_from_str(&file.contents) {
                        panic!("{name} {}: not YAML: {e}\n{}", file.path, file.contents);
                    }
                } else if file.path.ends_with(".hcl") {
                    if let Err(e) = hcl::parse(&file.contents) {
                        panic!("{name} {}: not HCL: {e}\n{}", file.path, file.contents);
                    }
                } else if file.path.ends_with(".json") {
                    if let Err(e) = serde_json::from_str::<serde_json::Value>(&file.contents) {
                        panic!("{name} {}: not JSON: {e}\n{}", file.path, file.contents);
                    }
                }
            }
        }
    }
});
