//! The conformance suite every [`Store`] backend runs. A backend's test module calls
//! [`run_all`] with a function that makes a fresh, empty store.

use std::ops::ControlFlow;

use serde_json::json;

use super::*;
use crate::event::{Alias, Event, Identify, Message};
use crate::time::{TimeRange, Timestamp, DAY_MS};

const P: &str = DEFAULT_PROJECT;

fn t0() -> Timestamp {
    Timestamp::from_ymd(2026, 1, 1).unwrap()
}

pub(crate) fn ev(name: &str, user: &str, day: i64, id: &str) -> Event {
    Event::track(name)
        .user_id(user)
        .message_id(id)
        .timestamp(t0().add_millis(day * DAY_MS))
        .property("n", day)
        .build_at(
            t0().add_millis(400 * DAY_MS),
            &crate::event::Limits::default(),
        )
        .unwrap()
}

fn anon(name: &str, anon: &str, day: i64, id: &str) -> Event {
    let mut e = ev(name, "x", day, id);
    e.user_id = None;
    e.anonymous_id = Some(anon.into());
    e
}

/// Run every conformance check against stores made by `make`.
pub(crate) fn run_all<S: Store, F: Fn() -> S>(make: F) {
    dedup_and_seq(&make());
    scan_filters(&make());
    identities_and_traits(&make());
    delete_and_rewrite(&make());
    purge(&make());
    objects_and_consent(&make());
    projects_are_isolated(&make());
    scan_early_stop(&make());
    block_edges(&make());
}

