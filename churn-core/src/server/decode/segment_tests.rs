//! Segment decoder tests, with payloads shaped as `segment-analytics-python` 2.4 and
//! analytics.js send them.

use super::*;
use crate::event::{Limits as EventLimits, Message, PAGE_VIEW};
use crate::server::decode::test_util::gz;
use serde_json::json;

fn now() -> Timestamp {
    Timestamp::parse_field("2026-01-01T00:00:10Z", "t").unwrap()
}

fn msg(item: &Result<MessageInput, ValidationError>) -> Message {
    item.clone()
        .unwrap()
        .into_message(now(), &EventLimits::default())
        .unwrap()
}

fn track(m: Message) -> crate::event::Event {
    match m {
        Message::Track(e) => e,
        other => panic!("not a track: {other:?}"),
    }
}

/// What `segment.analytics.request.post` sends (gzip off): writeKey and sentAt in the
/// envelope, Basic auth header, messages with `integrations`, `context.library`,
/// `messageId`, millisecond ISO timestamps with `+00:00`.
fn python_batch() -> Value {
    json!({
        "batch": [
            {"integrations": {}, "anonymousId": null, "properties": {"plan": "pro", "amount": 19.5},
             "timestamp": "2026-01-01T00:00:00.000+00:00",
             "context": {"library": {"name": "analytics-python", "version": "2.4.0"}},
             "userId": "u1", "type": "track", "event": "purchase",
             "messageId": "0d2b6a7e-1111-4c1e-9a53-4f0f7e0f0a01"},
            {"integrations": {}, "anonymousId": "anon-1", "timestamp": "2026-01-01T00:00:01.000+00:00",
             "context": {"library": {"name": "analytics-python", "version": "2.4.0"}},
             "userId": "u1", "type": "identify", "traits": {"email": "a@b.c"},
             "messageId": "0d2b6a7e-1111-4c1e-9a53-4f0f7e0f0a02"},
            {"integrations": {}, "timestamp": "2026-01-01T00:00:02.000+00:00",
             "context": {"library": {"name": "analytics-python", "version": "2.4.0"}},
             "userId": "u1", "type": "group", "groupId": "acme", "traits": {"size": 10},
             "messageId": "0d2b6a7e-1111-4c1e-9a53-4f0f7e0f0a03"},
            {"integrations": {}, "timestamp": "2026-01-01T00:00:03.000+00:00",
             "context": {"library": {"name": "analytics-python", "version": "2.4.0"}},
             "userId": "u1", "previousId": "anon-1", "type": "alias",
             "messageId": "0d2b6a7e-1111-4c1e-9a53-4f0f7e0f0a04"},
            {"integrations": {}, "timestamp": "2026-01-01T00:00:04.000+00:00", "name": "Pricing",
             "properties": {"path": "/pricing"}, "context": {"library": {"name": "analytics-python", "version": "2.4.0"}},
             "userId": "u1", "type": "page", "category": "Docs",
             "messageId": "0d2b6a7e-1111-4c1e-9a53-4f0f7e0f0a05"},
            {"integrations": {}, "timestamp": "2026-01-01T00:00:05.000+00:00", "name": "Home",
             "context": {"library": {"name": "analytics-python", "version": "2.4.0"}},
             "userId": "u1", "type": "screen",
             "messageId": "0d2b6a7e-1111-4c1e-9a53-4f0f7e0f0a06"}
        ],
        "sentAt": "2026-01-01T00:00:10.000000+00:00",
        "writeKey": "wk_body"
    })
}

#[test]
fn python_sdk_batch_decodes_every_call() {
    let body = serde_json::to_vec(&python_batch()).unwrap();
    // base64("wk_header:")
    let parts = RequestParts::new(&body)
        .authorization("Basic d2tfaGVhZGVyOg==")
        .received_at(now());
    let d = decode(Call::Batch, &parts, &Limits::segment()).unwrap();
    assert_eq!(
        d.key.as_deref(),
        Some("wk_header"),
        "the header wins over the body"
    );
    assert_eq!(d.items.len(), 6);
    let e = track(msg(&d.items[0]));
    assert_eq!(
        (e.event.as_str(), e.user_id.as_deref()),
        ("purchase", Some("u1"))
    );
    assert_eq!(e.message_id, "0d2b6a7e-1111-4c1e-9a53-4f0f7e0f0a01");
    assert_eq!(e.properties["amount"], 19.5);
    assert_eq!(
        e.timestamp,
        Timestamp::parse_field("2026-01-01T00:00:00Z", "t").unwrap()
    );
    assert_eq!(e.context.extra["library"]["name"], "analytics-python");
    let Message::Identify(i) = msg(&d.items[1]) else {
        panic!()
    };
    assert_eq!(
        (i.user_id.as_str(), i.anonymous_id.as_deref()),
        ("u1", Some("anon-1"))
    );
    assert_eq!(i.traits["email"], "a@b.c");
    let g = track(msg(&d.items[2]));
    assert_eq!(g.event, GROUP_EVENT);
    assert_eq!(g.properties["group_id"], "acme");
    assert_eq!(g.properties["traits"]["size"], 10);
    let Message::Alias(a) = msg(&d.items[3]) else {
        panic!()
    };
    assert_eq!(
        (a.user_id.as_str(), a.previous_id.as_str()),
        ("u1", "anon-1")
    );
    let p = track(msg(&d.items[4]));
    assert_eq!(p.event, PAGE_VIEW);
    assert_eq!(p.context.path.as_deref(), Some("/pricing"));
    assert_eq!(p.properties["name"], "Pricing");
    assert_eq!(track(msg(&d.items[5])).event, "screen_view");
}

