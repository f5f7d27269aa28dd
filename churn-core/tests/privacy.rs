//! GDPR and retention through `Analytics` against `MemoryStore`: export is complete,
//! delete is complete, anonymize keeps aggregates, purge honours the date.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use churn_core::event::{Event, Identify};
use churn_core::privacy::{PrivacyPolicy, UserExport};
use churn_core::store::{MemoryStore, ScanRequest, StoreExt, StoredEvent, DEFAULT_PROJECT};
use churn_core::{Analytics, Error, Timestamp};

const ANN_IDS: [&str; 3] = ["person-ann", "anon-ann-1", "anon-ann-2"];
/// Strings that must vanish with Ann.
const ANN_MENTIONS: [&str; 5] = [
    "person-ann",
    "anon-ann-1",
    "anon-ann-2",
    "ann@example.com",
    "Ann Lee",
];

fn day(d: u32) -> Timestamp {
    Timestamp::from_ymd(2025, 3, d).unwrap()
}

fn at(d: u32, minute: i64) -> Timestamp {
    day(d).add_millis(minute * 60_000)
}

/// Ann (two anonymous ids, one linked by identify, one by alias), Bob (one linked
/// anonymous id) and an unlinked visitor. Stores PII as sent (`keep_all`) so deletion
/// and anonymization have something to remove. The last event stays queued.
fn setup() -> (Arc<MemoryStore>, Analytics) {
    let store = Arc::new(MemoryStore::new());
    let a = Analytics::builder()
        .store(store.clone())
        .flush_interval(Duration::from_secs(3600))
        .privacy(PrivacyPolicy::keep_all())
        .build()
        .unwrap();
    let visit = |id: &str, d: u32, m: i64| {
        let mut e = Event::track("visit")
            .anonymous_id(id)
            .timestamp(at(d, m))
            .property("email", "ann@example.com")
            .build()
            .unwrap();
        e.context.ip = Some("203.0.113.5".into());
        e.context.user_agent = Some("Firefox".into());
        e
    };
    a.track(visit("anon-ann-1", 1, 0)).unwrap();
    a.track(visit("anon-ann-1", 1, 5)).unwrap();
    a.identify(
        Identify::user("person-ann")
            .anonymous_id("anon-ann-1")
            .trait_("email", "ann@example.com")
            .trait_("name", "Ann Lee"),
    )
    .unwrap();
    for m in 0..3 {
        a.track(
            Event::track("login")
                .user_id("person-ann")
                .timestamp(at(2, m * 10)),
        )
        .unwrap();
    }
    a.track(
        Event::track("purchase")
            .user_id("person-ann")
            .number("amount", 30.0)
            .property("name", "Ann Lee")
            .timestamp(at(3, 1)),
    )
    .unwrap();
    a.alias("person-ann", "anon-ann-2").unwrap();
    a.track(
        Event::track("visit")
            .anonymous_id("anon-ann-2")
            .timestamp(at(4, 0)),
    )
    .unwrap();
    for (id, d) in [
        ("person-bob", 1),
        ("person-bob", 1),
        ("anon-bob-1", 2),
        ("anon-zed", 3),
    ] {
        a.track(Event::track("visit").user_id(id).timestamp(at(d, 30)))
            .unwrap();
    }
    a.identify(Identify::user("person-bob").anonymous_id("anon-bob-1"))
        .unwrap();
    a.flush().unwrap();
    // Queued only: the GDPR calls must flush first.
    a.track(
        Event::track("logout")
            .user_id("person-ann")
            .timestamp(at(5, 0)),
    )
    .unwrap();
    (store, a)
}

fn all_events(store: &MemoryStore) -> Vec<StoredEvent> {
    store
        .scan_all(DEFAULT_PROJECT, &ScanRequest::new())
        .unwrap()
}

fn is_ann(e: &StoredEvent) -> bool {
    [e.event.user_id.as_deref(), e.event.anonymous_id.as_deref()]
        .into_iter()
        .flatten()
        .any(|id| ANN_IDS.contains(&id))
}

/// Every stored thing, as JSON text.
fn everything(store: &MemoryStore) -> String {
    format!(
        "{}\n{}\n{}",
        serde_json::to_string(&all_events(store)).unwrap(),
        serde_json::to_string(&store.users(DEFAULT_PROJECT).unwrap()).unwrap(),
        serde_json::to_string(&store.identities(DEFAULT_PROJECT).unwrap()).unwrap(),
    )
}

use churn_core::store::Store;

#[test]
fn export_holds_everything_about_the_person_and_nothing_else() {
    let (store, a) = setup();
    let x = a.export_user("person-ann").unwrap();
    // Plain definition: every stored event carrying one of the person's ids.
    let expect: BTreeSet<String> = all_events(&store)
        .iter()
        .filter(|e| is_ann(e))
        .map(|e| e.event.message_id.clone())
        .collect();
    let got: BTreeSet<String> = x
        .events
        .iter()
        .map(|e| e.event.message_id.clone())
        .collect();
    assert_eq!(expect.len(), 8, "7 flushed + 1 queued event");
    assert_eq!(got, expect);
    assert!(x
        .events
        .windows(2)
        .all(|w| w[0].event.timestamp <= w[1].event.timestamp));
    let user = x.user.as_ref().unwrap();
    assert_eq!(user.traits["name"], "Ann Lee");
    assert_eq!(user.anonymous_ids, vec!["anon-ann-1", "anon-ann-2"]);
    assert_eq!(x.identities.len(), 2);
    assert!(x.consents.is_empty());
    let json = x.to_json().unwrap();
    assert!(!json.contains("person-bob") && !json.contains("anon-zed"));
    assert_eq!(serde_json::from_str::<UserExport>(&json).unwrap(), x);
    // Consent records are part of the export.
    a.set_consent("anon-ann-2", true).unwrap();
    let x = a.export_user("person-ann").unwrap();
    assert_eq!(x.consents.len(), 1);
    assert!(x.consents[0].granted);
}