/// Edge cases of stores that group events (blocks of a few thousand): batches larger
/// than a block, duplicates across blocks and batches, a delete and a rewrite in the
/// middle of a block, a purge that splits blocks, re-adding an erased message id.
fn block_edges<S: Store>(s: &S) {
    let day = |i: usize| (i % 50) as i64;
    let big: Vec<Event> = (0..9_000)
        .map(|i| ev("e", &format!("u{}", i % 10), day(i), &format!("b{i}")))
        .collect();
    let out = s.append(P, &big).unwrap();
    assert_eq!((out.inserted, out.duplicates), (9_000, 0));
    // Duplicates from the first, middle and last block, inside a batch of new events.
    let mut again: Vec<Event> = [0, 1, 4_095, 4_096, 4_097, 8_191, 8_192, 8_999]
        .iter()
        .map(|&i| big[i].clone())
        .collect();
    again.push(ev("e", "u1", 1, "new-1"));
    again.push(ev("e", "u1", 1, "new-1"));
    let out = s.append(P, &again).unwrap();
    assert_eq!((out.inserted, out.duplicates), (1, 9));
    let seqs = |s: &S, req: &ScanRequest| -> Vec<u64> {
        let mut v = Vec::new();
        s.scan_rows(P, req, &mut |r| {
            v.push(r.seq);
            ControlFlow::Continue(())
        })
        .unwrap();
        v
    };
    let all = seqs(s, &ScanRequest::new());
    assert_eq!(all.len(), 9_001);
    assert!(all.windows(2).all(|w| w[0] < w[1]));
    // Cursor and limit across a block boundary.
    let page = seqs(s, &ScanRequest::new().after_seq(all[4_090]).limit(10));
    assert_eq!(page, all[4_091..4_101]);
    // Delete a person spread over every block.
    assert_eq!(s.delete_user(P, "u3").unwrap().events, 900);
    let left = s.scan_all(P, &ScanRequest::new()).unwrap();
    assert_eq!(left.len(), 8_101);
    assert!(left
        .iter()
        .all(|e| e.event.user_id.as_deref() != Some("u3")));
    assert!(left.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(
        left[100].event,
        big[left[100].seq as usize - all[0] as usize]
    );
    // An erased message id can be stored again; the others are still duplicates.
    let out = s.append(P, &[big[3].clone(), big[4].clone()]).unwrap();
    assert_eq!((out.inserted, out.duplicates), (1, 1));
    // Rewrite a person in the middle of blocks: same seq and message id, new content.
    let before = s.scan_all(P, &ScanRequest::new().users(["u7"])).unwrap();
    let rep = s
        .rewrite_user(P, "u7", &mut |mut e| {
            e.user_id = Some("r7".into());
            e.event = "renamed".into();
            e
        })
        .unwrap();
    assert_eq!(rep.events, 900);
    let after = s.scan_all(P, &ScanRequest::new().users(["r7"])).unwrap();
    assert_eq!(
        after
            .iter()
            .map(|e| (e.seq, &e.event.message_id))
            .collect::<Vec<_>>(),
        before
            .iter()
            .map(|e| (e.seq, &e.event.message_id))
            .collect::<Vec<_>>()
    );
    assert!(after.iter().all(|e| e.event.event == "renamed"));
    // Purge the first 20 days: splits every block.
    let cut = t0().add_millis(20 * DAY_MS);
    let total = s.stats(P).unwrap().events;
    let older = s
        .scan_all(
            P,
            &ScanRequest::new().range(TimeRange::new(t0().add_millis(-100 * DAY_MS), cut)),
        )
        .unwrap()
        .len() as u64;
    assert_eq!(s.purge_before(P, cut).unwrap(), older);
    assert_eq!(s.stats(P).unwrap().events, total - older);
    let rest = s.scan_all(P, &ScanRequest::new()).unwrap();
    assert!(rest.iter().all(|e| e.event.timestamp >= cut));
    assert!(rest.windows(2).all(|w| w[0].seq < w[1].seq));
    let out = s.append(P, &[big[10].clone(), big[30].clone()]).unwrap();
    assert_eq!((out.inserted, out.duplicates), (1, 1), "day 10 was purged");
}

fn dedup_and_seq<S: Store>(s: &S) {
    let out = s
        .append(
            P,
            &[
                ev("a", "u1", 0, "m1"),
                ev("b", "u1", 1, "m2"),
                ev("a", "u1", 0, "m1"),
            ],
        )
        .unwrap();
    assert_eq!((out.inserted, out.duplicates), (2, 1));
    let out = s
        .append(P, &[ev("c", "u2", 2, "m2"), ev("d", "u2", 3, "m3")])
        .unwrap();
    assert_eq!((out.inserted, out.duplicates), (1, 1));
    let all = s.scan_all(P, &ScanRequest::new()).unwrap();
    assert_eq!(
        all.iter()
            .map(|e| e.event.message_id.as_str())
            .collect::<Vec<_>>(),
        ["m1", "m2", "m3"]
    );
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq), "seq must grow");
    assert_eq!(
        all[0].event,
        ev("a", "u1", 0, "m1"),
        "events round-trip unchanged"
    );
    let stats = s.stats(P).unwrap();
    assert_eq!(stats.events, 3);
    assert_eq!(stats.max_seq, all[2].seq);
    let after = s
        .scan_all(P, &ScanRequest::new().after_seq(all[0].seq))
        .unwrap();
    assert_eq!(after.len(), 2);
    // PostgreSQL numbers its layouts on from SQLite's (its own `SCHEMA_VERSION`).
    assert!(s.schema_version().unwrap() >= SCHEMA_VERSION);
}

