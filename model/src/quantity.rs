//! Quantities with units: `250m` of cpu, `4Gi` of memory, `5ms`, `100Mbps`, `99.9%`.
//!
//! The same table serves the model language and (later) values files, so `4Gi` means
//! the same thing wherever a user writes it. Each kind is held in one base unit.

/// What a quantity measures, and so which units it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantityKind {
    /// Base unit: nanoseconds.
    Duration,
    /// Base unit: bytes.
    Size,
    /// Base unit: bits per second.
    Bandwidth,
    /// Base unit: millicores; a bare number counts cores.
    Cpu,
    /// Base unit: percent; written with `%`.
    Percent,
}

impl QuantityKind {
    pub fn name(self) -> &'static str {
        match self {
            QuantityKind::Duration => "duration",
            QuantityKind::Size => "size",
            QuantityKind::Bandwidth => "bandwidth",
            QuantityKind::Cpu => "cpu",
            QuantityKind::Percent => "percent",
        }
    }

    /// The units this kind accepts, with their factor to the base unit.
    pub fn units(self) -> &'static [(&'static str, f64)] {
        match self {
            QuantityKind::Duration => &[
                ("ns", 1.0),
                ("us", 1e3),
                ("ms", 1e6),
                ("s", 1e9),
                ("m", 60e9),
                ("h", 3600e9),
                ("d", 86400e9),
            ],
            QuantityKind::Size => &[
                ("B", 1.0),
                ("k", 1e3),
                ("M", 1e6),
                ("G", 1e9),
                ("T", 1e12),
                ("P", 1e15),
                ("Ki", 1024.0),
                ("Mi", 1048576.0),
                ("Gi", 1073741824.0),
                ("Ti", 1099511627776.0),
                ("Pi", 1125899906842624.0),
            ],
            QuantityKind::Bandwidth => &[
                ("bps", 1.0),
                ("Kbps", 1e3),
                ("Mbps", 1e6),
                ("Gbps", 1e9),
                ("Tbps", 1e12),
            ],
            QuantityKind::Cpu => &[("", 1000.0), ("m", 1.0)],
            QuantityKind::Percent => &[("%", 1.0)],
        }
    }

    /// Units written as a quick example in help texts.
    pub fn example(self) -> &'static str {
        match self {
            QuantityKind::Duration => "`500ms`, `30s`, `5m`",
            QuantityKind::Size => "`512Mi`, `4Gi`, `500G`",
            QuantityKind::Bandwidth => "`100Mbps`, `10Gbps`",
            QuantityKind::Cpu => "`2`, `0.5`, `250m`",
            QuantityKind::Percent => "`99.9%`",
        }
    }
}

/// Why a number and unit do not make a quantity of the wanted kind.
#[derive(Debug, Clone, PartialEq)]
pub enum QuantityError {
    /// The unit is not one this kind accepts; `suggestion` is the unit probably meant.
    UnknownUnit {
        unit: String,
        suggestion: Option<String>,
    },
    /// A quantity of this kind needs a unit (a bare `4` is ambiguous).
    MissingUnit,
    /// The number is negative, too large, or not whole in the base unit.
    OutOfRange,
}

/// The value of `number` (as written, e.g. `1.5`) with `unit` in the base unit of `kind`.
pub fn to_base_unit(number: f64, unit: &str, kind: QuantityKind) -> Result<f64, QuantityError> {
    let Some(&(_, factor)) = kind.units().iter().find(|(u, _)| *u == unit) else {
        if unit.is_empty() && number == 0.0 {
            return Ok(0.0);
        }
        if unit.is_empty() {
            return Err(QuantityError::MissingUnit);
        }
        return Err(QuantityError::UnknownUnit {
            unit: unit.to_string(),
            suggestion: suggest_unit(unit, kind),
        });
    };
    let value = number * factor;
    if !value.is_finite() || value < 0.0 {
        return Err(QuantityError::OutOfRange);
    }
    Ok(value)
}

/// The value as a whole number of base units (bytes, nanoseconds, ...).
pub fn to_whole_base_unit(
    number: f64,
    unit: &str,
    kind: QuantityKind,
) -> Result<u64, QuantityError> {
    let value = to_base_unit(number, unit, kind)?;
    let rounded = value.round();
    // Binary factors times decimal fractions are rarely exact in f64: accept a tiny error.
    if (value - rounded).abs() > 1e-6 * value.max(1.0) || rounded > u64::MAX as f64 {
        return Err(QuantityError::OutOfRange);
    }
    Ok(rounded as u64)
}

/// A quantity in base units written back with the largest unit that divides it exactly,
/// as a user would write it: `250m`, `2`, `4Gi`, `500M`, `30s`, `1h`, `200Mbps`.
/// Binary size units win over decimal ones when both divide.
pub fn format(kind: QuantityKind, base: u64) -> String {
    if kind == QuantityKind::Cpu {
        return if base.is_multiple_of(1000) {
            (base / 1000).to_string()
        } else {
            format!("{base}m")
        };
    }
    let units: &[(&str, u64)] = match kind {
        QuantityKind::Duration => &[
            ("d", 86_400_000_000_000),
            ("h", 3_600_000_000_000),
            ("m", 60_000_000_000),
            ("s", 1_000_000_000),
            ("ms", 1_000_000),
            ("us", 1_000),
        ],
        QuantityKind::Size => &[
            ("Pi", 1 << 50),
            ("Ti", 1 << 40),
            ("Gi", 1 << 30),
            ("Mi", 1 << 20),
            ("Ki", 1 << 10),
            ("P", 1_000_000_000_000_000),
            ("T", 1_000_000_000_000),
            ("G", 1_000_000_000),
            ("M", 1_000_000),
            ("k", 1_000),
        ],
        QuantityKind::Bandwidth => &[
            ("Tbps", 1_000_000_000_000),
            ("Gbps", 1_000_000_000),
            ("Mbps", 1_000_000),
            ("Kbps", 1_000),
        ],
        QuantityKind::Cpu | QuantityKind::Percent => &[],
    };
    if base != 0 {
        for (unit, factor) in units {
            if base.is_multiple_of(*factor) {
                return format!("{}{unit}", base / factor);
            }
        }
    }
    let unit = match kind {
        QuantityKind::Duration => "ns",
        QuantityKind::Size => "B",
        QuantityKind::Bandwidth => "bps",
        QuantityKind::Cpu | QuantityKind::Percent => "",
    };
    if base == 0 && kind == QuantityKind::Duration {
        return "0s".to_string();
    }
    format!("{base}{unit}")
}

