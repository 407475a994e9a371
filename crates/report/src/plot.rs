//! The plots: `plotters` drawing into an SVG `String`.
//!
//! Every plot has a title, axis labels with units and a legend. Colours come
//! from one fixed palette, so the same figures always give the same bytes.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::{
    CdfPoint, CompareFigures, PbsFigures, PlanFigures, PlanPoint, ReportError, SimCell, SimFigures,
    Timeline,
};

/// Draws a chart's legend at `pos`: white box, black border.
macro_rules! legend {
    ($chart:ident, $pos:expr, $e:ident) => {
        $chart
            .configure_series_labels()
            .position($pos)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(&$e)?
    };
}

/// Width and height of a plot, px.
const SIZE: (u32, u32) = (900, 420);

/// The lowest value a log axis shows, ms: smaller values (a leader's 0) are
/// drawn there.
pub const LOG_FLOOR_MS: f64 = 1.0;

/// Series colours (Tableau 10), in order.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

const FONT: &str = "sans-serif";

/// Turns any plotters error into ours, naming the plot.
fn err<E: std::fmt::Display>(plot: &str) -> impl Fn(E) -> ReportError + '_ {
    move |e| ReportError::Plot {
        plot: plot.to_string(),
        message: e.to_string(),
    }
}

/// Draws on a fresh SVG of `size` and returns its text.
fn svg(
    title: &str,
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), ReportError>,
) -> Result<String, ReportError> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        root.fill(&WHITE).map_err(err(title))?;
        draw(&root)?;
        root.present().map_err(err(title))?;
    }
    Ok(out)
}

/// A value on a log axis: never below the floor.
fn lg(ms: f64) -> f64 {
    ms.max(LOG_FLOOR_MS)
}

/// The top of a log axis: a power of ten above every value and `at_least`.
fn log_top(values: impl Iterator<Item = f64>, at_least: f64) -> f64 {
    let max = values.fold(at_least, f64::max);
    10f64.powf(max.max(LOG_FLOOR_MS * 10.0).log10().ceil())
}

/// Staleness CDFs of one site's strategies, log time axis, with the bound
/// and each strategy's p95 (triangle) and p99 (circle).
pub fn staleness_cdf(
    title: &str,
    fig: &SimFigures,
    cells: &[&SimCell],
) -> Result<String, ReportError> {
    let top = log_top(
        cells
            .iter()
            .flat_map(|c| c.staleness_cdf.iter().map(|p| p.ms)),
        fig.bound_ms * 2.0,
    );
    svg(title, SIZE, |root| {
        let e = err(title);
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 20))
            .margin(12)
            .margin_right(36)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d((LOG_FLOOR_MS..top).log_scale(), 0f64..1.02f64)
            .map_err(&e)?;
        chart
            .configure_mesh()
            .x_desc(format!(
                "{} (ms, log scale; values under {LOG_FLOOR_MS} ms drawn at {LOG_FLOOR_MS})",
                fig.staleness_series
            ))
            .y_desc("share of reads at or below")
            .x_label_formatter(&|v| format!("{v}"))
            .draw()
            .map_err(&e)?;
        let b = fig.bound_ms;
        chart
            .draw_series(DashedLineSeries::new(
                [(lg(b), 0.0), (lg(b), 1.02)],
                6,
                4,
                RED.stroke_width(2),
            ))
            .map_err(&e)?
            .label(format!("{b} ms bound"))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RED.stroke_width(2)));
        for (i, c) in cells.iter().enumerate() {
            let col = colour(i);
            // A step: flat up to each value, then up to its share.
            let mut steps = Vec::with_capacity(c.staleness_cdf.len() * 2 + 1);
            let mut below = 0.0;
            for p in &c.staleness_cdf {
                steps.push((lg(p.ms), below));
                steps.push((lg(p.ms), p.quantile));
                below = p.quantile;
            }
            steps.push((top, below));
            chart
                .draw_series(LineSeries::new(steps, col.stroke_width(2)))
                .map_err(&e)?
                .label(c.strategy.clone())
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], col.stroke_width(2)));
            chart
                .draw_series([TriangleMarker::new(
                    (lg(c.staleness_p95_ms), 0.95),
                    7,
                    col.filled(),
                )])
                .map_err(&e)?;
            chart
                .draw_series([Circle::new((lg(c.staleness_p99_ms), 0.99), 5, col.filled())])
                .map_err(&e)?;
        }
        chart
            .draw_series([TriangleMarker::new((LOG_FLOOR_MS, -1.0), 7, BLACK.filled())])
            .map_err(&e)?
            .label("p95 mark")
            .legend(|(x, y)| TriangleMarker::new((x + 10, y), 6, BLACK.filled()));
        chart
            .draw_series([Circle::new((LOG_FLOOR_MS, -1.0), 5, BLACK.filled())])
            .map_err(&e)?
            .label("p99 mark")
            .legend(|(x, y)| Circle::new((x + 10, y), 5, BLACK.filled()));
        legend!(chart, SeriesLabelPosition::LowerRight, e);
        Ok(())
    })
}

