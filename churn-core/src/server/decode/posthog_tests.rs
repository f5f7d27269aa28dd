//! PostHog decoder tests, with bodies shaped as posthog-python 7.x, posthog-node 5.x and
//! posthog-js send them.

use super::*;
use crate::event::{Event, Limits as EventLimits, Message, PAGE_VIEW};
use crate::server::decode::test_util::gz;
use base64::Engine;
use serde_json::json;

fn now() -> Timestamp {
    Timestamp::parse_field("2026-01-01T00:00:10Z", "t").unwrap()
}

fn at(s: &str) -> Timestamp {
    Timestamp::parse_field(s, "t").unwrap()
}

fn message(d: &Decoded, i: usize) -> Message {
    d.items[i]
        .clone()
        .unwrap()
        .into_message(now(), &EventLimits::default())
        .unwrap()
}

fn track(m: Message) -> Event {
    match m {
        Message::Track(e) => e,
        other => panic!("not a track: {other:?}"),
    }
}

fn dec(body: &[u8]) -> Decoded {
    decode(
        &RequestParts::new(body).received_at(now()),
        &Limits::posthog(),
    )
    .unwrap()
}

/// `posthog.request.batch_post`: `{batch, sent_at, api_key}`, events from `capture`,
/// `set` and `alias`, ISO timestamps with `+00:00`.
fn python_batch() -> Value {
    let lib = json!({"$lib": "posthog-python", "$lib_version": "7.91.1"});
    let with_lib = |mut p: Value| {
        p.as_object_mut()
            .unwrap()
            .extend(lib.as_object().unwrap().clone());
        p
    };
    json!({
        "batch": [
            {"properties": with_lib(json!({"plan": "pro", "amount": 9.5})), "timestamp": "2026-01-01T00:00:00+00:00",
             "distinct_id": "u1", "event": "purchase", "uuid": "01944f1e-0000-7000-8000-000000000001"},
            {"properties": with_lib(json!({})), "timestamp": "2026-01-01T00:00:01+00:00", "distinct_id": "u1",
             "$set": {"email": "a@b.c"}, "event": "$set", "uuid": "01944f1e-0000-7000-8000-000000000002"},
            {"properties": with_lib(json!({"distinct_id": "u1", "alias": "anon-1"})), "timestamp": "2026-01-01T00:00:02+00:00",
             "event": "$create_alias", "distinct_id": "u1", "uuid": "01944f1e-0000-7000-8000-000000000003"}
        ],
        "sent_at": "2026-01-01T00:00:10.000000+00:00",
        "api_key": "phc_python"
    })
}

#[test]
fn python_sdk_batch() {
    let body = serde_json::to_vec(&python_batch()).unwrap();
    for b in [body.clone(), gz(&body)] {
        let d = decode(
            &RequestParts::new(&b)
                .content_encoding(if is_gzip(&b) { "gzip" } else { "" })
                .received_at(now()),
            &Limits::posthog(),
        )
        .unwrap();
        assert_eq!(d.key.as_deref(), Some("phc_python"));
        let e = track(message(&d, 0));
        assert_eq!(
            (e.event.as_str(), e.user_id.as_deref()),
            ("purchase", Some("u1"))
        );
        assert_eq!(e.message_id, "01944f1e-0000-7000-8000-000000000001");
        assert_eq!(e.timestamp, at("2026-01-01T00:00:00Z"));
        assert_eq!(e.properties["amount"], 9.5);
        assert_eq!(e.properties["$lib"], "posthog-python");
        let Message::Identify(i) = message(&d, 1) else {
            panic!()
        };
        assert_eq!(
            (i.user_id.as_str(), &i.traits["email"]),
            ("u1", &json!("a@b.c"))
        );
        let Message::Alias(a) = message(&d, 2) else {
            panic!()
        };
        assert_eq!(
            (a.user_id.as_str(), a.previous_id.as_str()),
            ("u1", "anon-1")
        );
    }
}

