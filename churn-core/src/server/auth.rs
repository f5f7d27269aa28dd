//! Keys and credentials: reading them from headers, hashing them for storage, comparing
//! them in constant time, and making new ones.
//!
//! Each project has a public **write key** (`wk_` + 32 hex digits, 128 random bits) that
//! SDKs embed to send events, and a **secret key** (`sk_` + 64 hex digits, 256 random
//! bits) for reading data and administration, sent as `Authorization: Bearer <secret>`.
//! Only the SHA-256 of each key is stored; a presented key is hashed and the digests are
//! compared with [`subtle::ConstantTimeEq`].
//!
//! ```
//! use churn_core::server::auth::{basic_username, bearer_token, KeyHash};
//! assert_eq!(basic_username("Basic d2tfMTo=").as_deref(), Some("wk_1"));
//! assert_eq!(bearer_token("Bearer sk_abc"), Some("sk_abc"));
//! let h = KeyHash::of("sk_abc");
//! assert!(h.matches("sk_abc") && !h.matches("sk_abd"));
//! ```

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The user name of an HTTP Basic `Authorization` header (Segment puts the write key
/// there with an empty password). `None` for other schemes or unreadable values.
pub fn basic_username(header: &str) -> Option<String> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let user = text.split_once(':').map(|(u, _)| u).unwrap_or(&text);
    (!user.is_empty()).then(|| user.to_string())
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let t = rest.trim();
    (!t.is_empty()).then_some(t)
}

/// The SHA-256 digest of a key, as stored. Serialized as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeyHash(pub [u8; 32]);

impl KeyHash {
    /// Hash a presented key.
    pub fn of(key: &str) -> KeyHash {
        KeyHash(Sha256::digest(key.as_bytes()).into())
    }

    /// Whether `key` hashes to this digest (constant-time comparison of the digests).
    pub fn matches(&self, key: &str) -> bool {
        self.ct_eq(&KeyHash::of(key))
    }

    /// Constant-time equality of two digests.
    pub fn ct_eq(&self, other: &KeyHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }
}

impl std::fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyHash({}..)", &self.to_hex()[..8])
    }
}

impl From<KeyHash> for String {
    fn from(h: KeyHash) -> String {
        h.to_hex()
    }
}

impl TryFrom<String> for KeyHash {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        let b = s.as_bytes();
        if b.len() != 64 {
            return Err(format!("a key hash has 64 hex digits, got {}", b.len()));
        }
        let mut out = [0u8; 32];
        for (i, pair) in b.chunks(2).enumerate() {
            let d = |c: u8| (c as char).to_digit(16).map(|v| v as u8);
            match (d(pair[0]), d(pair[1])) {
                (Some(h), Some(l)) => out[i] = h * 16 + l,
                _ => return Err("a key hash has hex digits only".into()),
            }
        }
        Ok(KeyHash(out))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `n` random bytes from the operating system's generator (through UUID v4, whose 122
/// random bits come from `getrandom`).
fn random_bytes(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n + 16);
    while out.len() < n {
        let u = uuid::Uuid::new_v4();
        // Skip the 6 fixed version/variant bits: keep bytes 0-5 and 10-15 whole.
        let b = u.as_bytes();
        out.extend_from_slice(&b[..6]);
        out.extend_from_slice(&b[10..]);
    }
    out.truncate(n);
    out
}

/// A new write key: `wk_` + 32 hex digits (128 random bits).
pub fn new_write_key() -> String {
    format!("wk_{}", hex(&random_bytes(16)))
}

/// A new secret key: `sk_` + 64 hex digits (256 random bits).
pub fn new_secret_key() -> String {
    format!("sk_{}", hex(&random_bytes(32)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_headers() {
        let enc = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        assert_eq!(
            basic_username(&format!("Basic {}", enc("wk:"))).as_deref(),
            Some("wk")
        );
        assert_eq!(
            basic_username(&format!("basic {}", enc("wk:pw"))).as_deref(),
            Some("wk")
        );
        assert_eq!(
            basic_username(&format!("Basic {}", enc("wk"))).as_deref(),
            Some("wk")
        );
        assert_eq!(basic_username(&format!("Basic {}", enc(":pw"))), None);
        assert_eq!(basic_username("Basic !!!"), None);
        assert_eq!(basic_username("Bearer abc"), None);
        assert_eq!(basic_username("Basic"), None);
        assert_eq!(basic_username(""), None);
    }

    #[test]
    fn bearer_headers() {
        assert_eq!(bearer_token("bearer  sk_1 "), Some("sk_1"));
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Basic x"), None);
        assert_eq!(bearer_token("sk_1"), None);
    }

    #[test]
    fn hashes() {
        let h = KeyHash::of("abc");
        // SHA-256("abc"), FIPS 180-2 test vector.
        assert_eq!(
            h.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(h.matches("abc"));
        assert!(!h.matches("abd"));
        let s: String = h.into();
        assert_eq!(KeyHash::try_from(s).unwrap(), h);
        assert!(KeyHash::try_from("zz".repeat(32)).is_err());
        assert!(KeyHash::try_from("ab".to_string()).is_err());
        let j = serde_json::to_string(&h).unwrap();
        assert_eq!(serde_json::from_str::<KeyHash>(&j).unwrap(), h);
        assert!(!format!("{h:?}").contains(&h.to_hex()));
    }

    #[test]
    fn new_keys_are_random_and_shaped() {
        let (a, b) = (new_write_key(), new_write_key());
        assert_ne!(a, b);
        assert!(a.starts_with("wk_") && a.len() == 35);
        let s = new_secret_key();
        assert!(s.starts_with("sk_") && s.len() == 67);
        assert!(s[3..].bytes().all(|c| c.is_ascii_hexdigit()));
    }
}
