//! Secret values at deploy time: what svcmodel prints or stores never holds one.
//!
//! - [`Redactor`] replaces every known secret value, and the forms it travels in
//!   (base64, URL-encoded), with one fixed mask, so a mask says nothing of a length.
//! - [`fingerprint`] is what the state keeps to tell that a secret changed: an HMAC
//!   keyed with the project's key (`.svcmodel/key`, readable by its owner only), not a
//!   hash salted with something in the same file, so a stolen state cannot be used to
//!   test guesses.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What replaces a secret value: the same whatever the value's length.
pub const MASK: &str = "[redacted]";

/// Replaces known secret values in text.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Every form of every value, longest first, so that a value inside a longer one
    /// never leaves part of the longer one behind.
    needles: Vec<String>,
}

impl Redactor {
    pub fn new(values: impl IntoIterator<Item = String>) -> Redactor {
        let mut needles = Vec::new();
        for value in values.into_iter().filter(|v| !v.is_empty()) {
            let bytes = value.as_bytes();
            needles.push(base64::engine::general_purpose::STANDARD.encode(bytes));
            needles.push(base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes));
            needles.push(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes));
            needles.push(percent_encode(&value));
            needles.push(value);
        }
        needles.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        needles.dedup();
        Redactor { needles }
    }

    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for needle in &self.needles {
            if out.contains(needle.as_str()) {
                out = out.replace(needle.as_str(), MASK);
            }
        }
        out
    }
}

/// Every byte but the unreserved ones of RFC 3986 as `%XX`.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The fingerprint of a secret parameter's value under the project's `key`: enough to
/// say that it changed, and nothing to test a guess with without the key.
pub fn fingerprint(key: &[u8], param: &str, value: &str) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        // HMAC takes a key of any length: this cannot happen.
        Err(_) => return String::new(),
    };
    mac.update(param.as_bytes());
    mac.update(b"\0");
    mac.update(value.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_a_secret_is_masked_with_one_length() {
        let secret = "s3cr3t/key+=?";
        let redactor = Redactor::new([secret.to_string()]);
        let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
        let text = format!("a {secret} b {b64} c {} d", percent_encode(secret));
        let out = redactor.redact(&text);
        assert_eq!(out, format!("a {MASK} b {MASK} c {MASK} d"));
        assert_eq!(
            Redactor::new(["x".repeat(40)]).redact(&"x".repeat(40)),
            Redactor::new(["y".to_string()]).redact("y")
        );
    }

    #[test]
    fn fingerprints_depend_on_the_key() {
        let a = fingerprint(b"key one", "api_key", "value");
        assert_eq!(a.len(), 32);
        assert_eq!(a, fingerprint(b"key one", "api_key", "value"));
        assert_ne!(a, fingerprint(b"key two", "api_key", "value"));
        assert_ne!(a, fingerprint(b"key one", "api_key", "other"));
    }
}
