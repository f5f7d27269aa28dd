//! Churn routes, live SSE and alert webhooks on a real server on 127.0.0.1, over the
//! demo data set.
#![cfg(feature = "server")]

mod server_common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use churn_core::demo::{load_if_empty, DemoConfig};
use churn_core::server::churn_jobs::{train_and_score, TrainOptions};
use churn_core::store::DEFAULT_PROJECT;
use churn_core::time::{Timestamp, DAY_MS};
use serde_json::Value;
use server_common::*;

fn call(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, Value) {
    let mut b = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let mut resp = agent().run(b.body(body.to_vec()).unwrap()).unwrap();
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A one-shot HTTP server that records request bodies; answers 500 to the first
/// `fail_first` requests, then 200.
fn webhook_sink(fail_first: usize) -> (String, mpsc::Receiver<String>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for (n, conn) in l.incoming().enumerate() {
            let Ok(mut c) = conn else { continue };
            let mut r = BufReader::new(c.try_clone().unwrap());
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            let _ = r.read_exact(&mut body);
            let status = if n < fail_first {
                "500 Internal Server Error"
            } else {
                "200 OK"
            };
            let _ = write!(
                c,
                "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
            let _ = tx.send(String::from_utf8_lossy(&body).to_string());
        }
    });
    (url, rx)
}

