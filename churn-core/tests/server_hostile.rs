//! Hostile strings through a real server on 127.0.0.1: SQL fragments, path traversal,
//! NUL and control characters, a right-to-left override, HTML, huge strings and invalid
//! UTF-8, in event names, property keys and values, user ids, segment names, funnel steps
//! and export parameters. Each is either stored inert (read back byte-identical through
//! the API) or refused with a typed 4xx error (`{"error": {"code", "message"}}`); no 5xx.
//! Afterwards the SQLite file passes `PRAGMA integrity_check` and the data sent before
//! the attack is intact.
#![cfg(feature = "server")]

mod server_common;

use std::time::{Duration, Instant};

use churn_core::server::ServerConfig;
use churn_core::store::{ScanRequest, StoreExt, DEFAULT_PROJECT};
use serde_json::{json, Value};
use server_common::*;

fn config0() -> ServerConfig {
    config().engine_refresh(Duration::ZERO)
}

/// The hostile strings (about 20), with a label for messages.
fn hostile() -> Vec<(&'static str, String)> {
    vec![
        ("sql quote", "x' OR '1'='1".into()),
        ("sql drop", "a'); DROP TABLE events; --".into()),
        ("sql comment", "purchase/* */--".into()),
        ("sql union", "\" UNION SELECT * FROM projects --".into()),
        ("sqlite pragma", "'; PRAGMA writable_schema=1; --".into()),
        ("traversal", "../../etc/passwd".into()),
        ("windows traversal", "..\\..\\windows\\win.ini".into()),
        ("encoded traversal", "%2e%2e%2f%2e%2e%2fetc%2fpasswd".into()),
        ("nul", "before\0after".into()),
        ("control chars", "bell\x07esc\x1b[31mred\x7f".into()),
        ("newlines", "line1\r\nSet-Cookie: x=1".into()),
        ("rtl override", "evil\u{202e}gpj.exe".into()),
        ("zero width", "pur\u{200b}chase".into()),
        ("script", "<script>alert(1)</script>".into()),
        ("img onerror", "<img src=x onerror=alert(1)>".into()),
        ("template", "{{7*7}}${7*7}".into()),
        ("emoji and combining", "👩‍👩‍👧 e\u{301}".into()),
        ("json-ish", "{\"$ne\": null}".into()),
        ("format string", "%s%s%n%x".into()),
        (
            "csv formula",
            "=HYPERLINK(\"http://x\",\"y\"),\"a\nb\"".into(),
        ),
        ("long 300 chars", "a".repeat(300)),
        ("1 MB", "m".repeat(1 << 20)),
        ("10 MB", "t".repeat(10 << 20)),
    ]
}

/// A request that may be reset by the server (oversize bodies): `None` when it was.
fn try_call(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<(u16, Value, String)> {
    let mut b = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let req = b.body(body.to_vec()).unwrap();
    let mut resp = agent().run(req).ok()?;
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    Some((
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    ))
}

fn call(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, Value, String) {
    try_call(method, url, headers, body).expect("transport error")
}

/// Refused properly: a 4xx with the error shape.
fn assert_typed_4xx(what: &str, status: u16, v: &Value) {
    assert!((400..500).contains(&status), "{what}: {status} {v}");
    error_code(v);
}

/// Percent-encode every byte outside unreserved characters.
fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

struct Ctx {
    s: TestServer,
    write: String,
    secret: String,
}

impl Ctx {
    fn track(&self, body: &Value) -> Option<(u16, Value, String)> {
        try_call(
            "POST",
            &self.s.url("/api/track"),
            &[
                ("authorization", &self.write),
                ("content-type", "application/json"),
            ],
            &serde_json::to_vec(body).unwrap(),
        )
    }

    fn read(&self, path: &str) -> (u16, Value, String) {
        call(
            "GET",
            &self.s.url(path),
            &[("authorization", &self.secret)],
            b"",
        )
    }

    /// Wait until the event with this message id is stored; returns it as exported.
    fn stored(&self, message_id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            self.s.state.ingest.flush().unwrap();
            let events = self
                .s
                .store
                .scan_all(DEFAULT_PROJECT, &ScanRequest::new())
                .unwrap();
            if let Some(e) = events.iter().find(|e| e.event.message_id == message_id) {
                return serde_json::to_value(e).unwrap();
            }
            assert!(Instant::now() < deadline, "{message_id} never stored");
            std::thread::sleep(Duration::from_millis(30));
        }
    }
}

