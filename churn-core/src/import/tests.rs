//! Behaviour of the import as a whole (CSV and NDJSON into a `MemoryStore`).

use super::*;
use crate::event::Message;
use crate::store::{MemoryStore, ScanRequest, StoreExt, DEFAULT_PROJECT};
use crate::Timestamp;
use serde_json::json;

fn import(store: &MemoryStore, data: &[u8], opts: &ImportOptions) -> ImportReport {
    import_reader(store, data, opts, &mut |_| {}).unwrap()
}

fn events(store: &MemoryStore) -> Vec<crate::event::Event> {
    store
        .scan_all(DEFAULT_PROJECT, &ScanRequest::new())
        .unwrap()
        .into_iter()
        .map(|s| s.event)
        .collect()
}

const SEED: &str = "customer_id,event_date,amount,event_type
c1,2025-01-05,19.99,purchase
c2,2025-01-06,,login
c1,2025-01-07,5,purchase
";

#[cfg(feature = "import")]
#[test]
fn seed_format_needs_no_options() {
    let store = MemoryStore::new();
    let r = import(&store, SEED.as_bytes(), &ImportOptions::new());
    assert_eq!((r.rows_read, r.stored, r.rejected), (3, 3, 0));
    assert_eq!(r.format, Some(FileFormat::Csv));
    assert_eq!(r.columns["user_id"], "customer_id");
    assert_eq!(r.columns["timestamp"], "event_date");
    let ev = events(&store);
    assert_eq!(ev[0].event, "purchase");
    assert_eq!(ev[0].user_id.as_deref(), Some("c1"));
    assert_eq!(ev[0].timestamp, Timestamp::from_ymd(2025, 1, 5).unwrap());
    assert_eq!(ev[0].amount(), Some(19.99));
    assert_eq!(ev[2].properties["amount"], json!(5));
    // An empty amount cell sets no amount.
    assert!(!ev[1].properties.contains_key("amount"));
    assert!(ev.iter().all(|e| e.message_id.starts_with("imp-")));
}

#[cfg(feature = "import")]
#[test]
fn every_kind_of_bad_row_is_reported_and_the_rest_stored() {
    let mut data = b"customer_id,event_date,amount,event_type\n".to_vec();
    data.extend_from_slice(b"c1,2025-01-05,10,purchase\n"); // line 2 ok
    data.extend_from_slice(b"c2,2025-13-45,10,purchase\n"); // 3 bad date
    data.extend_from_slice(b",2025-01-05,10,purchase\n"); // 4 empty id
    data.extend_from_slice(b"c3,2025-01-05,NaN,purchase\n"); // 5 NaN
    data.extend_from_slice(b"c3,2025-01-05,ten,purchase\n"); // 6 text amount
    data.extend_from_slice(b"c\xff4,2025-01-05,1,purchase\n"); // 7 bad UTF-8
    data.extend_from_slice(b"c5,2025-01-05,1\n"); // 8 too few columns
    data.extend_from_slice(b"c5,2025-01-05,1,purchase,extra\n"); // 9 too many
    data.extend_from_slice(b"c6,2099-01-01,1,purchase\n"); // 10 future
    data.extend_from_slice(b"c6,1999-12-31,1,purchase\n"); // 11 before 2000
    data.extend_from_slice(b"c7,2025-01-05,1,\n"); // 12 empty event
    data.extend_from_slice(b"\"c8\nx\",2025-01-05,1,login\n"); // 13-14 control char in id
    data.extend_from_slice(b"c9,2025-01-06,,login\n"); // 15 ok
    let store = MemoryStore::new();
    let r = import(&store, &data, &ImportOptions::new());
    assert_eq!((r.rows_read, r.stored, r.rejected), (13, 2, 11));
    let by_line: Vec<(u64, &str)> = r
        .rejections
        .iter()
        .map(|x| (x.line, x.kind.as_str()))
        .collect();
    assert_eq!(
        by_line,
        vec![
            (3, "bad timestamp"),
            (4, "no user or anonymous id"),
            (5, "amount is not a finite number"),
            (6, "amount is not a finite number"),
            (7, "invalid UTF-8"),
            (8, "wrong number of columns"),
            (9, "wrong number of columns"),
            (10, "timestamp in the future"),
            (11, "timestamp before 2000"),
            (12, "empty event"),
            (13, "control character in user_id"),
        ]
    );
    assert_eq!(r.rejected_by_reason["amount is not a finite number"], 2);
    assert!(r.rejections[0].reason.contains("2025-13-45"));
    assert!(r.rejections[0].reason.contains("event_date"));
    assert_eq!(events(&store).len(), 2);
}

