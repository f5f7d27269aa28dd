//! Pieces shared by the two SVG chart kits: the churn report's
//! ([`crate::churn::report::svg`], feature `churn`) and the server dashboard's
//! (`server::dashboard::svg`, feature `server`). Each kit keeps its own sizes and look;
//! what is the same logic lives here, so it is available under every feature set:
//! text escaping, "nice" axis maxima and the gridline positions of a Y axis.
//!
//! ```
//! use churn_core::chart::{escape, nice_max, y_ticks};
//! assert_eq!(escape("<a href='x'>&\"</a>"), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
//! assert_eq!(nice_max(7.0, &[1.0, 2.0, 5.0, 10.0]), 10.0);
//! let ticks: Vec<(f64, f64)> = y_ticks(8.0, 10.0, 100.0).collect();
//! assert_eq!(ticks.first(), Some(&(0.0, 110.0)));
//! assert_eq!(ticks.last(), Some(&(8.0, 10.0)));
//! ```

/// Escape `&`, `<`, `>`, `"` and `'` for HTML / SVG text and quoted attribute values.
///
/// ```
/// use churn_core::chart::escape;
/// assert_eq!(escape(r#"<b a="1">&'"#), "&lt;b a=&quot;1&quot;&gt;&amp;&#39;");
/// ```
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The smallest `m * 10^k` (`m` from `steps`, ascending, ending at 10) that is at least
/// `v`; 1 for a value that is not a positive finite number.
///
/// ```
/// use churn_core::chart::nice_max;
/// assert_eq!(nice_max(55.0, &[1.0, 2.0, 5.0, 6.0, 10.0]), 60.0);
/// assert_eq!(nice_max(f64::NAN, &[1.0, 10.0]), 1.0);
/// ```
pub fn nice_max(v: f64, steps: &[f64]) -> f64 {
    if !(v.is_finite() && v > 0.0) {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    for &m in steps {
        if m * mag >= v {
            return m * mag;
        }
    }
    10.0 * mag
}

/// The 5 gridlines of a Y axis from 0 to `max` over a plot `plot_h` high whose top edge
/// is at `top`: `(value, y)` from the bottom line (value 0) up.
///
/// ```
/// use churn_core::chart::y_ticks;
/// let t: Vec<(f64, f64)> = y_ticks(1.0, 0.0, 4.0).collect();
/// assert_eq!(t, vec![(0.0, 4.0), (0.25, 3.0), (0.5, 2.0), (0.75, 1.0), (1.0, 0.0)]);
/// ```
pub fn y_ticks(max: f64, top: f64, plot_h: f64) -> impl Iterator<Item = (f64, f64)> {
    (0..=4).map(move |i| {
        let v = max * i as f64 / 4.0;
        let y = top + plot_h - plot_h * i as f64 / 4.0;
        (v, y)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_the_five_characters_and_keeps_the_rest() {
        assert_eq!(escape("é<>&\"'x"), "é&lt;&gt;&amp;&quot;&#39;x");
        assert_eq!(escape(""), "");
    }

    #[test]
    fn nice_max_rounds_up_to_a_step() {
        let s = [1.0, 2.0, 2.5, 5.0, 10.0];
        assert_eq!(nice_max(7.0, &s), 10.0);
        assert_eq!(nice_max(120.0, &s), 200.0);
        assert_eq!(nice_max(0.2, &s), 0.2);
        assert_eq!(nice_max(-3.0, &s), 1.0);
        assert_eq!(nice_max(f64::INFINITY, &s), 1.0);
    }
}
