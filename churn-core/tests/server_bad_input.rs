//! Bad input, auth refusals, CORS, rate limits and slow clients against the real server:
//! each gets the right 4xx with the stable error shape, the server keeps serving, and
//! nothing accepted before is lost.
#![cfg(feature = "server")]

mod server_common;

use std::io::{Read, Write};
use std::time::Duration;

use churn_core::server::ratelimit::Rate;
use churn_core::store::{ScanRequest, StoreExt, DEFAULT_PROJECT};
use serde_json::json;
use server_common::*;

/// Path, headers, body, expected status and code.
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<u8>, u16, &'a str);

#[test]
fn bad_bodies_get_clear_4xx_and_nothing_is_lost() {
    let mut s = start(config());
    let key = s.keys.write_key.clone();
    let bearer = format!("Bearer {key}");
    let auth = [("Authorization", bearer.as_str())];
    let good = |id: &str| {
        format!(r#"{{"event":"ok","userId":"u","messageId":"{id}","writeKey":"{key}"}}"#)
    };
    let (st, _, _) = post(&s.url("/v1/track"), &[], good("g-1").as_bytes());
    assert_eq!(st, 200);

    let cases: Vec<Case<'_>> = vec![
        (
            "/v1/batch",
            vec![],
            b"{\"batch\": [".to_vec(),
            400,
            "ERR_VALIDATION",
        ),
        (
            "/v1/track",
            vec![],
            b"not json".to_vec(),
            400,
            "ERR_VALIDATION",
        ),
        (
            "/api/track",
            auth.to_vec(),
            b"{\"event\":".to_vec(),
            400,
            "ERR_VALIDATION",
        ),
        ("/e", vec![], b"{oops".to_vec(), 400, "ERR_VALIDATION"),
        (
            "/v1/track",
            vec![("Content-Type", "application/x-www-form-urlencoded")],
            good("x").into_bytes(),
            415,
            "ERR_UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            "/api/track",
            vec![("Content-Type", "multipart/form-data; boundary=x"), auth[0]],
            good("x").into_bytes(),
            415,
            "ERR_UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            "/v1/batch",
            vec![("Content-Encoding", "gzip")],
            good("x").into_bytes(),
            400,
            "ERR_VALIDATION",
        ),
        (
            "/v1/batch",
            vec![],
            vec![0x1f, 0x8b, 8, 0, 1, 2, 3, 4],
            400,
            "ERR_VALIDATION",
        ),
        (
            "/batch",
            vec![],
            vec![0x1f, 0x8b, 8, 0, 1, 2, 3, 4],
            400,
            "ERR_VALIDATION",
        ),
        (
            "/v1/batch",
            vec![("Content-Encoding", "br")],
            good("x").into_bytes(),
            400,
            "ERR_VALIDATION",
        ),
        (
            "/v1/track",
            vec![],
            br#"{"event":"e","userId":"u","writeKey":"wk_unknown"}"#.to_vec(),
            401,
            "ERR_UNAUTHORIZED",
        ),
        (
            "/v1/track",
            vec![],
            br#"{"event":"e","userId":"u"}"#.to_vec(),
            401,
            "ERR_UNAUTHORIZED",
        ),
        (
            "/e",
            vec![],
            br#"{"event":"e","distinct_id":"u","api_key":"nope"}"#.to_vec(),
            401,
            "ERR_UNAUTHORIZED",
        ),
        (
            "/api/track",
            vec![("Authorization", "Bearer wrong")],
            good("x").into_bytes(),
            401,
            "ERR_UNAUTHORIZED",
        ),
    ];
    for (path, headers, body, status, code) in &cases {
        let (st, v, _) = post(&s.url(path), headers, body);
        assert_eq!(
            (st, error_code(&v).as_str()),
            (*status, *code),
            "{path} {headers:?}: {v}"
        );
    }

    // Oversize: Segment answers 400 (as Segment does), native and PostHog 413.
    let big = serde_json::to_vec(&json!({"event": "e", "userId": "u", "writeKey": key, "properties": {"x": "y".repeat(40_000)}})).unwrap();
    let (st, v, _) = post(&s.url("/v1/track"), &[], &big);
    assert_eq!(
        (st, error_code(&v).as_str()),
        (400, "ERR_PAYLOAD_TOO_LARGE"),
        "{v}"
    );
    let (st, v, _) = post(&s.url("/api/track"), &auth, &big);
    assert_eq!(
        (st, error_code(&v).as_str()),
        (413, "ERR_PAYLOAD_TOO_LARGE")
    );
    let huge = vec![b' '; 600 * 1024];
    let (st, _, _) = post(&s.url("/v1/batch"), &[], &huge);
    assert_eq!(st, 400);
    let (st, v, _) = post(&s.url("/batch"), &[], &vec![b'['; 3 * 1024 * 1024]);
    assert_eq!(
        (st, error_code(&v).as_str()),
        (413, "ERR_PAYLOAD_TOO_LARGE")
    );
    // A gzip bomb: 30 MB of zeros in ~30 KB.
    let bomb = gz(&vec![b' '; 30 << 20]);
    let (st, v, _) = post(&s.url("/batch"), &[], &bomb);
    assert_eq!(
        (st, error_code(&v).as_str()),
        (413, "ERR_PAYLOAD_TOO_LARGE"),
        "{v}"
    );
    // Huge batch count within the byte limit.
    let many =
        serde_json::to_vec(&json!({"batch": vec![json!({}); 20_000], "writeKey": key})).unwrap();
    assert!(many.len() < 500 * 1024);
    let (st, v, _) = post(&s.url("/v1/batch"), &[], &many);
    assert_eq!(st, 400);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("20000 messages"),
        "{v}"
    );

    // Unknown route and wrong method: JSON errors too.
    let (st, v, _) = get(&s.url("/nope"), &[]);
    assert_eq!((st, error_code(&v).as_str()), (404, "ERR_NOT_FOUND"));
    let (st, v, _) = get(&s.url("/v1/track"), &[]);
    assert_eq!(
        (st, error_code(&v).as_str()),
        (405, "ERR_METHOD_NOT_ALLOWED")
    );

    // Still serving; the good events are all there, none of the bad ones.
    let (st, _, _) = post(&s.url("/v1/track"), &[], good("g-2").as_bytes());
    assert_eq!(st, 200);
    let (st, h, _) = get(&s.url("/health"), &[]);
    assert_eq!((st, h["status"].as_str()), (200, Some("ok")));
    s.stop();
    let ids: Vec<_> = s
        .store
        .scan_all(DEFAULT_PROJECT, &ScanRequest::new())
        .unwrap()
        .into_iter()
        .map(|e| e.event.message_id)
        .collect();
    assert_eq!(ids, ["g-1", "g-2"]);
}

