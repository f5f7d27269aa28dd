//! Finding and removing personal data (PII) in event properties.
//!
//! Keys are compared ignoring ASCII/Unicode case and the separators `_`, `-`, `.` and
//! space, so `email`, `Email`, `E-Mail` and `e_mail` all match the key `email`, and
//! `firstName` matches `first_name`. The walk visits nested objects and arrays.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::PiiMode;
use crate::event::Properties;

fn is_separator(c: char) -> bool {
    matches!(c, '_' | '-' | '.' | ' ')
}

/// Whether `key` equals `pii` ignoring case and separators.
pub(crate) fn key_matches(key: &str, pii: &str) -> bool {
    let mut a = key
        .chars()
        .filter(|c| !is_separator(*c))
        .flat_map(char::to_lowercase);
    let mut b = pii
        .chars()
        .filter(|c| !is_separator(*c))
        .flat_map(char::to_lowercase);
    loop {
        match (a.next(), b.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) if x == y => {}
            _ => return false,
        }
    }
}

/// Whether `key` is one of `pii_keys`.
pub(crate) fn is_pii_key(key: &str, pii_keys: &[String]) -> bool {
    pii_keys.iter().any(|p| key_matches(key, p))
}

/// Salted SHA-256 of a value, as 64 lowercase hex digits: the hash of the salt's bytes
/// followed by the value's text (a string as-is, anything else as compact JSON).
///
/// ```
/// use churn_core::privacy::hash_value;
/// let h = hash_value("pepper", &serde_json::json!("ann@example.com"));
/// assert_eq!(h.len(), 64);
/// assert_ne!(h, hash_value("salt", &serde_json::json!("ann@example.com")));
/// ```
pub fn hash_value(salt: &str, value: &Value) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    match value {
        Value::String(s) => h.update(s.as_bytes()),
        other => h.update(other.to_string().as_bytes()),
    }
    let digest = h.finalize();
    let mut out = String::with_capacity(64);
    for b in digest {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 15)] as char);
    }
    out
}

/// Drop or hash every PII key in `map`, at any depth. `null` values under a PII key are
/// left as they are (they hold nothing). Returns how many values were dropped or hashed.
pub(crate) fn scrub(map: &mut Properties, pii_keys: &[String], mode: &PiiMode) -> usize {
    if pii_keys.is_empty() {
        return 0;
    }
    let mut changed = 0;
    match mode {
        PiiMode::Drop => {
            let before = map.len();
            map.retain(|k, _| !is_pii_key(k, pii_keys));
            changed += before - map.len();
        }
        PiiMode::Hash { salt } => {
            for (k, v) in map.iter_mut() {
                if !v.is_null() && is_pii_key(k, pii_keys) {
                    *v = Value::String(hash_value(salt, v));
                    changed += 1;
                }
            }
        }
    }
    for (k, v) in map.iter_mut() {
        // Hashed values are strings now; only containers under other keys need a visit.
        if !matches!(mode, PiiMode::Hash { .. }) || !is_pii_key(k, pii_keys) {
            changed += scrub_value(v, pii_keys, mode);
        }
    }
    changed
}

fn scrub_value(v: &mut Value, pii_keys: &[String], mode: &PiiMode) -> usize {
    match v {
        Value::Object(m) => scrub(m, pii_keys, mode),
        Value::Array(items) => items
            .iter_mut()
            .map(|i| scrub_value(i, pii_keys, mode))
            .sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keys(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn obj(v: Value) -> Properties {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn keys_match_ignoring_case_and_separators() {
        assert!(key_matches("email", "email"));
        assert!(key_matches("EMAIL", "email"));
        assert!(key_matches("E-Mail", "email"));
        assert!(key_matches("firstName", "first_name"));
        assert!(key_matches("FIRST_NAME", "first_name"));
        assert!(key_matches("Ünïcode", "üNÏCODE"));
        assert!(!key_matches("emails", "email"));
        assert!(!key_matches("mail", "email"));
        assert!(!key_matches("", "email"));
        assert!(!key_matches("username", "name"));
    }

    #[test]
    fn drops_nested_keys() {
        let mut p = obj(json!({
            "Email": "a@b.c",
            "plan": "pro",
            "billing": {"full_name": "Ann Lee", "country": "NL", "contacts": [{"phone": "123", "kind": "work"}]},
        }));
        let n = scrub(
            &mut p,
            &keys(&["email", "full_name", "phone"]),
            &PiiMode::Drop,
        );
        assert_eq!(n, 3);
        assert_eq!(
            Value::Object(p),
            json!({"plan": "pro", "billing": {"country": "NL", "contacts": [{"kind": "work"}]}})
        );
    }

    #[test]
    fn hashes_with_salt() {
        let mode = PiiMode::Hash { salt: "s1".into() };
        let mut p =
            obj(json!({"email": "a@b.c", "inner": {"Phone": 5551234}, "name": null, "x": 1}));
        let n = scrub(&mut p, &keys(&["email", "phone", "name"]), &mode);
        assert_eq!(n, 2);
        // Plain definition: sha256(salt bytes ++ value text), hex.
        let expect = |text: &str| {
            let d = Sha256::digest(format!("s1{text}").as_bytes());
            d.iter().map(|b| format!("{b:02x}")).collect::<String>()
        };
        assert_eq!(p["email"], json!(expect("a@b.c")));
        assert_eq!(p["inner"]["Phone"], json!(expect("5551234")));
        assert_eq!(p["name"], Value::Null);
        assert_eq!(p["x"], json!(1));
        // Same input, same hash: the value stays joinable without being readable.
        assert_eq!(hash_value("s1", &json!("a@b.c")), expect("a@b.c"));
    }

    #[test]
    fn empty_key_list_changes_nothing() {
        let mut p = obj(json!({"email": "a@b.c"}));
        assert_eq!(scrub(&mut p, &[], &PiiMode::Drop), 0);
        assert_eq!(p.len(), 1);
    }
}