/// Read latency p95 against staleness p99, one point per cell, the SLO
/// region shaded.
pub fn latency_vs_staleness(title: &str, fig: &SimFigures) -> Result<String, ReportError> {
    let top_x = log_top(
        fig.cells.iter().map(|c| c.staleness_p99_ms),
        fig.staleness_p99_target_ms.unwrap_or(fig.bound_ms) * 2.0,
    );
    let top_y = fig
        .cells
        .iter()
        .map(|c| c.read_p95_ms)
        .fold(fig.read_p95_target_ms.unwrap_or(0.0), f64::max)
        * 1.25
        + 10.0;
    let sites: Vec<&str> = {
        let mut s: Vec<&str> = Vec::new();
        for c in &fig.cells {
            if !s.contains(&c.client.as_str()) {
                s.push(&c.client);
            }
        }
        s
    };
    svg(title, SIZE, |root| {
        let e = err(title);
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 20))
            .margin(12)
            .margin_right(36)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d((LOG_FLOOR_MS..top_x).log_scale(), 0f64..top_y)
            .map_err(&e)?;
        chart
            .configure_mesh()
            .x_desc(format!(
                "{} p99 (ms, log scale; 0 drawn at {LOG_FLOOR_MS})",
                fig.staleness_series
            ))
            .y_desc("read latency p95 (ms)")
            .x_label_formatter(&|v| format!("{v}"))
            .draw()
            .map_err(&e)?;
        let x1 = fig.staleness_p99_target_ms.unwrap_or(top_x).min(top_x);
        let y1 = fig.read_p95_target_ms.unwrap_or(top_y).min(top_y);
        let scope = if fig.read_p95_sites.is_empty() {
            String::new()
        } else {
            format!(" (read target: {})", fig.read_p95_sites.join(", "))
        };
        let green = RGBColor(44, 160, 44);
        chart
            .draw_series([Rectangle::new(
                [(LOG_FLOOR_MS, 0.0), (x1, y1)],
                green.mix(0.15).filled(),
            )])
            .map_err(&e)?
            .label(format!("SLO region{scope}"))
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 20, y + 5)], green.mix(0.3).filled())
            });
        for (i, site) in sites.iter().enumerate() {
            let col = colour(i);
            // Strategies on the same spot share one point and one label.
            let mut spots: Vec<((f64, f64), Vec<&str>)> = Vec::new();
            for c in fig.cells.iter().filter(|c| c.client == *site) {
                let at = (lg(c.staleness_p99_ms), c.read_p95_ms);
                match spots.iter_mut().find(|(p, _)| *p == at) {
                    Some((_, names)) => names.push(&c.strategy),
                    None => spots.push((at, vec![&c.strategy])),
                }
            }
            let dy = if i % 2 == 0 { -12 } else { 4 };
            chart
                .draw_series(spots.iter().map(|(at, names)| {
                    EmptyElement::at(*at)
                        + Circle::new((0, 0), 5, col.filled())
                        + Text::new(format!("{site}: {}", names.join(", ")), (7, dy), (FONT, 12))
                }))
                .map_err(&e)?
                .label(format!("site {site}"))
                .legend(move |(x, y)| Circle::new((x + 10, y), 5, col.filled()));
        }
        legend!(chart, SeriesLabelPosition::UpperRight, e);
        Ok(())
    })
}

