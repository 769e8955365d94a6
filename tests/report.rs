//! `svcmodel report`: the page in headless Chromium (no console error, no request,
//! the key figures in what a reader sees, light and dark screenshots against their
//! references), and its JSON against the schema.

// Tests may unwrap: a failure is the test failing.
#![allow(clippy::unwrap_used)]

mod support;

use support::{chromium_dom, chromium_screenshot, decode_png, repo, svcmodel, validate};

/// The references live here; `UPDATE_SCREENSHOTS=1` writes them anew.
const REFERENCES: &str = "tests/fixtures/report";

/// The share of pixels that differ clearly (a channel by more than 48) between two
/// screenshots of one size.
fn differing(a: &[u8], b: &[u8]) -> f64 {
    let pixels = a.len() / 4;
    let differ = a
        .chunks(4)
        .zip(b.chunks(4))
        .filter(|(p, q)| p.iter().zip(q.iter()).any(|(x, y)| x.abs_diff(*y) > 48))
        .count();
    differ as f64 / pixels as f64
}

/// Mean brightness, 0 (black) to 1 (white).
fn brightness(rgba: &[u8]) -> f64 {
    let sum: u64 = rgba
        .chunks(4)
        .map(|p| u64::from(p[0]) + u64::from(p[1]) + u64::from(p[2]))
        .sum();
    sum as f64 / (rgba.len() / 4 * 3 * 255) as f64
}

#[test]
fn the_bank_report_loads_nothing_shows_its_figures_and_looks_as_it_should() {
    let dir = tempfile::tempdir().unwrap();
    let report = svcmodel(&repo(), &["report", "examples/bank"]);
    assert_eq!(report.code, 0, "{}", report.transcript());
    let html = &report.stdout;
    assert!(html.starts_with("<!doctype html>"));
    // Self-contained: a policy that allows no request, and no address to request.
    assert!(
        html.contains("content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\"")
    );
    assert!(!html.contains("://"), "the page names an address");
    assert!(!html.contains("<script"), "the page has a script");
    let again = svcmodel(&repo(), &["report", "examples/bank"]);
    assert_eq!(again.stdout, *html, "the same model gives the same page");
    let page = dir.path().join("bank.html");
    std::fs::write(&page, html).unwrap();

    let (dom, log) = chromium_dom(&page);
    for complaint in ["CONSOLE", "Refused to", "Uncaught", "net::ERR"] {
        assert!(
            !log.contains(complaint),
            "the browser said {complaint}:\n{log}"
        );
    }
    // The figures a reader looks for, as `place`, `risk` and `slo` give them.
    let place: serde_json::Value = serde_json::from_str(
        &svcmodel(&repo(), &["place", "--format", "json", "examples/bank"]).stdout,
    )
    .unwrap();
    for landscape in place["landscapes"].as_array().unwrap() {
        let cost = landscape["cost_per_hour"].as_f64().unwrap();
        let shown = format!("{cost:.3}/h");
        assert!(dom.contains(&shown), "no {shown} in the page");
        for a in landscape["assignments"].as_array().unwrap() {
            let reason = a["reason"].as_str().unwrap();
            let escaped = reason
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            assert!(dom.contains(&escaped), "no reason `{reason}` in the page");
        }
    }
    for figure in [
        "Dependency graph",
        "Single points of failure",
        "NOT MET",
        "web-banking",
        "fra-r01 › fra-hv01",
    ] {
        assert!(dom.contains(figure), "no `{figure}` in the page");
    }
    assert!(
        dom.contains("Nothing of this model has been deployed"),
        "nothing is deployed from the repository"
    );

    // Light and dark, each against its reference within a tolerance; and dark is dark.
    let mut shots = Vec::new();
    for (name, dark) in [("bank-light", false), ("bank-dark", true)] {
        let png = dir.path().join(format!("{name}.png"));
        let (width, height, pixels) = chromium_screenshot(&page, 1600, dark, &png);
        let reference = repo().join(REFERENCES).join(format!("{name}.png"));
        if std::env::var_os("UPDATE_SCREENSHOTS").is_some() {
            std::fs::create_dir_all(reference.parent().unwrap()).unwrap();
            std::fs::copy(&png, &reference).unwrap();
        }
        let (rw, rh, expected) = decode_png(&reference);
        assert_eq!((width, height), (rw, rh), "{name}: the size changed");
        let share = differing(&pixels, &expected);
        assert!(
            share < 0.02,
            "{name}: {:.2}% of the pixels differ from {} (run with UPDATE_SCREENSHOTS=1 after checking the page)",
            share * 100.0,
            reference.display()
        );
        shots.push(brightness(&pixels));
    }
    // The graph stays on its white card in both; everything around it turns dark.
    assert!(
        shots[0] > 0.9 && shots[1] < shots[0] - 0.25,
        "light {:.2}, dark {:.2}",
        shots[0],
        shots[1]
    );
}

#[test]
fn the_report_json_follows_its_schema() {
    let report = svcmodel(&repo(), &["report", "--format", "json", "examples/insurer"]);
    assert_eq!(report.code, 0, "{}", report.transcript());
    let json: serde_json::Value = serde_json::from_str(&report.stdout).unwrap();
    validate("report", &json);
    assert_eq!(json["system"], "insurer");
    assert!(
        json["landscapes"][0]["assignments"]
            .as_array()
            .unwrap()
            .len()
            >= 4
    );
    assert!(!json["risk"].as_array().unwrap().is_empty());
    assert!(!json["slo"].as_array().unwrap().is_empty());
}
