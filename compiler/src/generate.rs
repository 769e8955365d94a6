//! A generator of large synthetic models, for benchmarks and scale tests.
//!
//! `model(n, seed)` makes a system of about `n` service names: a tenth are catalog
//! services at three versions each (imported), the rest the system's own, each
//! requiring about three others (two earlier system services and one catalog service),
//! with typed parameters, a configurator and references. Also a values file setting a
//! parameter of every tenth service. Deterministic for a seed; always resolves.

/// A small deterministic generator (xorshift64*), so no dependency is needed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Files of a generated model: `(path, text)`. `system/*.svc` are the entries;
/// `catalog/*.svc` are imported; `values.toml` is a values file.
pub struct Generated {
    pub files: Vec<(String, String)>,
    pub values: String,
}

const PER_FILE: usize = 500;

pub fn model(n: usize, seed: u64) -> Generated {
    let mut rng = Rng(seed.max(1));
    let catalog = (n / 10).max(1);
    let system = n.saturating_sub(catalog).max(1);
    let mut files = Vec::new();
    let mut text = String::new();
    for c in 0..catalog {
        let major = c % 3 + 1;
        for v in 0..3 {
            text.push_str(&format!(
                "service \"cat{c}\" {{\n  version = \"{major}.{v}.0\"\n  image   = \"registry.example/cat{c}:{major}.{v}\"\n  instancing = \"{}\"\n  param \"max_connections\" {{ type = int, default = {}, range = 1..10000 }}\n  param \"password\" {{ type = secret }}\n  config {{\n    env \"MAX_CONNECTIONS\" = param.max_connections\n    env \"PASSWORD\" = param.password\n  }}\n  provides \"api\" {{ port = {} }}\n  health {{ tcp = \"api\" }}\n  resources {{ cpu = 500m, memory = 1Gi }}\n}}\n\n",
                if c % 7 == 0 { "per_consumer" } else { "shared" },
                100 + c % 900,
                10000 + c % 50000,
            ));
        }
        if (c + 1) % PER_FILE == 0 || c + 1 == catalog {
            files.push((
                format!("catalog/part{:04}.svc", c / PER_FILE),
                std::mem::take(&mut text),
            ));
        }
    }
    let mut values = String::new();
    for s in 0..system {
        let mut requires = Vec::new();
        if s > 0 {
            for _ in 0..2 {
                let target = s - 1 - rng.below(s.min(50));
                if !requires.contains(&format!("svc{target}")) {
                    requires.push(format!("svc{target}"));
                }
            }
        }
        let cat = rng.below(catalog);
        let cat_major = cat % 3 + 1;
        text.push_str(&format!(
            "service \"svc{s}\" {{\n  version = \"1.{}.{}\"\n  image   = \"registry.example/svc{s}:${{version}}\"\n  criticality = \"{}\"\n  replicas = {}\n  param \"workers\" {{ type = int, default = {}, range = 1..64 }}\n  param \"timeout\" {{ type = duration, default = {}s }}\n  param \"mode\" {{ type = enum(\"fast\", \"safe\"), default = \"safe\" }}\n  provides \"http\" {{ port = {}, protocol = \"http\" }}\n  health {{ http = \"http\", path = \"/healthz\" }}\n  resources {{ cpu = {}m, memory = {}Mi }}\n  requires \"cat{cat}\" {{ version = \"^{cat_major}\", via = \"api\", latency = 5ms }}\n",
            s % 10,
            s % 7,
            ["low", "medium", "high", "critical"][s % 4],
            1 + s % 3,
            1 + s % 32,
            1 + s % 60,
            20000 + s % 40000,
            100 + (s % 20) * 50,
            128 + (s % 16) * 64,
        ));
        for r in &requires {
            text.push_str(&format!(
                "  requires \"{r}\" {{ version = \"^1\", via = \"http\" }}\n"
            ));
        }
        text.push_str("  config {\n    env \"WORKERS\" = param.workers\n    env \"TIMEOUT\" = param.timeout\n");
        text.push_str(&format!(
            "    env \"CATALOG\" = \"${{cat{cat}.api.host}}:${{cat{cat}.api.port}}\"\n"
        ));
        for r in &requires {
            text.push_str(&format!(
                "    env \"{}_URL\" = \"${{{r}.http.url}}\"\n",
                r.to_uppercase()
            ));
        }
        text.push_str("  }\n}\n\n");
        if s % 10 == 0 {
            values.push_str(&format!(
                "[svc{s}]\nworkers = {}\ntimeout = \"{}s\"\n\n",
                1 + s % 64,
                1 + s % 90
            ));
        }
        if (s + 1) % PER_FILE == 0 || s + 1 == system {
            let mut file = String::from("import \"../catalog\"\n\n");
            file.push_str(&std::mem::take(&mut text));
            files.push((format!("system/part{:04}.svc", s / PER_FILE), file));
        }
    }
    Generated { files, values }
}