/// One run's timeline: charge success, charge p95, staleness and data age
/// p95 per window, with fault spans, flags, alerts and promotions marked.
pub fn timeline(title: &str, t: &Timeline) -> Result<String, ReportError> {
    let end_s = t.duration_ms / 1000.0;
    let s = |ms: f64| ms / 1000.0;
    let panels = 3;
    svg(title, (SIZE.0, 260 * panels + 40), |root| {
        let e = err(title);
        let (head, body) = root.split_vertically(40);
        head.titled(title, (FONT, 20)).map_err(&e)?;
        let areas = body.split_evenly((panels as usize, 1));
        let lat_top = t
            .windows
            .iter()
            .map(|w| w.charge_p95_ms)
            .fold(10.0, f64::max)
            * 1.15;
        let stale_top = t
            .windows
            .iter()
            .flat_map(|w| [w.staleness_p95_ms, w.data_age_p95_ms])
            .fold(10.0, f64::max)
            * 1.15;
        let specs: [(&str, &str, f64); 3] = [
            ("charge success rate", "answered share", 1.05),
            ("charge latency p95", "ms", lat_top),
            ("read staleness p95", "ms", stale_top),
        ];
        for (k, (area, (name, unit, top))) in areas.iter().zip(specs).enumerate() {
            let mut chart = ChartBuilder::on(area)
                .caption(name, (FONT, 15))
                .margin(8)
                .margin_right(36)
                .x_label_area_size(35)
                .y_label_area_size(60)
                .build_cartesian_2d(0f64..end_s, 0f64..top)
                .map_err(&e)?;
            chart
                .configure_mesh()
                .x_desc("simulated time (s)")
                .y_desc(unit)
                .draw()
                .map_err(&e)?;
            let fault = RGBColor(214, 39, 40);
            let mut first = true;
            for f in &t.faults {
                let to = f.to_ms.map_or(end_s, s);
                let a = chart
                    .draw_series([Rectangle::new(
                        [(s(f.from_ms), 0.0), (to, top)],
                        fault.mix(0.12).filled(),
                    )])
                    .map_err(&e)?;
                if first {
                    a.label("fault").legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 20, y + 5)], fault.mix(0.3).filled())
                    });
                    first = false;
                }
            }
            let flag = RGBColor(31, 119, 180);
            let mut first = true;
            for f in &t.flags {
                let to = f.to_ms.map_or(end_s, s);
                let a = chart
                    .draw_series([Rectangle::new(
                        [(s(f.from_ms), top * 0.96), (to, top)],
                        flag.mix(0.6).filled(),
                    )])
                    .map_err(&e)?;
                if first {
                    a.label("flag on").legend(move |(x, y)| {
                        Rectangle::new([(x, y - 3), (x + 20, y + 3)], flag.mix(0.6).filled())
                    });
                    first = false;
                }
            }
            let fired = RGBColor(255, 127, 14);
            let resolved = RGBColor(44, 160, 44);
            let mut first = (true, true);
            for a in &t.alerts {
                let x = s(a.fired_at_ms);
                let anno = chart
                    .draw_series(DashedLineSeries::new(
                        [(x, 0.0), (x, top)],
                        5,
                        3,
                        fired.stroke_width(2),
                    ))
                    .map_err(&e)?;
                if first.0 {
                    anno.label("alert fired").legend(move |(x, y)| {
                        PathElement::new([(x, y), (x + 20, y)], fired.stroke_width(2))
                    });
                    first.0 = false;
                }
                if let Some(r) = a.resolved_at_ms {
                    let x = s(r);
                    let anno = chart
                        .draw_series(DashedLineSeries::new(
                            [(x, 0.0), (x, top)],
                            2,
                            3,
                            resolved.stroke_width(2),
                        ))
                        .map_err(&e)?;
                    if first.1 {
                        anno.label("alert resolved").legend(move |(x, y)| {
                            PathElement::new([(x, y), (x + 20, y)], resolved.stroke_width(2))
                        });
                        first.1 = false;
                    }
                }
            }
            let promo = RGBColor(148, 103, 189);
            let mut first = true;
            for p in &t.promotions {
                let x = s(p.at_ms);
                let anno = chart
                    .draw_series(LineSeries::new([(x, 0.0), (x, top)], promo.stroke_width(3)))
                    .map_err(&e)?;
                if first {
                    anno.label("promotion").legend(move |(x, y)| {
                        PathElement::new([(x, y), (x + 20, y)], promo.stroke_width(3))
                    });
                    first = false;
                }
            }
            let line = |v: fn(&crate::WindowPoint) -> Option<f64>| {
                t.windows
                    .iter()
                    .filter_map(move |w| v(w).map(|y| (s(w.end_ms), y)))
                    .collect::<Vec<_>>()
            };
            let black = BLACK;
            match k {
                0 => {
                    chart
                        .draw_series(LineSeries::new(
                            line(|w| w.charge_success),
                            black.stroke_width(2),
                        ))
                        .map_err(&e)?
                        .label("charges answered / attempts")
                        .legend(move |(x, y)| {
                            PathElement::new([(x, y), (x + 20, y)], black.stroke_width(2))
                        });
                }
                1 => {
                    chart
                        .draw_series(LineSeries::new(
                            line(|w| Some(w.charge_p95_ms)),
                            black.stroke_width(2),
                        ))
                        .map_err(&e)?
                        .label("charge p95")
                        .legend(move |(x, y)| {
                            PathElement::new([(x, y), (x + 20, y)], black.stroke_width(2))
                        });
                }
                _ => {
                    let c0 = colour(0);
                    let c1 = colour(4);
                    chart
                        .draw_series(LineSeries::new(
                            line(|w| Some(w.staleness_p95_ms)),
                            c0.stroke_width(2),
                        ))
                        .map_err(&e)?
                        .label("reported staleness p95")
                        .legend(move |(x, y)| {
                            PathElement::new([(x, y), (x + 20, y)], c0.stroke_width(2))
                        });
                    chart
                        .draw_series(LineSeries::new(
                            line(|w| Some(w.data_age_p95_ms)),
                            c1.stroke_width(2),
                        ))
                        .map_err(&e)?
                        .label("data_age p95")
                        .legend(move |(x, y)| {
                            PathElement::new([(x, y), (x + 20, y)], c1.stroke_width(2))
                        });
                }
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK)
                .label_font((FONT, 11))
                .draw()
                .map_err(&e)?;
        }
        Ok(())
    })
}