/// The unit a user most likely meant when they wrote `unit`.
fn suggest_unit(unit: &str, kind: QuantityKind) -> Option<String> {
    let known = |u: &str| kind.units().iter().any(|(k, _)| *k == u);
    // Habits from other tools: `GB`, `MiB`, `sec`, `mbps`.
    let habitual = match (kind, unit) {
        (QuantityKind::Size, u) if u.ends_with("iB") => Some(u.trim_end_matches('B').to_string()),
        (QuantityKind::Size, u) if u.len() == 2 && u.ends_with('B') => {
            Some(format!("{}i", &u[..1].to_uppercase()))
        }
        (QuantityKind::Size, "K" | "Kb") => Some("Ki".to_string()),
        (QuantityKind::Duration, "sec" | "secs" | "second" | "seconds") => Some("s".into()),
        (QuantityKind::Duration, "min" | "mins" | "minute" | "minutes") => Some("m".into()),
        (QuantityKind::Duration, "hr" | "hrs" | "hour" | "hours") => Some("h".into()),
        (QuantityKind::Duration, "msec" | "millis") => Some("ms".into()),
        (QuantityKind::Duration, "µs") => Some("us".into()),
        (QuantityKind::Duration, "day" | "days") => Some("d".into()),
        _ => None,
    };
    if let Some(s) = habitual.filter(|s| known(s)) {
        return Some(s);
    }
    // Right letters, wrong case: `gi`, `mbps`, `MS`.
    kind.units()
        .iter()
        .find(|(u, _)| !u.is_empty() && u.eq_ignore_ascii_case(unit))
        .map(|(u, _)| u.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_to_base_units() {
        assert_eq!(
            to_whole_base_unit(4.0, "Gi", QuantityKind::Size),
            Ok(4 << 30)
        );
        assert_eq!(
            to_whole_base_unit(1.5, "Gi", QuantityKind::Size),
            Ok(3 << 29)
        );
        assert_eq!(to_whole_base_unit(250.0, "m", QuantityKind::Cpu), Ok(250));
        assert_eq!(to_whole_base_unit(2.0, "", QuantityKind::Cpu), Ok(2000));
        assert_eq!(
            to_whole_base_unit(5.0, "ms", QuantityKind::Duration),
            Ok(5_000_000)
        );
        assert_eq!(
            to_whole_base_unit(100.0, "Mbps", QuantityKind::Bandwidth),
            Ok(100_000_000)
        );
        assert_eq!(to_base_unit(99.9, "%", QuantityKind::Percent), Ok(99.9));
    }

    #[test]
    fn formats_with_the_largest_exact_unit() {
        assert_eq!(format(QuantityKind::Cpu, 250), "250m");
        assert_eq!(format(QuantityKind::Cpu, 2000), "2");
        assert_eq!(format(QuantityKind::Size, 4 << 30), "4Gi");
        assert_eq!(format(QuantityKind::Size, 500_000_000), "500M");
        assert_eq!(format(QuantityKind::Size, 1023), "1023B");
        assert_eq!(format(QuantityKind::Duration, 90_000_000_000), "90s");
        assert_eq!(format(QuantityKind::Duration, 3_600_000_000_000), "1h");
        assert_eq!(format(QuantityKind::Duration, 0), "0s");
        assert_eq!(format(QuantityKind::Bandwidth, 200_000_000), "200Mbps");
    }

    #[test]
    fn suggests_the_unit_meant() {
        let suggestion = |u: &str, k| match to_base_unit(4.0, u, k) {
            Err(QuantityError::UnknownUnit { suggestion, .. }) => suggestion,
            other => panic!("expected an unknown unit, got {other:?}"),
        };
        assert_eq!(suggestion("GB", QuantityKind::Size).as_deref(), Some("Gi"));
        assert_eq!(suggestion("MiB", QuantityKind::Size).as_deref(), Some("Mi"));
        assert_eq!(suggestion("gi", QuantityKind::Size).as_deref(), Some("Gi"));
        assert_eq!(
            suggestion("sec", QuantityKind::Duration).as_deref(),
            Some("s")
        );
        assert_eq!(
            suggestion("mbps", QuantityKind::Bandwidth).as_deref(),
            Some("Mbps")
        );
        assert_eq!(suggestion("parsecs", QuantityKind::Duration), None);
    }

    #[test]
    fn rejects_what_is_not_a_whole_base_unit() {
        assert_eq!(
            to_whole_base_unit(0.5, "ns", QuantityKind::Duration),
            Err(QuantityError::OutOfRange)
        );
        assert_eq!(
            to_whole_base_unit(4.0, "", QuantityKind::Size),
            Err(QuantityError::MissingUnit)
        );
        assert_eq!(to_whole_base_unit(0.0, "", QuantityKind::Size), Ok(0));
    }
}