/// Environments and placement rules for a generated model of `n` services: `k`
/// environments in one landscape (tier `prod`) with providers, jurisdictions, zones,
/// hypervisors, capacities (about 1.4 times what the services need, so the cheap ones
/// fill up), cost rates and links (2 to 6 ms to the next two, 10 to 20 ms farther); and policies of each kind (require,
/// forbid, prefer, spread). Appended to `model(n, seed)` as one more file.
pub fn landscape(n: usize, k: usize, seed: u64) -> String {
    let mut rng = Rng(seed.max(1) ^ 0x9E37_79B9_7F4A_7C15);
    // What `model` asks for, on average: 1.15 cores per system service, 0.5 per
    // catalog instance.
    let need_cores = n as f64 * 1.1;
    let cores = |rng: &mut Rng| {
        (need_cores * 1.4 / k as f64 * (0.7 + rng.below(60) as f64 / 100.0)).ceil() as u64
    };
    let mut out = String::new();
    for e in 0..k {
        let provider = ["onprem", "aws", "gcp"][e % 3];
        let jurisdiction = if e % 4 == 3 { "US" } else { "EU" };
        let zones: Vec<String> = (0..=(e % 3)).map(|z| format!("\"e{e}z{z}\"")).collect();
        out.push_str(&format!(
            "environment \"e{e}\" {{\n  target = \"kubernetes\"\n  provider = \"{provider}\"\n  jurisdiction = \"{jurisdiction}\"\n  region = \"r{}\"\n  tier = \"prod\"\n",
            e % 5
        ));
        out.push_str(&format!(
            "  failure_domains = {{ zone = [{}]",
            zones.join(", ")
        ));
        // On premises, the hypervisors stand in the zone: a tree of failure domains.
        if provider == "onprem" {
            out.push_str(&format!(
                ", hypervisor = {{ e{e}z0 = [\"e{e}h0\", \"e{e}h1\", \"e{e}h2\", \"e{e}h3\"] }}"
            ));
        }
        out.push_str(" }\n");
        out.push_str(&format!(
            "  capacity = {{ cpu = {}, memory = {}Gi }}\n  cost = {{ cpu_hour = 0.0{}, memory_gib_hour = 0.00{} }}\n",
            cores(&mut rng),
            cores(&mut rng) * 8,
            20 + rng.below(40),
            2 + rng.below(5)
        ));
        // Near neighbours within the catalog's 5 ms budget, farther ones beyond it.
        for (step, base, spread) in [(1, 2, 3), (2, 3, 4), (5, 10, 10)] {
            let to = (e + step) % k;
            if to != e && k > step {
                out.push_str(&format!(
                    "  link \"e{to}\" {{ latency = {}ms, bandwidth = 100Gbps }}\n",
                    base + rng.below(spread)
                ));
            }
        }
        out.push_str("}\n\n");
    }
    out.push_str(
        r#"policy "high-in-eu" {
  when    = service.criticality == "high"
  require = environment.jurisdiction == "EU"
  because = "synthetic residency rule"
}

policy "no-low-in-r0" {
  when    = service.criticality == "low"
  forbid  = environment.region == "r0"
}

policy "critical-across-zones" {
  when   = service.criticality == "critical"
  spread = "zone"
}

policy "prefer-onprem" {
  prefer = environment.provider == "onprem"
  weight = 0.01
}
"#,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::MemoryLoader;
    use std::path::{Path, PathBuf};

    #[test]
    fn a_generated_model_compiles_clean() {
        let generated = model(300, 7);
        let mut loader = MemoryLoader::new();
        for (path, text) in &generated.files {
            loader = loader.with_file(Path::new("/m").join(path), text.as_str());
        }
        loader = loader.with_file("/m/values.toml", generated.values.as_str());
        let result = crate::compile_system(
            &loader,
            &crate::SystemRequest {
                entries: vec![PathBuf::from("/m/system")],
                root: PathBuf::from("/m"),
                display_base: PathBuf::from("/m"),
                values_files: vec![PathBuf::from("/m/values.toml")],
                ..Default::default()
            },
        );
        let messages: Vec<String> = result
            .diagnostics
            .iter()
            .map(|d| d.message.clone())
            .collect();
        assert!(messages.is_empty(), "{messages:?}");
        let systems = &result.resolution.expect("resolved").systems;
        assert_eq!(systems.len(), 1);
        // 270 system services plus the catalog services they pull in.
        assert!(
            systems[0].instances.len() >= 270,
            "{}",
            systems[0].instances.len()
        );
    }
}
