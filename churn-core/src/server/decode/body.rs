//! Body helpers shared by the decoders: size limits, gzip (detected by its magic bytes),
//! base64 and `application/x-www-form-urlencoded` bodies.

use std::io::Read;

use base64::Engine;

use crate::error::ValidationError;
use crate::event::percent_decode;

/// The two bytes every gzip stream starts with.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Whether `body` starts with the gzip magic bytes.
pub fn is_gzip(body: &[u8]) -> bool {
    body.len() >= 2 && body[..2] == GZIP_MAGIC
}

/// Refuse a body longer than `max` bytes (`what` names it in the error).
pub fn check_size(body: &[u8], max: usize) -> Result<(), ValidationError> {
    if body.len() > max {
        return Err(ValidationError::TooLarge {
            size: body.len(),
            max,
        });
    }
    Ok(())
}

/// Decompress a gzip stream, refusing output larger than `max` bytes (a gzip bomb stops
/// at `max + 1` bytes read, never more).
pub fn gunzip(body: &[u8], max: usize) -> Result<Vec<u8>, ValidationError> {
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(max));
    let mut dec = flate2::read::MultiGzDecoder::new(body).take(max as u64 + 1);
    dec.read_to_end(&mut out)
        .map_err(|e| ValidationError::Invalid {
            field: "body".into(),
            reason: format!("invalid gzip data: {e}"),
        })?;
    if out.len() > max {
        return Err(ValidationError::TooLarge {
            size: out.len(),
            max,
        });
    }
    Ok(out)
}

/// Decompress when the body is gzip (by magic bytes) or when `declared_gzip` says it is
/// (`Content-Encoding: gzip`); a declared gzip body without the magic bytes is refused.
pub fn maybe_gunzip(
    body: &[u8],
    declared_gzip: bool,
    max: usize,
) -> Result<Option<Vec<u8>>, ValidationError> {
    if is_gzip(body) {
        return gunzip(body, max).map(Some);
    }
    if declared_gzip {
        return Err(ValidationError::Invalid {
            field: "body".into(),
            reason: "Content-Encoding is gzip but the body is not gzip data".into(),
        });
    }
    Ok(None)
}

/// Decode base64 leniently: standard or URL-safe alphabet, with or without padding,
/// ignoring ASCII whitespace; a space reads as `+` (a form encoder that did not escape
/// `+` turns it into a space).
pub fn base64_decode(text: &[u8]) -> Result<Vec<u8>, ValidationError> {
    let cleaned: Vec<u8> = text
        .iter()
        .filter_map(|&b| match b {
            b' ' => Some(b'+'),
            b'\n' | b'\r' | b'\t' => None,
            b'-' => Some(b'+'),
            b'_' => Some(b'/'),
            b'=' => None,
            other => Some(other),
        })
        .collect();
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(&cleaned)
        .map_err(|e| ValidationError::Invalid {
            field: "body".into(),
            reason: format!("invalid base64 data: {e}"),
        })
}

/// Parse `a=1&b=2` (form body or URL query) into decoded pairs.
pub fn parse_form(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// The first value of `key` in decoded pairs.
pub fn form_get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The bytes as UTF-8 text, or a typed error naming the first bad byte.
pub fn utf8(body: &[u8]) -> Result<&str, ValidationError> {
    std::str::from_utf8(body).map_err(|e| ValidationError::InvalidUtf8 {
        offset: e.valid_up_to(),
    })
}

/// Parse JSON, naming the parser's complaint.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ValidationError> {
    let text = utf8(body)?;
    serde_json::from_str(text).map_err(|e| ValidationError::InvalidJson {
        reason: e.to_string(),
    })
}