fn scan_filters<S: Store>(s: &S) {
    let mut evs = Vec::new();
    for d in 0..10 {
        evs.push(ev(
            if d % 2 == 0 { "even" } else { "odd" },
            &format!("u{}", d % 3),
            d,
            &format!("m{d}"),
        ));
    }
    evs.push(anon("even", "a9", 4, "ma"));
    s.append(P, &evs).unwrap();
    let r = TimeRange::new(t0().add_millis(2 * DAY_MS), t0().add_millis(5 * DAY_MS));
    let got = s.scan_all(P, &ScanRequest::new().range(r)).unwrap();
    assert_eq!(got.len(), 4, "range is [from, to)");
    let got = s.scan_all(P, &ScanRequest::new().events(["odd"])).unwrap();
    assert_eq!(got.len(), 5);
    let got = s
        .scan_all(P, &ScanRequest::new().users(["u1", "a9"]))
        .unwrap();
    assert_eq!(got.len(), 4);
    let got = s
        .scan_all(
            P,
            &ScanRequest::new().events(["even"]).users(["u0"]).limit(1),
        )
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].event.message_id, "m0");
    let mut rows = Vec::new();
    s.scan_rows(P, &ScanRequest::new().range(r), &mut |row| {
        rows.push((
            row.event.to_string(),
            row.user_id.map(str::to_string),
            row.anonymous_id.map(str::to_string),
            row.timestamp,
        ));
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(rows.len(), 4);
    assert!(rows
        .iter()
        .any(|r| r.2.as_deref() == Some("a9") && r.1.is_none()));
}

fn identities_and_traits<S: Store>(s: &S) {
    let i1 = Identify::user("u1")
        .anonymous_id("a1")
        .trait_("plan", "free")
        .trait_("email", "x@y.z")
        .build()
        .unwrap();
    let i2 = Identify::user("u1")
        .trait_("plan", "pro")
        .trait_("email", serde_json::Value::Null)
        .build()
        .unwrap();
    let al = Alias::new("u1", "a2").unwrap();
    let steal = Identify::user("u9").anonymous_id("a1").build().unwrap();
    let out = s
        .apply(
            P,
            &[
                Message::Identify(i1),
                Message::Identify(i2),
                Message::Alias(al),
                Message::Identify(steal),
            ],
        )
        .unwrap();
    assert_eq!(out.identities, 4);
    let u = s.user(P, "u1").unwrap().unwrap();
    assert_eq!(
        serde_json::Value::Object(u.traits.clone()),
        json!({"plan": "pro"}),
        "null removes a trait"
    );
    assert_eq!(u.anonymous_ids, ["a1", "a2"]);
    assert!(
        s.user(P, "u9").unwrap().unwrap().anonymous_ids.is_empty(),
        "first link wins"
    );
    let links = s.identities(P).unwrap();
    assert_eq!(links.len(), 2);
    assert_eq!(
        s.users(P)
            .unwrap()
            .iter()
            .map(|u| u.user_id.as_str())
            .collect::<Vec<_>>(),
        ["u1", "u9"]
    );
    s.append(
        P,
        &[
            anon("page_view", "a1", 0, "p1"),
            ev("login", "u1", 1, "p2"),
            anon("x", "zz", 1, "p3"),
        ],
    )
    .unwrap();
    let mine = s.person_events(P, "u1").unwrap();
    assert_eq!(
        mine.iter()
            .map(|e| e.event.message_id.as_str())
            .collect::<Vec<_>>(),
        ["p1", "p2"]
    );
}

fn delete_and_rewrite<S: Store>(s: &S) {
    s.apply(
        P,
        &[Message::Identify(
            Identify::user("u1")
                .anonymous_id("a1")
                .trait_("email", "e@x")
                .build()
                .unwrap(),
        )],
    )
    .unwrap();
    s.append(
        P,
        &[
            anon("a", "a1", 0, "m1"),
            ev("b", "u1", 1, "m2"),
            ev("c", "u2", 1, "m3"),
            ev("d", "u3", 2, "m4"),
        ],
    )
    .unwrap();
    let rep = s.delete_user(P, "u1").unwrap();
    assert_eq!(
        rep,
        DeleteReport {
            events: 2,
            users: 1,
            identities: 1
        }
    );
    assert!(s.user(P, "u1").unwrap().is_none());
    assert!(s.identities(P).unwrap().is_empty());
    let left = s.scan_all(P, &ScanRequest::new()).unwrap();
    assert_eq!(
        left.iter()
            .map(|e| e.event.message_id.as_str())
            .collect::<Vec<_>>(),
        ["m3", "m4"]
    );
    // A deleted event's message id may be stored again (the person came back).
    assert_eq!(s.append(P, &[ev("b", "u1", 1, "m2")]).unwrap().inserted, 1);
    let rep = s
        .rewrite_user(P, "u2", &mut |mut e| {
            e.user_id = Some("anon-1".into());
            e.properties.clear();
            e
        })
        .unwrap();
    assert_eq!(rep.events, 1);
    let got = s
        .scan_all(P, &ScanRequest::new().users(["anon-1"]))
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].event.message_id, "m3", "message id kept");
    assert!(got[0].event.properties.is_empty());
    assert!(s
        .scan_all(P, &ScanRequest::new().users(["u2"]))
        .unwrap()
        .is_empty());
    assert_eq!(
        s.append(P, &[ev("c", "u2", 1, "m3")]).unwrap().duplicates,
        1,
        "rewritten events still dedupe"
    );
}

