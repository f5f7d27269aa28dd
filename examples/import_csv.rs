//! Import a CSV of transactions into a SQLite store, show what was refused, and sum the
//! revenue per month from the stored events.
//!
//! ```text
//! cargo run -p churn-core --example import_csv -- [FILE.csv] [STORE.db]
//! ```
//!
//! The CSV needs a header; `customer_id,event_date,amount,event_type` (and the usual
//! variants: `user_id`, `timestamp`, `revenue`, ...) is recognised without any options.
//! Run it twice: the second run stores nothing new, because every row keeps its id.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::PathBuf;

use churn_core::import::{import_file, ImportOptions};
use churn_core::store::{ScanRequest, SqliteStore, Store, DEFAULT_PROJECT};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let csv = args.next().map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/data/transactions.csv")
    });
    let db = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("churn-import-example.db"));

    let store = SqliteStore::open(&db)?;
    let report = import_file(&store, &csv, &ImportOptions::new(), &mut |_| {})?;
    println!(
        "{}: {} rows read, {} stored, {} already stored, {} rejected (store: {})",
        csv.display(),
        report.rows_read,
        report.stored,
        report.duplicates,
        report.rejected,
        db.display()
    );
    for r in report.rejections.iter().take(5) {
        println!("  line {}: {}", r.line, r.reason);
    }

    // Revenue per month: the sum of `amount` on purchase events (see DEFINITIONS.md).
    let mut revenue: BTreeMap<String, f64> = BTreeMap::new();
    let purchases = ScanRequest::new().events(["purchase", "payment_completed"]);
    store.scan(DEFAULT_PROJECT, &purchases, &mut |stored| {
        if let Some(amount) = stored.event.amount() {
            let month: String = stored.event.timestamp.to_string().chars().take(7).collect();
            *revenue.entry(month).or_default() += amount;
        }
        ControlFlow::Continue(())
    })?;
    println!("revenue by month:");
    for (month, total) in &revenue {
        println!("  {month}  {total:>12.2}");
    }
    Ok(())
}
