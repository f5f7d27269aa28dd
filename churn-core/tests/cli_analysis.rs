//! Runs the real `churn` binary's analysis subcommands on a store imported from
//! `examples/data/transactions.csv` and checks the numbers against the engine.
#![cfg(feature = "cli")]

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use churn_core::engine::{
    ActiveUsersRequest, Engine, FunnelRequest, Period, ProfileRequest, RevenueRequest, SegmentRef,
};
use churn_core::store::{SqliteStore, DEFAULT_PROJECT};
use serde_json::Value;

fn churn(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_churn"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run churn");
    assert!(
        out.status.success() || args.contains(&"bad"),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json(dir: &Path, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--json");
    serde_json::from_slice(&churn(dir, &a).stdout).unwrap()
}

fn text(dir: &Path, args: &[&str]) -> String {
    String::from_utf8(churn(dir, args).stdout).unwrap()
}

#[test]
fn analysis_subcommands_match_the_engine() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let csv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/data/transactions.csv");
    churn(d, &["import", csv.to_str().unwrap()]);
    let engine = || {
        let store = Arc::new(SqliteStore::open(d.join("churn.db")).unwrap());
        Engine::load(store, DEFAULT_PROJECT).unwrap()
    };
    let e = engine();

    // Funnel: JSON equals the engine's report; the table shows the same counts.
    let want = e
        .funnel(
            &FunnelRequest::new(["signup", "purchase", "login"])
                .window_ms(30 * 86_400_000)
                .user_limit(100),
        )
        .unwrap();
    assert!(want.converted > 0 && want.converted < want.entered);
    let got = json(
        d,
        &[
            "funnel",
            "--steps",
            "signup,purchase,login",
            "--window",
            "30d",
        ],
    );
    assert_eq!(got, serde_json::to_value(&want).unwrap());
    let table = text(
        d,
        &[
            "funnel",
            "--steps",
            "signup,purchase,login",
            "--window",
            "30d",
        ],
    );
    let row = table.lines().find(|l| l.starts_with("3 ")).unwrap();
    assert!(row.contains(&want.steps[2].users.to_string()), "{table}");
    assert!(
        table.contains(&format!("converted {}", want.converted)),
        "{table}"
    );

    // Active users per month, with a range.
    let range = churn_core::TimeRange::new(
        churn_core::Timestamp::from_ymd(2025, 2, 1).unwrap(),
        churn_core::Timestamp::from_ymd(2025, 5, 1).unwrap(),
    );
    let want = e
        .active_users(&ActiveUsersRequest::new().period(Period::Month).range(range))
        .unwrap();
    let args = [
        "active-users",
        "--period",
        "month",
        "--from",
        "2025-02-01",
        "--to",
        "2025-05-01",
    ];
    assert_eq!(json(d, &args), serde_json::to_value(&want).unwrap());
    let table = text(d, &args);
    let feb = table.lines().find(|l| l.starts_with("2025-02")).unwrap();
    assert!(
        feb.contains(&want.periods[0].active_users.to_string()),
        "{table}"
    );

    // Revenue and churn rate.
    let want = e.revenue(&RevenueRequest::new()).unwrap();
    assert_eq!(json(d, &["revenue"]), serde_json::to_value(&want).unwrap());
    assert_eq!(
        json(d, &["churn-rate"]),
        serde_json::to_value(&want).unwrap()
    );
    let table = text(d, &["churn-rate"]);
    assert!(
        table
            .lines()
            .nth(2)
            .unwrap()
            .starts_with(&want.periods[0].label),
        "{table}"
    );

    // A user profile.
    let want = e.user_profile(&ProfileRequest::new("c0055")).unwrap();
    assert_eq!(
        json(d, &["user", "c0055"]),
        serde_json::to_value(&want).unwrap()
    );
    let table = text(d, &["user", "c0055"]);
    let logins = table.lines().find(|l| l.starts_with("logins ")).unwrap();
    assert!(logins.ends_with(&format!(" {}", want.logins)), "{table}");

    // Segments: create, list, show, and restrict an analysis.
    churn(d, &["segments", "create", "buyers", "did(purchase, >= 3)"]);
    let bad = Command::new(env!("CARGO_BIN_EXE_churn"))
        .current_dir(d)
        .args(["segments", "create", "bad", "did(purchase, >= )"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("position 18"));
    let list = json(d, &["segments", "list"]);
    assert_eq!(list[0]["name"], "buyers");
    let e = engine();
    let members = e
        .segment_members(&SegmentRef::Name("buyers".into()))
        .unwrap();
    let show = json(d, &["segments", "show", "buyers", "--limit", "1000"]);
    assert_eq!(show["stats"]["count"], members.len());
    assert_eq!(show["members"].as_array().unwrap().len(), members.len());
    let want = e
        .active_users(&ActiveUsersRequest::new().segment("buyers"))
        .unwrap();
    assert_eq!(want.total_users, members.len() as u64);
    assert_eq!(
        json(d, &["active-users", "--segment", "buyers"]),
        serde_json::to_value(&want).unwrap()
    );
    assert!(text(d, &["sessions"]).contains("sessions"));
    let ret = text(d, &["retention", "--period", "month"]);
    assert!(ret.contains("2025-01"));
    // The month of the last event is not over at the end of the data: marked partial.
    assert!(
        ret.contains("%*") && ret.contains("* period not over yet"),
        "{ret}"
    );
    churn(d, &["segments", "delete", "buyers"]);
    assert_eq!(json(d, &["segments", "list"]), serde_json::json!([]));
}
