//! Small server-side SVG charts with axes and labels: line, bars (vertical, also used
//! as a histogram), horizontal bars (funnel) and a heatmap. Every label is escaped with
//! [`escape`]; numbers are formatted by the chart. Data marks carry `class="point"`,
//! `class="bar"` or `class="cell"` (the browser test counts them).
//!
//! ```
//! use churn_core::server::dashboard::svg::{escape, line_chart};
//! let svg = line_chart("DAU", &[("Mon".into(), 3.0), ("<Tue>".into(), 5.0)]);
//! assert!(svg.starts_with("<svg") && svg.contains("&lt;Tue&gt;"));
//! assert_eq!(svg.matches("class=\"point\"").count(), 2);
//! assert_eq!(escape("a&\"b'"), "a&amp;&quot;b&#39;");
//! ```

use std::fmt::Write;

use crate::chart;

/// Chart width in SVG units.
pub const W: f64 = 560.0;
/// Chart height in SVG units.
pub const H: f64 = 240.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 40.0;

pub use crate::chart::escape;

/// A number for an axis or a tooltip: integers plainly, others with up to 2 decimals,
/// thousands as `k`.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    if v.abs() >= 10_000.0 {
        return format!("{:.1}k", v / 1000.0);
    }
    if (v - v.round()).abs() < 1e-9 {
        return format!("{}", v.round() as i64);
    }
    format!("{v:.2}")
}

fn open(title: &str, out: &mut String) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="100%" role="img" aria-label="{t}"><text x="{LEFT}" y="16" class="title">{t}</text>"#,
        t = escape(title)
    );
}

fn nice_max(v: f64) -> f64 {
    chart::nice_max(v, &[1.0, 2.0, 2.5, 5.0, 10.0])
}

/// Y axis with 4 gridlines from 0 to `max`, and the X axis line.
fn axes(max: f64, out: &mut String) {
    let plot_h = H - TOP - BOTTOM;
    for (v, y) in chart::y_ticks(max, TOP, plot_h) {
        let _ = write!(
            out,
            r#"<line x1="{LEFT}" y1="{y:.1}" x2="{x2}" y2="{y:.1}" class="grid"/><text x="{tx}" y="{ty:.1}" class="ylabel" text-anchor="end">{v}</text>"#,
            x2 = W - RIGHT,
            tx = LEFT - 4.0,
            ty = y + 4.0,
            v = num(v)
        );
    }
    let _ = write!(
        out,
        r#"<line x1="{LEFT}" y1="{y}" x2="{x2}" y2="{y}" class="axis"/><line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{y}" class="axis"/>"#,
        y = H - BOTTOM,
        x2 = W - RIGHT
    );
}

fn empty(title: &str) -> String {
    let mut s = String::new();
    open(title, &mut s);
    let _ = write!(
        s,
        r#"<text x="{x}" y="{y}" class="empty" text-anchor="middle">no data yet</text></svg>"#,
        x = W / 2.0,
        y = H / 2.0
    );
    s
}

/// X labels: at most about 8, evenly spaced.
fn x_labels(labels: &[&str], xs: &[f64], out: &mut String) {
    let step = labels.len().div_ceil(8).max(1);
    for (i, (l, x)) in labels.iter().zip(xs).enumerate() {
        if i % step == 0 {
            let _ = write!(
                out,
                r#"<text x="{x:.1}" y="{y}" class="xlabel" text-anchor="middle">{l}</text>"#,
                y = H - BOTTOM + 16.0,
                l = escape(l)
            );
        }
    }
}

