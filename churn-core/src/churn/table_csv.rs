//! Seed-format transaction CSVs (`customer_id,event_date,amount,event_type`) read into
//! [`Transaction`] rows for [`super::EventTable::from_transactions`]: strictly (the first
//! bad row is the error) or leniently (bad rows are collected). Feature `import`.

use super::table::Transaction;
use crate::error::{Error, Result};
use crate::time::Timestamp;

/// Read a seed-format CSV (`customer_id,event_date,amount,event_type`, with a header;
/// columns in any order; `amount` and `event_type` optional, defaulting to 0 and
/// `purchase`; dates in any form [`Timestamp`] parses). Errors name the line.
///
/// ```
/// use churn_core::churn::read_transactions_csv;
/// let csv = "customer_id,event_date,amount,event_type\nc1,2026-01-02,9.5,purchase\n";
/// let rows = read_transactions_csv(csv.as_bytes())?;
/// assert_eq!(rows[0].amount, 9.5);
/// assert!(read_transactions_csv("customer_id,event_date\nc1,yesterday\n".as_bytes()).is_err());
/// # Ok::<(), churn_core::Error>(())
/// ```
pub fn read_transactions_csv<R: std::io::Read>(reader: R) -> Result<Vec<Transaction>> {
    let mut out = Vec::new();
    read_csv_rows(reader, &mut |row| {
        out.push(row?);
        Ok(())
    })?;
    Ok(out)
}

/// [`read_transactions_csv`] that keeps going past bad rows: the good rows, and the
/// error of each bad one (naming its line). A bad header is still an error.
///
/// ```
/// use churn_core::churn::read_transactions_csv_lenient;
/// let csv = "customer_id,event_date\nc1,2026-01-02\nc2,2026-02-30\n";
/// let (rows, bad) = read_transactions_csv_lenient(csv.as_bytes())?;
/// assert_eq!((rows.len(), bad.len()), (1, 1));
/// assert!(bad[0].to_string().contains("line 3"));
/// # Ok::<(), churn_core::Error>(())
/// ```
pub fn read_transactions_csv_lenient<R: std::io::Read>(
    reader: R,
) -> Result<(Vec<Transaction>, Vec<Error>)> {
    let (mut good, mut bad) = (Vec::new(), Vec::new());
    read_csv_rows(reader, &mut |row| {
        match row {
            Ok(r) => good.push(r),
            Err(e) => bad.push(e),
        }
        Ok(())
    })?;
    Ok((good, bad))
}

fn read_csv_rows<R: std::io::Read>(
    reader: R,
    sink: &mut dyn FnMut(Result<Transaction>) -> Result<()>,
) -> Result<()> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(reader);
    let header = rdr
        .headers()
        .map_err(|e| Error::invalid("csv header", e.to_string()))?
        .clone();
    let col = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
    let need = |name: &str| {
        col(name).ok_or_else(|| Error::invalid("csv header", format!("missing column {name}")))
    };
    let (ci, di) = (need("customer_id")?, need("event_date")?);
    let (ai, ei) = (col("amount"), col("event_type"));
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let parse = || -> Result<Transaction> {
            let at = |what: &str| format!("csv line {line} {what}");
            let rec = rec.map_err(|e| Error::invalid(at(""), e.to_string()))?;
            let customer_id = rec.get(ci).unwrap_or("").to_string();
            if customer_id.is_empty() {
                return Err(Error::invalid(at("customer_id"), "must not be empty"));
            }
            let date = Timestamp::parse_field(rec.get(di).unwrap_or(""), &at("event_date"))?;
            let amount = match ai.and_then(|a| rec.get(a)).filter(|s| !s.is_empty()) {
                None => 0.0,
                Some(s) => s
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| {
                        Error::invalid(at("amount"), format!("{s:?} is not a number"))
                    })?,
            };
            let event_type = ei
                .and_then(|e| rec.get(e))
                .filter(|s| !s.is_empty())
                .unwrap_or("purchase")
                .to_string();
            Ok(Transaction {
                customer_id,
                date,
                amount,
                event_type,
            })
        };
        sink(parse())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_reader_reports_line_numbers() {
        let ok = "event_type,customer_id,event_date,amount\nlogin,c1,2026-01-02,\n,c2,2026-01-03T10:00:00Z,3\n";
        let rows = read_transactions_csv(ok.as_bytes()).unwrap();
        assert_eq!(rows[0].event_type, "login");
        assert_eq!(rows[1].event_type, "purchase");
        assert_eq!(rows[1].amount, 3.0);
        let bad = "customer_id,event_date,amount\nc1,2026-01-02,1\nc1,2026-01-02,abc\n";
        let e = read_transactions_csv(bad.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("line 3"), "{e}");
        let nan = "customer_id,event_date,amount\nc1,2026-01-02,NaN\n";
        assert!(read_transactions_csv(nan.as_bytes()).is_err());
    }
}
