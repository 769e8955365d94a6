//! Any bytes through the whole front end: lex, parse, lower, check, render diagnostics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use svcmodel_compiler::diagnostic::{RenderOptions, render_all};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let compilation = svcmodel_compiler::compile_str("main.svc", &text);
    let _ = render_all(&compilation.diagnostics, &compilation.sources, RenderOptions::default());
});