#[test]
fn delete_removes_every_trace_of_the_person() {
    let (store, a) = setup();
    let others: Vec<StoredEvent> = {
        a.flush().unwrap();
        all_events(&store)
            .into_iter()
            .filter(|e| !is_ann(e))
            .collect()
    };
    let report = a.delete_user("person-ann").unwrap();
    assert_eq!((report.events, report.users, report.identities), (8, 1, 2));
    let text = everything(&store);
    for m in ANN_MENTIONS {
        assert!(!text.contains(m), "{m} survived the delete");
    }
    for id in ANN_IDS {
        let x = a.export_user(id).unwrap();
        assert!(x.is_empty(), "export of {id} after delete: {x:?}");
        assert!(!serde_json::to_string(&x.events).unwrap().contains("ann"));
    }
    // Nobody else lost anything.
    assert_eq!(all_events(&store), others);
    assert!(store.user(DEFAULT_PROJECT, "person-bob").unwrap().is_some());
    assert_eq!(store.identities(DEFAULT_PROJECT).unwrap().len(), 1);
    // Deleting again finds nothing.
    assert_eq!(a.delete_user("person-ann").unwrap().events, 0);
}

#[test]
fn delete_keeps_a_consent_withdrawal() {
    let (_store, a) = setup();
    a.set_consent("person-bob", false).unwrap();
    a.delete_user("person-bob").unwrap();
    let x = a.export_user("person-bob").unwrap();
    assert!(x.user.is_none() && x.events.is_empty() && x.identities.is_empty());
    assert_eq!(x.consents.len(), 1);
    assert!(!x.consents[0].granted);
    assert!(matches!(
        a.track(Event::track("visit").user_id("person-bob")),
        Err(Error::ConsentWithdrawn { .. })
    ));
}

/// Events per day, and distinct people per day (anonymous ids resolved through the
/// identity links, as analyses count them).
fn daily(store: &MemoryStore) -> BTreeMap<i64, (usize, usize)> {
    let links: HashMap<String, String> = store
        .identities(DEFAULT_PROJECT)
        .unwrap()
        .into_iter()
        .map(|l| (l.anonymous_id, l.user_id))
        .collect();
    let mut people: BTreeMap<i64, BTreeSet<String>> = BTreeMap::new();
    let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
    for e in all_events(store) {
        let id = e.event.distinct_id().to_string();
        let person = links.get(&id).cloned().unwrap_or(id);
        let d = e.event.timestamp.day_index();
        people.entry(d).or_default().insert(person);
        *counts.entry(d).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(d, n)| (d, (n, people[&d].len())))
        .collect()
}

#[test]
fn anonymize_keeps_the_aggregates_and_removes_the_identity() {
    let (store, a) = setup();
    a.flush().unwrap();
    let before = daily(&store);
    let ann_ids: BTreeSet<String> = all_events(&store)
        .iter()
        .filter(|e| is_ann(e))
        .map(|e| e.event.message_id.clone())
        .collect();
    let new_id = a.anonymize_user("person-ann").unwrap();
    assert!(new_id.starts_with("anon-") && !ANN_IDS.contains(&new_id.as_str()));
    assert_eq!(daily(&store), before);
    let mine: Vec<StoredEvent> = all_events(&store)
        .into_iter()
        .filter(|e| e.event.user_id.as_deref() == Some(new_id.as_str()))
        .collect();
    let ids: BTreeSet<String> = mine.iter().map(|e| e.event.message_id.clone()).collect();
    assert_eq!(ids, ann_ids);
    for e in &mine {
        assert_eq!(e.event.anonymous_id, None);
        assert_eq!(e.event.context.ip, None);
        assert_eq!(e.event.context.user_agent, None);
        assert!(e.event.properties.get("email").is_none());
        assert!(e.event.properties.get("name").is_none());
    }
    // Revenue is an aggregate too.
    assert!(mine.iter().any(|e| e.event.amount() == Some(30.0)));
    let text = everything(&store);
    for m in ANN_MENTIONS {
        assert!(!text.contains(m), "{m} survived anonymization");
    }
    assert!(a.export_user("person-ann").unwrap().is_empty());
    assert!(matches!(
        a.anonymize_user("nobody"),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn purge_before_deletes_old_events_including_queued_ones() {
    let (store, a) = setup();
    a.track(
        Event::track("old")
            .user_id("person-bob")
            .timestamp(at(1, 59)),
    )
    .unwrap();
    let purged = a.purge_before(day(3)).unwrap();
    // Day 1: 2 Ann visits + 2 Bob + 1 queued; day 2: 3 logins + 1 Bob.
    assert_eq!(purged, 9);
    let left = all_events(&store);
    assert!(left.iter().all(|e| e.event.timestamp >= day(3)));
    assert_eq!(left.len(), 4); // purchase and anon-zed (day 3), visit (day 4), logout (day 5)
}
