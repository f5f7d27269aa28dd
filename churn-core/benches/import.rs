//! Import throughput: seed-format CSV rows per second through `import_reader`, into a
//! `MemoryStore` (parsing, validation and id hashing only) and into a `SqliteStore` file
//! (default durability, then `Durability::Normal`), plus a re-import (all duplicates).
//!
//! ```text
//! cargo bench -p churn-core --bench import [-- ROWS] [CASE]   # default 1,000,000 rows
//! ```
//! `CASE` keeps only the cases whose name contains it (`memory`, `full`, `normal`).
//! Prints the median of 3 runs per case.

use std::time::Instant;

use churn_core::import::{import_reader, ImportOptions, ImportReport};
use churn_core::store::{Durability, MemoryStore, SqliteOptions, SqliteStore, Store};

/// Seed-format CSV (`customer_id,event_date,amount,event_type`), deterministic.
fn make_csv(rows: usize) -> Vec<u8> {
    let mut out = b"customer_id,event_date,amount,event_type\n".to_vec();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..rows {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let customer = x % 50_000;
        let day = (x >> 20) % 365;
        let (month, dom) = (1 + day / 31 % 12, 1 + day % 28);
        let line = match (x >> 40) % 4 {
            0 => format!(
                "c{customer:06},2025-{month:02}-{dom:02},{}.{:02},purchase\n",
                5 + (x >> 8) % 95,
                (x >> 16) % 100
            ),
            1 => format!("c{customer:06},2025-{month:02}-{dom:02},,signup\n"),
            _ => format!("c{customer:06},2025-{month:02}-{dom:02},,login\n"),
        };
        out.extend_from_slice(line.as_bytes());
    }
    out
}

fn run(store: &dyn Store, data: &[u8]) -> (f64, ImportReport) {
    let t = Instant::now();
    let report = import_reader(store, data, &ImportOptions::new(), &mut |_| {})
        .unwrap_or_else(|e| panic!("import failed: {e}"));
    (t.elapsed().as_secs_f64(), report)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let rows: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let only: Option<String> = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-') && a.parse::<usize>().is_err());
    let data = make_csv(rows);
    println!(
        "import bench: {rows} seed-format CSV rows ({:.1} MB), median of 3 runs",
        data.len() as f64 / 1e6
    );
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let mut baseline = 0.0;
    let cases: [(&str, Option<Durability>); 3] = [
        ("MemoryStore (parse + validate + ids)", None),
        ("SqliteStore file, durability full", Some(Durability::Full)),
        (
            "SqliteStore file, durability normal",
            Some(Durability::Normal),
        ),
    ];
    for (i, (name, durability)) in cases.into_iter().enumerate() {
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            continue;
        }
        let mut times = Vec::new();
        let mut reimport = Vec::new();
        for run_no in 0..3 {
            let store: Box<dyn Store> = match durability {
                None => Box::new(MemoryStore::new()),
                Some(d) => {
                    let path = dir.path().join(format!("import-{i}-{run_no}.db"));
                    Box::new(
                        SqliteStore::open_with(&path, SqliteOptions::default().durability(d))
                            .unwrap_or_else(|e| panic!("open: {e}")),
                    )
                }
            };
            let (secs, report) = run(&*store, &data);
            assert_eq!(report.stored as usize, rows, "every row is stored");
            times.push(secs);
            let (secs, report) = run(&*store, &data);
            assert_eq!(
                report.duplicates as usize, rows,
                "a re-import stores nothing"
            );
            reimport.push(secs);
        }
        let (t, r) = (median(times), median(reimport));
        if baseline == 0.0 {
            baseline = t;
        }
        println!(
            "  {name:<38} {:>10.0} rows/s  ({t:.2} s, {:.2}x the first case's time)   re-import {:>10.0} rows/s",
            rows as f64 / t,
            t / baseline,
            rows as f64 / r
        );
    }
}