#[test]
fn train_scores_predict_alerts_and_live() {
    let s = start(config().engine_refresh(Duration::ZERO));
    let end = Timestamp::from_millis(Timestamp::now().millis() / DAY_MS * DAY_MS);
    let cfg = DemoConfig::new().users(300).days(150).end(end);
    assert!(load_if_empty(s.store.as_ref(), DEFAULT_PROJECT, &cfg).unwrap() > 1000);
    let sk = format!("Bearer {}", s.keys.secret_key);
    let auth = [("authorization", sk.as_str())];

    // Webhook: fails once, then succeeds (retried).
    let (hook, hook_rx) = webhook_sink(1);
    let (st, p) = call(
        "PATCH",
        &s.url("/api/project"),
        &[auth[0], ("content-type", "application/json")],
        format!(r#"{{"webhook_url": "{hook}"}}"#).as_bytes(),
    );
    assert_eq!(st, 200, "{p}");
    assert_eq!(p["webhook_url"], hook);

    // Live stream, opened before training.
    let (ev_tx, ev_rx) = mpsc::channel::<(String, Value)>();
    let live_url = s.url("/api/live");
    let live_auth = sk.clone();
    std::thread::spawn(move || {
        let mut resp = agent()
            .get(&live_url)
            .header("authorization", &live_auth)
            .call()
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let r = BufReader::new(resp.body_mut().as_reader());
        let mut event = String::new();
        for line in r.lines() {
            let Ok(line) = line else { break };
            if let Some(e) = line.strip_prefix("event:") {
                event = e.trim().to_string();
            } else if let Some(d) = line.strip_prefix("data:") {
                let v: Value = serde_json::from_str(d.trim()).unwrap();
                if ev_tx.send((event.clone(), v)).is_err() {
                    break;
                }
            }
        }
    });
    let (kind, stats) = ev_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(kind, "stats");
    assert_eq!(
        stats["active_users"], 0,
        "demo data ends at midnight: nobody in the last 5 min"
    );

    // Train in the background.
    let body = format!(r#"{{"as_of": "{end}"}}"#);
    let (st, v) = call("POST", &s.url("/api/churn/train"), &auth, body.as_bytes());
    assert_eq!(st, 202, "{v}");
    let t0 = Instant::now();
    let status = loop {
        let (_, v) = call("GET", &s.url("/api/churn/training-status"), &auth, b"");
        if v["state"] == "succeeded" || v["state"] == "failed" {
            break v;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "training did not finish: {v}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status["state"], "succeeded", "{status}");
    assert_eq!(status["version"], 1);

    // Scores equal a direct run on the same data.
    let (st, all) = call("GET", &s.url("/api/churn/scores?limit=10000"), &auth, b"");
    assert_eq!(st, 200);
    let opts = TrainOptions {
        as_of: Some(end),
        ..TrainOptions::default()
    };
    let (direct, _) = train_and_score(s.store.as_ref(), DEFAULT_PROJECT, &opts).unwrap();
    let got: Vec<(String, f64)> = all["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["user_id"].as_str().unwrap().to_string(),
                u["probability"].as_f64().unwrap(),
            )
        })
        .collect();
    let want: Vec<(String, f64)> = direct
        .users
        .iter()
        .map(|u| (u.user_id.clone(), u.probability))
        .collect();
    assert_eq!(got, want);
    let critical = direct.segments[&churn_core::churn::RiskSegment::Critical];
    assert!(critical > 0, "the demo data has users at risk");
    let (_, crit) = call(
        "GET",
        &s.url("/api/churn/scores?segment=Critical&limit=5"),
        &auth,
        b"",
    );
    assert_eq!(crit["total"], critical);
    let rows = crit["users"].as_array().unwrap();
    assert_eq!(rows.len() as u64, critical.min(5));
    assert!(rows
        .iter()
        .all(|u| u["segment"] == "critical" && !u["reasons"].as_array().unwrap().is_empty()));

    // The SSE alert and the webhook (second attempt) name the users entering Critical.
    let t0 = Instant::now();
    let alert = loop {
        let (kind, v) = ev_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        if kind == "alert" {
            break v;
        }
        assert!(t0.elapsed() < Duration::from_secs(20));
    };
    assert_eq!(alert["type"], "churn.critical");
    assert_eq!(alert["users"].as_array().unwrap().len() as u64, critical);
    let first = hook_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let second = hook_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(first, second, "the retry sends the same body");
    let hook_body: Value = serde_json::from_str(&second).unwrap();
    assert_eq!(hook_body["users"], alert["users"]);

    // A user profile carries the score.
    let top = rows[0]["user_id"].as_str().unwrap();
    let (_, prof) = call("GET", &s.url(&format!("/api/users/{top}")), &auth, b"");
    assert_eq!(prof["churn"]["segment"], "critical");

    // Predict one customer: a recent regular buyer vs. one gone for months.
    let tx = |days: &[i64]| {
        let rows: Vec<String> = days
            .iter()
            .map(|d| {
                format!(
                    r#"{{"customer_id":"c","date":"{}","amount":20,"event_type":"purchase"}}"#,
                    end.add_millis(-d * DAY_MS)
                )
            })
            .collect();
        format!(r#"{{"transactions":[{}],"as_of":"{end}"}}"#, rows.join(","))
    };
    let (st, active) = call(
        "POST",
        &s.url("/api/churn/predict"),
        &auth,
        tx(&[1, 3, 6, 9, 12, 20, 30]).as_bytes(),
    );
    assert_eq!(st, 200, "{active}");
    let (_, gone) = call(
        "POST",
        &s.url("/api/churn/predict"),
        &auth,
        tx(&[100, 110, 120]).as_bytes(),
    );
    let (pa, pg) = (
        active["probability"].as_f64().unwrap(),
        gone["probability"].as_f64().unwrap(),
    );
    assert!(
        (0.0..=1.0).contains(&pa) && pg > pa,
        "active {pa} vs gone {pg}"
    );
    assert_eq!(gone["version"], 2, "the direct run above saved version 2");
    let seg = churn_core::churn::RiskThresholds::default()
        .segment(pg)
        .to_string();
    assert_eq!(gone["segment"], seg);

    // Dashboard data: every chart has marks, the table has rows.
    let (st, d) = call("GET", &s.url("/api/dashboard?days=60"), &auth, b"");
    assert_eq!(st, 200);
    let charts = &d["charts"];
    assert!(
        charts["active_users"]
            .as_str()
            .unwrap()
            .matches("class=\"point\"")
            .count()
            >= 60
    );
    assert_eq!(
        charts["funnel"]
            .as_str()
            .unwrap()
            .matches("class=\"bar\"")
            .count(),
        4
    );
    assert!(charts["retention"]
        .as_str()
        .unwrap()
        .contains("class=\"cell\""));
    assert!(charts["revenue"]
        .as_str()
        .unwrap()
        .contains("class=\"bar\""));
    assert_eq!(
        charts["risk"]
            .as_str()
            .unwrap()
            .matches("class=\"bar\"")
            .count(),
        10
    );
    assert!(d["at_risk_table"].as_str().unwrap().matches("<tr>").count() > 5);

    // A second concurrent training request is refused while one runs, or succeeds after.
    let (st, _) = call("POST", &s.url("/api/churn/train"), &auth, b"");
    assert!(st == 202 || st == 409);
}
