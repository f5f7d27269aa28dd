//! A small SVG chart kit for the HTML report: vertical bars, horizontal bars and line
//! charts on [0, 1] axes, as self-contained `<svg>` strings (no script, no external
//! fonts or styles). Every text that reaches the markup goes through [`escape`].
//!
//! Each chart carries `data-chart="<id>"` and each mark a `<title>` with its value, so
//! the numbers can be read back from the file (and are shown as tooltips).

use std::fmt::Write;

use crate::chart;

pub use crate::chart::escape;

const W: f64 = 520.0;
const H: f64 = 300.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 48.0;
/// Series colours (colour-blind safe: Okabe-Ito).
pub const COLORS: [&str; 6] = [
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9",
];

fn open(id: &str, title: &str, w: f64, h: f64) -> String {
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="{id}" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{t}"><title>{t}</title><text x="{cx}" y="20" text-anchor="middle" font-size="14" font-weight="600">{t}</text>"##,
        id = escape(id),
        t = escape(title),
        cx = w / 2.0,
    )
}

fn nice_max(v: f64) -> f64 {
    chart::nice_max(v, &[1.0, 1.2, 1.6, 2.0, 2.4, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0])
}

fn fmt_num(v: f64) -> String {
    if v.abs() >= 100.0 || v == v.round() {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Y axis with 5 gridlines from 0 to `max`, plus axis labels.
fn y_axis(s: &mut String, max: f64, y_label: &str, x_label: &str) {
    let ph = H - TOP - BOTTOM;
    for (v, y) in chart::y_ticks(max, TOP, ph) {
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" x2="{x2}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{tx}" y="{ty:.1}" text-anchor="end" font-size="11">{v}</text>"##,
            x2 = W - RIGHT,
            tx = LEFT - 6.0,
            ty = y + 4.0,
            v = fmt_num(v)
        );
    }
    let _ = write!(
        s,
        r##"<text x="14" y="{cy}" font-size="12" transform="rotate(-90 14 {cy})" text-anchor="middle">{yl}</text><text x="{cx}" y="{by}" font-size="12" text-anchor="middle">{xl}</text>"##,
        cy = TOP + ph / 2.0,
        yl = escape(y_label),
        cx = LEFT + (W - LEFT - RIGHT) / 2.0,
        by = H - 8.0,
        xl = escape(x_label),
    );
}

/// Vertical bars, one per label (a histogram when the labels are bins).
pub fn bar_chart(
    id: &str,
    title: &str,
    labels: &[String],
    values: &[f64],
    colors: &[&str],
    x_label: &str,
    y_label: &str,
) -> String {
    let mut s = open(id, title, W, H);
    let max = nice_max(values.iter().copied().fold(0.0, f64::max));
    y_axis(&mut s, max, y_label, x_label);
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let n = values.len().max(1) as f64;
    let bw = pw / n;
    let every = (values.len() / 10).max(1);
    for (i, (l, &v)) in labels.iter().zip(values).enumerate() {
        let h = if v.is_finite() {
            ph * v.max(0.0) / max
        } else {
            0.0
        };
        let x = LEFT + bw * i as f64;
        let color = colors
            .get(i % colors.len().max(1))
            .copied()
            .unwrap_or(COLORS[0]);
        let _ = write!(
            s,
            r##"<rect class="bar" x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="{color}" data-value="{v}"><title>{l}: {vs}</title></rect>"##,
            y = TOP + ph - h,
            w = (bw - 2.0).max(1.0),
            l = escape(l),
            vs = fmt_num(v),
        );
        if i % every == 0 {
            let _ = write!(
                s,
                r##"<text x="{tx:.1}" y="{ty}" font-size="10" text-anchor="middle">{l}</text>"##,
                tx = x + bw / 2.0,
                ty = TOP + ph + 14.0,
                l = escape(l)
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// Horizontal bars (for instance feature importance), largest first as given.
pub fn hbar_chart(
    id: &str,
    title: &str,
    labels: &[String],
    values: &[f64],
    x_label: &str,
) -> String {
    let row = 22.0;
    let left = 230.0;
    let h = TOP + row * labels.len() as f64 + 36.0;
    let mut s = open(id, title, W, h);
    let max = nice_max(values.iter().copied().fold(0.0, f64::max));
    let pw = W - left - RIGHT - 40.0;
    for (i, (l, &v)) in labels.iter().zip(values).enumerate() {
        let y = TOP + row * i as f64;
        let w = if v.is_finite() {
            pw * v.max(0.0) / max
        } else {
            0.0
        };
        let _ = write!(
            s,
            r##"<text x="{tx}" y="{ty:.1}" font-size="11" text-anchor="end">{l}</text><rect class="bar" x="{left}" y="{y:.1}" width="{w:.1}" height="{bh}" fill="{c}" data-value="{v}"><title>{l}: {vs}</title></rect><text x="{vx:.1}" y="{ty:.1}" font-size="10">{vs}</text>"##,
            tx = left - 6.0,
            ty = y + row * 0.6,
            l = escape(l),
            bh = row - 6.0,
            c = COLORS[0],
            vs = fmt_num(v),
            vx = left + w + 4.0,
        );
    }
    let _ = write!(
        s,
        r##"<text x="{cx}" y="{by}" font-size="12" text-anchor="middle">{xl}</text></svg>"##,
        cx = left + pw / 2.0,
        by = h - 10.0,
        xl = escape(x_label)
    );
    s
}

/// One named line of a [`line_chart`].
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend name.
    pub name: String,
    /// Points (x, y), both in [0, 1].
    pub points: Vec<(f64, f64)>,
}

/// Where a [`line_chart`] draws its legend (pick the corner its lines avoid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corner {
    /// Upper left (empty for calibration curves).
    TopLeft,
    /// Lower right (empty for gain curves).
    BottomRight,
}

/// Lines on [0, 1] x [0, 1] axes, with an optional dashed diagonal (perfect
/// calibration, or a random ranking) and a legend.
pub fn line_chart(
    id: &str,
    title: &str,
    series: &[Series],
    diagonal: Option<&str>,
    (x_label, y_label): (&str, &str),
    corner: Corner,
) -> String {
    let mut s = open(id, title, W, H);
    y_axis(&mut s, 1.0, y_label, x_label);
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let px = |x: f64| LEFT + pw * x.clamp(0.0, 1.0);
    let py = |y: f64| TOP + ph - ph * y.clamp(0.0, 1.0);
    for i in 0..=4 {
        let v = i as f64 / 4.0;
        let _ = write!(
            s,
            r##"<text x="{x:.1}" y="{y}" font-size="11" text-anchor="middle">{v}</text>"##,
            x = px(v),
            y = TOP + ph + 14.0,
            v = fmt_num(v)
        );
    }
    let mut legend = Vec::new();
    if let Some(d) = diagonal {
        let _ = write!(
            s,
            r##"<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y1}" stroke="#999" stroke-dasharray="5 4"/>"##,
            x0 = px(0.0),
            y0 = py(0.0),
            x1 = px(1.0),
            y1 = py(1.0)
        );
        legend.push((d.to_string(), "#999"));
    }
    for (k, se) in series.iter().enumerate() {
        let c = COLORS[k % COLORS.len()];
        let pts: Vec<String> = se
            .points
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        let _ = write!(
            s,
            r##"<polyline class="series" fill="none" stroke="{c}" stroke-width="2" points="{}"><title>{}</title></polyline>"##,
            pts.join(" "),
            escape(&se.name)
        );
        for &(x, y) in se
            .points
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
        {
            let _ = write!(
                s,
                r##"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{c}"><title>{}: ({x:.3}, {y:.3})</title></circle>"##,
                px(x),
                py(y),
                escape(&se.name)
            );
        }
        legend.push((se.name.clone(), c));
    }
    // Legend on a white box so no line runs through it.
    let lw = 8.0
        + 7.0
            * legend
                .iter()
                .map(|l| l.0.chars().count())
                .max()
                .unwrap_or(0) as f64
        + 28.0;
    let (lx, ly) = match corner {
        Corner::BottomRight => (
            W - RIGHT - lw - 6.0,
            TOP + ph - 16.0 * legend.len() as f64 - 10.0,
        ),
        Corner::TopLeft => (LEFT + 6.0, TOP + 4.0),
    };
    if !legend.is_empty() {
        let _ = write!(
            s,
            r##"<rect x="{lx:.1}" y="{ly:.1}" width="{lw:.1}" height="{lh:.1}" fill="#fff" fill-opacity="0.9" stroke="#ddd"/>"##,
            lh = 16.0 * legend.len() as f64 + 6.0
        );
    }
    for (i, (name, c)) in legend.iter().enumerate() {
        let y = ly + 13.0 + 16.0 * i as f64;
        let _ = write!(
            s,
            r##"<rect x="{x}" y="{ry}" width="12" height="4" fill="{c}"/><text x="{tx}" y="{ty}" font-size="11">{n}</text>"##,
            x = lx + 6.0,
            ry = y - 4.0,
            tx = lx + 24.0,
            ty = y + 1.0,
            n = escape(name)
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_escape_text_and_carry_values() {
        let b = bar_chart(
            "h",
            "<script>",
            &["a&b".into(), "c".into()],
            &[3.0, 7.0],
            &COLORS,
            "x",
            "y",
        );
        assert!(b.starts_with("<svg") && b.ends_with("</svg>"));
        assert!(!b.contains("<script>") && b.contains("&lt;script&gt;"));
        assert!(b.contains("a&amp;b: 3") && b.contains(r#"data-value="7""#));
        assert_eq!(b.matches("<rect class=\"bar\"").count(), 2);
        let h = hbar_chart("imp", "t", &["f\"1".into()], &[0.5], "share");
        assert!(h.contains("f&quot;1"));
        let l = line_chart(
            "cal",
            "t",
            &[Series {
                name: "m".into(),
                points: vec![(0.0, 0.0), (0.5, 0.4), (1.0, f64::NAN)],
            }],
            Some("perfect"),
            ("x", "y"),
            Corner::TopLeft,
        );
        assert_eq!(l.matches("<circle").count(), 2);
        assert!(l.contains("perfect") && l.contains("stroke-dasharray"));
        assert_eq!(nice_max(7.0), 8.0);
        assert_eq!(nice_max(55.0), 60.0);
        assert!((nice_max(0.3) - 0.3).abs() < 1e-12);
        assert_eq!(nice_max(0.0), 1.0);
    }
}
