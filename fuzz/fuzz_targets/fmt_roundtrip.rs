//! Whatever parses cleanly formats to text that parses cleanly and formats to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use svcmodel_compiler::diagnostic::Diagnostics;
use svcmodel_compiler::{fmt, syntax};
use svcmodel_model::FileId;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut diagnostics = Diagnostics::default();
    let file = syntax::parse(text, FileId(0), &mut diagnostics);
    if diagnostics.has_errors() {
        return;
    }
    let formatted = fmt::format_file(&file);
    let mut again = Diagnostics::default();
    let reparsed = syntax::parse(&formatted, FileId(0), &mut again);
    assert!(!again.has_errors(), "formatted output does not parse:\n{formatted}");
    assert_eq!(fmt::format_file(&reparsed), formatted, "fmt is not idempotent");
});