/// The empirical distribution of a per-run figure, one line per series:
/// a share of the runs at or below x. Runs where it never happened are
/// counted in the legend and never reach the line.
pub fn runs_ecdf(
    title: &str,
    x_desc: &str,
    series: &[(String, Vec<Option<f64>>)],
) -> Result<String, ReportError> {
    let to_s = |v: f64| v / 1000.0;
    let top = series
        .iter()
        .flat_map(|(_, v)| v.iter().flatten().copied())
        .fold(1.0, f64::max);
    let top = to_s(top) * 1.1 + 0.01;
    svg(title, SIZE, |root| {
        let e = err(title);
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 20))
            .margin(12)
            .margin_right(36)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..top, 0f64..1.05f64)
            .map_err(&e)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc("share of runs at or below")
            .draw()
            .map_err(&e)?;
        for (i, (name, values)) in series.iter().enumerate() {
            let col = colour(i);
            let mut xs: Vec<f64> = values.iter().flatten().map(|&v| to_s(v)).collect();
            xs.sort_by(f64::total_cmp);
            let n = values.len().max(1) as f64;
            let never = values.len() - xs.len();
            let mut pts = Vec::with_capacity(xs.len() * 2 + 1);
            pts.push((0.0, 0.0));
            for (k, &x) in xs.iter().enumerate() {
                pts.push((x, k as f64 / n));
                pts.push((x, (k + 1) as f64 / n));
            }
            if !xs.is_empty() {
                pts.push((top, xs.len() as f64 / n));
            }
            let label = if never > 0 {
                format!("{name} ({never} of {} runs: never)", values.len())
            } else {
                name.clone()
            };
            chart
                .draw_series(LineSeries::new(pts, col.stroke_width(2)))
                .map_err(&e)?
                .label(label)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], col.stroke_width(2)));
            chart
                .draw_series(
                    xs.iter()
                        .enumerate()
                        .map(|(k, &x)| Circle::new((x, (k + 1) as f64 / n), 3, col.filled())),
                )
                .map_err(&e)?;
        }
        legend!(chart, SeriesLabelPosition::LowerRight, e);
        Ok(())
    })
}

