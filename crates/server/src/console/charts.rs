//! Server-side SVG charts for the console: grouped bars and lines over named categories, with
//! axes, ticks and labels. Written here rather than taken from a chart crate because the console
//! needs two simple kinds, must work without JavaScript, and every label is Chinese text that
//! must be escaped exactly once.

use std::fmt::Write;

/// One named series of values, one per category.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub values: Vec<f64>,
}

/// What a chart shows.
#[derive(Debug, Clone)]
pub struct Chart {
    /// 标题, also the SVG's accessible name.
    pub title: String,
    /// X-axis categories (units, resources, days ...).
    pub categories: Vec<String>,
    pub series: Vec<Series>,
    /// Y-axis label (e.g. `行数`, `%`).
    pub y_label: String,
    /// Fix the Y axis maximum (e.g. 100 for percentages); otherwise from the data.
    pub y_max: Option<f64>,
}

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 320.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 40.0;
/// Room under the plot for (possibly slanted) category labels and the legend.
const BOTTOM: f64 = 96.0;

/// Colours that stay distinguishable in print and for common colour-vision deficiencies.
const PALETTE: [&str; 8] = [
    "#1f5fa8", "#d9822b", "#2a9d62", "#b83b5e", "#7a5cb8", "#6b7f1a", "#1c8e99", "#8c6d4f",
];

/// Escapes text for SVG/XML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
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

/// A "nice" axis: a maximum at or above `max` and a tick step of 1, 2 or 5 × 10ⁿ giving about
/// five ticks, so tick labels are round numbers.
pub fn nice_axis(max: f64) -> (f64, f64) {
    if !max.is_finite() || max <= 0.0 {
        return (1.0, 0.2);
    }
    let rough = max / 5.0;
    let magnitude = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= rough)
        .unwrap_or(10.0 * magnitude);
    let top = (max / step).ceil() * step;
    (top.max(step), step)
}

