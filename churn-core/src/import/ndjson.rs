//! NDJSON lines to messages through [`MessageInput`], the parser the server and the
//! bindings use, so Segment-shaped lines (`userId`, `messageId`, `context.page`, ...)
//! work, as do `identify` and `alias` lines.

use std::io::{BufRead, Read};
use std::path::Path;

use serde_json::Value;

use super::ids::PLACEHOLDER;
use super::report::RowError;
use super::sink::{Parsed, Sink};
use crate::error::{Error, Result, ValidationError};
use crate::event::MessageInput;

/// Longest line read in full; longer lines are skipped and refused without being held in
/// memory. Four times the largest valid message leaves room for whitespace and escapes.
fn max_line_bytes(max_message_bytes: usize) -> usize {
    max_message_bytes.saturating_mul(4).max(1024)
}

/// Read every line of an NDJSON input into `sink`. Blank lines are skipped.
pub(crate) fn read_ndjson<R: BufRead>(
    mut input: R,
    sink: &mut Sink<'_>,
    source: &Path,
) -> Result<()> {
    let limits = sink.options().limits.clone();
    let max_line = max_line_bytes(limits.max_message_bytes);
    let io_err = |e: std::io::Error| Error::Io {
        path: source.to_path_buf(),
        source: e,
    };
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    loop {
        buf.clear();
        let n = (&mut input)
            .take(max_line as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(io_err)?;
        if n == 0 {
            break;
        }
        line_no += 1;
        if buf.last() != Some(&b'\n') && buf.len() > max_line {
            skip_line(&mut input).map_err(io_err)?;
            sink.row(
                line_no,
                Err(RowError::new(
                    "line too long",
                    format!("the line is longer than {max_line} bytes"),
                )),
            )?;
            continue;
        }
        let mut text = buf.trim_ascii();
        if line_no == 1 {
            text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
        }
        if text.is_empty() {
            continue;
        }
        let parsed = parse_line(text, sink.now, &limits);
        sink.row(line_no, parsed)?;
    }
    Ok(())
}

/// Consume input up to and including the next newline.
fn skip_line<R: BufRead>(input: &mut R) -> std::io::Result<()> {
    loop {
        let (done, used) = {
            let chunk = input.fill_buf()?;
            if chunk.is_empty() {
                return Ok(());
            }
            match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (true, i + 1),
                None => (false, chunk.len()),
            }
        };
        input.consume(used);
        if done {
            return Ok(());
        }
    }
}

fn parse_line(
    text: &[u8],
    now: crate::time::Timestamp,
    limits: &crate::event::Limits,
) -> Result<Parsed, RowError> {
    let mut input = MessageInput::parse_slice(text)?;
    if matches!(input.timestamp, None | Some(Value::Null)) {
        // An import is history: a missing time must not silently become "now" (and would
        // make the generated message id differ on every import).
        return Err(ValidationError::Empty {
            field: "timestamp".into(),
        }
        .into());
    }
    let needs_id = match &input.message_id {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(_) => false,
    };
    if needs_id {
        input.message_id = Some(Value::String(PLACEHOLDER.into()));
    }
    let message = input.into_message(now, limits)?;
    Ok(Parsed { message, needs_id })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Limits, Message};
    use crate::time::Timestamp;

    fn parse(s: &str) -> Result<Parsed, RowError> {
        parse_line(
            s.as_bytes(),
            Timestamp::from_ymd(2026, 1, 1).unwrap(),
            &Limits::default(),
        )
    }

    #[test]
    fn segment_lines_parse_and_missing_ids_are_flagged() {
        let p = parse(
            r#"{"type":"track","event":"signup","userId":"u1","timestamp":"2025-06-01T10:00:00Z"}"#,
        )
        .unwrap();
        assert!(p.needs_id);
        assert_eq!(p.message.message_id(), PLACEHOLDER);
        let p =
            parse(r#"{"event":"x","user_id":"u1","message_id":"m1","timestamp":1748772000000}"#)
                .unwrap();
        assert!(!p.needs_id);
        assert_eq!(p.message.message_id(), "m1");
        let p = parse(
            r#"{"type":"identify","userId":"u1","traits":{"plan":"pro"},"timestamp":"2025-06-01"}"#,
        )
        .unwrap();
        assert!(matches!(p.message, Message::Identify(_)));
    }

    #[test]
    fn bad_lines_are_refused_with_a_kind() {
        let kind = |s: &str| parse(s).err().map(|e| e.kind);
        assert_eq!(kind("{nope").as_deref(), Some("invalid JSON"));
        assert_eq!(
            kind(r#"{"event":"x","userId":"u"}"#).as_deref(),
            Some("empty timestamp")
        );
        assert_eq!(
            kind(r#"{"event":"x","timestamp":"2025-01-01"}"#).as_deref(),
            Some("no user or anonymous id")
        );
        assert_eq!(
            kind(r#"{"event":"x","userId":"u","timestamp":"2025-02-30"}"#).as_deref(),
            Some("bad timestamp")
        );
        assert_eq!(
            kind(r#"{"event":"x","userId":"u","timestamp":"2025-01-01","properties":{"amount":"NaN"}}"#)
                .as_deref(),
            Some("amount is not a finite number")
        );
        let bad_utf8 = parse_line(
            b"{\"event\":\"a\xff\"}",
            Timestamp::now(),
            &Limits::default(),
        );
        assert_eq!(
            bad_utf8.err().map(|e| e.kind).as_deref(),
            Some("invalid UTF-8")
        );
    }
}
