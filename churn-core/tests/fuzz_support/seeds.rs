//! The seed corpora of the fuzz targets, as code: realistic inputs (what the SDKs and
//! files look like) plus a few broken ones, so libFuzzer starts from deep paths.
//! Written to `fuzz/seeds/<target>/` by `fuzz_regressions::write_seeds`.

use std::io::Write;

use base64::Engine;
use churn_core::churn::{
    labelled_at, model_to_json, CalibrationMethod, EventTable, FeatureConfig, LabelConfig,
    ModelKind, ModelSpec, TrainConfig, TrainedModel, Transaction,
};
use churn_core::Timestamp;

type Files = Vec<(String, Vec<u8>)>;

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn text(files: &[(&str, &str)]) -> Files {
    files
        .iter()
        .map(|(n, t)| (n.to_string(), t.as_bytes().to_vec()))
        .collect()
}

/// A request input: header lines, an empty line, the body.
fn req(headers: &str, body: &[u8]) -> Vec<u8> {
    let mut out = headers.as_bytes().to_vec();
    out.extend_from_slice(b"\n\n");
    out.extend_from_slice(body);
    out
}

/// Every target's seeds.
pub fn all() -> Vec<(&'static str, Files)> {
    vec![
        ("event_json", event_json()),
        ("import_rows", import_rows()),
        ("segment_body", segment_body()),
        ("posthog_body", posthog_body()),
        ("segment_filter", segment_filter()),
        ("model_load", model_load()),
    ]
}