fn seed(ctx: &Ctx) -> Vec<Value> {
    let body = json!({"batch": (0..20).map(|i| json!({
        "type": "track", "event": "purchase", "user_id": format!("good-{i}"),
        "message_id": format!("good-msg-{i}"), "properties": {"amount": i as f64 + 0.5, "currency": "EUR"}
    })).collect::<Vec<_>>()});
    let (st, v, _) = ctx.track(&body).unwrap();
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["accepted"], 20, "{v}");
    (0..20)
        .map(|i| ctx.stored(&format!("good-msg-{i}")))
        .collect()
}

#[test]
fn hostile_strings_are_stored_inert_or_refused() {
    let s = start(config0());
    let ctx = Ctx {
        write: format!("Bearer {}", s.keys.write_key),
        secret: format!("Bearer {}", s.keys.secret_key),
        s,
    };
    let before = seed(&ctx);
    let mut stored = 0;
    let mut refused = 0;
    let mut kept = Vec::new();
    for (i, (label, h)) in hostile().into_iter().enumerate() {
        // Event name, property key, property value and user id, one message each.
        let shapes = [
            ("event name", json!({"event": h, "user_id": "u-hostile"})),
            (
                "property key",
                json!({"event": "hostile_key", "user_id": "u-hostile", "properties": {h.clone(): 1}}),
            ),
            (
                "property value",
                json!({"event": "hostile_value", "user_id": "u-hostile", "properties": {"v": h}}),
            ),
            ("user id", json!({"event": "hostile_user", "user_id": h})),
        ];
        for (j, (field, mut msg)) in shapes.into_iter().enumerate() {
            let mid = format!("hostile-{i}-{j}");
            msg["message_id"] = json!(mid);
            let what = format!("{label} as {field}");
            let Some((st, v, _)) = ctx.track(&msg) else {
                // Known weak spot (SECURITY.md): a body far over the limit may get its
                // connection reset before the 413 is read.
                assert!(h.len() >= 10 << 20, "{what}: connection reset");
                continue;
            };
            if st == 200 {
                assert_eq!(v["accepted"], 1, "{what}: {v}");
                let e = ctx.stored(&mid);
                let back = match field {
                    "event name" => e["event"].clone(),
                    "property key" => json!(e["properties"]
                        .as_object()
                        .and_then(|m| m.keys().next().cloned())),
                    "property value" => e["properties"]["v"].clone(),
                    _ => e["user_id"].clone(),
                };
                assert_eq!(
                    back.as_str(),
                    Some(h.as_str()),
                    "{what}: not byte-identical"
                );
                kept.push((mid, field, h.clone()));
                stored += 1;
            } else {
                assert_typed_4xx(&what, st, &v);
                refused += 1;
            }
        }
        // Segment name.
        let seg = json!({"name": h, "expr": "did(purchase, >= 1, 30d)"});
        if let Some((st, v, _)) = try_call(
            "POST",
            &ctx.s.url("/api/segments"),
            &[
                ("authorization", &ctx.secret),
                ("content-type", "application/json"),
            ],
            &serde_json::to_vec(&seg).unwrap(),
        ) {
            if st == 201 {
                let (st, list, _) = ctx.read("/api/segments");
                assert_eq!(st, 200);
                assert!(
                    list.to_string()
                        .contains(&serde_json::to_string(&h).unwrap()[1..]),
                    "segment {label}: name not listed back"
                );
                let (st, one, _) = ctx.read(&format!("/api/segments/{}", pct(&h)));
                assert_eq!(st, 200, "segment {label}: {one}");
                assert_eq!(one["segment"]["name"].as_str(), Some(h.as_str()));
                stored += 1;
            } else {
                assert_typed_4xx(&format!("segment {label}"), st, &v);
                refused += 1;
            }
        }
        // Read and export parameters: refused, or answered without a server error.
        if h.len() > 64 * 1024 {
            continue; // over any sane URL length; the HTTP layer refuses those
        }
        let q = pct(&h);
        for path in [
            format!("/api/export?format={q}"),
            format!("/api/export?days={q}"),
            format!("/api/export?{q}=1"),
            format!("/api/users/{q}"),
            format!("/api/users/{q}/export"),
            format!("/api/funnel?steps={q},purchase"),
            format!("/api/funnel?steps=purchase,purchase&breakdown={q}"),
            format!("/api/funnel?steps=purchase,purchase&segment={q}"),
            format!("/api/revenue?currency={q}"),
            format!("/api/datasets/{q}"),
            format!("/api/churn/scores?segment={q}"),
        ] {
            let (st, v, text) = ctx.read(&path);
            assert!(st < 500, "{path}: {st} {text}");
            if st >= 400 {
                assert_typed_4xx(&path, st, &v);
            }
        }
    }
    // Invalid UTF-8 in a raw body, and in a query: refused with a typed 400.
    for body in [
        &b"{\"event\": \"bad\xff\xfe\", \"user_id\": \"u\"}"[..],
        &b"{\"event\": \"e\", \"user_id\": \"u\", \"properties\": {\"k\xc3\x28\": 1}}"[..],
        &b"\xef\xbb\xbf\xff{}"[..],
    ] {
        let (st, v, _) = call(
            "POST",
            &ctx.s.url("/api/track"),
            &[
                ("authorization", &ctx.write),
                ("content-type", "application/json"),
            ],
            body,
        );
        assert_typed_4xx("invalid UTF-8 body", st, &v);
    }
    let (st, v, _) = ctx.read("/api/export?format=%FF%FE");
    assert_typed_4xx("invalid UTF-8 query", st, &v);
    eprintln!("hostile strings: {stored} stored inert, {refused} refused with a 4xx");
    assert!(
        stored >= 20 && refused >= 5,
        "stored {stored}, refused {refused}"
    );

    // Stored strings come back byte-identical through the HTTP export (JSON and CSV).
    let (st, arr, _) = ctx.read("/api/export?days=3660&format=json");
    assert_eq!(st, 200);
    let (st, _, csv_text) = ctx.read("/api/export?days=3660&format=csv");
    assert_eq!(st, 200);
    let mut rows = csv::Reader::from_reader(csv_text.as_bytes());
    let header = rows.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (mid_col, ev_col, user_col) = (col("message_id"), col("event"), col("user_id"));
    let csv_rows: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    for (mid, field, h) in &kept {
        let e = arr
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["message_id"] == json!(mid))
            .unwrap_or_else(|| panic!("{mid} not exported"));
        let r = csv_rows.iter().find(|r| &r[mid_col] == mid).unwrap();
        match *field {
            "event name" => {
                assert_eq!(e["event"].as_str(), Some(h.as_str()), "{mid} json");
                assert_eq!(&r[ev_col], h.as_str(), "{mid} csv");
            }
            "user id" => {
                assert_eq!(e["user_id"].as_str(), Some(h.as_str()), "{mid} json");
                assert_eq!(&r[user_col], h.as_str(), "{mid} csv");
            }
            "property value" => assert_eq!(e["properties"]["v"].as_str(), Some(h.as_str())),
            _ => assert!(e["properties"].get(h.as_str()).is_some(), "{mid} json"),
        }
    }

    // The store is sound and the earlier data intact.
    let (st, _, text) = ctx.read("/api/export?days=3660&format=ndjson");
    assert_eq!(st, 200);
    for i in 0..20 {
        assert!(
            text.contains(&format!("good-msg-{i}")),
            "export lost good-msg-{i}"
        );
    }
    let mut ctx = ctx;
    ctx.s.stop();
    let events = ctx
        .s
        .store
        .scan_all(DEFAULT_PROJECT, &ScanRequest::new())
        .unwrap();
    for b in &before {
        let id = b["message_id"].as_str().unwrap();
        let now: Vec<_> = events.iter().filter(|e| e.event.message_id == id).collect();
        assert_eq!(now.len(), 1, "{id}");
        assert_eq!(&serde_json::to_value(now[0]).unwrap(), b, "{id} changed");
    }
    let conn = rusqlite::Connection::open(ctx.s.dir.path().join("churn.db")).unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(tables >= 3, "tables dropped? {tables}");
}
