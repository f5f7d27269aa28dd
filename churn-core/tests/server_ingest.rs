//! The real server on 127.0.0.1 receiving Segment, PostHog and native requests shaped as
//! the SDKs send them: every event arrives once with the right user, name, properties
//! and timestamp.
#![cfg(feature = "server")]

mod server_common;

use churn_core::store::{ScanRequest, StoreExt, DEFAULT_PROJECT};
use churn_core::Timestamp;
use serde_json::json;
use server_common::*;

fn at(s: &str) -> Timestamp {
    Timestamp::parse_field(s, "t").unwrap()
}

#[test]
fn segment_python_batch_gzip_basic_auth_and_retry_dedup() {
    let mut s = start(config());
    let batch = json!({
        "batch": [
            {"integrations": {}, "properties": {"plan": "pro", "amount": 19.5}, "timestamp": "2026-01-01T00:00:00.000+00:00",
             "context": {"library": {"name": "analytics-python", "version": "2.4.0"}}, "userId": "u1", "type": "track",
             "event": "purchase", "messageId": "m-1"},
            {"integrations": {}, "timestamp": "2026-01-01T00:00:01.000+00:00", "context": {"library": {"name": "analytics-python"}},
             "userId": "u1", "anonymousId": "anon-1", "type": "identify", "traits": {"email": "a@b.c"}, "messageId": "m-2"},
            {"integrations": {}, "timestamp": "2026-01-01T00:00:02.000+00:00", "name": "Pricing", "properties": {"path": "/pricing"},
             "context": {}, "anonymousId": "anon-1", "type": "page", "messageId": "m-3"}
        ],
        "sentAt": "2026-01-01T00:00:10.000+00:00"
    });
    let body = gz(&serde_json::to_vec(&batch).unwrap());
    let auth = basic(&s.keys.write_key);
    let headers = [
        ("Content-Type", "application/json"),
        ("Content-Encoding", "gzip"),
        ("Authorization", auth.as_str()),
    ];
    let (st, v, _) = post(&s.url("/v1/batch"), &headers, &body);
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        (v["success"].as_bool(), v["accepted"].as_u64()),
        (Some(true), Some(3))
    );
    // The SDK retries the same batch: stored once.
    let (st, _, _) = post(&s.url("/v1/batch"), &headers, &body);
    assert_eq!(st, 200);
    // A single call with the key in the body.
    let one =
        json!({"userId": "u1", "event": "login", "writeKey": s.keys.write_key, "messageId": "m-4"});
    let (st, v, _) = post(&s.url("/v1/track"), &[], &serde_json::to_vec(&one).unwrap());
    assert_eq!(st, 200, "{v}");
    s.stop();

    let events = s
        .store
        .scan_all(DEFAULT_PROJECT, &ScanRequest::new())
        .unwrap();
    let names: Vec<_> = events.iter().map(|e| e.event.event.as_str()).collect();
    assert_eq!(names, ["purchase", "page_view", "login"]);
    let p = &events[0].event;
    assert_eq!(
        (p.user_id.as_deref(), p.message_id.as_str()),
        (Some("u1"), "m-1")
    );
    assert_eq!(p.properties["amount"], 19.5);
    let received = p.received_at;
    // timestamp + (receivedAt - sentAt): within the test's run time of the original.
    let skew = received.millis() - at("2026-01-01T00:00:10Z").millis();
    assert!((p.timestamp.millis() - at("2026-01-01T00:00:00Z").millis() - skew).abs() < 5_000);
    let u = s.store.user(DEFAULT_PROJECT, "u1").unwrap().unwrap();
    assert_eq!(u.traits["email"], "a@b.c");
    assert_eq!(u.anonymous_ids, ["anon-1"]);
}

