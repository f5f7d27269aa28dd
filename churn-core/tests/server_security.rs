//! Security table of every route, checked against a real server on 127.0.0.1: the live
//! `/openapi.json`, the router's own route list ([`route_table`]) and the table below
//! must be the same set of (method, path) both ways, so a new route without an entry
//! here fails. Then every read/admin route refuses requests without the project's
//! secret key, every ingestion route refuses missing or unknown keys, and project B's
//! secret key never sees project A's data on any read route.
#![cfg(feature = "server")]

mod server_common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use churn_core::server::{route_table, ServerConfig};
use serde_json::{json, Value};
use server_common::*;

#[path = "server_security/routes.rs"]
mod routes;
use routes::{table, Access::*, POSTHOG};

/// (what, url, headers, body) of one refused ingestion request.
type Attempt<'a> = (&'a str, String, Vec<(&'a str, &'a str)>, Vec<u8>);

fn config0() -> ServerConfig {
    config().engine_refresh(Duration::ZERO)
}

/// A well-formed body for the route, so that the key is the only thing wrong.
fn body_for(method: &str, path: &str) -> Vec<u8> {
    let v = match (method, path) {
        ("PATCH", "/api/project") => json!({"cors_origins": []}),
        ("POST", "/api/churn/train") => json!({}),
        ("POST", "/api/churn/predict") => json!({"transactions": [
            {"customer_id": "c", "date": "2025-01-01T00:00:00Z", "amount": 1.0, "event_type": "purchase"}]}),
        ("POST", "/api/datasets") => {
            return b"customer_id,event_date,amount\nc,2025-01-01,1\n".to_vec()
        }
        ("POST", "/api/segments") => json!({"name": "s", "expr": "did(purchase, >= 1, 7d)"}),
        ("PUT", _) => json!({"expr": "did(purchase, >= 1, 7d)"}),
        ("POST", "/v1/batch") | ("POST", "/v1/import") => {
            json!({"batch": [{"type": "track", "event": "e", "userId": "u"}]})
        }
        ("POST", p) if p.starts_with("/v1/") => {
            json!({"type": "track", "event": "e", "userId": "u", "previousId": "p", "groupId": "g", "name": "n"})
        }
        ("POST", "/api/identify") => json!({"type": "identify", "user_id": "u", "traits": {}}),
        ("POST", "/api/track") => json!({"event": "e", "user_id": "u"}),
        ("POST", _) => json!({"event": "e", "distinct_id": "u"}),
        _ => return Vec::new(),
    };
    serde_json::to_vec(&v).unwrap()
}

fn concrete(path: &str) -> String {
    path.replace("{id}", "alice-A").replace("{name}", "seg-A")
}

#[test]
fn live_openapi_router_and_security_table_list_the_same_routes() {
    let s = start(config0());
    let (status, doc, _) = get(&s.url("/openapi.json"), &[]);
    assert_eq!(status, 200);
    let mut from_doc = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for (m, op) in ops.as_object().unwrap() {
            from_doc.insert((m.to_ascii_uppercase(), path.clone()));
            // A read route is documented as needing the secret key, and nothing else.
            if path.starts_with("/api/") && path != "/api/track" && path != "/api/identify" {
                assert_eq!(
                    op["security"],
                    json!([{"bearerKey": []}]),
                    "{m} {path}: a read route must document secret-key auth only"
                );
            }
        }
    }
    let from_router: BTreeSet<(String, String)> = route_table()
        .iter()
        .flat_map(|r| {
            r.methods
                .iter()
                .map(move |m| (m.as_str().to_string(), r.path.to_string()))
        })
        .collect();
    let from_table: BTreeSet<(String, String)> = table()
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(table().len(), from_table.len(), "duplicate rows in table()");
    let missing: Vec<_> = from_router.difference(&from_table).collect();
    assert!(
        missing.is_empty(),
        "routes without a security entry in this test: {missing:?}"
    );
    let stale: Vec<_> = from_table.difference(&from_router).collect();
    assert!(stale.is_empty(), "table rows the router lacks: {stale:?}");
    assert_eq!(
        from_doc, from_router,
        "/openapi.json differs from the router"
    );
}

