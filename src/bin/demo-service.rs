//! `demo-service`: the stand-in service that deploy tests run in containers (the
//! example shop runs its Python twin, `examples/shop/bin/demo-service`, as local
//! processes). Standard library only, so it runs in an image built `FROM scratch`.
//!
//!     demo-service --name=api --port=8080
//!
//! `GET /healthz` (and `/health`, the path Istio's Bookinfo services answer, which it
//! stands in for) answers 200 (503 after `GET /break`); `GET /deps` answers JSON
//! saying, for each `NAME_URL` variable it was given, whether that service's
//! `/healthz` answers 200. It exits on SIGTERM (the default action).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

fn main() {
    let mut name = String::from("demo");
    let mut port = 8080u16;
    for arg in std::env::args().skip(1) {
        if let Some(v) = arg.strip_prefix("--name=") {
            name = v.to_string();
        } else if let Some(v) = arg.strip_prefix("--port=") {
            port = v.parse().unwrap_or(8080);
        }
    }
    let listener = match TcpListener::bind(("0.0.0.0", port)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{name}: cannot listen on port {port}: {e}");
            std::process::exit(1);
        }
    };
    println!("{name}: listening on port {port}");
    let broken = Arc::new(AtomicBool::new(false));
    for stream in listener.incoming().flatten() {
        let broken = Arc::clone(&broken);
        let name = name.clone();
        std::thread::spawn(move || serve(stream, &name, &broken));
    }
}

fn serve(mut stream: TcpStream, name: &str, broken: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    // Read the whole request: closing a socket with unread data resets the connection,
    // and the client may lose the answer.
    let mut header = String::new();
    while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
        header.clear();
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let (status, body) = match path.as_str() {
        "/healthz" | "/health" if broken.load(Ordering::Relaxed) => {
            (503, "unhealthy\n".to_string())
        }
        "/healthz" | "/health" => (200, "ok\n".to_string()),
        "/break" => {
            broken.store(true, Ordering::Relaxed);
            (200, "broken\n".to_string())
        }
        "/deps" => {
            let deps: Vec<String> = dependencies()
                .into_iter()
                .map(|(dep, url)| format!("\"{dep}\": {}", reachable(&url)))
                .collect();
            (
                200,
                format!(
                    "{{\"name\": \"{name}\", \"dependencies\": {{{}}}}}\n",
                    deps.join(", ")
                ),
            )
        }
        _ => (404, "not found\n".to_string()),
    };
    let reason = if status == 200 { "OK" } else { "Error" };
    let _ = write!(
        stream,
        "HTTP/1.0 {status} {reason}\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n\r\n{body}",
        body.len()
    );
}

/// `NAME_URL=http://host:port` variables: the services this one was told about.
fn dependencies() -> Vec<(String, String)> {
    let mut deps: Vec<(String, String)> = std::env::vars()
        .filter_map(|(k, v)| {
            let name = k.strip_suffix("_URL")?;
            v.starts_with("http://").then(|| (name.to_lowercase(), v))
        })
        .collect();
    deps.sort();
    deps
}

fn reachable(url: &str) -> bool {
    let Some(address) = url.strip_prefix("http://").map(|a| a.trim_end_matches('/')) else {
        return false;
    };
    let mut stream = match TcpStream::connect(address) {
        Ok(stream) => stream,
        Err(e) => {
            eprintln!("cannot reach {address}: {e}");
            return false;
        }
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if write!(stream, "GET /healthz HTTP/1.0\r\nHost: {address}\r\n\r\n").is_err() {
        return false;
    }
    let mut reply = Vec::new();
    if let Err(e) = stream.read_to_end(&mut reply) {
        eprintln!("no answer from {address}: {e}");
    }
    let ok = reply.starts_with(b"HTTP/1.0 200") || reply.starts_with(b"HTTP/1.1 200");
    if !ok {
        eprintln!(
            "{address} answered {:?}",
            String::from_utf8_lossy(&reply[..reply.len().min(40)])
        );
    }
    ok
}