#[test]
fn posthog_node_python_js_and_beacon() {
    let mut s = start(config());
    let key = s.keys.write_key.clone();
    // posthog-node: gzip JSON envelope to /batch/.
    let node = json!({"api_key": key, "sent_at": null, "batch": [
        {"distinct_id": "u2", "event": "signup", "properties": {"$lib": "posthog-node", "plan": "team"},
         "type": "capture", "library": "posthog-node", "timestamp": "2026-01-02T00:00:00.000Z", "uuid": "ph-1"},
        {"distinct_id": "u2", "event": "$identify", "properties": {"$set": {"email": "u2@x.io"}, "$anon_distinct_id": "anon-2"},
         "timestamp": "2026-01-02T00:00:01.000Z", "uuid": "ph-2"}
    ]});
    let (st, v, _) = post(
        &s.url("/batch/"),
        &[
            ("Content-Type", "application/json"),
            ("Content-Encoding", "gzip"),
        ],
        &gz(&serde_json::to_vec(&node).unwrap()),
    );
    assert_eq!((st, v["status"].as_u64()), (200, Some(1)), "{v}");
    // posthog-js: gzip-js array to /e/ with text/plain.
    let js = json!([{"uuid": "ph-3", "event": "$pageview", "timestamp": "2026-01-02T00:00:02.000Z",
        "properties": {"$current_url": "https://x.io/a", "$pathname": "/a", "distinct_id": "d-9", "$device_id": "d-9", "token": key}}]);
    let (st, v, _) = post(
        &s.url("/e/?ip=1&compression=gzip-js&ver=1.200.0"),
        &[("Content-Type", "text/plain")],
        &gz(&serde_json::to_vec(&js).unwrap()),
    );
    assert_eq!(st, 200, "{v}");
    // sendBeacon: form body, base64, beacon=1 answered 204.
    use base64::Engine;
    let ev = json!([{"uuid": "ph-4", "event": "$pageleave", "properties": {"distinct_id": "d-9", "$device_id": "d-9", "token": key}}]);
    let b64 = base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&ev).unwrap());
    let form = format!(
        "data={}",
        b64.replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D")
    );
    let (st, _, _) = post(
        &s.url("/e?compression=base64&beacon=1"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        form.as_bytes(),
    );
    assert_eq!(st, 204);
    // GET with data= in the query.
    let ev = json!({"uuid": "ph-5", "event": "clicked", "distinct_id": "u2", "api_key": key});
    let b64 =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(&ev).unwrap());
    let (st, v, _) = get(&s.url(&format!("/capture?data={b64}")), &[]);
    assert_eq!(st, 200, "{v}");
    s.stop();

    let events = s
        .store
        .scan_all(DEFAULT_PROJECT, &ScanRequest::new())
        .unwrap();
    let got: Vec<_> = events
        .iter()
        .map(|e| {
            (
                e.event.message_id.as_str(),
                e.event.event.as_str(),
                e.event.distinct_id(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("ph-1", "signup", "u2"),
            ("ph-3", "page_view", "d-9"),
            ("ph-4", "$pageleave", "d-9"),
            ("ph-5", "clicked", "u2")
        ]
    );
    assert_eq!(events[0].event.timestamp, at("2026-01-02T00:00:00Z"));
    assert_eq!(events[0].event.properties["plan"], "team");
    assert_eq!(events[1].event.anonymous_id.as_deref(), Some("d-9"));
    assert_eq!(events[1].event.context.path.as_deref(), Some("/a"));
    let u = s.store.user(DEFAULT_PROJECT, "u2").unwrap().unwrap();
    assert_eq!(
        (u.traits["email"].as_str(), u.anonymous_ids.as_slice()),
        (Some("u2@x.io"), &["anon-2".to_string()][..])
    );
}

#[test]
fn native_track_identify_and_flask_shape() {
    let mut s = start(config());
    let bearer = format!("Bearer {}", s.keys.write_key);
    let h = [
        ("Authorization", bearer.as_str()),
        ("Content-Type", "application/json"),
    ];
    let (st, v, _) = post(&s.url("/api/track"), &h, br#"{"event":"signup","user_id":"u3","message_id":"n-1","timestamp":"2026-01-03T00:00:00Z","properties":{"plan":"pro"}}"#);
    assert_eq!((st, v["accepted"].as_u64()), (200, Some(1)), "{v}");
    let flask = br#"[{"sessionId":"s-1","type":"pageview","path":"/","timestamp":"2026-01-03T00:00:01Z"},
                    {"sessionId":"s-1","type":"event","category":"cta","action":"click","label":"hero","value":1,"path":"/","timestamp":1767398402}]"#;
    let (st, v, _) = post(&s.url("/api/track"), &h, flask);
    assert_eq!((st, v["accepted"].as_u64()), (200, Some(2)), "{v}");
    let (st, v, _) = post(
        &s.url("/api/identify"),
        &h,
        br#"{"user_id":"u3","traits":{"plan":"team"}}"#,
    );
    assert_eq!(st, 200, "{v}");
    // A batch with one bad message: 200, the bad one reported by index, the others kept.
    let (st, v, _) = post(&s.url("/api/track"), &h, br#"{"batch":[{"event":"a","user_id":"u3","message_id":"n-2"},{"event":"b"},{"event":"c","user_id":"u3","message_id":"n-3"}]}"#);
    assert_eq!(
        (
            st,
            v["accepted"].as_u64(),
            v["rejected"][0]["index"].as_u64()
        ),
        (200, Some(2), Some(1)),
        "{v}"
    );
    assert_eq!(v["rejected"][0]["code"], "ERR_VALIDATION");
    // One bad message alone: 400.
    let (st, v, _) = post(&s.url("/api/track"), &h, br#"{"event":"x"}"#);
    assert_eq!((st, error_code(&v).as_str()), (400, "ERR_VALIDATION"));
    s.stop();

    let events = s
        .store
        .scan_all(DEFAULT_PROJECT, &ScanRequest::new())
        .unwrap();
    let names: Vec<_> = events.iter().map(|e| e.event.event.as_str()).collect();
    assert_eq!(names, ["signup", "page_view", "click", "a", "c"]);
    assert_eq!(events[0].event.timestamp, at("2026-01-03T00:00:00Z"));
    let click = &events[2].event;
    assert_eq!(
        (click.anonymous_id.as_deref(), click.session_id.as_deref()),
        (Some("s-1"), Some("s-1"))
    );
    assert_eq!(
        (
            click.properties["category"].as_str(),
            click.properties["label"].as_str()
        ),
        (Some("cta"), Some("hero"))
    );
    assert_eq!(click.timestamp, Timestamp::from_millis(1_767_398_402_000));
    assert_eq!(
        s.store.user(DEFAULT_PROJECT, "u3").unwrap().unwrap().traits["plan"],
        "team"
    );
}

#[test]
fn projects_are_isolated() {
    let mut s = start(config());
    let other = s.state.projects.create("shop", "Shop").unwrap();
    for (key, user) in [(&s.keys.write_key, "a"), (&other.write_key, "b")] {
        let body = format!(r#"{{"event":"e","userId":"{user}","writeKey":"{key}"}}"#);
        let (st, v, _) = post(&s.url("/v1/track"), &[], body.as_bytes());
        assert_eq!(st, 200, "{v}");
    }
    s.stop();
    let d = s
        .store
        .scan_all(DEFAULT_PROJECT, &ScanRequest::new())
        .unwrap();
    let o = s.store.scan_all("shop", &ScanRequest::new()).unwrap();
    assert_eq!((d.len(), d[0].event.distinct_id()), (1, "a"));
    assert_eq!((o.len(), o[0].event.distinct_id()), (1, "b"));
}

#[test]
fn a_2xx_means_stored_even_with_a_long_flush_interval() {
    // The flush interval never elapses during the test: each request asks for its own
    // commit and is answered only after it.
    let cfg = config().ingest(
        churn_core::server::IngestConfig::default()
            .flush_interval(std::time::Duration::from_secs(30)),
    );
    let mut s = start(cfg);
    let key = s.keys.write_key.clone();
    let mut accepted = 0;
    for b in 0..20 {
        let batch: Vec<_> = (0..50).map(|i| json!({"type": "track", "event": "e", "userId": format!("u{i}"), "messageId": format!("g-{b}-{i}")})).collect();
        let body = serde_json::to_vec(&json!({"batch": batch, "writeKey": key})).unwrap();
        let (st, v, _) = post(&s.url("/v1/batch"), &[], &body);
        assert_eq!(st, 200);
        accepted += v["accepted"].as_u64().unwrap();
        assert_eq!(
            s.store.stats(DEFAULT_PROJECT).unwrap().events,
            accepted,
            "answered before stored"
        );
    }
    let (_, h, _) = get(&s.url("/health"), &[]);
    assert_eq!(
        (h["status"].as_str(), h["queue_depth"].as_u64()),
        (Some("ok"), Some(0))
    );
    s.stop();
    assert_eq!(accepted, 1000);
    assert_eq!(s.store.stats(DEFAULT_PROJECT).unwrap().events, 1000);
}