#[test]
fn node_sdk_identify_and_alias() {
    let body = json!({
        "api_key": "phc_node",
        "batch": [
            {"distinct_id": "u2", "event": "$identify", "type": "identify", "library": "posthog-node", "library_version": "5.70.0",
             "properties": {"$set": {"plan": "team"}, "$set_once": {"first": 1}, "$anon_distinct_id": "anon-2",
                            "$lib": "posthog-node", "$lib_version": "5.70.0", "$geoip_disable": true},
             "timestamp": "2026-01-01T00:00:05.000Z", "uuid": "0194-a"},
            {"distinct_id": "u2", "event": "$create_alias", "type": "alias",
             "properties": {"distinct_id": "u2", "alias": "old-2"}, "timestamp": "2026-01-01T00:00:06.000Z", "uuid": "0194-b"},
            {"distinct_id": 42, "event": "clicked", "type": "capture", "properties": {"$groups": {"company": "acme"}},
             "timestamp": "2026-01-01T00:00:07.000Z", "uuid": "0194-c"}
        ],
        "sent_at": "2026-01-01T00:00:10.000Z"
    });
    let d = dec(&serde_json::to_vec(&body).unwrap());
    assert_eq!(d.key.as_deref(), Some("phc_node"));
    let Message::Identify(i) = message(&d, 0) else {
        panic!()
    };
    assert_eq!(i.user_id, "u2");
    assert_eq!(i.anonymous_id.as_deref(), Some("anon-2"));
    assert_eq!(
        i.traits,
        json!({"plan": "team"}).as_object().unwrap().clone(),
        "$set_once is dropped"
    );
    assert_eq!(i.message_id, "0194-a");
    let Message::Alias(a) = message(&d, 1) else {
        panic!()
    };
    assert_eq!(
        (a.user_id.as_str(), a.previous_id.as_str()),
        ("u2", "old-2")
    );
    let e = track(message(&d, 2));
    assert_eq!(e.user_id.as_deref(), Some("42"));
    assert_eq!(e.properties["$groups"]["company"], "acme");
}

/// A posthog-js event as captured in the browser.
fn js_pageview() -> Value {
    json!({
        "uuid": "0194-js-1", "event": "$pageview", "timestamp": "2026-01-01T00:00:09.000Z",
        "properties": {"$os": "Mac OS X", "$current_url": "https://x.io/pricing?utm_source=hn",
            "$host": "x.io", "$pathname": "/pricing", "$referrer": "$direct", "$device_id": "d-1",
            "distinct_id": "d-1", "$session_id": "s-1", "$user_state": "anonymous", "token": "phc_js",
            "utm_source": "hn", "title": "Pricing", "$raw_user_agent": "Mozilla/5.0", "$lib": "web"}
    })
}

#[test]
fn posthog_js_gzip_js_array() {
    let body = serde_json::to_vec(&json!([js_pageview()])).unwrap();
    let z = gz(&body);
    // Body is gzip, content type text/plain, query says gzip-js and `_` (sent_at) in ms.
    let sent = at("2026-01-01T00:00:09.500Z").millis();
    let q = format!("ip=1&_={sent}&ver=1.200.0&compression=gzip-js");
    let d = decode(
        &RequestParts::new(&z)
            .query(&q)
            .content_type("text/plain")
            .received_at(now()),
        &Limits::posthog(),
    )
    .unwrap();
    assert_eq!(d.key.as_deref(), Some("phc_js"));
    let e = track(message(&d, 0));
    assert_eq!(e.event, PAGE_VIEW);
    assert_eq!(e.anonymous_id.as_deref(), Some("d-1"));
    assert_eq!(e.user_id, None);
    assert_eq!(e.session_id.as_deref(), Some("s-1"));
    assert_eq!(e.context.path.as_deref(), Some("/pricing"));
    assert_eq!(
        e.context.url.as_deref(),
        Some("https://x.io/pricing?utm_source=hn")
    );
    assert_eq!(e.context.referrer, None, "$direct is no referrer");
    assert_eq!(e.context.utm.source.as_deref(), Some("hn"));
    assert_eq!(e.context.user_agent.as_deref(), Some("Mozilla/5.0"));
    // 09.000 sent at 09.500 (client clock) received at 10.000: 500 ms is within the
    // skew tolerance (transit time), so the timestamp is kept.
    assert_eq!(e.timestamp, at("2026-01-01T00:00:09.000Z"));
    assert!(!e.properties.contains_key("token"));
}

#[test]
fn posthog_js_beacon_form_base64() {
    let body = serde_json::to_vec(&json!([js_pageview()])).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&body);
    let enc: String = b64
        .bytes()
        .map(|b| match b {
            b'+' => "%2B".to_string(),
            b'/' => "%2F".to_string(),
            b'=' => "%3D".to_string(),
            c => (c as char).to_string(),
        })
        .collect();
    let form = format!("data={enc}");
    let q = "ip=1&_=1767225609500&ver=1.200.0&compression=base64&beacon=1";
    let parts = RequestParts::new(form.as_bytes())
        .query(q)
        .content_type("application/x-www-form-urlencoded")
        .received_at(now());
    let d = decode(&parts, &Limits::posthog()).unwrap();
    assert_eq!(track(message(&d, 0)).event, PAGE_VIEW);
    assert!(Query::parse(Some(q)).beacon);
    // Same body without a content type (sendBeacon with a string) and with compression in the form.
    let form2 = format!("data={enc}&compression=base64");
    let d = decode(
        &RequestParts::new(form2.as_bytes()).received_at(now()),
        &Limits::posthog(),
    )
    .unwrap();
    assert_eq!(d.ok_count(), 1);
    // GET with data= in the query (percent-encoded base64).
    let q = format!("data={enc}&compression=base64&_=1767225609500");
    let d = decode(
        &RequestParts::new(b"").query(&q).received_at(now()),
        &Limits::posthog(),
    )
    .unwrap();
    assert_eq!(d.key.as_deref(), Some("phc_js"));
    // Base64 without the compression flag is recognised too; a raw base64 body as well.
    let d = decode(
        &RequestParts::new(b64.as_bytes()).received_at(now()),
        &Limits::posthog(),
    )
    .unwrap();
    assert_eq!(d.ok_count(), 1);
    // base64 of gzip.
    let bz = base64::engine::general_purpose::STANDARD.encode(gz(&body));
    let d = decode(
        &RequestParts::new(format!("data={}", bz.replace('+', "%2B")).as_bytes()),
        &Limits::posthog(),
    )
    .unwrap();
    assert_eq!(d.ok_count(), 1);
}