fn purge<S: Store>(s: &S) {
    s.append(
        P,
        &(0..6)
            .map(|d| ev("e", "u", d, &format!("m{d}")))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    assert_eq!(s.purge_before(P, t0().add_millis(2 * DAY_MS)).unwrap(), 2);
    assert_eq!(s.stats(P).unwrap().events, 4);
    assert_eq!(s.purge_before(P, t0()).unwrap(), 0);
}

fn objects_and_consent<S: Store>(s: &S) {
    s.put_object(P, "segments", "b", b"2").unwrap();
    s.put_object(P, "segments", "a", b"1").unwrap();
    s.put_object(P, "segments", "a", b"3").unwrap();
    s.put_object(P, "models", "m", b"x").unwrap();
    assert_eq!(s.list_objects(P, "segments").unwrap(), ["a", "b"]);
    assert_eq!(
        s.get_object(P, "segments", "a").unwrap().as_deref(),
        Some(&b"3"[..])
    );
    assert!(s.delete_object(P, "segments", "a").unwrap());
    assert!(!s.delete_object(P, "segments", "a").unwrap());
    assert_eq!(s.get_object(P, "segments", "a").unwrap(), None);
    s.set_consent(P, "u1", false, t0()).unwrap();
    s.set_consent(P, "u2", true, t0()).unwrap();
    s.set_consent(P, "u2", false, t0().add_millis(1)).unwrap();
    s.set_consent(P, "u1", true, t0().add_millis(1)).unwrap();
    assert_eq!(s.consent_of(P, "u1").unwrap(), Some(true));
    assert_eq!(s.consent_of(P, "u2").unwrap(), Some(false));
    assert_eq!(s.consent_of(P, "u3").unwrap(), None);
    s.delete_user(P, "u2").unwrap();
    assert_eq!(
        s.consent_of(P, "u2").unwrap(),
        Some(false),
        "a withdrawal survives deletion"
    );
}

fn projects_are_isolated<S: Store>(s: &S) {
    s.append("a", &[ev("e", "u", 0, "m1")]).unwrap();
    assert_eq!(
        s.append("b", &[ev("e", "u", 0, "m1")]).unwrap().inserted,
        1,
        "dedup is per project"
    );
    s.apply(
        "a",
        &[Message::Identify(
            Identify::user("u").trait_("k", 1).build().unwrap(),
        )],
    )
    .unwrap();
    s.put_object("a", "n", "k", b"v").unwrap();
    assert!(s.user("b", "u").unwrap().is_none());
    assert_eq!(s.get_object("b", "n", "k").unwrap(), None);
    assert_eq!(s.delete_user("b", "u").unwrap().events, 1);
    assert_eq!(s.stats("a").unwrap().events, 1);
    assert_eq!(s.purge_before("b", t0().add_millis(DAY_MS)).unwrap(), 0);
    assert_eq!(s.scan_all("c", &ScanRequest::new()).unwrap().len(), 0);
}

fn scan_early_stop<S: Store>(s: &S) {
    s.append(
        P,
        &(0..20)
            .map(|d| ev("e", "u", d, &format!("m{d}")))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let mut n = 0;
    s.scan(P, &ScanRequest::new(), &mut |_| {
        n += 1;
        if n == 5 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .unwrap();
    assert_eq!(n, 5);
}

#[test]
fn memory_store_conforms() {
    run_all(MemoryStore::new);
}