/// Parse a JSON object into `T` (settings and admin bodies). Unlike [`parse_json`],
/// refuses other JSON values even where serde would read them: `[null, null]` is not a
/// settings object.
///
/// ```
/// use churn_core::server::decode::body::parse_json_object;
/// #[derive(serde::Deserialize)]
/// struct S { a: Option<u8> }
/// assert!(parse_json_object::<S>(br#"{"a": 1}"#).is_ok());
/// assert!(parse_json_object::<S>(b"[1]").is_err());
/// ```
pub fn parse_json_object<T: serde::de::DeserializeOwned>(
    body: &[u8],
) -> Result<T, ValidationError> {
    let value: serde_json::Value = parse_json(body)?;
    if !value.is_object() {
        return Err(ValidationError::InvalidJson {
            reason: "the body must be a JSON object".into(),
        });
    }
    serde_json::from_value(value).map_err(|e| ValidationError::InvalidJson {
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::decode::test_util::gz;

    #[test]
    fn gzip_round_trip_and_limits() {
        let data = br#"{"a":1}"#;
        let z = gz(data);
        assert!(is_gzip(&z));
        assert!(!is_gzip(data));
        assert!(!is_gzip(&[0x1f]));
        assert_eq!(gunzip(&z, 100).unwrap(), data);
        assert_eq!(gunzip(&z, 7).unwrap(), data);
        assert!(matches!(
            gunzip(&z, 6),
            Err(ValidationError::TooLarge { size: 7, max: 6 })
        ));
        // A bomb: 10 MB of zeros stops at the limit.
        let bomb = gz(&vec![0u8; 10 << 20]);
        assert!(bomb.len() < 20_000);
        assert!(matches!(
            gunzip(&bomb, 1 << 20),
            Err(ValidationError::TooLarge { size, .. }) if size == (1 << 20) + 1
        ));
        // Truncated stream.
        assert!(matches!(
            gunzip(&z[..z.len() - 4], 100),
            Err(ValidationError::Invalid { .. })
        ));
        assert!(matches!(
            gunzip(&[0x1f, 0x8b, 0, 0], 100),
            Err(ValidationError::Invalid { .. })
        ));
        // Two concatenated members read as one stream (what `cat a.gz b.gz` gives).
        let mut two = gz(b"[1,");
        two.extend(gz(b"2]"));
        assert_eq!(gunzip(&two, 100).unwrap(), b"[1,2]");
    }

    #[test]
    fn declared_gzip_without_magic_is_refused() {
        assert!(maybe_gunzip(b"{}", false, 10).unwrap().is_none());
        assert!(matches!(
            maybe_gunzip(b"{}", true, 10),
            Err(ValidationError::Invalid { .. })
        ));
        assert_eq!(maybe_gunzip(&gz(b"{}"), false, 10).unwrap().unwrap(), b"{}");
    }

    #[test]
    fn base64_variants() {
        // "[{\"a\":\"ÿ?>\"}]" has + and / in its standard encoding.
        let raw = "[{\"a\":\"\u{ff}?>\"}]".as_bytes();
        let std = base64::engine::general_purpose::STANDARD.encode(raw);
        assert!(std.contains('+') || std.contains('/'));
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        assert_eq!(base64_decode(std.as_bytes()).unwrap(), raw);
        assert_eq!(base64_decode(url.as_bytes()).unwrap(), raw);
        assert_eq!(
            base64_decode(std.replace('+', " ").as_bytes()).unwrap(),
            raw
        );
        assert_eq!(base64_decode(b"e30=\n").unwrap(), b"{}");
        assert!(base64_decode(b"!!!").is_err());
        assert!(base64_decode(b"e").is_err());
    }

    #[test]
    fn forms() {
        let f = parse_form("data=eyJ%2BIjoxfQ%3D%3D&compression=base64&&flag");
        assert_eq!(form_get(&f, "data"), Some("eyJ+IjoxfQ=="));
        assert_eq!(form_get(&f, "compression"), Some("base64"));
        assert_eq!(form_get(&f, "flag"), Some(""));
        assert_eq!(form_get(&f, "nope"), None);
        assert!(parse_form("").is_empty());
    }

    #[test]
    fn json_and_utf8_errors() {
        assert!(matches!(
            parse_json::<serde_json::Value>(b"{\"a\":\xff}"),
            Err(ValidationError::InvalidUtf8 { offset: 5 })
        ));
        assert!(matches!(
            parse_json::<serde_json::Value>(b"{\"a\":"),
            Err(ValidationError::InvalidJson { .. })
        ));
        assert!(check_size(b"abc", 3).is_ok());
        assert!(check_size(b"abcd", 3).is_err());
    }
}