#[test]
fn every_read_route_refuses_missing_write_and_unknown_keys() {
    let s = start(config0());
    let b = s.state.projects.create("proj-b", "B").unwrap();
    let wk_bearer = format!("Bearer {}", s.keys.write_key);
    let wk_basic = basic(&s.keys.write_key);
    let sk_basic = basic(&s.keys.secret_key);
    let b_write = format!("Bearer {}", b.write_key);
    let unknown = format!("Bearer sk_{}", "0".repeat(64));
    let truncated = format!(
        "Bearer {}",
        &s.keys.secret_key[..s.keys.secret_key.len() - 1]
    );
    let raw = s.keys.secret_key.clone();
    let mut checked = 0;
    for (method, path, access) in table() {
        if access != Read {
            continue;
        }
        let url = s.url(&concrete(path));
        let body = body_for(method, path);
        let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
            ("no key", vec![]),
            ("write key as bearer", vec![("authorization", &wk_bearer)]),
            ("write key as basic", vec![("authorization", &wk_basic)]),
            ("secret key as basic", vec![("authorization", &sk_basic)]),
            ("secret key without scheme", vec![("authorization", &raw)]),
            (
                "other project's write key",
                vec![("authorization", &b_write)],
            ),
            ("unknown secret key", vec![("authorization", &unknown)]),
            ("truncated secret key", vec![("authorization", &truncated)]),
            ("secret key in another header", vec![("x-api-key", &raw)]),
        ];
        for (what, mut headers) in cases {
            headers.push(("content-type", "application/json"));
            let (status, v, _) = call(method, &url, &headers, &body);
            assert!(
                status == 401 || status == 403,
                "{method} {path} with {what} answered {status}: {v}"
            );
            assert_eq!(error_code(&v), "ERR_UNAUTHORIZED", "{method} {path} {what}");
            checked += 1;
        }
        // The secret key in the query string is not a credential.
        let sep = if url.contains('?') { '&' } else { '?' };
        let (status, v, _) = call(method, &format!("{url}{sep}key={raw}"), &[], &body);
        assert!(
            status == 401 || status == 400,
            "{method} {path}?key= answered {status}: {v}"
        );
    }
    assert!(checked >= 9 * 25, "only {checked} checks");
}

#[test]
fn every_ingest_route_refuses_missing_and_unknown_keys() {
    let s = start(config0());
    let unknown = format!("wk_{}", "f".repeat(32));
    let unknown_basic = basic(&unknown);
    let unknown_bearer = format!("Bearer {unknown}");
    for (method, path, access) in table() {
        if access != Ingest {
            continue;
        }
        let url = s.url(path);
        let ct = [("content-type", "application/json")];
        let body = body_for(method, path);
        let is_posthog = POSTHOG.contains(&path);
        let attempts: Vec<Attempt> = if method == "GET" {
            let data = |d: Value| {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD.encode(d.to_string())
            };
            vec![
                (
                    "no key",
                    format!(
                        "{url}?data={}",
                        data(json!({"event": "e", "distinct_id": "u"}))
                    ),
                    vec![],
                    vec![],
                ),
                (
                    "unknown key",
                    format!(
                        "{url}?data={}",
                        data(json!({"event": "e", "distinct_id": "u", "api_key": unknown}))
                    ),
                    vec![],
                    vec![],
                ),
            ]
        } else {
            let mut with_key: Value = serde_json::from_slice(&body).unwrap();
            let field = if is_posthog { "api_key" } else { "writeKey" };
            with_key[field] = json!(unknown);
            vec![
                ("no key", url.clone(), ct.to_vec(), body.clone()),
                (
                    "unknown key (basic)",
                    url.clone(),
                    vec![ct[0], ("authorization", &unknown_basic)],
                    body.clone(),
                ),
                (
                    "unknown key (bearer)",
                    url.clone(),
                    vec![ct[0], ("authorization", &unknown_bearer)],
                    body.clone(),
                ),
                (
                    "unknown key (body)",
                    url.clone(),
                    ct.to_vec(),
                    serde_json::to_vec(&with_key).unwrap(),
                ),
            ]
        };
        for (what, url, headers, body) in attempts {
            let (status, v, _) = call(method, &url, &headers, &body);
            assert!(
                status == 401 || status == 403,
                "{method} {path} with {what} answered {status}: {v}"
            );
        }
    }
    // Nothing was stored by any refused request.
    s.state.ingest.flush().unwrap();
    let all = s.store.stats("default").unwrap();
    assert_eq!(all.events, 0, "refused requests stored events");
}

