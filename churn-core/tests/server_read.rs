//! Read API on a real server on 127.0.0.1: auth on every non-ingestion route (driven by
//! the route table), project isolation, figures equal to the engine called directly,
//! bad parameters, users (profile, export, delete), export, datasets.
#![cfg(feature = "server")]

mod server_common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use churn_core::engine::{
    ActiveUsersRequest, Engine, FunnelRequest, Period, RetentionRequest, RevenueRequest,
    SegmentRef, SessionsRequest,
};
use churn_core::event::Event;
use churn_core::server::metrics::metrics;
use churn_core::server::query::last_days;
use churn_core::server::{route_table, ServerConfig};
use churn_core::store::{Store, StoreExt, DEFAULT_PROJECT};
use churn_core::time::{Timestamp, DAY_MS};
use serde_json::Value;
use server_common::*;

fn config0() -> ServerConfig {
    config().engine_refresh(Duration::ZERO)
}

fn bearer(k: &str) -> String {
    format!("Bearer {k}")
}

/// Routes that need no secret key: ingestion (write key), health, the OpenAPI
/// document, and the dashboard page shell (it holds no data).
fn is_public(path: &str) -> bool {
    path.starts_with("/v1/")
        || ["/e", "/i/v0/e", "/capture", "/track", "/batch"]
            .iter()
            .any(|p| path == *p || path == format!("{p}/"))
        || [
            "/api/track",
            "/api/identify",
            "/health",
            "/openapi.json",
            "/",
        ]
        .contains(&path)
}

#[test]
fn every_non_ingestion_route_refuses_without_the_secret_key() {
    let s = start(config0());
    let wk = bearer(&s.keys.write_key);
    let mut checked = 0;
    for r in route_table() {
        if is_public(r.path) {
            continue;
        }
        let path = r.path.replace("{id}", "someone").replace("{name}", "seg");
        for m in &r.methods {
            for headers in [
                vec![],
                vec![("authorization", wk.as_str())],
                vec![("authorization", "Bearer sk_nope_nope_nope_nope")],
            ] {
                let (status, body, _) = call(m.as_str(), &s.url(&path), &headers, b"{}");
                assert_eq!(
                    status, 401,
                    "{m} {path} with {headers:?} answered {status}: {body}"
                );
                assert_eq!(error_code(&body), "ERR_UNAUTHORIZED");
                checked += 1;
            }
        }
    }
    assert!(
        checked >= 3 * 18,
        "only {checked} checks: routes missing from the table?"
    );
    // The page shell is public but carries no data.
    let (status, _, page) = call("GET", &s.url("/"), &[], b"");
    assert_eq!(status, 200);
    assert!(page.contains("sessionStorage") && !page.contains(&s.keys.secret_key));
}

fn now() -> Timestamp {
    Timestamp::now()
}

/// Events over the last few days (away from range edges) in two projects.
fn seed(store: &dyn Store) {
    let t =
        |days_ago: f64| Timestamp::from_millis(now().millis() - (days_ago * DAY_MS as f64) as i64);
    let mut ev = Vec::new();
    for u in 0..12 {
        let user = format!("u{u}");
        for d in 0..(1 + u % 4) {
            let ts = t(1.5 + d as f64);
            ev.push(
                Event::page("/")
                    .user_id(user.clone())
                    .timestamp(ts)
                    .build()
                    .unwrap(),
            );
            ev.push(
                Event::page("/pricing")
                    .user_id(user.clone())
                    .timestamp(ts.add_millis(60_000))
                    .build()
                    .unwrap(),
            );
        }
        if u % 3 == 0 {
            ev.push(
                Event::track("purchase")
                    .user_id(user.clone())
                    .timestamp(t(2.0))
                    .number("amount", 10.0 + u as f64)
                    .property("currency", "USD")
                    .build()
                    .unwrap(),
            );
        }
        if u % 2 == 0 {
            ev.push(
                Event::track("signup")
                    .user_id(user.clone())
                    .timestamp(t(5.5))
                    .build()
                    .unwrap(),
            );
        }
    }
    store.append(DEFAULT_PROJECT, &ev).unwrap();
    let other = vec![
        Event::track("purchase")
            .user_id("shop-user")
            .timestamp(t(1.5))
            .number("amount", 999.0)
            .build()
            .unwrap(),
        Event::page("/")
            .user_id("shop-user")
            .timestamp(t(1.5))
            .build()
            .unwrap(),
    ];
    store.append("shop", &other).unwrap();
}

