//! Targets: render, deploy and observe, one module per target. Empty until the render issue.
