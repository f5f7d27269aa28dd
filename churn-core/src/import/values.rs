//! Reading CSV cells as JSON values: numbers stay numbers, everything else is text.

use serde_json::{Number, Value};

use crate::error::ValidationError;
use crate::time::Timestamp;

/// A time cell: `Timestamp::parse_field` with a fast path for the plain `YYYY-MM-DD`
/// dates most exports hold (the general parser tries several formats first).
pub(crate) fn parse_time(text: &str, column: &str) -> Result<Timestamp, ValidationError> {
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b[r].iter().try_fold(0u32, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
        if let (Some(y), Some(m), Some(d)) = (digits(0..4), digits(5..7), digits(8..10)) {
            if let Some(t) = i32::try_from(y)
                .ok()
                .and_then(|y| Timestamp::from_ymd(y, m, d))
            {
                return Ok(t);
            }
        }
    }
    Timestamp::parse_field(text, column)
}

/// Whether `s` is a number in JSON's grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
/// Returns `Some(is_integer)` when it is.
fn json_number_shape(s: &str) -> Option<bool> {
    let b = s.as_bytes();
    let mut i = 0;
    if b.first() == Some(&b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    let int_start = i;
    let n = digits(&mut i);
    if n == 0 || (n > 1 && b[int_start] == b'0') {
        return None;
    }
    let mut integer = true;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return None;
        }
        integer = false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return None;
        }
        integer = false;
    }
    (i == b.len()).then_some(integer)
}

/// A JSON-grammar number as a JSON number: integers that fit 64 bits stay integers,
/// others become finite floats. `None` when `s` is not such a number or overflows.
fn json_number(s: &str) -> Option<Number> {
    match json_number_shape(s)? {
        true => s
            .parse::<i64>()
            .map(Number::from)
            .or_else(|_| s.parse::<u64>().map(Number::from))
            .ok(),
        false => s.parse::<f64>().ok().and_then(Number::from_f64),
    }
}

/// A property cell: a number when it is written as one (`42`, `-3.5`, `1e3`), text
/// otherwise. Text that only looks numeric with a loss (`007`, `+5`, integers beyond 64
/// bits) stays text, so codes and long ids survive.
pub(crate) fn parse_cell(s: &str) -> Value {
    match json_number(s) {
        Some(n) => Value::Number(n),
        None => Value::String(s.to_string()),
    }
}

/// An amount cell: any finite decimal number (surrounding spaces allowed, also `.5`,
/// `5.`, `+5`); NaN, infinities and text are refused.
pub(crate) fn parse_amount(s: &str) -> Result<Value, ValidationError> {
    let t = s.trim();
    if let Some(n) = json_number(t) {
        return Ok(Value::Number(n));
    }
    let bad = || ValidationError::NotFinite {
        field: "properties.amount".into(),
        found: Some(format!("{:?}", t.chars().take(64).collect::<String>())),
    };
    // Rust's float syntax is a superset of the decimal forms people write; it also
    // accepts `NaN` and `inf`, which the finiteness check refuses.
    match t.parse::<f64>() {
        Ok(f) => Number::from_f64(f).map(Value::Number).ok_or_else(bad),
        Err(_) => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn cells() {
        assert_eq!(parse_cell("42"), json!(42));
        assert_eq!(parse_cell("-0"), json!(0));
        assert_eq!(parse_cell("-3.5"), json!(-3.5));
        assert_eq!(parse_cell("1e3"), json!(1000.0));
        assert_eq!(parse_cell("18446744073709551615"), json!(u64::MAX));
        for text in [
            "007",
            "+5",
            ".5",
            "5.",
            "1e",
            "NaN",
            "inf",
            "12345678901234567890123",
            "1,5",
            " 5",
            "",
            "-",
            "pro",
        ] {
            assert_eq!(parse_cell(text), json!(text), "{text:?}");
        }
    }

    #[test]
    fn time_cells() {
        assert_eq!(
            parse_time("2025-01-05", "d"),
            Ok(Timestamp::from_ymd(2025, 1, 5).unwrap())
        );
        assert!(parse_time("2025-02-30", "d").is_err());
        assert!(parse_time("2025-13-01", "d").is_err());
        assert_eq!(
            parse_time("2025-01-05 10:00:00", "d"),
            "2025-01-05T10:00:00Z".parse::<Timestamp>()
        );
    }

    #[test]
    fn amounts() {
        assert_eq!(parse_amount("19.99").unwrap(), json!(19.99));
        assert_eq!(parse_amount(" 20 ").unwrap(), json!(20));
        assert_eq!(parse_amount(".5").unwrap(), json!(0.5));
        assert_eq!(parse_amount("+5").unwrap(), json!(5.0));
        for bad in ["NaN", "nan", "inf", "-infinity", "abc", "$5", "1e400", ""] {
            assert!(
                matches!(parse_amount(bad), Err(ValidationError::NotFinite { .. })),
                "{bad:?}"
            );
        }
    }

    proptest! {
        /// The date fast path agrees with the general parser, valid or not.
        #[test]
        fn time_fast_path_agrees(s in "[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}Z|[0-9x]{4}-[01][0-9]-[0-3][0-9]") {
            prop_assert_eq!(parse_time(&s, "d"), Timestamp::parse_field(&s, "d"));
        }

        /// A number written by serde_json reads back as the same number.
        #[test]
        fn serde_json_numbers_round_trip(i in any::<i64>(), u in any::<u64>(), f in any::<f64>()) {
            let mut nums = vec![Number::from(i), Number::from(u)];
            nums.extend(Number::from_f64(f));
            for n in nums {
                let text = n.to_string();
                prop_assert_eq!(json_number(&text), Some(n.clone()));
                prop_assert_eq!(parse_amount(&text).unwrap(), Value::Number(n));
            }
        }

        /// The grammar check agrees with serde_json's own parser on what is a number.
        #[test]
        fn shape_agrees_with_serde_json(s in "-?[0-9]{0,3}(\\.[0-9]{0,2})?([eE][+-]?[0-9]{0,2})?") {
            let serde_says = serde_json::from_str::<Number>(&s).is_ok();
            prop_assert_eq!(json_number_shape(&s).is_some(), serde_says);
        }
    }
}