/// Send events with a write key and wait until they are readable.
fn ingest(s: &TestServer, write_key: &str, secret_key: &str, user: &str, event: &str) {
    let body = json!({"batch": [
        {"type": "track", "event": event, "user_id": user, "properties": {"amount": 42.5, "currency": "USD", "marker": format!("marker-of-{event}")}},
        {"type": "track", "event": "purchase", "user_id": user, "properties": {"amount": 7.0, "currency": "USD"}},
        {"type": "page", "name": "/home", "user_id": user},
        {"type": "identify", "user_id": user, "traits": {"email": format!("{user}@example.com")}}
    ]});
    let auth = format!("Bearer {write_key}");
    let (status, v, _) = call(
        "POST",
        &s.url("/api/track"),
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        &serde_json::to_vec(&body).unwrap(),
    );
    assert_eq!(status, 200, "{v}");
    let sk = format!("Bearer {secret_key}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (st, _, text) = call(
            "GET",
            &s.url("/api/export?days=2"),
            &[("authorization", &sk)],
            b"",
        );
        if st == 200 && text.contains(event) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "events not readable: {st} {text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn project_b_never_sees_project_a_data() {
    let s = start(config0());
    let b = s.state.projects.create("proj-b", "B").unwrap();
    ingest(
        &s,
        &s.keys.write_key,
        &s.keys.secret_key,
        "alice-A",
        "a_only_event",
    );
    ingest(&s, &b.write_key, &b.secret_key, "bob-B", "b_only_event");
    let a_auth = format!("Bearer {}", s.keys.secret_key);
    let b_auth = format!("Bearer {}", b.secret_key);
    let json_ct = ("content-type", "application/json");
    // Project A owns a segment and a dataset.
    let (st, v, _) = call(
        "POST",
        &s.url("/api/segments"),
        &[("authorization", &a_auth), json_ct],
        &body_for("POST", "/api/segments").replace_name("seg-A"),
    );
    assert_eq!(st, 201, "{v}");
    let (st, ds, _) = call(
        "POST",
        &s.url("/api/datasets?format=csv"),
        &[("authorization", &a_auth), ("content-type", "text/csv")],
        b"customer_id,event_date,amount\nalice-A,2025-01-01,1\n",
    );
    assert_eq!(st, 202, "{ds}");
    let ds_id = ds["id"].as_str().expect("dataset id").to_string();

    // A sees its own data where the route shows data (positive control).
    let (st, _, text) = call(
        "GET",
        &s.url("/api/export?days=2"),
        &[("authorization", &a_auth)],
        b"",
    );
    assert!(
        st == 200 && text.contains("alice-A") && !text.contains("bob-B"),
        "{text}"
    );
    let (st, _, text) = call(
        "GET",
        &s.url("/api/users/alice-A"),
        &[("authorization", &a_auth)],
        b"",
    );
    assert!(st == 200 && text.contains("alice-A"), "{st} {text}");

    let secrets = [
        "alice-A",
        "a_only_event",
        "marker-of-a_only",
        "alice-A@example.com",
        "seg-A",
        &ds_id,
    ];
    let mut checked = 0;
    for (method, path, access) in table() {
        if access != Read || path == "/api/live" || method == "DELETE" {
            continue;
        }
        let mut url = concrete(path);
        if path == "/api/datasets/{id}" {
            url = format!("/api/datasets/{ds_id}");
        }
        if path == "/api/export" {
            url.push_str("?days=2&format=ndjson");
        }
        if path == "/api/funnel" {
            url.push_str("?steps=purchase,a_only_event&days=2");
        }
        let mut body = body_for(method, path);
        if method == "POST" && path == "/api/segments" {
            body = body.replace_name("seg-B");
        }
        let ct = if path == "/api/datasets" {
            "text/csv"
        } else {
            "application/json"
        };
        let (st, _, text) = call(
            method,
            &s.url(&url),
            &[("authorization", &b_auth), ("content-type", ct)],
            &body,
        );
        assert!(st < 500, "{method} {url} as B: {st} {text}");
        // A route naming A's user, segment or dataset in its path may echo the name
        // back ("not found", or an empty export); nothing else of A may appear.
        let echoed = ["alice-A", "seg-A", ds_id.as_str(), "a_only_event"]
            .into_iter()
            .filter(|e| url.contains(e));
        if path == "/api/funnel" {
            let v: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v["steps"][0]["users"], 1, "B's own purchase: {v}");
            assert_eq!(v["steps"][1]["users"], 0, "A's event counted for B: {v}");
        }
        let mut text = text;
        for e in echoed {
            text = text.replace(e, "<asked>");
        }
        for sec in secrets {
            assert!(
                !text.contains(sec),
                "{method} {url} with B's secret key shows A's {sec:?}: {text}"
            );
        }
        checked += 1;
    }
    assert!(checked >= 20, "{checked}");
    // B cannot delete A's user or segment: 404 in B's namespace, A's data still there.
    for p in ["/api/users/alice-A", "/api/segments/seg-A"] {
        let (st, v, _) = call("DELETE", &s.url(p), &[("authorization", &b_auth)], b"");
        assert!(
            st == 404 || (st == 200 && !v.to_string().contains("alice")),
            "{p}: {st} {v}"
        );
    }
    let (st, _, text) = call(
        "GET",
        &s.url("/api/users/alice-A"),
        &[("authorization", &a_auth)],
        b"",
    );
    assert!(st == 200 && text.contains("a_only_event"), "{st} {text}");
    let (st, _, _) = call(
        "GET",
        &s.url("/api/segments/seg-A"),
        &[("authorization", &a_auth)],
        b"",
    );
    assert_eq!(st, 200);
}

