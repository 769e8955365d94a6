//! The long explanations behind `svcmodel explain CODE`: what the diagnostic means, a
//! model that triggers it, and the same model corrected. A test compiles both examples.

use crate::codes::Code;

pub struct Explanation {
    pub code: Code,
    /// Paragraphs of plain text.
    pub text: &'static str,
    /// A complete model file that triggers the code.
    pub wrong: &'static str,
    /// The same model, corrected: it compiles cleanly. Empty where the code needs files
    /// on disk to show (imports); the test cases under `tests/cases/` cover those.
    pub right: &'static str,
}

pub fn explain(code: Code) -> Option<&'static Explanation> {
    EXPLANATIONS.iter().find(|e| e.code == code)
}

pub static EXPLANATIONS: &[Explanation] = &[];