/// The money figures of each drill × write path as grouped bars (max over
/// the runs).
pub fn compare_bars(title: &str, fig: &CompareFigures) -> Result<String, ReportError> {
    type Get = fn(&crate::CompareBar) -> f64;
    let metrics: [(&str, Get); 4] = [
        ("overspend incidents", |r| {
            r.overspend_incidents.max.unwrap_or(0.0)
        }),
        ("lost updates", |r| r.lost_updates.max.unwrap_or(0.0)),
        ("duplicate effects", |r| {
            r.duplicate_effects.max.unwrap_or(0.0)
        }),
        ("spurious declines", |r| {
            r.spurious_declines.max.unwrap_or(0.0)
        }),
    ];
    let n = fig.rows.len();
    let top = fig
        .rows
        .iter()
        .flat_map(|r| metrics.iter().map(move |(_, g)| g(r)))
        .fold(1.0, f64::max)
        * 1.15;
    let labels: Vec<String> = fig
        .rows
        .iter()
        .map(|r| format!("{} {}", r.drill, r.write_path))
        .collect();
    let height = (28 * n as u32 + 140).max(SIZE.1);
    svg(title, (SIZE.0, height), |root| {
        let e = err(title);
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 20))
            .margin(12)
            .margin_right(36)
            .x_label_area_size(45)
            .y_label_area_size(190)
            .build_cartesian_2d(0f64..top, 0f64..n as f64)
            .map_err(&e)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n.max(1) * 2 + 1)
            .y_label_formatter(&|v| {
                // Row i sits on [n - i - 1, n - i): the first row on top.
                let k = v.floor();
                if (v - k - 0.5).abs() < 1e-9 && k >= 0.0 && (k as usize) < n {
                    labels.get(n - 1 - k as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_desc("drill and write path")
            .x_desc("count (max over runs)")
            .draw()
            .map_err(&e)?;
        let width = 0.8 / metrics.len() as f64;
        for (m, (name, get)) in metrics.iter().enumerate() {
            let col = colour(m);
            chart
                .draw_series(fig.rows.iter().enumerate().map(|(i, r)| {
                    let y1 = (n - i) as f64 - 0.1 - m as f64 * width;
                    Rectangle::new([(0.0, y1 - width * 0.9), (get(r), y1)], col.filled())
                }))
                .map_err(&e)?
                .label(*name)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 15, y + 5)], col.filled()));
        }
        legend!(chart, SeriesLabelPosition::UpperRight, e);
        Ok(())
    })
}

/// The t-visibility curve, with t at 99 / 99.9 / 99.99 % marked.
pub fn pbs_curve(title: &str, fig: &PbsFigures) -> Result<String, ReportError> {
    let top_x = fig
        .curve
        .iter()
        .map(|p| p.ms)
        .fold(0.0, f64::max)
        .max(0.001);
    let low = fig
        .curve
        .iter()
        .map(|p| p.quantile)
        .fold(1.0, f64::min)
        .min(0.99);
    let low = (low - (1.0 - low) * 0.05).max(0.0);
    svg(title, SIZE, |root| {
        let e = err(title);
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 20))
            .margin(12)
            .margin_right(36)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..top_x, low..1.0f64)
            .map_err(&e)?;
        chart
            .configure_mesh()
            .x_desc("t after the write commits (ms)")
            .y_desc("P(read is consistent)")
            .draw()
            .map_err(&e)?;
        let col = colour(0);
        chart
            .draw_series(LineSeries::new(
                fig.curve
                    .iter()
                    .map(|&CdfPoint { ms, quantile }| (ms, quantile)),
                col.stroke_width(2),
            ))
            .map_err(&e)?
            .label(format!("N={} R={} W={}", fig.n, fig.r, fig.w))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], col.stroke_width(2)));
        let mark = colour(3);
        chart
            .draw_series(
                fig.t_visibility_ms
                    .iter()
                    .filter(|(_, t)| *t <= top_x)
                    .filter_map(|(p, t)| {
                        let p: f64 = p.parse().ok()?;
                        Some(
                            EmptyElement::at((*t, p))
                                + TriangleMarker::new((0, 0), 6, mark.filled())
                                + Text::new(format!("p {p}: {t} ms"), (8, 4), (FONT, 12)),
                        )
                    }),
            )
            .map_err(&e)?
            .label("t-visibility (within the curve's range)")
            .legend(move |(x, y)| TriangleMarker::new((x + 10, y), 6, mark.filled()));
        legend!(chart, SeriesLabelPosition::LowerRight, e);
        Ok(())
    })
}

