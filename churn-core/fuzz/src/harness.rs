//! The fuzz harness: one function per cargo-fuzz target, each taking the raw input and
//! returning a short, deterministic outcome (`ok ...` or `err <kind>`).
//!
//! The same file is compiled by `churn-core/tests/fuzz_regressions.rs` (stable
//! toolchain, part of `cargo test`), which replays every kept input (seeds and former
//! crashes) and compares each outcome with `churn-core/fuzz/expected.txt`.
//!
//! A target fails (panics) when churn-core panics, or when one of the properties below
//! does not hold:
//! - `event_json`: a message that validated validates again, and survives a JSON round
//!   trip unchanged (what the stores and exports rely on);
//! - `import_rows`: `rows_read == stored + duplicates + identities + rejected`, and
//!   importing the same input again stores nothing (the documented idempotence);
//! - `segment_body` / `posthog_body`: every decoded message validates or is refused
//!   with an error, never a panic;
//! - `segment_filter`: a parsed expression prints to text that parses back to the same
//!   expression (from the JSON form: to the same text), and its JSON form round-trips;
//! - `model_load`: a model that loads saves and loads back to the same model, and
//!   scores and explains a customer without panicking.
//!
//! Request targets (`segment_body`, `posthog_body`) read an HTTP-like input: header
//! lines `name: value` (`call`, `query`, `content-type`, `content-encoding`,
//! `authorization`), an empty line, then the body bytes. An input without the empty
//! line is all body.

#![allow(clippy::panic)]

use churn_core::churn::{
    explain_customer, model_from_json, model_to_json, RiskThresholds, Transaction,
};
use churn_core::engine::SegmentExpr;
use churn_core::event::{Limits, Message, MessageInput};
use churn_core::import::{import_reader, FileFormat, ImportOptions};
use churn_core::server::decode::{posthog, segment, Decoded, Limits as BodyLimits, RequestParts};
use churn_core::store::MemoryStore;
use churn_core::{Error, Timestamp, ValidationError};

/// The receive time every target uses, so outcomes do not depend on the clock
/// (2026-01-01T00:00:00Z).
pub const NOW: Timestamp = Timestamp::from_millis(1_767_225_600_000);

/// A target: raw input in, outcome out.
pub type Target = fn(&[u8]) -> String;

/// Every target with its name.
pub const TARGETS: [(&str, Target); 6] = [
    ("event_json", event_json),
    ("import_rows", import_rows),
    ("segment_body", segment_body),
    ("posthog_body", posthog_body),
    ("segment_filter", segment_filter),
    ("model_load", model_load),
];

/// The variant name of a validation error (`InvalidJson`, `TooLarge`, ...).
fn kind(e: &ValidationError) -> String {
    let dbg = format!("{e:?}");
    dbg.split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or_default()
        .to_string()
}

fn err(e: &Error) -> String {
    match e {
        Error::Validation(v) => format!("err {}", kind(v)),
        other => format!("err {}", other.code()),
    }
}

/// Parse one message the way the server and NDJSON import do, validate it.
pub fn event_json(data: &[u8]) -> String {
    // The server's path: bytes -> serde_json::Value -> MessageInput.
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Ok(input) = MessageInput::from_value(v) {
            if let Ok(m) = input.into_message(NOW, &Limits::default()) {
                check_message(&m);
            }
        }
    }
    // The bindings' and import's path: bytes -> MessageInput directly.
    let input = match MessageInput::parse_slice(data) {
        Ok(i) => i,
        Err(e) => return format!("err {}", kind(&e)),
    };
    match input.into_message(NOW, &Limits::default()) {
        Ok(m) => {
            check_message(&m);
            let kind = match m {
                Message::Track(_) => "track",
                Message::Identify(_) => "identify",
                Message::Alias(_) => "alias",
            };
            format!("ok {kind}")
        }
        Err(e) => format!("err {}", kind(&e)),
    }
}

/// A valid message validates again and survives a JSON round trip.
fn check_message(m: &Message) {
    if let Err(e) = m.validate(NOW, &Limits::default()) {
        panic!("a message that validated does not validate again: {e}\n{m:?}");
    }
    let json = serde_json::to_string(m).unwrap_or_else(|e| panic!("cannot serialize: {e}"));
    let back: Message =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("cannot read back {json}: {e}"));
    assert_eq!(&back, m, "JSON round trip changed the message: {json}");
}

/// Import a CSV or NDJSON file into a fresh store, then again.
///
/// The first byte picks the options: bits 0-1 the format (auto, CSV, NDJSON, auto),
/// bits 2-3 the delimiter (`,`, tab, `;`, `|`), bit 4 a default event name (`row`).
/// The rest is the file.
pub fn import_rows(data: &[u8]) -> String {
    let Some((&opt, file)) = data.split_first() else {
        return "err empty".into();
    };
    let delimiter = [b',', b'\t', b';', b'|'][usize::from((opt >> 2) & 3)];
    let mut opts = ImportOptions::new().delimiter(delimiter);
    match opt & 3 {
        1 => opts = opts.format(FileFormat::Csv),
        2 => opts = opts.format(FileFormat::Ndjson),
        _ => {}
    }
    if opt & 16 != 0 {
        opts = opts.default_event("row");
    }
    let store = MemoryStore::new();
    let report = match import_reader(&store, file, &opts, &mut |_| {}) {
        Ok(r) => r,
        Err(e) => return err(&e),
    };
    assert_eq!(
        report.rows_read,
        report.stored + report.duplicates + report.identities + report.rejected,
        "row counts do not add up: {report:?}"
    );
    let again = import_reader(&store, file, &opts, &mut |_| {})
        .unwrap_or_else(|e| panic!("the second import failed: {e}"));
    assert_eq!(
        again.stored, 0,
        "the second import stored rows again: {again:?}"
    );
    assert_eq!(
        (again.rows_read, again.rejected),
        (report.rows_read, report.rejected),
        "the second import read the input differently"
    );
    format!(
        "ok {}/{}/{}",
        report.stored, report.duplicates, report.rejected
    )
}