#[test]
fn single_event_and_token_places() {
    for ev in [
        json!({"api_key": "k1", "event": "e", "distinct_id": "u"}),
        json!({"token": "k1", "event": "e", "$distinct_id": "u"}),
        json!({"$token": "k1", "event": "e", "properties": {"distinct_id": "u"}}),
        json!({"event": "e", "properties": {"token": "k1", "$distinct_id": "u"}}),
        json!({"event": "e", "properties": {"$token": "k1", "distinct_id": "u"}}),
    ] {
        let d = dec(&serde_json::to_vec(&ev).unwrap());
        assert_eq!(d.key.as_deref(), Some("k1"), "{ev}");
        assert_eq!(track(message(&d, 0)).user_id.as_deref(), Some("u"), "{ev}");
    }
    let d = decode(
        &RequestParts::new(br#"{"event":"e","distinct_id":"u"}"#).query("token=qk"),
        &Limits::posthog(),
    )
    .unwrap();
    assert_eq!(d.key.as_deref(), Some("qk"));
    // A different token inside a batch is refused for that event only.
    let d = dec(br#"{"api_key":"a","batch":[{"event":"e","distinct_id":"u"},{"event":"e","distinct_id":"u","properties":{"token":"b"}}]}"#);
    assert!(d.items[0].is_ok());
    assert!(matches!(d.items[1], Err(ValidationError::Invalid { .. })));
}

#[test]
fn time_rules() {
    let body = json!({"api_key": "k", "sent_at": "2026-01-01T01:00:10Z", "batch": [
        {"event": "a", "distinct_id": "u", "timestamp": "2026-01-01T01:00:00Z"},
        {"event": "b", "distinct_id": "u", "timestamp": "2026-01-01T01:00:00Z", "properties": {"$ignore_sent_at": true}},
        {"event": "c", "distinct_id": "u", "offset": 3000},
        {"event": "d", "distinct_id": "u"},
        {"event": "e", "distinct_id": "u", "timestamp": "later"}
    ]});
    let d = dec(&serde_json::to_vec(&body).unwrap());
    let ts = |i| track(message(&d, i)).timestamp;
    assert_eq!(ts(0), at("2026-01-01T00:00:00Z"), "an hour of skew removed");
    assert_eq!(ts(1), at("2026-01-01T01:00:00Z"));
    assert_eq!(ts(2), at("2026-01-01T00:00:07Z"));
    assert_eq!(ts(3), now());
    assert!(d.items[4]
        .clone()
        .unwrap()
        .into_message(now(), &EventLimits::default())
        .is_err());
    // Without sent_at the timestamp stands.
    let d = dec(br#"[{"event":"a","distinct_id":"u","timestamp":"2025-12-31T00:00:00Z"}]"#);
    assert_eq!(track(message(&d, 0)).timestamp, at("2025-12-31T00:00:00Z"));
}

#[test]
fn screens_and_anonymity() {
    let d = dec(br#"[{"event":"$screen","distinct_id":"u","properties":{"$screen_name":"Home"}},
                    {"event":"x","distinct_id":"d","properties":{"$device_id":"d"}},
                    {"event":"x","distinct_id":"p","properties":{"$process_person_profile":false}}]"#);
    let s = track(message(&d, 0));
    assert_eq!(
        (s.event.as_str(), &s.properties["name"]),
        ("screen_view", &json!("Home"))
    );
    assert_eq!(track(message(&d, 1)).anonymous_id.as_deref(), Some("d"));
    assert_eq!(track(message(&d, 2)).anonymous_id.as_deref(), Some("p"));
}

#[test]
fn bad_bodies_and_bad_events() {
    let l = Limits::posthog();
    for bad in [
        &b""[..],
        b"   ",
        b"{nope",
        b"5",
        b"\"s\"",
        b"{\"batch\":5}",
        b"data=",
        b"\x1f\x8b\x08\x00garbage",
    ] {
        assert!(
            decode(&RequestParts::new(bad), &l).is_err(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    assert!(decode(&RequestParts::new(b"{}").content_encoding("gzip"), &l).is_err());
    assert!(decode(&RequestParts::new(b"abc").query("compression=lz64"), &l).is_err());
    assert!(decode(&RequestParts::new(b"@@@").query("compression=base64"), &l).is_err());
    assert!(decode(
        &RequestParts::new(b"data=x")
            .content_type("application/x-www-form-urlencoded")
            .query("compression=base64"),
        &l
    )
    .is_err());
    assert!(decode(
        &RequestParts::new(b"flag=1").content_type("application/x-www-form-urlencoded"),
        &l
    )
    .is_err());
    let d = dec(br#"[5, {"distinct_id":"u"}, {"event":"","distinct_id":"u"}, {"event":7,"distinct_id":"u"},
                    {"event":"e","distinct_id":"u","properties":[1]}, {"event":"e"}, {"event":"ok","distinct_id":"u"}]"#);
    assert!(matches!(
        d.items[0],
        Err(ValidationError::NotAnObject { .. })
    ));
    assert!(matches!(d.items[1], Err(ValidationError::Empty { .. })));
    assert!(matches!(d.items[2], Err(ValidationError::Empty { .. })));
    assert!(matches!(d.items[3], Err(ValidationError::Invalid { .. })));
    assert!(matches!(
        d.items[4],
        Err(ValidationError::NotAnObject { .. })
    ));
    assert!(matches!(
        d.items[5]
            .clone()
            .unwrap()
            .into_message(now(), &EventLimits::default()),
        Err(ValidationError::MissingIdentity)
    ));
    assert!(d.items[6].is_ok());
}

#[test]
fn limits() {
    let mut l = Limits::posthog();
    l.max_request_bytes = 1000;
    l.max_decompressed_bytes = 5000;
    l.max_messages = 3;
    let many =
        serde_json::to_vec(&json!([{"event":"a"},{"event":"a"},{"event":"a"},{"event":"a"}]))
            .unwrap();
    assert!(matches!(
        decode(&RequestParts::new(&many), &l),
        Err(ValidationError::Invalid { .. })
    ));
    let big = serde_json::to_vec(
        &json!([{"event": "a", "distinct_id": "u", "properties": {"x": "y".repeat(2000)}}]),
    )
    .unwrap();
    assert!(matches!(
        decode(&RequestParts::new(&big), &l),
        Err(ValidationError::TooLarge { .. })
    ));
    assert!(
        decode(&RequestParts::new(&gz(&big)), &l).is_ok(),
        "2 KB gzipped is small"
    );
    let bigger = serde_json::to_vec(
        &json!([{"event": "a", "distinct_id": "u", "properties": {"x": "y".repeat(6000)}}]),
    )
    .unwrap();
    assert!(matches!(
        decode(&RequestParts::new(&gz(&bigger)), &l),
        Err(ValidationError::TooLarge { .. })
    ));
}

#[test]
fn query_parsing() {
    let q = Query::parse(Some(
        "compression=gzip-js&_=1767225600000&beacon=true&api_key=k&ver=1",
    ));
    assert_eq!(q.compression.as_deref(), Some("gzip-js"));
    assert_eq!(q.sent_at, Some(Timestamp::from_millis(1_767_225_600_000)));
    assert!(q.beacon);
    assert_eq!(q.token.as_deref(), Some("k"));
    assert_eq!(Query::parse(None), Query::default());
    assert!(!Query::parse(Some("beacon=0&_=x")).beacon);
    assert_eq!(Query::parse(Some("_=x")).sent_at, None);
}

#[test]
fn sdk_on_a_good_clock_keeps_exact_timestamps() {
    // posthog-python 7.91 on 127.0.0.1: events stamped .891, flushed at .911 (sent_at),
    // received at 00:00:10 (`now()`) is 20 ms later: transit, not skew.
    let body = json!({"api_key": "k", "historical_migration": false,
        "sent_at": "2026-01-01T00:00:09.980000+00:00",
        "batch": [{"event": "e", "distinct_id": "u", "uuid": "0192f1f2-0000-7000-8000-000000000001",
                   "timestamp": "2026-01-01T00:00:09.891000+00:00",
                   "properties": {"$lib": "posthog-python", "i": 1}}]});
    let d = dec(&serde_json::to_vec(&body).unwrap());
    let e = track(message(&d, 0));
    assert_eq!(e.timestamp, at("2026-01-01T00:00:09.891Z"));
    assert_eq!(e.message_id, "0192f1f2-0000-7000-8000-000000000001");
}