#[cfg(feature = "import")]
#[test]
fn reimport_is_idempotent_but_identical_rows_in_one_file_both_stay() {
    let data = format!("{SEED}c2,2025-01-06,,login\n");
    let store = MemoryStore::new();
    let first = import(&store, data.as_bytes(), &ImportOptions::new());
    assert_eq!((first.stored, first.duplicates), (4, 0));
    let second = import(&store, data.as_bytes(), &ImportOptions::new());
    assert_eq!((second.stored, second.duplicates), (0, 4));
    // Small batches give the same ids.
    let third = import(&store, data.as_bytes(), &ImportOptions::new().batch_size(1));
    assert_eq!((third.stored, third.duplicates), (0, 4));
    assert_eq!(events(&store).len(), 4);
    // A third copy of the duplicated row is new.
    let more = format!("{data}c2,2025-01-06,,login\n");
    let r = import(&store, more.as_bytes(), &ImportOptions::new());
    assert_eq!((r.stored, r.duplicates), (1, 4));
}

#[cfg(feature = "import")]
#[test]
fn mapping_default_event_extra_columns_and_project() {
    let data = "who,when,plan,seats,zip,note\nu1,2025-02-01T10:00:00Z,pro,3,02134,hi\n";
    let opts = ImportOptions::new()
        .columns(ColumnMapping::new().user_id("who").timestamp("when"))
        .default_event("subscription_started")
        .project("acme");
    let store = MemoryStore::new();
    let r = import(&store, data.as_bytes(), &opts);
    assert_eq!(r.stored, 1, "{r:?}");
    let e = &store.scan_all("acme", &ScanRequest::new()).unwrap()[0].event;
    assert_eq!(e.event, "subscription_started");
    assert_eq!(
        serde_json::Value::Object(e.properties.clone()),
        json!({"plan": "pro", "seats": 3, "zip": "02134", "note": "hi"})
    );
    assert!(events(&store).is_empty());
}

#[cfg(feature = "import")]
#[test]
fn fatal_errors_are_errors() {
    let store = MemoryStore::new();
    let no_time = import_reader(
        &store,
        "user_id,event\nu,x\n".as_bytes(),
        &ImportOptions::new(),
        &mut |_| {},
    );
    assert_eq!(no_time.unwrap_err().code(), "ERR_INVALID_ARGUMENT");
    let missing = import_reader(
        &store,
        SEED.as_bytes(),
        &ImportOptions::new().columns(ColumnMapping::new().amount("revenue")),
        &mut |_| {},
    );
    assert!(missing.unwrap_err().to_string().contains("revenue"));
    let err = import_file(
        &store,
        "/nonexistent/x.csv",
        &ImportOptions::new(),
        &mut |_| {},
    )
    .unwrap_err();
    assert_eq!(err.code(), "ERR_IO");
    assert!(err.to_string().contains("/nonexistent/x.csv"));
    // An empty input is an empty import.
    let r = import(&store, b"", &ImportOptions::new());
    assert_eq!(r.rows_read, 0);
}

#[test]
fn ndjson_lines_segment_shapes_and_bad_lines() {
    let data = concat!(
        r#"{"type":"track","event":"signup","userId":"u1","timestamp":"2025-03-01T09:00:00Z","context":{"page":{"path":"/join"}}}"#,
        "\n\n",
        r#"{"type":"identify","userId":"u1","anonymousId":"a1","traits":{"plan":"pro"},"timestamp":"2025-03-01"}"#,
        "\n",
        "{broken\n",
        r#"{"event":"x","userId":"u2"}"#,
        "\n",
        r#"{"event":"page_view","anonymous_id":"a1","message_id":"m-7","timestamp":1740819600000}"#,
    );
    let store = MemoryStore::new();
    let r = import(&store, data.as_bytes(), &ImportOptions::new());
    assert_eq!(r.format, Some(FileFormat::Ndjson));
    assert_eq!(
        (r.rows_read, r.stored, r.identities, r.rejected),
        (5, 2, 1, 2)
    );
    let lines: Vec<u64> = r.rejections.iter().map(|x| x.line).collect();
    assert_eq!(lines, vec![4, 5]);
    assert_eq!(r.rejections[1].kind, "empty timestamp");
    let ev = events(&store);
    assert_eq!(ev[0].context.path.as_deref(), Some("/join"));
    assert_eq!(ev[1].message_id, "m-7");
    let u = store.user(DEFAULT_PROJECT, "u1").unwrap().unwrap();
    assert_eq!(u.anonymous_ids, vec!["a1".to_string()]);
    // Again: events are duplicates (identify calls are re-applied, which changes nothing).
    let again = import(&store, data.as_bytes(), &ImportOptions::new());
    assert_eq!((again.stored, again.duplicates), (0, 2));
}