/// Header lines and body of a request input.
struct Request<'a> {
    call: Option<&'a str>,
    query: Option<&'a str>,
    content_type: Option<&'a str>,
    content_encoding: Option<&'a str>,
    authorization: Option<&'a str>,
    body: &'a [u8],
}

fn request(data: &[u8]) -> Request<'_> {
    let mut r = Request {
        call: None,
        query: None,
        content_type: None,
        content_encoding: None,
        authorization: None,
        body: data,
    };
    let Some(end) = data.windows(2).position(|w| w == b"\n\n") else {
        return r;
    };
    r.body = &data[end + 2..];
    let Ok(head) = std::str::from_utf8(&data[..end]) else {
        return r;
    };
    for line in head.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = Some(value.trim_start());
        match name.trim().to_ascii_lowercase().as_str() {
            "call" => r.call = value,
            "query" => r.query = value,
            "content-type" => r.content_type = value,
            "content-encoding" => r.content_encoding = value,
            "authorization" => r.authorization = value,
            _ => {}
        }
    }
    r
}

impl<'a> Request<'a> {
    fn parts(&self) -> RequestParts<'a> {
        let mut p = RequestParts::new(self.body).received_at(NOW);
        p.query = self.query;
        p.content_type = self.content_type;
        p.content_encoding = self.content_encoding;
        p.authorization = self.authorization;
        p
    }
}

/// What the server does with a decoded request: validate every message.
fn ingest(d: Result<Decoded, ValidationError>) -> String {
    let d = match d {
        Ok(d) => d,
        Err(e) => return format!("err {}", kind(&e)),
    };
    let mut valid = 0;
    for input in d.items.into_iter().flatten() {
        if let Ok(m) = input.into_message(NOW, &Limits::default()) {
            check_message(&m);
            valid += 1;
        }
    }
    let key = if d.key.is_some() { "key" } else { "nokey" };
    format!("ok {valid} valid, {key}")
}

/// Decode a Segment request (`call:` header, default `batch`).
pub fn segment_body(data: &[u8]) -> String {
    let r = request(data);
    let call = match r.call.unwrap_or("batch").parse::<segment::Call>() {
        Ok(c) => c,
        Err(e) => return format!("err {}", kind(&e)),
    };
    ingest(segment::decode(call, &r.parts(), &BodyLimits::segment()))
}

/// Decode a PostHog capture request.
pub fn posthog_body(data: &[u8]) -> String {
    let r = request(data);
    ingest(posthog::decode(&r.parts(), &BodyLimits::posthog()))
}

/// Parse a segment filter expression (text form, and JSON form when it is JSON).
pub fn segment_filter(data: &[u8]) -> String {
    let Ok(text) = std::str::from_utf8(data) else {
        return "err utf8".into();
    };
    if let Ok(e) = serde_json::from_str::<SegmentExpr>(text) {
        if e.validate().is_ok() {
            check_expr(&e, false);
        }
    }
    match SegmentExpr::parse(text) {
        Ok(e) => {
            check_expr(&e, true);
            "ok".into()
        }
        Err(e) => err(&e),
    }
}

/// A valid expression prints to text that parses back to itself (`strict`: parsed from
/// text), or (built from JSON, where redundant nesting such as `{"and":[{"and":[]}]}`
/// prints as `((true))` and reads back flattened) to an expression that does; its JSON
/// form reads back to itself.
fn check_expr(e: &SegmentExpr, strict: bool) {
    let text = e.to_string();
    match SegmentExpr::parse(&text) {
        Ok(back) if strict => {
            assert_eq!(&back, e, "text round trip changed the expression: {text}")
        }
        Ok(back) => check_expr(&back, true),
        Err(err) => panic!("the printed expression does not parse: {text}: {err}\n{e:?}"),
    }
    let json = serde_json::to_string(e).unwrap_or_else(|err| panic!("cannot serialize: {err}"));
    let back: SegmentExpr =
        serde_json::from_str(&json).unwrap_or_else(|err| panic!("cannot read back {json}: {err}"));
    assert_eq!(&back, e, "JSON round trip changed the expression: {json}");
}

/// Load a model file; a model that loads round-trips and explains a customer.
pub fn model_load(data: &[u8]) -> String {
    let model = match model_from_json(data) {
        Ok(m) => m,
        Err(e) => return err(&e),
    };
    let bytes = model_to_json(&model).unwrap_or_else(|e| panic!("cannot save a loaded model: {e}"));
    let back =
        model_from_json(&bytes).unwrap_or_else(|e| panic!("a saved model does not load: {e}"));
    assert_eq!(back, model, "save/load changed the model");
    let day = 86_400_000;
    let rows: Vec<Transaction> = (0..6)
        .map(|i| Transaction::purchase("c1", NOW.add_millis(-(i * 9 + 1) * day), 10.0 * i as f64))
        .collect();
    match explain_customer(&model, &rows, NOW, 3, &RiskThresholds::default()) {
        Ok(_) => "ok explained".into(),
        Err(e) => format!("ok, explain {}", err(&e)),
    }
}