#[test]
fn body_write_key_when_no_header() {
    let body = serde_json::to_vec(&python_batch()).unwrap();
    let d = decode(Call::Batch, &RequestParts::new(&body), &Limits::segment()).unwrap();
    assert_eq!(d.key.as_deref(), Some("wk_body"));
    let d = decode(
        Call::Batch,
        &RequestParts::new(&body).authorization("Bearer xyz"),
        &Limits::segment(),
    )
    .unwrap();
    assert_eq!(
        d.key.as_deref(),
        Some("wk_body"),
        "a non-Basic header is ignored"
    );
    let d = decode(
        Call::Batch,
        &RequestParts::new(br#"{"batch":[]}"#),
        &Limits::segment(),
    )
    .unwrap();
    assert_eq!(d.key, None);
    assert!(d.items.is_empty());
}

#[test]
fn clock_skew_is_corrected_like_segment() {
    // Client clock 1 hour ahead: sentAt 11:00:10, received 10:00:10.
    let received = Timestamp::parse_field("2026-01-01T10:00:10Z", "t").unwrap();
    let body = json!({"batch": [
        {"type": "track", "event": "a", "userId": "u", "timestamp": "2026-01-01T11:00:00Z"},
        {"type": "track", "event": "b", "userId": "u", "timestamp": "2026-01-01T11:00:00Z",
         "sentAt": "2026-01-01T11:00:05Z"},
        {"type": "track", "event": "c", "userId": "u"},
        {"type": "track", "event": "d", "userId": "u", "originalTimestamp": "2026-01-01T11:00:00Z"}
    ], "sentAt": "2026-01-01T11:00:10Z"});
    let body = serde_json::to_vec(&body).unwrap();
    let d = decode(
        Call::Batch,
        &RequestParts::new(&body).received_at(received),
        &Limits::segment(),
    )
    .unwrap();
    let ts = |i: usize| {
        let m = d.items[i]
            .clone()
            .unwrap()
            .into_message(received, &EventLimits::default())
            .unwrap();
        track(m).timestamp
    };
    let at = |s: &str| Timestamp::parse_field(s, "t").unwrap();
    assert_eq!(ts(0), at("2026-01-01T10:00:00Z"));
    assert_eq!(
        ts(1),
        at("2026-01-01T10:00:05Z"),
        "the message's own sentAt wins"
    );
    assert_eq!(ts(2), received, "no timestamp: receive time");
    assert_eq!(
        ts(3),
        at("2026-01-01T10:00:00Z"),
        "originalTimestamp is read"
    );
    // Without sentAt the timestamp is kept as sent.
    let body = br#"{"batch":[{"type":"track","event":"a","userId":"u","timestamp":"2026-01-01T09:00:00Z"}]}"#;
    let d = decode(
        Call::Batch,
        &RequestParts::new(body).received_at(received),
        &Limits::segment(),
    )
    .unwrap();
    assert_eq!(ts_of(&d, 0, received), at("2026-01-01T09:00:00Z"));
}

fn ts_of(d: &Decoded, i: usize, now: Timestamp) -> Timestamp {
    track(
        d.items[i]
            .clone()
            .unwrap()
            .into_message(now, &EventLimits::default())
            .unwrap(),
    )
    .timestamp
}

#[test]
fn batch_context_is_merged_message_keys_win() {
    let body = json!({
        "batch": [
            {"type": "track", "event": "a", "userId": "u", "context": {"ip": "9.9.9.9"}},
            {"type": "track", "event": "b", "userId": "u"}
        ],
        "context": {"ip": "1.1.1.1", "userAgent": "UA/1", "library": {"name": "x"}}
    });
    let body = serde_json::to_vec(&body).unwrap();
    let d = decode(
        Call::Batch,
        &RequestParts::new(&body).received_at(now()),
        &Limits::segment(),
    )
    .unwrap();
    let a = track(msg(&d.items[0]));
    assert_eq!(a.context.ip.as_deref(), Some("9.9.9.9"));
    assert_eq!(a.context.user_agent.as_deref(), Some("UA/1"));
    let b = track(msg(&d.items[1]));
    assert_eq!(b.context.ip.as_deref(), Some("1.1.1.1"));
    assert_eq!(b.context.extra["library"]["name"], "x");
}

#[test]
fn single_calls_force_their_type() {
    let body = br#"{"userId":"u1","traits":{"plan":"pro"},"type":"track","writeKey":"k"}"#;
    let d = decode(
        Call::Identify,
        &RequestParts::new(body).received_at(now()),
        &Limits::segment(),
    )
    .unwrap();
    assert_eq!(d.key.as_deref(), Some("k"));
    assert!(matches!(msg(&d.items[0]), Message::Identify(_)));
    // analytics.js page call with per-message sentAt and text/plain.
    let body = json!({"type": "page", "anonymousId": "a-1", "name": "Home",
        "properties": {"url": "https://x.io/?utm_source=hn", "path": "/", "referrer": "https://t.co/x"},
        "context": {"page": {"path": "/", "url": "https://x.io/?utm_source=hn"}, "userAgent": "Mozilla"},
        "messageId": "ajs-next-1", "timestamp": "2026-01-01T00:00:09.000Z",
        "sentAt": "2026-01-01T00:00:09.500Z", "writeKey": "wk_js"});
    let body = serde_json::to_vec(&body).unwrap();
    let d = decode(
        Call::Page,
        &RequestParts::new(&body)
            .content_type("text/plain")
            .received_at(now()),
        &Limits::segment(),
    )
    .unwrap();
    let p = track(msg(&d.items[0]));
    assert_eq!(p.event, PAGE_VIEW);
    assert_eq!(p.anonymous_id.as_deref(), Some("a-1"));
    assert_eq!(p.context.utm.source.as_deref(), Some("hn"));
    // sentAt 500 ms before receipt: within the skew tolerance, kept as sent.
    assert_eq!(
        p.timestamp,
        Timestamp::parse_field("2026-01-01T00:00:09.000Z", "t").unwrap()
    );
    let body = br#"{"userId":"u1","groupId":42,"traits":{"name":"Acme"}}"#;
    let d = decode(
        Call::Group,
        &RequestParts::new(body).received_at(now()),
        &Limits::segment(),
    )
    .unwrap();
    let g = track(msg(&d.items[0]));
    assert_eq!(
        (g.event.as_str(), &g.properties["group_id"]),
        (GROUP_EVENT, &json!("42"))
    );
    let d = decode(
        Call::Group,
        &RequestParts::new(br#"{"userId":"u1"}"#),
        &Limits::segment(),
    )
    .unwrap();
    assert!(matches!(d.items[0], Err(ValidationError::Empty { .. })));
}

#[test]
fn gzip_bodies() {
    let body = serde_json::to_vec(&python_batch()).unwrap();
    let z = gz(&body);
    let d = decode(
        Call::Batch,
        &RequestParts::new(&z)
            .content_encoding("gzip")
            .received_at(now()),
        &Limits::segment(),
    )
    .unwrap();
    assert_eq!(d.ok_count(), 6);
    // Magic bytes are enough even without the header.
    assert_eq!(
        decode(Call::Batch, &RequestParts::new(&z), &Limits::segment())
            .unwrap()
            .items
            .len(),
        6
    );
    // Declared but not gzip, truncated gzip, unsupported encoding.
    assert!(decode(
        Call::Batch,
        &RequestParts::new(&body).content_encoding("gzip"),
        &Limits::segment()
    )
    .is_err());
    assert!(decode(
        Call::Batch,
        &RequestParts::new(&z[..20]),
        &Limits::segment()
    )
    .is_err());
    assert!(matches!(
        decode(
            Call::Batch,
            &RequestParts::new(&body).content_encoding("br"),
            &Limits::segment()
        ),
        Err(ValidationError::Invalid { .. })
    ));
}

#[test]
fn limits() {
    let l = Limits::segment();
    // One oversize message in a batch: only it is refused.
    let big = "x".repeat(33 * 1024);
    let body = json!({"batch": [
        {"type": "track", "event": "a", "userId": "u", "properties": {"blob": big}},
        {"type": "track", "event": "b", "userId": "u"}
    ]});
    let body = serde_json::to_vec(&body).unwrap();
    let d = decode(Call::Batch, &RequestParts::new(&body), &l).unwrap();
    assert!(matches!(d.items[0], Err(ValidationError::TooLarge { .. })));
    assert!(d.items[1].is_ok());
    // A single call over 32 KiB fails as a whole.
    let one = serde_json::to_vec(
        &json!({"event": "a", "userId": "u", "properties": {"blob": "x".repeat(33 * 1024)}}),
    )
    .unwrap();
    assert!(matches!(
        decode(Call::Track, &RequestParts::new(&one), &l),
        Err(ValidationError::TooLarge { .. })
    ));
    // Over 500 KiB, raw or after gunzip.
    let msgs: Vec<Value> = (0..40).map(|i| json!({"type": "track", "event": "e", "userId": "u", "properties": {"blob": "y".repeat(15_000), "i": i}})).collect();
    let huge = serde_json::to_vec(&json!({"batch": msgs})).unwrap();
    assert!(huge.len() > 500 * 1024);
    assert!(matches!(
        decode(Call::Batch, &RequestParts::new(&huge), &l),
        Err(ValidationError::TooLarge { .. })
    ));
    let z = gz(&huge);
    assert!(z.len() < 500 * 1024);
    assert!(matches!(
        decode(Call::Batch, &RequestParts::new(&z), &l),
        Err(ValidationError::TooLarge { .. })
    ));
    // Too many messages.
    let many: Vec<Value> = (0..10_001).map(|_| json!({})).collect();
    let many = serde_json::to_vec(&json!({"batch": many})).unwrap();
    assert!(matches!(
        decode(Call::Batch, &RequestParts::new(&many), &l),
        Err(ValidationError::Invalid { .. })
    ));
}

#[test]
fn unreadable_bodies_fail_whole_and_bad_messages_fail_alone() {
    let l = Limits::segment();
    for bad in [
        &b"{not json"[..],
        b"",
        b"[]",
        b"{\"batch\":{}}",
        b"{\"batch\":[1],\"context\":5}",
        b"\xff\xfe",
    ] {
        assert!(
            decode(Call::Batch, &RequestParts::new(bad), &l).is_err(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    for bad in [&b"[1]"[..], b"\"x\"", b"{"] {
        assert!(decode(Call::Track, &RequestParts::new(bad), &l).is_err());
    }
    let body = br#"{"batch":[5, {"type":"track","event":"ok","userId":"u"}, {"type":"launch","userId":"u"}, {"type":"track","event":"x","userId":"u","timestamp":"soon"}]}"#;
    let d = decode(Call::Batch, &RequestParts::new(body).received_at(now()), &l).unwrap();
    assert!(matches!(
        d.items[0],
        Err(ValidationError::NotAnObject { .. })
    ));
    assert!(d.items[1].is_ok());
    // Type and timestamp problems surface when the message is validated.
    assert!(d.items[2]
        .clone()
        .unwrap()
        .into_message(now(), &EventLimits::default())
        .is_err());
    assert!(d.items[3]
        .clone()
        .unwrap()
        .into_message(now(), &EventLimits::default())
        .is_err());
}

#[test]
fn call_names_parse() {
    for c in Call::ALL {
        assert_eq!(c.as_str().parse::<Call>().unwrap(), c);
    }
    assert!("import2".parse::<Call>().is_err());
}

#[test]
fn sdk_on_a_good_clock_keeps_exact_timestamps() {
    // segment-analytics-python 2.4 on 127.0.0.1: sentAt 20 ms before the server received
    // the batch; the timestamp (microseconds, +00:00) is kept to the millisecond.
    let received = Timestamp::parse_field("2026-03-04T05:06:08.000Z", "t").unwrap();
    let body = json!({"batch": [{"type": "track", "event": "Order Completed", "userId": "u",
        "messageId": "m1", "timestamp": "2026-03-04T05:06:07.891000+00:00",
        "context": {"library": {"name": "analytics-python", "version": "2.4.0"}},
        "properties": {"i": 0}, "integrations": {}}],
        "sentAt": "2026-03-04T05:06:07.980000+00:00"});
    let body = serde_json::to_vec(&body).unwrap();
    let d = decode(
        Call::Batch,
        &RequestParts::new(&body).received_at(received),
        &Limits::segment(),
    )
    .unwrap();
    let m = d.items[0]
        .clone()
        .unwrap()
        .into_message(received, &EventLimits::default())
        .unwrap();
    assert_eq!(
        track(m).timestamp,
        Timestamp::parse_field("2026-03-04T05:06:07.891Z", "t").unwrap()
    );
}
