//! Runs the real `churn` binary on a temporary directory: import the seed format with
//! bad rows, check the summary and exit code, export, and re-import idempotently.
#![cfg(feature = "cli")]

use std::path::Path;
use std::process::{Command, Output};

fn churn(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_churn"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run churn")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const SEED: &[u8] = b"customer_id,event_date,amount,event_type
c1,2025-01-05,19.99,purchase
c2,2025-01-06,,login
c3,2025-13-40,5,purchase
c1,2025-02-05,19.99,purchase
,2025-02-06,,login
c4,2025-02-07,NaN,purchase
c5,2025-02-08,1
c2,2025-01-06,,login
";

#[test]
fn import_export_reimport() {
    let dir = tempfile::tempdir().unwrap();
    // Five bad rows (date, empty id, NaN, column count, UTF-8) and four good ones, two
    // of them identical (both kept).
    let mut data = SEED.to_vec();
    data.extend_from_slice(b"c\xff6,2025-03-01,,login\n");
    std::fs::write(dir.path().join("seed.csv"), &data).unwrap();

    let out = churn(dir.path(), &["import", "seed.csv"]);
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("9 rows"), "{text}");
    assert!(text.contains("stored:     4"), "{text}");
    assert!(text.contains("rejected:   5"), "{text}");
    assert!(text.contains("bad timestamp"), "{text}");
    assert!(text.contains("line 4"), "{text}");
    assert!(text.contains("amount is not a finite number"), "{text}");
    assert!(text.contains("wrong number of columns"), "{text}");
    assert!(dir.path().join("churn.db").exists());

    // The same file again stores nothing new.
    let again = churn(dir.path(), &["import", "seed.csv", "--json"]);
    assert!(again.status.success());
    let report: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(report["stored"], 0);
    assert_eq!(report["duplicates"], 4);
    assert_eq!(report["rejected"], 5);
    assert_eq!(report["rejections"][0]["line"], 4);

    // Export to stdout (CSV) and to a file (NDJSON, from the extension).
    let csv = churn(dir.path(), &["export"]);
    assert!(csv.status.success());
    let csv_text = stdout(&csv);
    let lines: Vec<&str> = csv_text.lines().collect();
    assert_eq!(lines.len(), 5, "{csv_text}");
    assert!(lines[0].starts_with("message_id,timestamp,event,user_id"));
    assert!(lines[1].contains(",2025-01-05T00:00:00.000Z,purchase,c1,,,19.99,"));

    let range = churn(
        dir.path(),
        &[
            "export",
            "--from",
            "2025-02-01",
            "--to",
            "2025-03-01",
            "--out",
            "feb.jsonl",
        ],
    );
    assert!(
        range.status.success(),
        "{}",
        String::from_utf8_lossy(&range.stderr)
    );
    assert!(
        stdout(&range).contains("Exported 1 events"),
        "{}",
        stdout(&range)
    );
    let feb = std::fs::read_to_string(dir.path().join("feb.jsonl")).unwrap();
    let line: serde_json::Value = serde_json::from_str(feb.trim()).unwrap();
    assert_eq!(line["user_id"], "c1");
    assert_eq!(line["properties"]["amount"], 19.99);

    // An export imported into a fresh store gives the same export.
    std::fs::write(dir.path().join("all.csv"), &csv.stdout).unwrap();
    let copy = churn(dir.path(), &["--db", "copy.db", "import", "all.csv"]);
    assert!(copy.status.success());
    assert!(stdout(&copy).contains("stored:     4"), "{}", stdout(&copy));
    let copy_csv = churn(dir.path(), &["export", "--db", "copy.db"]);
    assert_eq!(stdout(&copy_csv), csv_text);
    // And back into the first store: all duplicates.
    let back = churn(dir.path(), &["import", "all.csv"]);
    assert!(stdout(&back).contains("duplicates: 4"), "{}", stdout(&back));
}

#[test]
fn fatal_errors_exit_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let missing = churn(dir.path(), &["import", "nope.csv"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nope.csv"));

    std::fs::write(dir.path().join("x.csv"), "a,b\n1,2\n").unwrap();
    let no_columns = churn(dir.path(), &["import", "x.csv"]);
    assert_eq!(no_columns.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&no_columns.stderr).contains("--time-col"));

    std::fs::write(dir.path().join("notastore.db"), "hello, this is text").unwrap();
    std::fs::write(
        dir.path().join("ok.csv"),
        "user_id,timestamp,event\nu,2025-01-01,x\n",
    )
    .unwrap();
    let bad_db = churn(dir.path(), &["--db", "notastore.db", "import", "ok.csv"]);
    assert_eq!(bad_db.status.code(), Some(1));

    let no_store = churn(dir.path(), &["export", "--db", "absent.db"]);
    assert_eq!(no_store.status.code(), Some(1));
    assert!(!dir.path().join("absent.db").exists());

    let usage = churn(dir.path(), &["export", "--format", "xml"]);
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn ndjson_from_stdin() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_churn"))
        .current_dir(dir.path())
        .args(["import", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            br#"{"type":"track","event":"signup","userId":"u1","timestamp":"2025-05-01T10:00:00Z"}
{"type":"track","event":"login","userId":"u1"}
"#,
        )
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains("(ndjson)"), "{text}");
    assert!(text.contains("stored:     1"), "{text}");
    assert!(text.contains("empty timestamp"), "{text}");
}