fn without(mut v: Value, keys: &[&str]) -> Value {
    if let Some(m) = v.as_object_mut() {
        for k in keys {
            m.remove(*k);
        }
    }
    v
}

#[test]
fn figures_match_the_engine_and_projects_are_isolated() {
    let s = start(config0());
    let shop = s.state.projects.create("shop", "Shop").unwrap();
    seed(s.store.as_ref());
    let sk = bearer(&s.keys.secret_key);
    let auth = [("authorization", sk.as_str())];
    let engine = Engine::load(s.store.clone(), DEFAULT_PROJECT).unwrap();
    let store: Arc<dyn Store> = s.store.clone();

    // Metrics: recompute over the range the server reports.
    let (st, m, _) = call("GET", &s.url("/api/metrics?days=7"), &auth, b"");
    assert_eq!(st, 200, "{m}");
    let range: churn_core::TimeRange = serde_json::from_value(m["range"].clone()).unwrap();
    let conv: Vec<String> = ["purchase", "signup", "payment_completed"]
        .map(String::from)
        .to_vec();
    let want = metrics(&engine, store.as_ref(), DEFAULT_PROJECT, 7, range, &conv).unwrap();
    assert_eq!(m, serde_json::to_value(&want).unwrap());
    assert_eq!(m["visitors"], 12);
    assert_eq!(m["conversions"], 4 + 6);
    assert_eq!(m["converted_visitors"], 8); // u0,u2,..,u10 signups; u3, u9 buy too

    // Active users, sessions, retention, revenue.
    let (_, au, _) = call(
        "GET",
        &s.url("/api/active-users?days=7&period=day"),
        &auth,
        b"",
    );
    let r = last_days(now(), 7);
    let want = engine
        .active_users(&ActiveUsersRequest::new().range(r).period(Period::Day))
        .unwrap();
    assert_eq!(
        without(au.clone(), &["from", "to"]),
        without(serde_json::to_value(&want).unwrap(), &["from", "to"])
    );
    assert_eq!(au["total_users"], 12);
    let (_, se, _) = call("GET", &s.url("/api/sessions?days=7&top=5"), &auth, b"");
    let want = engine
        .sessions(&SessionsRequest::new().range(r).top(5))
        .unwrap();
    assert_eq!(se, serde_json::to_value(&want).unwrap());
    let (_, re, _) = call(
        "GET",
        &s.url("/api/retention?days=28&period=week"),
        &auth,
        b"",
    );
    let want = engine
        .retention(
            &RetentionRequest::new()
                .range(last_days(now(), 28))
                .period(Period::Week),
        )
        .unwrap();
    // `as_of` defaults to the range end (now), taken a moment apart by the server and
    // the test: compare it loosely, everything else exactly.
    let (mut re, mut want) = (re, serde_json::to_value(&want).unwrap());
    let as_of = |v: &mut serde_json::Value| {
        let s = v["as_of"].take();
        churn_core::Timestamp::parse_field(s.as_str().unwrap(), "as_of").unwrap()
    };
    let (got_as_of, want_as_of) = (as_of(&mut re), as_of(&mut want));
    assert!((got_as_of.millis() - want_as_of.millis()).abs() < 60_000);
    assert_eq!(re, want);
    let (_, rv, _) = call(
        "GET",
        &s.url("/api/revenue?days=30&currency=usd"),
        &auth,
        b"",
    );
    let want = engine
        .revenue(
            &RevenueRequest::new()
                .range(last_days(now(), 30))
                .currency("USD"),
        )
        .unwrap();
    assert_eq!(rv, serde_json::to_value(&want).unwrap());
    assert_eq!(rv["totals"]["revenue"], 10.0 + 13.0 + 16.0 + 19.0);

    // The other project sees only its own data, and not the default one's users.
    let ssk = bearer(&shop.secret_key);
    let sauth = [("authorization", ssk.as_str())];
    let (_, m2, _) = call("GET", &s.url("/api/metrics?days=7"), &sauth, b"");
    assert_eq!(
        (m2["visitors"].as_u64(), m2["conversions"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(call("GET", &s.url("/api/users/u1"), &sauth, b"").0, 404);
    assert_eq!(
        call("GET", &s.url("/api/users/shop-user"), &sauth, b"").0,
        200
    );
    assert_eq!(
        call("GET", &s.url("/api/users/shop-user"), &auth, b"").0,
        404
    );

    // New events show up at the next read (refresh, not reload).
    s.store
        .append(
            DEFAULT_PROJECT,
            &[Event::track("signup")
                .user_id("late")
                .timestamp(now())
                .build()
                .unwrap()],
        )
        .unwrap();
    let (_, m3, _) = call("GET", &s.url("/api/metrics?days=7"), &auth, b"");
    assert_eq!(m3["visitors"], 13);
}

#[test]
fn bad_parameters_are_400_with_the_error_shape() {
    let s = start(config0());
    let sk = bearer(&s.keys.secret_key);
    let auth = [("authorization", sk.as_str())];
    for (method, path) in [
        ("GET", "/api/metrics?days=0"),
        ("GET", "/api/metrics?days=abc"),
        ("GET", "/api/metrics?days=99999"),
        ("GET", "/api/metrics?dayz=7"),
        ("GET", "/api/metrics?days=7&days=8"),
        ("GET", "/api/active-users?period=fortnight"),
        ("GET", "/api/retention?mode=sometimes"),
        ("GET", "/api/retention?periods=0"),
        ("GET", "/api/revenue?currency=dollars"),
        ("GET", "/api/sessions?top=0"),
        ("GET", "/api/export?format=xml"),
        ("GET", "/api/churn/scores?segment=extreme"),
        ("GET", "/api/churn/scores?limit=-3"),
        ("GET", "/api/dashboard?days=%zz"),
        ("POST", "/api/datasets?format=xls"),
    ] {
        let (st, body, _) = call(method, &s.url(path), &auth, b"a,b\n1,2\n");
        assert_eq!(st, 400, "{path}: {body}");
        assert_eq!(error_code(&body), "ERR_VALIDATION", "{path}");
    }
    // Bad bodies.
    let (st, body, _) = call("POST", &s.url("/api/churn/predict"), &auth, b"{not json");
    assert_eq!((st, error_code(&body).as_str()), (400, "ERR_VALIDATION"));
    let (st, body, _) = call(
        "POST",
        &s.url("/api/churn/predict"),
        &auth,
        br#"{"transactions": 3}"#,
    );
    assert_eq!((st, error_code(&body).as_str()), (400, "ERR_VALIDATION"));
    let (st, body, _) = call(
        "POST",
        &s.url("/api/churn/train"),
        &auth,
        br#"{"horizon": 3}"#,
    );
    assert_eq!((st, error_code(&body).as_str()), (400, "ERR_VALIDATION"));
    let (st, body, _) = call("POST", &s.url("/api/datasets"), &auth, b"   ");
    assert_eq!((st, error_code(&body).as_str()), (400, "ERR_VALIDATION"));
    // Not found (no model, no scores, no dataset).
    let tx = br#"{"transactions":[{"customer_id":"c","date":"2026-01-01T00:00:00Z","amount":5,"event_type":"purchase"}]}"#;
    assert_eq!(call("POST", &s.url("/api/churn/predict"), &auth, tx).0, 404);
    assert_eq!(call("GET", &s.url("/api/churn/scores"), &auth, b"").0, 404);
    assert_eq!(
        call("GET", &s.url("/api/churn/training-status"), &auth, b"").0,
        404
    );
    assert_eq!(
        call("GET", &s.url("/api/datasets/ds_nope"), &auth, b"").0,
        404
    );
}

#[test]
fn users_profile_export_and_delete() {
    let s = start(config0());
    seed(s.store.as_ref());
    let sk = bearer(&s.keys.secret_key);
    let auth = [("authorization", sk.as_str())];
    let (st, p, _) = call("GET", &s.url("/api/users/u3"), &auth, b"");
    assert_eq!(st, 200, "{p}");
    // u3: 4 days x 2 page views + 1 purchase.
    assert_eq!(p["event_count"], 9);
    assert_eq!(p["recent_events"].as_array().unwrap().len(), 9);
    assert!(p["churn"].is_null());
    let (st, x, _) = call("GET", &s.url("/api/users/u3/export"), &auth, b"");
    assert_eq!(st, 200);
    assert_eq!(x["events"].as_array().unwrap().len(), 9);
    assert_eq!(x["user_id"], "u3");
    let (_, before, _) = call("GET", &s.url("/api/metrics?days=7"), &auth, b"");
    let (st, d, _) = call("DELETE", &s.url("/api/users/u3"), &auth, b"");
    assert_eq!(st, 200, "{d}");
    assert_eq!(d["events"], 9);
    assert_eq!(call("GET", &s.url("/api/users/u3"), &auth, b"").0, 404);
    let (_, after, _) = call("GET", &s.url("/api/metrics?days=7"), &auth, b"");
    assert_eq!(
        after["visitors"].as_u64().unwrap() + 1,
        before["visitors"].as_u64().unwrap()
    );
    let long = "x".repeat(201);
    assert_eq!(
        call("GET", &s.url(&format!("/api/users/{long}")), &auth, b"").0,
        400
    );

    // Export: CSV (header + one line per event), JSON array, NDJSON.
    let total = s.store.stats(DEFAULT_PROJECT).unwrap().events as usize;
    let (st, _, csv) = call("GET", &s.url("/api/export?format=csv&days=30"), &auth, b"");
    assert_eq!(st, 200);
    assert_eq!(csv.lines().count(), total + 1);
    let (_, arr, _) = call("GET", &s.url("/api/export?format=json&days=30"), &auth, b"");
    assert_eq!(arr.as_array().unwrap().len(), total);
    let (_, _, nd) = call(
        "GET",
        &s.url("/api/export?format=ndjson&days=1"),
        &auth,
        b"",
    );
    assert_eq!(nd.lines().count(), 0, "nothing in the last day");
}

fn wait_dataset(s: &TestServer, auth: &[(&str, &str)], id: &str) -> Value {
    let t0 = Instant::now();
    loop {
        let (st, v, _) = call("GET", &s.url(&format!("/api/datasets/{id}")), auth, b"");
        assert_eq!(st, 200, "{v}");
        if v["state"] != "running" {
            return v;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "import did not finish"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn dataset_uploads_raw_and_multipart() {
    let s = start(config0().dataset_max_bytes(4096));
    let shop = s.state.projects.create("shop", "Shop").unwrap();
    let sk = bearer(&s.keys.secret_key);
    let auth = [("authorization", sk.as_str())];
    let csv = "customer_id,event_date,amount,event_type\nc1,2025-03-01,49.00,purchase\nc2,2025-03-02,,login\nc3,bad-date,,login\n";
    let (st, v, _) = call(
        "POST",
        &s.url("/api/datasets"),
        &[auth[0], ("content-type", "text/csv")],
        csv.as_bytes(),
    );
    assert_eq!(st, 202, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let done = wait_dataset(&s, &auth, &id);
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(
        (
            done["report"]["stored"].as_u64(),
            done["report"]["rejected"].as_u64()
        ),
        (Some(2), Some(1))
    );
    assert_eq!(done["progress"]["rows_read"], 3);
    // Another project cannot see the job.
    let ssk = bearer(&shop.secret_key);
    assert_eq!(
        call(
            "GET",
            &s.url(&format!("/api/datasets/{id}")),
            &[("authorization", ssk.as_str())],
            b""
        )
        .0,
        404
    );

    // Multipart, NDJSON file.
    let nd = r#"{"type":"track","event":"login","userId":"n1","timestamp":"2025-03-01T00:00:00Z"}"#;
    let body = format!("--BND\r\nContent-Disposition: form-data; name=\"file\"; filename=\"e.ndjson\"\r\nContent-Type: application/octet-stream\r\n\r\n{nd}\n\r\n--BND--\r\n");
    let (st, v, _) = call(
        "POST",
        &s.url("/api/datasets"),
        &[
            ("authorization", ssk.as_str()),
            ("content-type", "multipart/form-data; boundary=BND"),
        ],
        body.as_bytes(),
    );
    assert_eq!(st, 202, "{v}");
    let done = wait_dataset(
        &s,
        &[("authorization", ssk.as_str())],
        v["id"].as_str().unwrap(),
    );
    assert_eq!(done["report"]["stored"], 1, "{done}");
    assert_eq!(s.store.stats("shop").unwrap().events, 1);
    assert_eq!(s.store.stats(DEFAULT_PROJECT).unwrap().events, 2);

    // Over the dataset limit: 413.
    let big = "x".repeat(5000);
    let (st, v, _) = call("POST", &s.url("/api/datasets"), &auth, big.as_bytes());
    assert_eq!(
        (st, error_code(&v).as_str()),
        (413, "ERR_PAYLOAD_TOO_LARGE")
    );
}

#[test]
fn funnel_and_segments() {
    let s = start(config0());
    let shop = s.state.projects.create("shop", "Shop").unwrap();
    seed(s.store.as_ref());
    let sk = bearer(&s.keys.secret_key);
    let auth = [("authorization", sk.as_str())];
    let json = [auth[0], ("content-type", "application/json")];
    let engine = Engine::load(s.store.clone(), DEFAULT_PROJECT).unwrap();

    let (st, f, _) = call(
        "GET",
        &s.url("/api/funnel?steps=signup,purchase&window=7d&days=30"),
        &auth,
        b"",
    );
    assert_eq!(st, 200, "{f}");
    let want = engine
        .funnel(
            &FunnelRequest::new(["signup", "purchase"])
                .range(last_days(now(), 30))
                .window_ms(7 * DAY_MS),
        )
        .unwrap();
    assert_eq!(
        without(f.clone(), &["from", "to"]),
        without(serde_json::to_value(&want).unwrap(), &["from", "to"])
    );
    // Signups u0, u2, .., u10 (6); of those u0 and u6 buy later (3.5 days after).
    assert_eq!(
        (f["entered"].as_u64(), f["converted"].as_u64()),
        (Some(6), Some(2))
    );
    for bad in [
        "/api/funnel",
        "/api/funnel?steps=signup",
        "/api/funnel?steps=a,b&window=5y",
        "/api/funnel?steps=a,b&mode=sideways",
        "/api/funnel?steps=a,,b",
    ] {
        let (st, v, _) = call("GET", &s.url(bad), &auth, b"");
        assert_eq!(
            (st, error_code(&v).as_str()),
            (400, "ERR_VALIDATION"),
            "{bad}"
        );
    }

    // Segments CRUD.
    let (st, v, _) = call(
        "POST",
        &s.url("/api/segments"),
        &json,
        br#"{"name":"buyers","expr":"did(purchase, >= 1, 30d)","description":"bought"}"#,
    );
    assert_eq!(st, 201, "{v}");
    let (st, v, _) = call(
        "POST",
        &s.url("/api/segments"),
        &json,
        br#"{"name":"buyers","expr":"did(purchase, >= 1, 30d)"}"#,
    );
    assert_eq!(st, 400, "a duplicate name is refused: {v}");
    let (st, v, _) = call(
        "POST",
        &s.url("/api/segments"),
        &json,
        br#"{"name":"bad","expr":"did(purchase"}"#,
    );
    assert_eq!((st, error_code(&v).as_str()), (400, "ERR_VALIDATION"));
    let (_, list, _) = call("GET", &s.url("/api/segments"), &auth, b"");
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (st, one, _) = call("GET", &s.url("/api/segments/buyers"), &auth, b"");
    assert_eq!(st, 200, "{one}");
    let want = engine.segment_stats(&SegmentRef::from("buyers")).unwrap();
    assert_eq!(one["stats"], serde_json::to_value(&want).unwrap());
    assert_eq!(one["stats"]["count"], 4);
    let (st, v, _) = call(
        "PUT",
        &s.url("/api/segments/buyers"),
        &json,
        br#"{"expr":"did(purchase, >= 2, 30d)"}"#,
    );
    assert_eq!(st, 200, "{v}");
    let (_, one, _) = call("GET", &s.url("/api/segments/buyers"), &auth, b"");
    assert_eq!(one["stats"]["count"], 0);
    assert_eq!(one["segment"]["description"], "bought");
    // The funnel can be restricted to a saved segment.
    let (st, f, _) = call(
        "GET",
        &s.url("/api/funnel?steps=signup,purchase&segment=buyers"),
        &auth,
        b"",
    );
    assert_eq!((st, f["entered"].as_u64()), (200, Some(0)));
    // Another project does not see it.
    let ssk = bearer(&shop.secret_key);
    let (_, other, _) = call(
        "GET",
        &s.url("/api/segments"),
        &[("authorization", ssk.as_str())],
        b"",
    );
    assert_eq!(other, serde_json::json!([]));
    assert_eq!(
        call(
            "GET",
            &s.url("/api/segments/buyers"),
            &[("authorization", ssk.as_str())],
            b""
        )
        .0,
        404
    );
    assert_eq!(
        call("DELETE", &s.url("/api/segments/buyers"), &auth, b"").0,
        200
    );
    assert_eq!(
        call("GET", &s.url("/api/segments/buyers"), &auth, b"").0,
        404
    );
    assert_eq!(
        call("DELETE", &s.url("/api/segments/buyers"), &auth, b"").0,
        404
    );
}
