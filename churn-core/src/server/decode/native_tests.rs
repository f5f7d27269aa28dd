use super::*;
use crate::event::{Event, Limits as EventLimits, Message, PAGE_VIEW};
use crate::server::decode::test_util::gz;
use crate::time::Timestamp;
use serde_json::json;

fn now() -> Timestamp {
    Timestamp::parse_field("2026-01-01T12:00:00Z", "t").unwrap()
}

fn event(v: Value) -> Event {
    match prepare_for_test(v)
        .unwrap()
        .into_message(now(), &EventLimits::default())
        .unwrap()
    {
        Message::Track(e) => e,
        other => panic!("{other:?}"),
    }
}

fn dec(body: &[u8]) -> Result<Decoded, ValidationError> {
    decode(
        Endpoint::Track,
        &RequestParts::new(body),
        &Limits::segment(),
    )
}

#[test]
fn shapes_one_array_batch() {
    let one = dec(br#"{"event":"a","user_id":"u","writeKey":"wk"}"#).unwrap();
    assert_eq!((one.items.len(), one.key.as_deref()), (1, Some("wk")));
    let arr = dec(br#"[{"event":"a","userId":"u"},{"event":"b","userId":"u"}]"#).unwrap();
    assert_eq!(arr.ok_count(), 2);
    let b = dec(br#"{"batch":[{"event":"a","userId":"u"}],"write_key":"k2"}"#).unwrap();
    assert_eq!((b.ok_count(), b.key.as_deref()), (1, Some("k2")));
    let z = gz(br#"[{"event":"a","userId":"u"}]"#);
    assert_eq!(dec(&z).unwrap().ok_count(), 1);
}

#[test]
fn flask_simple_shape_mapping() {
    let e = event(
        json!({"sessionId": "s1", "type": "pageview", "path": "/pricing", "timestamp": "2026-01-01T11:00:00Z"}),
    );
    assert_eq!(e.event, PAGE_VIEW);
    assert_eq!(
        (e.anonymous_id.as_deref(), e.session_id.as_deref()),
        (Some("s1"), Some("s1"))
    );
    assert_eq!(e.context.path.as_deref(), Some("/pricing"));
    assert_eq!(e.properties["path"], "/pricing");
    assert_eq!(
        e.timestamp,
        Timestamp::parse_field("2026-01-01T11:00:00Z", "t").unwrap()
    );

    let e = event(
        json!({"sessionId": "s1", "type": "event", "category": "signup", "action": "click",
                         "label": "hero-cta", "value": 1, "path": "/", "timestamp": 1767265200}),
    );
    assert_eq!(e.event, "click");
    assert_eq!(e.properties["category"], "signup");
    assert_eq!(e.properties["label"], "hero-cta");
    assert_eq!(e.properties["value"], 1);
    assert_eq!(e.properties["type"], "event");
    assert_eq!(
        e.timestamp,
        Timestamp::from_millis(1_767_265_200_000),
        "seconds"
    );

    let e = event(
        json!({"sessionId": "s2", "type": "conversion", "category": "purchase", "value": 49.0,
                         "timestamp": 1767265200123i64}),
    );
    assert_eq!(e.event, "conversion");
    assert_eq!(
        e.timestamp,
        Timestamp::from_millis(1_767_265_200_123),
        "milliseconds"
    );

    let e = event(
        json!({"session_id": "s3", "category": "video", "timestamp": 1767265200.5, "extra": true}),
    );
    assert_eq!(e.event, "video");
    assert_eq!(e.timestamp, Timestamp::from_millis(1_767_265_200_500));
    assert_eq!(e.properties["extra"], true);
    assert_eq!(event(json!({"sessionId": "s4"})).event, "event");
    assert_eq!(
        event(json!({"sessionId": 7, "type": ""}))
            .anonymous_id
            .as_deref(),
        Some("7")
    );
}

#[test]
fn simple_shape_detection() {
    let m = |v: Value| v.as_object().unwrap().clone();
    assert!(is_simple_shape(&m(json!({"sessionId": "s"}))));
    assert!(!is_simple_shape(&m(
        json!({"sessionId": "s", "event": "x"})
    )));
    assert!(!is_simple_shape(&m(
        json!({"sessionId": "s", "userId": "u"})
    )));
    assert!(!is_simple_shape(&m(json!({"type": "pageview"}))));
    assert!(is_simple_shape(&m(
        json!({"sessionId": "s", "userId": null})
    )));
    // A regular message with a session id keeps its meaning.
    let e = event(json!({"event": "x", "userId": "u", "sessionId": "s"}));
    assert_eq!(
        (e.event.as_str(), e.session_id.as_deref()),
        ("x", Some("s"))
    );
}

#[test]
fn identify_endpoint_forces_type() {
    let d = decode(
        Endpoint::Identify,
        &RequestParts::new(br#"{"userId":"u","traits":{"plan":"pro"},"type":"track"}"#),
        &Limits::segment(),
    )
    .unwrap();
    let m = d.items[0]
        .clone()
        .unwrap()
        .into_message(now(), &EventLimits::default())
        .unwrap();
    assert!(matches!(m, Message::Identify(i) if i.traits["plan"] == "pro"));
}

#[test]
fn errors() {
    for bad in [
        &b""[..],
        b"nope",
        b"5",
        b"\"x\"",
        b"{",
        b"[1,",
        b"{\"batch\":3}",
        b"\xff",
    ] {
        assert!(dec(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
    }
    let big = serde_json::to_vec(
        &json!({"event":"a","userId":"u","properties":{"x":"y".repeat(33_000)}}),
    )
    .unwrap();
    assert!(matches!(dec(&big), Err(ValidationError::TooLarge { .. })));
    let arr = serde_json::to_vec(&json!([{"event":"a","userId":"u","properties":{"x":"y".repeat(33_000)}}, {"event":"b","userId":"u"}, 3])).unwrap();
    let d = dec(&arr).unwrap();
    assert!(matches!(d.items[0], Err(ValidationError::TooLarge { .. })));
    assert!(d.items[1].is_ok());
    assert!(matches!(
        d.items[2],
        Err(ValidationError::NotAnObject { .. })
    ));
    let many = serde_json::to_vec(&vec![json!({}); 10_001]).unwrap();
    assert!(dec(&many).is_err());
}

#[test]
fn content_types() {
    for ok in [
        None,
        Some("application/json"),
        Some("application/json; charset=utf-8"),
        Some("text/plain;charset=UTF-8"),
        Some("application/vnd.api+json"),
        Some(""),
    ] {
        assert!(json_content_type_ok(ok), "{ok:?}");
    }
    for bad in [
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "image/png",
    ] {
        assert!(!json_content_type_ok(Some(bad)), "{bad}");
    }
}
