//! Export followed by import gives back the same events (all fields but `received_at`,
//! which records when churn-core accepted the event).

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;
use crate::event::{Context, Event, Limits, Properties, Utm};
use crate::store::{MemoryStore, ScanRequest, StoreExt, DEFAULT_PROJECT};
use crate::Timestamp;

/// Text with the characters CSV and JSON must escape: separators, quotes, spaces,
/// non-ASCII (no control characters: ids and names refuse them).
fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 ,;\"'{}é€_-]{1,12}"
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        any::<u64>().prop_map(|u| json!(u)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        text().prop_map(Value::String),
        // Strings that look like numbers must stay strings.
        prop_oneof![Just("007"), Just("42"), Just("1e3"), Just("")].prop_map(|s| json!(s)),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn amount() -> impl Strategy<Value = Option<Value>> {
    prop::option::of(prop_oneof![
        any::<i64>().prop_map(|i| json!(i)),
        (-1.0e9f64..1.0e9).prop_map(|f| json!(f)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        Just(Value::Null),
    ])
}

fn context() -> impl Strategy<Value = Context> {
    (
        prop::option::of(text()),
        prop::option::of(text()),
        prop::option::of(text()),
        prop::option::of("[a-z]{1,8}"),
        prop::collection::btree_map("x_[a-z]{1,5}", scalar(), 0..3),
    )
        .prop_map(|(path, referrer, ua, source, extra)| Context {
            path,
            referrer,
            user_agent: ua,
            utm: Utm {
                source,
                ..Utm::default()
            },
            extra: extra.into_iter().collect(),
            ..Context::default()
        })
}

prop_compose! {
    fn event()(
        name in text(),
        user in prop::option::of(text()),
        anon in prop::option::of(text()),
        session in prop::option::of(text()),
        message_id in text(),
        // 2000-01-01 .. 2030-01-01
        ts in 946_684_800_000i64..1_893_456_000_000,
        props in prop::collection::btree_map("[a-z]{1,6}", value(), 0..5),
        amount in amount(),
        context in context(),
    ) -> Option<Event> {
        let mut properties: Properties = props.into_iter().collect();
        properties.remove("amount");
        if let Some(a) = amount {
            properties.insert("amount".into(), a);
        }
        let mut b = Event::track(name)
            .message_id(message_id)
            .timestamp(Timestamp::from_millis(ts))
            .properties(properties)
            .context(context);
        if let Some(u) = user { b = b.user_id(u); }
        if let Some(a) = anon { b = b.anonymous_id(a); }
        if let Some(s) = session { b = b.session_id(s); }
        b.build_at(Timestamp::from_millis(1_900_000_000_000), &Limits::default()).ok()
    }
}

fn round_trip(events: &[Event], format: FileFormat) -> (Vec<Event>, Vec<Event>) {
    let src = MemoryStore::new();
    src.append(DEFAULT_PROJECT, events).unwrap();
    let mut file = Vec::new();
    let n = export_events(
        &src,
        DEFAULT_PROJECT,
        &ScanRequest::new(),
        format,
        &mut file,
    )
    .unwrap();
    assert_eq!(n, src.stats(DEFAULT_PROJECT).unwrap().events);
    let dst = MemoryStore::new();
    // The export holds timestamps up to 2030, after "now": allow them.
    let mut limits = Limits::default();
    limits.max_future_ms = i64::MAX / 2;
    let report = import_reader(
        &dst,
        file.as_slice(),
        &ImportOptions::new().format(format).limits(limits),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(report.format, Some(format));
    assert_eq!(report.rejected, 0, "{:?}", report.rejections);
    let load = |s: &MemoryStore| -> Vec<Event> {
        s.scan_all(DEFAULT_PROJECT, &ScanRequest::new())
            .unwrap()
            .into_iter()
            .map(|s| Event {
                received_at: Timestamp::from_millis(0),
                ..s.event
            })
            .collect()
    };
    (load(&src), load(&dst))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn csv_export_import_round_trips(events in prop::collection::vec(event(), 1..12)) {
        let events: Vec<Event> = events.into_iter().flatten().collect();
        let (before, after) = round_trip(&events, FileFormat::Csv);
        prop_assert_eq!(before, after);
    }

    #[test]
    fn ndjson_export_import_round_trips(events in prop::collection::vec(event(), 1..12)) {
        let events: Vec<Event> = events.into_iter().flatten().collect();
        let (before, after) = round_trip(&events, FileFormat::Ndjson);
        prop_assert_eq!(before, after);
    }
}

#[test]
fn hand_worked_csv_export() {
    let e = Event::track("purchase")
        .user_id("c,1")
        .message_id("m\"1")
        .session_id("s1")
        .number("amount", 20.0)
        .property("plan", "pro")
        .property("meta", json!({"a": [1, 2]}))
        .context(Context {
            path: Some("/buy".into()),
            ..Context::default()
        })
        .timestamp(Timestamp::from_ymd(2025, 1, 2).unwrap())
        .build()
        .unwrap();
    let (before, after) = round_trip(std::slice::from_ref(&e), FileFormat::Csv);
    assert_eq!(before, after);
    let src = MemoryStore::new();
    src.append(DEFAULT_PROJECT, &[e]).unwrap();
    let mut out = Vec::new();
    export_events(
        &src,
        DEFAULT_PROJECT,
        &ScanRequest::new(),
        FileFormat::Csv,
        &mut out,
    )
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        text,
        "message_id,timestamp,event,user_id,anonymous_id,session_id,amount,properties,context\n\
         \"m\"\"1\",2025-01-02T00:00:00.000Z,purchase,\"c,1\",,s1,20.0,\
         \"{\"\"plan\"\":\"\"pro\"\",\"\"meta\"\":{\"\"a\"\":[1,2]}}\",\"{\"\"path\"\":\"\"/buy\"\"}\"\n"
    );
}