#[test]
fn secret_key_is_required_to_read_and_cors_is_per_project() {
    let s = start(config());
    let (st, v, _) = get(&s.url("/api/project"), &[]);
    assert_eq!((st, error_code(&v).as_str()), (401, "ERR_UNAUTHORIZED"));
    let wk = format!("Bearer {}", s.keys.write_key);
    let (st, _, _) = get(&s.url("/api/project"), &[("Authorization", wk.as_str())]);
    assert_eq!(st, 401, "a write key does not read");
    let sk = format!("Bearer {}", s.keys.secret_key);
    let (st, v, _) = get(&s.url("/api/project"), &[("Authorization", sk.as_str())]);
    assert_eq!((st, v["id"].as_str()), (200, Some("default")));

    // Default: any origin may send; preflight answered with that origin.
    let origin = "https://shop.example";
    let r = ureq_send_options(&s.url("/v1/batch"), origin);
    assert_eq!(r.0, 204);
    assert_eq!(r.1.get("access-control-allow-origin").unwrap(), origin);
    let body = format!(
        r#"{{"event":"e","userId":"u","writeKey":"{}"}}"#,
        s.keys.write_key
    );
    let (st, _, h) = post(&s.url("/v1/track"), &[("Origin", origin)], body.as_bytes());
    assert_eq!(
        (
            st,
            h.get("access-control-allow-origin")
                .unwrap()
                .to_str()
                .unwrap()
        ),
        (200, origin)
    );

    // Restrict to one origin: another origin is refused, the listed one accepted.
    let (st, v, _) = patch(
        &s.url("/api/project"),
        &sk,
        br#"{"cors_origins":["https://app.example"]}"#,
    );
    assert_eq!(
        (st, v["cors_origins"][0].as_str()),
        (200, Some("https://app.example")),
        "{v}"
    );
    let (st, v, _) = post(&s.url("/v1/track"), &[("Origin", origin)], body.as_bytes());
    assert_eq!((st, error_code(&v).as_str()), (403, "ERR_FORBIDDEN_ORIGIN"));
    let (st, _, _) = post(
        &s.url("/v1/track"),
        &[("Origin", "https://app.example")],
        body.as_bytes(),
    );
    assert_eq!(st, 200);
    let (_, _, h) = get(
        &s.url("/api/project"),
        &[
            ("Authorization", sk.as_str()),
            ("Origin", "https://app.example"),
        ],
    );
    assert_eq!(
        h.get("access-control-allow-origin").unwrap(),
        "https://app.example"
    );
    let (st, _, _) = patch(
        &s.url("/api/project"),
        &sk,
        br#"{"cors_origins":["not-an-origin"]}"#,
    );
    assert_eq!(st, 400);
    let (st, _, _) = patch(&s.url("/api/project"), &sk, br#"{"unknown":1}"#);
    assert_eq!(st, 400);
}

fn ureq_send_options(url: &str, origin: &str) -> (u16, ureq::http::HeaderMap) {
    let r = agent()
        .options(url)
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .call()
        .unwrap();
    (r.status().as_u16(), r.headers().clone())
}

fn patch(url: &str, auth: &str, body: &[u8]) -> (u16, serde_json::Value, ureq::http::HeaderMap) {
    let mut r = agent()
        .patch(url)
        .header("Authorization", auth)
        .send(body)
        .unwrap();
    let status = r.status().as_u16();
    let h = r.headers().clone();
    let v = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap_or_default();
    (status, v, h)
}

#[test]
fn rate_limits_answer_429_with_retry_after() {
    let s = start(config().ip_rate(Rate::new(0.5, 3.0)));
    let statuses: Vec<_> = (0..5).map(|_| get(&s.url("/health"), &[])).collect();
    assert_eq!(
        statuses.iter().map(|r| r.0).collect::<Vec<_>>(),
        [200, 200, 200, 429, 429]
    );
    let (_, v, h) = &statuses[3];
    assert_eq!(error_code(v), "ERR_RATE_LIMITED");
    let retry: u64 = h
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "{retry}");

    let s = start(config().key_rate(Rate::new(0.5, 2.0)));
    let body = format!(
        r#"{{"event":"e","userId":"u","writeKey":"{}"}}"#,
        s.keys.write_key
    );
    let codes: Vec<_> = (0..3)
        .map(|_| post(&s.url("/v1/track"), &[], body.as_bytes()).0)
        .collect();
    assert_eq!(codes, [200, 200, 429]);
}

#[test]
fn slow_client_gets_408_and_others_are_served() {
    let s = start(config().body_timeout(Duration::from_millis(500)));
    let addr = s.server.as_ref().unwrap().addr();
    let mut sock = std::net::TcpStream::connect(addr).unwrap();
    sock.write_all(b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nContent-Type: application/json\r\n\r\n{\"batch\":").unwrap();
    // Meanwhile another client is served.
    let (st, _, _) = get(&s.url("/health"), &[]);
    assert_eq!(st, 200);
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = sock.read(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("ERR_TIMEOUT"), "{text}");
}

#[test]
fn openapi_is_served() {
    let s = start(config());
    let (st, v, _) = get(&s.url("/openapi.json"), &[]);
    assert_eq!(st, 200);
    assert_eq!(v["openapi"], "3.1.0");
    assert!(v["paths"]["/v1/batch"]["post"].is_object());
    assert!(v["paths"]["/i/v0/e/"]["get"].is_object());
}