trait ReplaceName {
    fn replace_name(self, name: &str) -> Vec<u8>;
}

impl ReplaceName for Vec<u8> {
    fn replace_name(self, name: &str) -> Vec<u8> {
        let mut v: Value = serde_json::from_slice(&self).unwrap();
        v["name"] = json!(name);
        serde_json::to_vec(&v).unwrap()
    }
}

/// Request headers.
type Headers<'a> = Vec<(&'a str, &'a str)>;

/// Send any method; (status, headers).
fn head_of(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, ureq::http::HeaderMap) {
    let mut b = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let mut resp = agent().run(b.body(body.to_vec()).unwrap()).unwrap();
    let _ = resp.body_mut().read_to_vec();
    (resp.status().as_u16(), resp.headers().clone())
}

#[test]
fn every_response_has_the_security_headers_and_the_page_a_strict_csp() {
    let s = start(config0());
    let sk = format!("Bearer {}", s.keys.secret_key);
    let mut urls: Vec<(String, String, Headers)> = table()
        .iter()
        .filter(|(_, p, _)| *p != "/api/live")
        .map(|(m, p, _)| (m.to_string(), concrete(p), vec![]))
        .collect();
    urls.push((
        "GET".into(),
        "/api/export".into(),
        vec![("authorization", sk.as_str())],
    ));
    urls.push(("GET".into(), "/no/such/route".into(), vec![]));
    urls.push(("DELETE".into(), "/health".into(), vec![]));
    urls.push((
        "OPTIONS".into(),
        "/api/track".into(),
        vec![("origin", "https://x.example")],
    ));
    for (m, p, h) in urls {
        let (st, headers) = head_of(&m, &s.url(&p), &h, b"");
        assert_eq!(
            headers.get("x-content-type-options").map(|v| v.as_bytes()),
            Some(&b"nosniff"[..]),
            "{m} {p} ({st})"
        );
        assert_eq!(
            headers.get("x-frame-options").map(|v| v.as_bytes()),
            Some(&b"DENY"[..]),
            "{m} {p} ({st})"
        );
    }
    let (st, headers) = head_of("GET", &s.url("/"), &[], b"");
    assert_eq!(st, 200);
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    for directive in [
        "default-src 'none'",
        "script-src 'sha256-",
        "style-src 'sha256-",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} missing: {csp}");
    }
}

#[test]
fn admin_bodies_must_be_json_objects() {
    // serde reads a struct from a JSON array too; `[null, null]` once passed as a
    // settings patch (found by schemathesis).
    let s = start(config0());
    let sk = format!("Bearer {}", s.keys.secret_key);
    for (method, path) in [
        ("PATCH", "/api/project"),
        ("POST", "/api/churn/train"),
        ("POST", "/api/churn/predict"),
        ("POST", "/api/segments"),
        ("PUT", "/api/segments/seg-A"),
    ] {
        for body in [&b"[null, null]"[..], b"[]", b"null", b"\"x\"", b"1"] {
            let (st, v, _) = call(
                method,
                &s.url(path),
                &[("authorization", &sk), ("content-type", "application/json")],
                body,
            );
            assert_eq!(
                st,
                400,
                "{method} {path} {:?}: {v}",
                String::from_utf8_lossy(body)
            );
            assert!(error_code(&v).starts_with("ERR_"), "{method} {path}");
        }
    }
}
