//! "Did you mean": the closest known name to a misspelt one.

/// The candidate closest to `name`, if one is close enough to be what was meant.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_lowercase();
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (strsim::damerau_levenshtein(&lower, &c.to_lowercase()), c))
        .filter(|&(distance, c)| {
            // A third of the name may be wrong, at least one edit, at most three.
            let allowed = (c.chars().count().max(name.chars().count()) / 3).clamp(1, 3);
            distance <= allowed
        })
        .min_by_key(|&(distance, c)| (distance, c))
        .map(|(_, c)| c)
}

/// `did you mean `x`?` or nothing.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    closest(name, candidates).map(|c| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_near_misses_only() {
        let names = ["postgres", "payments", "orders"];
        assert_eq!(closest("postgress", names), Some("postgres"));
        assert_eq!(closest("ordres", names), Some("orders"));
        assert_eq!(closest("Orders", names), Some("orders"));
        assert_eq!(closest("redis", names), None);
    }
}