/// A tick label: integers plain, small fractions with up to two decimals, large numbers with
/// 万 so the axis stays narrow.
fn tick_label(v: f64) -> String {
    if v.abs() >= 100_000.0 {
        let wan = v / 10_000.0;
        if (wan - wan.round()).abs() < 1e-9 {
            format!("{}万", wan.round() as i64)
        } else {
            format!("{wan:.1}万")
        }
    } else if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Shortens a category label so slanted labels do not run into each other.
fn short(label: &str, max_chars: usize) -> String {
    if label.chars().count() <= max_chars {
        label.to_string()
    } else {
        let mut s: String = label.chars().take(max_chars.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

struct Frame {
    y_top: f64,
    plot_w: f64,
    plot_h: f64,
}

impl Frame {
    fn y(&self, v: f64) -> f64 {
        let v = v.clamp(0.0, self.y_top);
        TOP + self.plot_h - v / self.y_top * self.plot_h
    }
}

/// Opens the SVG, draws title, grid, Y ticks and axes; returns the frame to plot in.
fn open(svg: &mut String, chart: &Chart, kind: &str) -> Frame {
    let data_max = chart
        .series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    let (y_top, step) = match chart.y_max {
        Some(m) if m > 0.0 => {
            let (_, step) = nice_axis(m);
            (m, step)
        }
        _ => nice_axis(data_max),
    };
    let frame = Frame {
        y_top,
        plot_w: WIDTH - LEFT - RIGHT,
        plot_h: HEIGHT - TOP - BOTTOM,
    };
    let title = escape(&chart.title);
    // Writing to a String cannot fail; the results are ignored throughout.
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{kind}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{title}"><title>{title}</title>"#
    );
    let _ = write!(
        svg,
        r#"<text class="chart-title" x="{LEFT}" y="22">{title}</text>"#
    );
    let mut tick = 0.0;
    while tick <= y_top + step * 1e-6 {
        let y = frame.y(tick);
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT + frame.plot_w,
            LEFT - 6.0,
            y + 4.0,
            escape(&tick_label(tick))
        );
        tick += step;
    }
    let _ = write!(
        svg,
        r#"<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{:.1}"/><line class="axis" x1="{LEFT}" y1="{:.1}" x2="{:.1}" y2="{:.1}"/>"#,
        TOP + frame.plot_h,
        TOP + frame.plot_h,
        LEFT + frame.plot_w,
        TOP + frame.plot_h
    );
    let _ = write!(
        svg,
        r#"<text class="axis-label" transform="translate(14 {:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
        TOP + frame.plot_h / 2.0,
        escape(&chart.y_label)
    );
    frame
}

/// Category labels under the X axis: straight when they fit, slanted otherwise.
fn category_labels(svg: &mut String, chart: &Chart, frame: &Frame) {
    let n = chart.categories.len().max(1) as f64;
    let band = frame.plot_w / n;
    let slant = band < 56.0;
    let max_chars = if slant {
        8
    } else {
        ((band / 13.0) as usize).max(2)
    };
    let base = TOP + frame.plot_h + 16.0;
    for (i, c) in chart.categories.iter().enumerate() {
        let x = LEFT + band * (i as f64 + 0.5);
        let text = escape(&short(c, max_chars));
        let full = escape(c);
        if slant {
            let _ = write!(
                svg,
                r#"<text class="category" transform="translate({x:.1} {base:.1}) rotate(-35)" text-anchor="end"><title>{full}</title>{text}</text>"#
            );
        } else {
            let _ = write!(
                svg,
                r#"<text class="category" x="{x:.1}" y="{base:.1}" text-anchor="middle"><title>{full}</title>{text}</text>"#
            );
        }
    }
}

fn legend(svg: &mut String, chart: &Chart) {
    if chart.series.len() < 2 {
        return;
    }
    let y = HEIGHT - 10.0;
    let mut x = LEFT;
    for (i, s) in chart.series.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let name = escape(&short(&s.name, 12));
        let _ = write!(
            svg,
            r#"<rect x="{x:.1}" y="{:.1}" width="10" height="10" fill="{colour}"/><text class="legend" x="{:.1}" y="{y:.1}">{name}</text>"#,
            y - 9.0,
            x + 14.0
        );
        x += 28.0 + 13.0 * s.name.chars().count().min(12) as f64;
        if x > WIDTH - 80.0 {
            break;
        }
    }
}

/// A grouped bar chart: one group per category, one bar per series.
pub fn bar_chart(chart: &Chart) -> String {
    let mut svg = String::new();
    let frame = open(&mut svg, chart, "bar");
    let n = chart.categories.len().max(1) as f64;
    let band = frame.plot_w / n;
    let k = chart.series.len().max(1) as f64;
    let bar_w = (band * 0.8 / k).max(1.0);
    for (si, s) in chart.series.iter().enumerate() {
        let colour = PALETTE[si % PALETTE.len()];
        for (ci, v) in s.values.iter().enumerate().take(chart.categories.len()) {
            if !v.is_finite() {
                continue;
            }
            let x = LEFT + band * ci as f64 + band * 0.1 + bar_w * si as f64;
            let y = frame.y(*v);
            let h = (TOP + frame.plot_h - y).max(0.0);
            let label = format!(
                "{}：{} {}",
                chart.categories.get(ci).map(String::as_str).unwrap_or(""),
                s.name,
                tick_label(*v)
            );
            let _ = write!(
                svg,
                r#"<rect class="bar" x="{x:.1}" y="{y:.1}" width="{bar_w:.1}" height="{h:.1}" fill="{colour}"><title>{}</title></rect>"#,
                escape(&label)
            );
        }
    }
    category_labels(&mut svg, chart, &frame);
    legend(&mut svg, chart);
    svg.push_str("</svg>");
    svg
}

/// A line chart: one line (with point markers) per series across the categories.
pub fn line_chart(chart: &Chart) -> String {
    let mut svg = String::new();
    let frame = open(&mut svg, chart, "line");
    let n = chart.categories.len().max(1) as f64;
    let band = frame.plot_w / n;
    for (si, s) in chart.series.iter().enumerate() {
        let colour = PALETTE[si % PALETTE.len()];
        let points: Vec<(f64, f64, f64)> = s
            .values
            .iter()
            .enumerate()
            .take(chart.categories.len())
            .filter(|(_, v)| v.is_finite())
            .map(|(ci, v)| (LEFT + band * (ci as f64 + 0.5), frame.y(*v), *v))
            .collect();
        if points.len() > 1 {
            let path: Vec<String> = points
                .iter()
                .map(|(x, y, _)| format!("{x:.1},{y:.1}"))
                .collect();
            let _ = write!(
                svg,
                r#"<polyline class="line" fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
                path.join(" ")
            );
        }
        for (x, y, v) in &points {
            let _ = write!(
                svg,
                r#"<circle class="point" cx="{x:.1}" cy="{y:.1}" r="3.5" fill="{colour}"><title>{}：{}</title></circle>"#,
                escape(&s.name),
                escape(&tick_label(*v))
            );
        }
    }
    category_labels(&mut svg, chart, &frame);
    legend(&mut svg, chart);
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart() -> Chart {
        Chart {
            title: "汇聚<行数>".into(),
            categories: vec!["公安分局".into(), "卫健局".into()],
            series: vec![Series {
                name: "行数".into(),
                values: vec![1200.0, 300.0],
            }],
            y_label: "行".into(),
            y_max: None,
        }
    }

    #[test]
    fn nice_axes_are_round_and_cover_the_data() {
        assert_eq!(nice_axis(1200.0), (1500.0, 500.0));
        assert_eq!(nice_axis(7.0), (8.0, 2.0));
        assert_eq!(nice_axis(100.0), (100.0, 20.0));
        assert_eq!(nice_axis(0.0), (1.0, 0.2));
        assert_eq!(nice_axis(f64::NAN), (1.0, 0.2));
        let (top, step) = nice_axis(0.037);
        assert!(top >= 0.037 && step > 0.0);
    }

    #[test]
    fn bars_are_scaled_labelled_and_escaped() {
        let svg = bar_chart(&chart());
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("汇聚&lt;行数&gt;"), "title escaped");
        assert!(!svg.contains("汇聚<行数>"));
        assert_eq!(svg.matches("class=\"bar\"").count(), 2);
        assert!(svg.contains(">公安分局<") && svg.contains(">卫健局<"));
        // The taller bar is the larger value: heights proportional to 1200 and 300 of 1500.
        let heights: Vec<f64> = svg
            .split("class=\"bar\"")
            .skip(1)
            .filter_map(|s| {
                let h = s.split("height=\"").nth(1)?;
                h.split('"').next()?.parse().ok()
            })
            .collect();
        assert_eq!(heights.len(), 2);
        assert!((heights[0] / heights[1] - 4.0).abs() < 0.05, "{heights:?}");
        assert!(svg.contains(">1500<"), "top tick");
    }

    #[test]
    fn lines_join_points_and_skip_missing_values() {
        let mut c = chart();
        c.categories.push("民政局".into());
        c.series[0].values = vec![1.0, f64::NAN, 3.0];
        c.series.push(Series {
            name: "第二".into(),
            values: vec![2.0, 2.0, 2.0],
        });
        let svg = line_chart(&c);
        assert_eq!(svg.matches("<circle").count(), 5);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("class=\"legend\""), "two series get a legend");
    }

    #[test]
    fn tick_labels_stay_short() {
        assert_eq!(tick_label(200000.0), "20万");
        assert_eq!(tick_label(250000.0), "25万");
        assert_eq!(tick_label(0.25), "0.25");
        assert_eq!(tick_label(40.0), "40");
    }
}
