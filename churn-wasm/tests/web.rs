//! The core logic through the wasm exports, run in wasm (node) by
//! `wasm-bindgen-test-runner`: `./dev test` stage `test_wasm`.
#![cfg(target_arch = "wasm32")]

use churn_wasm::{touch_session, Analytics, Core, Outbox};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::wasm_bindgen_test;

fn get(v: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(v, &key.into()).unwrap()
}

#[wasm_bindgen_test]
fn message_is_validated_stamped_and_scrubbed() {
    let core = Core::new(r#"{"privacy":{"pii_keys":["email","ssn"]}}"#).unwrap();
    let wire = core
        .message(
            r#"{"type":"track","event":"signup","anonymousId":"a1","properties":{"email":"a@b.c","ssn":"1","plan":"pro"}}"#,
            false,
        )
        .unwrap()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&wire).unwrap();
    assert_eq!(v["properties"], serde_json::json!({"plan": "pro"}));
    assert_eq!(v["message_id"].as_str().unwrap().len(), 36); // uuid from crypto.getRandomValues
                                                             // Timestamp::now() works in wasm (chrono wasmbind): a plausible current year.
    assert!(v["timestamp"].as_str().unwrap() > "2024");
    assert!(core.is_pii_key("E-Mail"));
    let err = core.message(r#"{"event":"x"}"#, false).unwrap_err();
    assert_eq!(get(&err, "code"), JsValue::from("ERR_VALIDATION"));
    assert!(Core::new("{").is_err());
    assert_eq!(
        core.message(r#"{"type":"identify","userId":"u"}"#, true)
            .unwrap(),
        None
    );
}

#[wasm_bindgen_test]
fn session_rule() {
    let first = touch_session("", 1_000.0, 1_800_000.0).unwrap();
    assert_eq!(get(&first, "isNew"), JsValue::TRUE);
    let s = js_sys::JSON::stringify(&get(&first, "session"))
        .unwrap()
        .as_string()
        .unwrap();
    let again = touch_session(&s, 1_000.0 + 1_799_999.0, 1_800_000.0).unwrap();
    assert_eq!(get(&again, "isNew"), JsValue::FALSE);
    let later = touch_session(&s, 1_000.0 + 1_800_000.0, 1_800_000.0).unwrap();
    assert_eq!(get(&later, "isNew"), JsValue::TRUE);
}

#[wasm_bindgen_test]
fn outbox_bounded_persisted_with_backoff() {
    let mut q = Outbox::new(2, None);
    for id in ["a", "b", "c"] {
        q.push(format!(r#"{{"message_id":"{id}"}}"#));
    }
    assert_eq!((q.length(), q.dropped()), (2, 1.0));
    assert_eq!(q.fail(0.0), 1000.0);
    assert_eq!(q.fail(0.0), 2000.0);
    assert!(!q.ready(1999.0));
    let restored = Outbox::new(2, Some(q.to_json()));
    assert_eq!((restored.length(), restored.failures()), (2, 2));
    let parts = restored.batch_body(10, "2026-01-01T00:00:00Z", Some("wk".into()));
    let body = parts.get(0).as_string().unwrap();
    assert!(body.contains(r#""message_id":"b""#) && body.contains(r#""writeKey":"wk""#));
    assert_eq!(parts.get(1), JsValue::from(2.0));
    assert_eq!(Outbox::new(5, Some("garbage".into())).length(), 0);
}

#[wasm_bindgen_test]
fn analytics_over_memory_store() {
    let mut a = Analytics::new();
    let report = a
        .load_ndjson(concat!(
            r#"{"event":"login","user_id":"u1","timestamp":"2026-01-05T10:00:00Z"}"#,
            "\n",
            r#"{"event":"login","user_id":"u2","timestamp":"2026-01-05T12:00:00Z"}"#,
            "\n",
            "{}\n"
        ))
        .unwrap();
    assert_eq!(get(&report, "stored"), JsValue::from(2.0));
    assert_eq!(get(&report, "rejected"), JsValue::from(1.0));
    assert_eq!(a.event_count().unwrap(), 2.0);
    for r in [
        a.active_users(JsValue::UNDEFINED).unwrap(),
        a.sessions(JsValue::NULL).unwrap(),
        a.retention(JsValue::UNDEFINED).unwrap(),
        a.revenue(JsValue::UNDEFINED).unwrap(),
    ] {
        assert!(r.is_object());
    }
}
