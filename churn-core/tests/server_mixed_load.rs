//! A few seconds of mixed good and bad traffic from concurrent clients: no 5xx, every bad
//! request a 4xx with the error shape, and every event acknowledged with a 2xx stored
//! exactly once (SDK-style retries of the same batch included).
#![cfg(feature = "server")]

mod server_common;

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use churn_core::store::{ScanRequest, StoreExt, DEFAULT_PROJECT};
use serde_json::json;
use server_common::*;

const RUN: Duration = Duration::from_secs(3);

/// A bad request: path, headers, body.
type Bad = (&'static str, Vec<(&'static str, String)>, Vec<u8>);

#[test]
fn mixed_good_and_bad_load_no_5xx_nothing_lost() {
    let mut s = start(config().header_timeout(Duration::from_millis(500)));
    let key = s.keys.write_key.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let mut good = Vec::new();
    for w in 0..3 {
        let (url, auth, stop) = (s.url("/v1/batch"), basic(&key), stop.clone());
        good.push(std::thread::spawn(move || {
            let mut acked = BTreeSet::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let ids: Vec<String> = (0..20).map(|i| format!("w{w}-b{n}-{i}")).collect();
                let batch: Vec<_> = ids
                    .iter()
                    .map(|id| json!({"type": "track", "event": "e", "userId": format!("u{w}"), "messageId": id}))
                    .collect();
                let body = serde_json::to_vec(&json!({ "batch": batch })).unwrap();
                // Every third batch is sent twice, as an SDK retrying after a timeout.
                let sends = if n % 3 == 0 { 2 } else { 1 };
                for _ in 0..sends {
                    let (st, v, _) = post(&url, &[("Authorization", auth.as_str())], &body);
                    assert!(st < 500, "good batch: {st} {v}");
                    if (200..300).contains(&st) {
                        acked.extend(ids.iter().cloned());
                    }
                }
                n += 1;
            }
            acked
        }));
    }

    let bad_bodies: Vec<Bad> = vec![
        ("/v1/batch", vec![], b"{\"batch\": [".to_vec()),
        ("/api/track", vec![("Authorization", format!("Bearer {key}"))], b"{\"event\":".to_vec()),
        ("/e", vec![], b"[{oops".to_vec()),
        (
            "/v1/track",
            vec![("Content-Type", "text/csv".into())],
            format!(r#"{{"event":"x","userId":"u","writeKey":"{key}"}}"#).into_bytes(),
        ),
        (
            "/v1/batch",
            vec![("Content-Encoding", "gzip".into())],
            b"not gzip at all".to_vec(),
        ),
        ("/batch", vec![], vec![0x1f, 0x8b, 8, 0, 9, 9, 9]),
        (
            "/v1/track",
            vec![],
            br#"{"event":"e","userId":"u","writeKey":"wk_unknown"}"#.to_vec(),
        ),
        (
            "/v1/track",
            vec![],
            serde_json::to_vec(&json!({"event": "e", "userId": "u", "writeKey": key, "properties": {"x": "y".repeat(40_000)}})).unwrap(),
        ),
        (
            "/v1/batch",
            vec![],
            serde_json::to_vec(&json!({"batch": vec![json!({}); 20_000], "writeKey": key})).unwrap(),
        ),
        ("/v1/batch", vec![], vec![b'['; 600 * 1024]),
    ];
    let bad_bodies = Arc::new(bad_bodies);
    let mut bad = Vec::new();
    for b in 0..2 {
        let (base, bodies, stop) = (s.url(""), bad_bodies.clone(), stop.clone());
        bad.push(std::thread::spawn(move || {
            let mut seen: HashMap<u16, usize> = HashMap::new();
            let mut i = b;
            while !stop.load(Ordering::Relaxed) {
                let (path, headers, body) = &bodies[i % bodies.len()];
                let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let (st, v, _) = post(&format!("{base}{path}"), &h, body);
                assert!((400..500).contains(&st), "{path} {headers:?}: {st} {v}");
                error_code(&v);
                *seen.entry(st).or_default() += 1;
                i += 1;
            }
            seen
        }));
    }

    // Slow clients too: headers trickled, cut by the header timeout.
    let addr = s.server.as_ref().unwrap().addr();
    let slow_stop = stop.clone();
    let slow = std::thread::spawn(move || {
        let mut cut = 0;
        while !slow_stop.load(Ordering::Relaxed) {
            let mut sock = std::net::TcpStream::connect(addr).unwrap();
            for b in b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaa" {
                if sock.write_all(&[*b]).is_err() {
                    cut += 1;
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        cut
    });

    let t = Instant::now();
    while t.elapsed() < RUN {
        let (st, h, _) = get(&s.url("/health"), &[]);
        assert_eq!((st, h["status"].as_str()), (200, Some("ok")));
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::Relaxed);
    let mut acked = BTreeSet::new();
    for g in good {
        acked.extend(g.join().unwrap());
    }
    let mut statuses: HashMap<u16, usize> = HashMap::new();
    for b in bad {
        for (k, v) in b.join().unwrap() {
            *statuses.entry(k).or_default() += v;
        }
    }
    let cut = slow.join().unwrap();
    eprintln!(
        "acknowledged {} events; bad requests by status {statuses:?}; slow clients cut {cut}",
        acked.len()
    );
    assert!(cut >= 1, "no slow client was cut");
    assert!(
        acked.len() >= 100,
        "only {} events acknowledged",
        acked.len()
    );
    assert!(
        statuses.contains_key(&400) && statuses.contains_key(&401) && statuses.contains_key(&415)
    );

    s.stop();
    let stored: Vec<String> = s
        .store
        .scan_all(DEFAULT_PROJECT, &ScanRequest::new())
        .unwrap()
        .into_iter()
        .map(|e| e.event.message_id)
        .collect();
    let unique: BTreeSet<String> = stored.iter().cloned().collect();
    assert_eq!(unique.len(), stored.len(), "an event was stored twice");
    assert_eq!(unique, acked);
}