#[test]
fn ndjson_overlong_line_is_refused_without_stopping() {
    let long = format!(
        r#"{{"event":"x","userId":"u","timestamp":"2025-01-01","properties":{{"blob":"{}"}}}}"#,
        "y".repeat(200_000)
    );
    let data = format!(
        "{long}\n{}\n",
        r#"{"event":"ok","userId":"u","timestamp":"2025-01-01"}"#
    );
    let store = MemoryStore::new();
    let r = import(
        &store,
        data.as_bytes(),
        &ImportOptions::new().format(FileFormat::Ndjson),
    );
    assert_eq!((r.stored, r.rejected), (1, 1));
    assert_eq!(r.rejections[0].kind, "line too long");
    assert_eq!(r.rejections[0].line, 1);
}

#[test]
fn progress_is_reported_and_report_adds_up() {
    let mut data = String::new();
    for i in 0..10_000 {
        data.push_str(&format!(
            "{{\"event\":\"e\",\"userId\":\"u{}\",\"timestamp\":\"2025-01-01\"}}\n",
            i % 50
        ));
    }
    let store = MemoryStore::new();
    let mut calls = Vec::new();
    let r = import_reader(
        &store,
        data.as_bytes(),
        &ImportOptions::new().batch_size(3_000),
        &mut |p| calls.push(p),
    )
    .unwrap();
    assert!(calls.len() >= 4, "{}", calls.len());
    assert!(calls.windows(2).all(|w| w[0].rows_read <= w[1].rows_read));
    assert_eq!(calls.last().copied(), Some(r.progress()));
    assert_eq!(r.bytes_read, data.len() as u64);
    assert_eq!(
        r.rows_read,
        r.stored + r.duplicates + r.identities + r.rejected
    );
    // 10,000 lines but only 50 x 1 distinct contents: identical rows all stay.
    assert_eq!(r.stored, 10_000);
}

#[test]
fn store_errors_are_fatal() {
    struct Failing(MemoryStore);
    impl crate::store::Store for Failing {
        fn schema_version(&self) -> Result<u32> {
            self.0.schema_version()
        }
        fn apply(&self, _: &str, _: &[Message]) -> Result<crate::store::AppendOutcome> {
            Err(Error::storage("disk full"))
        }
        fn scan(
            &self,
            p: &str,
            r: &ScanRequest,
            v: &mut dyn FnMut(crate::store::StoredEvent) -> std::ops::ControlFlow<()>,
        ) -> Result<()> {
            self.0.scan(p, r, v)
        }
        fn scan_rows(
            &self,
            p: &str,
            r: &ScanRequest,
            v: &mut dyn FnMut(&crate::store::EventRow<'_>) -> std::ops::ControlFlow<()>,
        ) -> Result<()> {
            self.0.scan_rows(p, r, v)
        }
        fn user(&self, p: &str, u: &str) -> Result<Option<crate::store::UserRecord>> {
            self.0.user(p, u)
        }
        fn users(&self, p: &str) -> Result<Vec<crate::store::UserRecord>> {
            self.0.users(p)
        }
        fn identities(&self, p: &str) -> Result<Vec<crate::store::IdentityLink>> {
            self.0.identities(p)
        }
        fn set_consent(&self, p: &str, i: &str, g: bool, a: Timestamp) -> Result<()> {
            self.0.set_consent(p, i, g, a)
        }
        fn consents(&self, p: &str) -> Result<Vec<crate::store::ConsentRecord>> {
            self.0.consents(p)
        }
        fn delete_user(&self, p: &str, u: &str) -> Result<crate::store::DeleteReport> {
            self.0.delete_user(p, u)
        }
        fn rewrite_user(
            &self,
            p: &str,
            u: &str,
            f: &mut dyn FnMut(crate::event::Event) -> crate::event::Event,
        ) -> Result<crate::store::DeleteReport> {
            self.0.rewrite_user(p, u, f)
        }
        fn purge_before(&self, p: &str, b: Timestamp) -> Result<u64> {
            self.0.purge_before(p, b)
        }
        fn put_object(&self, p: &str, n: &str, k: &str, v: &[u8]) -> Result<()> {
            self.0.put_object(p, n, k, v)
        }
        fn get_object(&self, p: &str, n: &str, k: &str) -> Result<Option<Vec<u8>>> {
            self.0.get_object(p, n, k)
        }
        fn list_objects(&self, p: &str, n: &str) -> Result<Vec<String>> {
            self.0.list_objects(p, n)
        }
        fn delete_object(&self, p: &str, n: &str, k: &str) -> Result<bool> {
            self.0.delete_object(p, n, k)
        }
        fn stats(&self, p: &str) -> Result<crate::store::StoreStats> {
            self.0.stats(p)
        }
    }
    let store = Failing(MemoryStore::new());
    let line = r#"{"event":"e","userId":"u","timestamp":"2025-01-01"}"#;
    let err =
        import_reader(&store, line.as_bytes(), &ImportOptions::new(), &mut |_| {}).unwrap_err();
    assert_eq!(err.code(), "ERR_STORAGE");
}