/// Which designs one series of the plan scatter shows.
type Keep = dyn Fn(&PlanPoint) -> bool;

/// Every design of a plan with both figures: worst-site charge p95 against
/// read p95; accepted, Pareto and rejected designs told apart, the region
/// where both objectives hold shaded.
pub fn plan_scatter(title: &str, fig: &PlanFigures) -> Result<String, ReportError> {
    let pts: Vec<(&PlanPoint, f64, f64)> = fig
        .designs
        .iter()
        .filter_map(|d| Some((d, d.charge_p95_ms?, d.read_p95_ms?)))
        .collect();
    let top_x = pts
        .iter()
        .map(|p| p.1)
        .fold(fig.charge_p95_target_ms.unwrap_or(0.0), f64::max)
        * 1.15
        + 10.0;
    let top_y = pts
        .iter()
        .map(|p| p.2)
        .fold(fig.read_p95_target_ms.unwrap_or(0.0), f64::max)
        * 1.15
        + 10.0;
    svg(title, SIZE, |root| {
        let e = err(title);
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 20))
            .margin(12)
            .margin_right(36)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..top_x, 0f64..top_y)
            .map_err(&e)?;
        chart
            .configure_mesh()
            .x_desc("worst site's charge p95 (ms)")
            .y_desc("worst site's read p95 (ms)")
            .draw()
            .map_err(&e)?;
        let green = RGBColor(44, 160, 44);
        let x1 = fig.charge_p95_target_ms.unwrap_or(top_x).min(top_x);
        let y1 = fig.read_p95_target_ms.unwrap_or(top_y).min(top_y);
        chart
            .draw_series([Rectangle::new(
                [(0.0, 0.0), (x1, y1)],
                green.mix(0.12).filled(),
            )])
            .map_err(&e)?
            .label("SLO region (charge and read p95)")
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 20, y + 5)], green.mix(0.3).filled())
            });
        let grey = RGBColor(150, 150, 150);
        let kinds: [(&str, RGBColor, i32, &Keep); 3] = [
            ("rejected", grey, 4, &|d| d.rejected.is_some()),
            ("accepted", green, 5, &|d| d.rejected.is_none() && !d.pareto),
            ("accepted, Pareto frontier", green, 8, &|d| {
                d.rejected.is_none() && d.pareto
            }),
        ];
        for (label, col, size, keep) in kinds {
            chart
                .draw_series(
                    pts.iter()
                        .filter(|p| keep(p.0))
                        .map(|p| Circle::new((p.1, p.2), size, col.filled())),
                )
                .map_err(&e)?
                .label(label)
                .legend(move |(x, y)| Circle::new((x + 10, y), size, col.filled()));
        }
        // The best design, named.
        if let Some(best) = pts.iter().find(|p| p.0.rank == Some(1)) {
            chart
                .draw_series([EmptyElement::at((best.1, best.2))
                    + Text::new(format!("1: {}", best.0.design), (10, -14), (FONT, 12))])
                .map_err(&e)?;
        }
        legend!(chart, SeriesLabelPosition::UpperLeft, e);
        Ok(())
    })
}