/// A line chart of `(label, value)` points, in order.
pub fn line_chart(title: &str, points: &[(String, f64)]) -> String {
    if points.is_empty() {
        return empty(title);
    }
    let max = nice_max(points.iter().map(|p| p.1).fold(0.0, f64::max));
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let n = points.len();
    let xs: Vec<f64> = (0..n)
        .map(|i| {
            if n == 1 {
                LEFT + plot_w / 2.0
            } else {
                LEFT + plot_w * i as f64 / (n - 1) as f64
            }
        })
        .collect();
    let y = |v: f64| TOP + plot_h - plot_h * (v.max(0.0) / max);
    let mut s = String::new();
    open(title, &mut s);
    axes(max, &mut s);
    let path: Vec<String> = xs
        .iter()
        .zip(points)
        .map(|(x, p)| format!("{x:.1},{:.1}", y(p.1)))
        .collect();
    let _ = write!(s, r#"<polyline class="line" points="{}"/>"#, path.join(" "));
    for (x, p) in xs.iter().zip(points) {
        let _ = write!(
            s,
            r#"<circle class="point" cx="{x:.1}" cy="{:.1}" r="2.5"><title>{}: {}</title></circle>"#,
            y(p.1),
            escape(&p.0),
            num(p.1)
        );
    }
    let labels: Vec<&str> = points.iter().map(|p| p.0.as_str()).collect();
    x_labels(&labels, &xs, &mut s);
    s.push_str("</svg>");
    s
}

/// Vertical bars of `(label, value)` (also the histogram: one bar per bin).
pub fn bar_chart(title: &str, bars: &[(String, f64)]) -> String {
    if bars.is_empty() {
        return empty(title);
    }
    let max = nice_max(bars.iter().map(|b| b.1).fold(0.0, f64::max));
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let slot = plot_w / bars.len() as f64;
    let bw = (slot * 0.8).max(1.0);
    let mut s = String::new();
    open(title, &mut s);
    axes(max, &mut s);
    let mut xs = Vec::with_capacity(bars.len());
    for (i, (label, v)) in bars.iter().enumerate() {
        let h = plot_h * (v.max(0.0) / max);
        let x = LEFT + slot * i as f64 + (slot - bw) / 2.0;
        xs.push(x + bw / 2.0);
        let _ = write!(
            s,
            r#"<rect class="bar" x="{x:.1}" y="{:.1}" width="{bw:.1}" height="{h:.1}"><title>{}: {}</title></rect>"#,
            TOP + plot_h - h,
            escape(label),
            num(*v)
        );
    }
    let labels: Vec<&str> = bars.iter().map(|b| b.0.as_str()).collect();
    x_labels(&labels, &xs, &mut s);
    s.push_str("</svg>");
    s
}

/// Horizontal bars (a funnel): `(label, value, note)` top to bottom, widths relative to
/// the first bar, the note (e.g. a percentage) printed after the value.
pub fn funnel_chart(title: &str, steps: &[(String, f64, String)]) -> String {
    if steps.is_empty() || steps[0].1 <= 0.0 {
        return empty(title);
    }
    let max = steps[0].1;
    let label_w = 150.0;
    let plot_w = W - label_w - RIGHT - 110.0;
    let row = ((H - TOP - 8.0) / steps.len() as f64).min(40.0);
    let mut s = String::new();
    open(title, &mut s);
    for (i, (label, v, note)) in steps.iter().enumerate() {
        let y = TOP + row * i as f64;
        let w = (plot_w * v / max).max(1.0);
        let _ = write!(
            s,
            r#"<text x="{lx}" y="{ty:.1}" class="ylabel" text-anchor="end">{l}</text><rect class="bar" x="{label_w}" y="{y:.1}" width="{w:.1}" height="{h:.1}"><title>{l}: {v}</title></rect><text x="{vx:.1}" y="{ty:.1}" class="value">{v} {n}</text>"#,
            lx = label_w - 6.0,
            ty = y + row * 0.55,
            l = escape(label),
            h = row * 0.75,
            v = num(*v),
            vx = label_w + w + 6.0,
            n = escape(note)
        );
    }
    s.push_str("</svg>");
    s
}

/// A heatmap row: its label and its cells `(value, complete)`.
pub type HeatRow = (String, Vec<(Option<f64>, bool)>);

/// A heatmap: rows of `(label, cells)`, each cell `(value, complete)` with the value in
/// `[0, 100]` (percentages) or `None` (nothing to show), with column headers `0..n`.
/// An incomplete cell (its period is not over) is drawn as a dashed outline marked
/// "partial" instead of a value that would read as a drop.
pub fn heatmap(title: &str, rows: &[HeatRow]) -> String {
    let cols = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
    if rows.is_empty() || cols == 0 {
        return empty(title);
    }
    let label_w = 80.0;
    let cw = (W - label_w - RIGHT) / cols as f64;
    let ch = ((H - TOP - 20.0) / rows.len() as f64).min(28.0);
    let mut s = String::new();
    open(title, &mut s);
    for c in 0..cols {
        let _ = write!(
            s,
            r#"<text x="{x:.1}" y="{y}" class="xlabel" text-anchor="middle">{c}</text>"#,
            x = label_w + cw * (c as f64 + 0.5),
            y = TOP + 10.0
        );
    }
    for (r, (label, cells)) in rows.iter().enumerate() {
        let y = TOP + 16.0 + ch * r as f64;
        let _ = write!(
            s,
            r#"<text x="{x}" y="{ty:.1}" class="ylabel" text-anchor="end">{l}</text>"#,
            x = label_w - 4.0,
            ty = y + ch * 0.65,
            l = escape(label)
        );
        for (c, &(v, complete)) in cells.iter().enumerate() {
            let Some(v) = v else { continue };
            if !complete {
                let _ = write!(
                    s,
                    r#"<rect class="cell-partial" x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}"><title>{l} +{c}: partial, period not over ({v:.1}% so far)</title></rect><text x="{tx:.1}" y="{ty:.1}" class="cellv" text-anchor="middle">…</text>"#,
                    x = label_w + cw * c as f64 + 0.5,
                    w = cw - 2.0,
                    h = ch - 2.0,
                    l = escape(label),
                    tx = label_w + cw * (c as f64 + 0.5),
                    ty = y + ch * 0.65,
                );
                continue;
            }
            let a = (v / 100.0).clamp(0.0, 1.0) * 0.9 + 0.08;
            let _ = write!(
                s,
                r#"<rect class="cell" x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill-opacity="{a:.2}"><title>{l} +{c}: {v:.1}%</title></rect><text x="{tx:.1}" y="{ty:.1}" class="{cls}" text-anchor="middle">{vi}</text>"#,
                x = label_w + cw * c as f64,
                w = cw - 1.0,
                h = ch - 1.0,
                l = escape(label),
                tx = label_w + cw * (c as f64 + 0.5),
                ty = y + ch * 0.65,
                vi = v.round() as i64,
                cls = if a > 0.5 { "cellv dark" } else { "cellv" }
            );
        }
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_have_marks_and_escape_labels() {
        let bars = vec![("<b>".to_string(), 3.0), ("x".to_string(), 0.0)];
        let b = bar_chart("t&", &bars);
        assert_eq!(b.matches("class=\"bar\"").count(), 2);
        assert!(b.contains("&lt;b&gt;") && !b.contains("<b>") && b.contains("t&amp;"));
        let f = funnel_chart(
            "f",
            &[
                ("a".into(), 10.0, "100%".into()),
                ("\"b\"".into(), 4.0, "40%".into()),
            ],
        );
        assert_eq!(f.matches("class=\"bar\"").count(), 2);
        assert!(f.contains("&quot;b&quot;"));
        let h = heatmap(
            "r",
            &[(
                "w1".into(),
                vec![
                    (Some(100.0), true),
                    (Some(40.0), true),
                    (None, true),
                    (Some(0.0), false),
                ],
            )],
        );
        assert_eq!(h.matches("class=\"cell\"").count(), 2);
        // The running period is marked partial, not drawn as 0%.
        assert_eq!(h.matches("class=\"cell-partial\"").count(), 1);
        assert!(h.contains("partial, period not over (0.0% so far)"));
        // "0" appears once: the column header, not as a cell value.
        assert_eq!(h.matches(r#"text-anchor="middle">0</text>"#).count(), 1);
        assert!(line_chart("e", &[]).contains("no data yet"));
        assert!(funnel_chart("e", &[]).contains("no data yet"));
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(120.0), 200.0);
        assert_eq!(num(12_345.0), "12.3k");
        assert_eq!(num(2.5), "2.50");
    }
}