fn event_json() -> Files {
    text(&[
        (
            "track_segment.json",
            r#"{"type":"track","event":"Order Completed","userId":"u1","anonymousId":"a1","messageId":"m-1","timestamp":"2025-06-01T10:00:00.123+02:00","properties":{"revenue":19.99,"currency":"EUR","items":[{"sku":"x","qty":2}],"nested":{"a":{"b":null}}},"context":{"ip":"10.0.0.1","userAgent":"Mozilla/5.0","page":{"url":"https://x.test/a?utm_source=news","path":"/a","referrer":"https://ref.test/","title":"A"},"campaign":{"source":"news","medium":"email","name":"spring"}}}"#,
        ),
        (
            "track_snake.json",
            r#"{"event":"purchase","user_id":"u2","session_id":"s9","timestamp":1748772000000,"properties":{"amount":12.5,"plan":"pro"}}"#,
        ),
        (
            "track_date.json",
            r#"{"event":"login","user_id":42,"timestamp":"2025-06-01"}"#,
        ),
        (
            "page.json",
            r#"{"type":"page","name":"Pricing","anonymousId":"a2","properties":{"path":"/pricing"},"timestamp":"2025-12-31T23:59:59Z"}"#,
        ),
        (
            "screen.json",
            r#"{"type":"screen","name":"Home","userId":"u3"}"#,
        ),
        (
            "identify.json",
            r#"{"type":"identify","userId":"u1","anonymousId":"a1","traits":{"email":"a@b.c","plan":"team","seats":5,"removed":null}}"#,
        ),
        (
            "alias.json",
            r#"{"type":"alias","userId":"u1","previousId":"a1","timestamp":"2025-06-02T00:00:00Z"}"#,
        ),
        (
            "bad_timestamp.json",
            r#"{"event":"e","userId":"u","timestamp":"yesterday"}"#,
        ),
        (
            "future.json",
            r#"{"event":"e","userId":"u","timestamp":"2099-01-01T00:00:00Z"}"#,
        ),
        (
            "control_char.json",
            "{\"event\":\"a\\u0007b\",\"userId\":\"u\"}",
        ),
        (
            "deep.json",
            r#"{"event":"e","userId":"u","properties":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":1}}}}}}}}}}}}}}}}}}"#,
        ),
        ("no_identity.json", r#"{"event":"e"}"#),
        ("not_object.json", r#"[{"event":"e","userId":"u"}]"#),
        (
            "props_not_object.json",
            r#"{"event":"e","userId":"u","properties":[1,2]}"#,
        ),
        (
            "amount_text.json",
            r#"{"event":"e","userId":"u","properties":{"amount":"12.50"}}"#,
        ),
        (
            "amount_nan_text.json",
            r#"{"event":"e","userId":"u","properties":{"amount":"NaN"}}"#,
        ),
        (
            "big_numbers.json",
            r#"{"event":"e","userId":"u","timestamp":-9223372036854775808,"properties":{"n":1e308,"m":-0.0,"i":18446744073709551615}}"#,
        ),
        (
            "unicode.json",
            r#"{"event":"café ☕ \ud83d\ude00","userId":"ü","messageId":"","properties":{"k\u0000":"v"}}"#,
        ),
    ])
}

fn import_rows() -> Files {
    // First byte: bits 0-1 format (0 auto, 1 CSV, 2 NDJSON), bits 2-3 delimiter
    // (0 `,`, 1 tab, 2 `;`, 3 `|`), bit 4 default event `row`.
    let with = |opt: u8, body: &str| {
        let mut v = vec![opt];
        v.extend_from_slice(body.as_bytes());
        v
    };
    vec![
        ("seed_format.csv".into(), with(0, "customer_id,event_date,amount,event_type\nc1,2025-03-01,49.00,purchase\nc1,2025-03-02,,login\nc2,2025-03-02T10:00:00Z,-5,refund\n,2025-03-02,,login\nc3,someday,1,purchase\nc4,2025-03-04,abc,purchase\n")),
        ("extra_columns.csv".into(), with(1, "user_id,timestamp,event,revenue,plan,seats,message_id,session_id\nu1,1748772000000,signup,,pro,3,m1,s1\nu1,1748772000000,signup,,pro,3,m1,s1\nu2,\"2025-06-01 10:00:00\",\"buy, now\",\"1,5\",\"team \"\"x\"\"\",,,\n")),
        ("quoted_newline.csv".into(), with(1, "distinct_id,created_at,name\n\"a\nb\",2025-01-01,\"multi\nline\"\nu,2025-01-01\n")),
        ("tsv.tsv".into(), with(1 | 1 << 2, "customer_id\tevent_date\tamount\tevent_type\nc1\t2025-03-01\t10\tbuy\nc2\t2025-03-01\t\tx\n")),
        ("semicolon.csv".into(), with(1 | 2 << 2 | 16, "\u{feff}customer_id;date;price\nc1;2025-03-01;3.5\nc1;2025-03-01;3.5\n")),
        ("no_time_column.csv".into(), with(1, "customer_id,amount\nc1,5\n")),
        ("ndjson.ndjson".into(), with(2, "{\"type\":\"track\",\"event\":\"signup\",\"userId\":\"u1\",\"timestamp\":\"2025-06-01T10:00:00Z\"}\n\n{\"event\":\"x\",\"user_id\":\"u1\",\"message_id\":\"m1\",\"timestamp\":1748772000000}\n{\"type\":\"identify\",\"userId\":\"u1\",\"traits\":{\"plan\":\"pro\"},\"timestamp\":\"2025-06-01\"}\n{\"type\":\"alias\",\"userId\":\"u1\",\"previousId\":\"a1\",\"timestamp\":\"2025-06-01\"}\n{\"event\":\"no time\",\"userId\":\"u\"}\n{bad json\n[1]\n")),
        ("ndjson_auto.ndjson".into(), with(0, "\u{feff}{\"event\":\"e\",\"anonymousId\":\"a\",\"timestamp\":\"2025-01-01\",\"properties\":{\"amount\":3}}\r\n{\"event\":\"e\",\"anonymousId\":\"a\",\"timestamp\":\"2025-01-01\",\"properties\":{\"amount\":3}}\r\n")),
    ]
}

fn segment_body() -> Files {
    let batch = br#"{"batch":[{"type":"track","event":"Signed Up","userId":"u1","timestamp":"2026-01-01T00:00:00Z","sentAt":"2026-01-01T00:00:05Z","properties":{"plan":"pro"}},{"type":"identify","userId":"u1","traits":{"email":"a@b.c"},"context":{"ip":"1.2.3.4"}},{"type":"page","name":"Home","anonymousId":"a1","originalTimestamp":"2025-12-31T23:59:00Z","properties":{"url":"https://x.test/?utm_source=s"}},{"type":"group","userId":"u1","groupId":"g1","traits":{"name":"Acme"}},{"type":"alias","userId":"u1","previousId":"a1"},{"type":"screen","name":"S","userId":"u1"},5,{"type":"group","userId":"u1"}],"sentAt":"2026-01-01T00:00:10Z","context":{"library":{"name":"analytics-python","version":"2.4.0"}},"writeKey":"wk_1"}"#;
    let track = br#"{"userId":"u1","event":"Clicked","properties":{"button":"buy"},"timestamp":"2026-01-01T00:00:00.000Z","writeKey":"wk_2","messageId":"ajs-1"}"#;
    vec![
        ("batch.txt".into(), req("call: batch\ncontent-type: application/json", batch)),
        ("batch_gzip.txt".into(), req("call: batch\ncontent-encoding: gzip\nauthorization: Basic d2tfMTo=", &gz(batch))),
        ("track.txt".into(), req("call: track", track)),
        ("identify.txt".into(), req("call: identify\nauthorization: Basic d2tfMzo=", br#"{"userId":"u9","traits":{"plan":"team"},"anonymousId":"a9"}"#)),
        ("page.txt".into(), req("call: page", br#"{"anonymousId":"a1","name":"Docs","properties":{"path":"/docs"},"originalTimestamp":"x"}"#)),
        ("group.txt".into(), req("call: group", br#"{"userId":"u1","groupId":7,"traits":{"n":1}}"#)),
        ("alias.txt".into(), req("call: alias", br#"{"userId":"u1","previousId":"a1"}"#)),
        ("screen.txt".into(), req("call: screen", br#"{"userId":"u1","name":"S"}"#)),
        ("bad_gzip.txt".into(), req("call: batch\ncontent-encoding: gzip", b"{\"batch\":[]}")),
        ("brotli.txt".into(), req("call: batch\ncontent-encoding: br", b"{\"batch\":[]}")),
        ("not_batch.txt".into(), req("call: batch", b"[1,2]")),
        ("no_headers.json".into(), batch.to_vec()),
    ]
}

fn posthog_body() -> Files {
    let batch = br#"{"api_key":"phc_1","batch":[{"event":"purchase","distinct_id":"u1","uuid":"01944f1e-0000-7000-8000-000000000001","timestamp":"2026-01-01T00:00:00+00:00","properties":{"amount":9.5,"$lib":"posthog-python","$session_id":"s1"}},{"event":"$set","distinct_id":"u1","$set":{"email":"a@b.c"},"properties":{}},{"event":"$create_alias","distinct_id":"u1","properties":{"alias":"anon-1"}},{"event":"$identify","distinct_id":"u2","properties":{"$set":{"plan":"team"},"$set_once":{"f":1},"$anon_distinct_id":"anon-2"}},{"event":"clicked","distinct_id":42,"properties":{"$groups":{"company":"acme"}}}],"sent_at":"2026-01-01T00:00:10.000Z"}"#;
    let js = br#"[{"event":"$pageview","properties":{"$current_url":"https://x.test/p?utm_source=news","$pathname":"/p","$referrer":"$direct","token":"phc_js","distinct_id":"anon-7","$device_id":"anon-7","$session_id":"s7","utm_source":"news","title":"P","$raw_user_agent":"Mozilla"},"timestamp":"2026-01-01T00:00:09.000Z","offset":1200,"uuid":"u-7"},{"event":"$screen","properties":{"$screen_name":"Home","distinct_id":"u7","$process_person_profile":false,"$ip":"1.2.3.4"}}]"#;
    let form_data = b64(js);
    vec![
        ("batch.txt".into(), req("content-type: application/json", batch)),
        ("batch_gzip.txt".into(), req("content-encoding: gzip", &gz(batch))),
        ("js_gzip.txt".into(), req("query: compression=gzip-js&_=1767225610000&ver=1.200.0\ncontent-type: text/plain", &gz(js))),
        ("js_array.txt".into(), req("query: ip=1&_=1767225610000", js)),
        ("js_form.txt".into(), req("query: beacon=1\ncontent-type: application/x-www-form-urlencoded", format!("data={}&compression=base64", form_data.replace('+', "%2B").replace('=', "%3D")).as_bytes())),
        ("js_get.txt".into(), req(&format!("query: data={form_data}&compression=base64"), b"")),
        ("base64_body.txt".into(), req("", b64(js).as_bytes())),
        ("single.txt".into(), req("query: token=phc_q", br#"{"event":"e","distinct_id":"u","timestamp":1767225500000,"properties":{"$ignore_sent_at":true,"$user_state":"anonymous"}}"#)),
        ("offset_min.txt".into(), req("", br#"{"event":"e","distinct_id":"u","offset":-9223372036854775807}"#)),
        ("token_mismatch.txt".into(), req("", br#"{"api_key":"a","batch":[{"event":"e","distinct_id":"u"},{"event":"e","distinct_id":"u","properties":{"token":"b"}}]}"#)),
        ("lz64.txt".into(), req("query: compression=lz64", b"N4Ig")),
        ("bad_events.txt".into(), req("", br#"[5,{"distinct_id":"u"},{"event":"","distinct_id":"u"},{"event":7},{"event":"e","properties":[1]},null]"#)),
        ("empty.txt".into(), req("content-type: text/plain", b"  \n")),
    ]
}

fn segment_filter() -> Files {
    text(&[
        ("trait_and_did.txt", r#"plan = "pro" and did(feature_used, >= 3, 14d)"#),
        ("precedence.txt", "a = 1 or b = 2 and not c = 3"),
        ("groups_metric.txt", "(a = 1 or b = 2) and metric.events_30d >= 5"),
        ("did_forms.txt", "DID(\"sign up\") and did(x, 12h) and did(y, < 2) and did(z, != 0, 250ms)"),
        ("operators.txt", "trait.plan == \"pro\" and seats > 3.5 and email contains \"@\" and vip != true and x <= -1e3 and y = null and z >= \"2025-01-01\""),
        ("metrics.txt", "metric.revenue > 100 or metric.last_seen_days < 7 or metric.active_days_30d = 0"),
        ("escapes.txt", r#"name = "a \"quoted\" \\ name" and did("ev \"q\"", = 0)"#),
        ("json.json", r#"{"and":[{"trait":{"key":"plan","op":"eq","value":"pro"}},{"not":{"did":{"event":"x","op":"ge","count":1,"days":0.5}}},{"or":[]}]}"#),
        ("unterminated.txt", "\"abc"),
        ("deep.txt", "((((((((((((((((((((a = 1))))))))))))))))))))"),
    ])
}

fn model_load() -> Files {
    let t0 = Timestamp::from_ymd(2026, 1, 1).unwrap();
    let mut rows = Vec::new();
    for c in 0..80 {
        let last = if c % 3 == 0 { 20 } else { 90 };
        for d in (0..last).step_by(3 + c % 4) {
            rows.push(Transaction::purchase(
                format!("c{c}"),
                t0.add_millis(d as i64 * 86_400_000),
                5.0 + (c % 7) as f64,
            ));
        }
    }
    let cfg = FeatureConfig::default();
    let table = EventTable::from_transactions(&rows, &cfg).unwrap();
    let ds = labelled_at(
        &table,
        t0.add_millis(40 * 86_400_000),
        &cfg,
        &LabelConfig::default(),
    )
    .unwrap();
    let mut out = Files::new();
    for kind in ModelKind::ALL {
        let mut spec = ModelSpec::default_for(kind);
        // Small ensembles: short seeds, fast fuzzing.
        match &mut spec {
            ModelSpec::RandomForest(p) => {
                p.0.n_trees = 3;
                p.0.max_depth = 3;
            }
            ModelSpec::GradientBoosting(p) => {
                p.0.n_trees = 3;
                p.0.max_depth = 2;
            }
            _ => {}
        }
        for (cal, tag) in [
            (CalibrationMethod::Platt, "platt"),
            (CalibrationMethod::Isotonic, "isotonic"),
        ] {
            let tc = TrainConfig::default().calibration(cal);
            let m = TrainedModel::train("seed", &ds, &cfg, &tc, &spec).unwrap();
            let name = format!("{}_{tag}.json", kind.as_str());
            out.push((name, model_to_json(&m).unwrap()));
        }
    }
    out.push((
        "old_version.json".into(),
        br#"{"format_version":0,"library_version":"0.0.1","model":{}}"#.to_vec(),
    ));
    out.push(("not_a_model.json".into(), br#"{"hello":"world"}"#.to_vec()));
    out
}
