//! The page around the plots: inline CSS, tables, the embedded figures.

use std::fmt::Write;

use crate::plot;
use crate::{
    Budget, CompareFigures, DrillConfigFigures, DrillFigures, Figures, PbsFigures, PlanFigures,
    Report, ReportError, SimCell, SimFigures, SpreadMs, Verdict,
};

/// The page's style: no web font, nothing fetched.
const CSS: &str = "body{font-family:sans-serif;margin:24px;max-width:1000px;color:#222}\
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ccc}\
pre.cmd{background:#f4f4f4;padding:8px;white-space:pre-wrap;word-break:break-all}\
figure{margin:12px 0}figcaption{font-size:13px;color:#555}\
table{border-collapse:collapse;font-size:13px;margin:8px 0}\
td,th{border:1px solid #bbb;padding:3px 8px;text-align:right}th{background:#eee}\
td.l,th.l{text-align:left}td.pass{background:#c8e6c9}td.fail{background:#ffcdd2}\
td.nodata{background:#e0e0e0}";

/// One plot of the page.
enum Plot<'a> {
    SimCdf(&'a SimFigures, String, Vec<&'a SimCell>),
    SimScatter(&'a SimFigures),
    Timeline(&'a DrillConfigFigures),
    Rto(&'a DrillConfigFigures),
    Rpo(&'a DrillConfigFigures),
    Compare(&'a CompareFigures),
    Pbs(&'a PbsFigures),
    Plan(&'a PlanFigures),
}

/// `[a-z0-9-]` only: ids and file names made from labels.
fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

/// Every plot with its id and title, in page order.
fn plan(report: &Report) -> Vec<(String, String, Plot<'_>)> {
    let mut v = Vec::new();
    match &report.figures {
        Figures::Sim(f) => {
            let mut sites: Vec<&str> = Vec::new();
            for c in &f.cells {
                if !sites.contains(&c.client.as_str()) {
                    sites.push(&c.client);
                }
            }
            for site in sites {
                let cells: Vec<&SimCell> = f.cells.iter().filter(|c| c.client == site).collect();
                v.push((
                    format!("plot-staleness-cdf-{}", slug(site)),
                    format!("Staleness CDF, site {site} ({})", f.staleness_series),
                    Plot::SimCdf(f, site.to_string(), cells),
                ));
            }
            v.push((
                "plot-read-vs-staleness".into(),
                format!("Read latency p95 vs {} p99", f.staleness_series),
                Plot::SimScatter(f),
            ));
        }
        Figures::Drill(d) => {
            for (i, c) in d.configs.iter().enumerate() {
                let id = format!("{}-{}", i + 1, slug(&c.label));
                v.push((
                    format!("plot-timeline-{id}"),
                    format!(
                        "{} ({}): run 1 (seed {}) window by window",
                        d.drill, c.label, c.timeline.seed
                    ),
                    Plot::Timeline(c),
                ));
                v.push((
                    format!("plot-rto-{id}"),
                    format!("RTO per site over {} runs ({})", d.runs, c.label),
                    Plot::Rto(c),
                ));
                if c.rpo_spread.is_some() {
                    v.push((
                        format!("plot-rpo-{id}"),
                        format!("RPO over {} runs ({})", d.runs, c.label),
                        Plot::Rpo(c),
                    ));
                }
            }
        }
        Figures::Compare(c) => v.push((
            "plot-compare-money".into(),
            format!("Money figures per write path (max over {} runs)", c.runs),
            Plot::Compare(c),
        )),
        Figures::Pbs(p) => v.push((
            "plot-t-visibility".into(),
            format!(
                "t-visibility, {} (N={}, R={}, W={})",
                p.model, p.n, p.r, p.w
            ),
            Plot::Pbs(p),
        )),
        Figures::Plan(p) => v.push((
            "plot-plan".into(),
            "Every design: worst-site charge p95 vs read p95".into(),
            Plot::Plan(p),
        )),
    }
    v
}

/// The ids of every plot, in page order.
pub fn plot_ids(report: &Report) -> Vec<String> {
    plan(report).into_iter().map(|(id, _, _)| id).collect()
}

/// Escapes text for HTML content and attribute values.
fn esc(s: &str) -> String {
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

fn render(title: &str, p: &Plot<'_>) -> Result<String, ReportError> {
    match p {
        Plot::SimCdf(f, _, cells) => plot::staleness_cdf(title, f, cells),
        Plot::SimScatter(f) => plot::latency_vs_staleness(title, f),
        Plot::Timeline(c) => plot::timeline(title, &c.timeline),
        Plot::Rto(c) => plot::runs_ecdf(
            title,
            "RTO (s): fault start to the site's charges recovered",
            &c.rto
                .iter()
                .map(|s| (format!("site {}", s.site), s.runs_ms.clone()))
                .collect::<Vec<_>>(),
        ),
        Plot::Rpo(c) => plot::runs_ecdf(
            title,
            "RPO (s): commit-time span of the acknowledged writes lost",
            &[(
                "RPO".to_string(),
                c.rpo_ms.iter().map(|&x| Some(x)).collect(),
            )],
        ),
        Plot::Compare(c) => plot::compare_bars(title, c),
        Plot::Pbs(p) => plot::pbs_curve(title, p),
        Plot::Plan(p) => plot::plan_scatter(title, p),
    }
}

fn caption(p: &Plot<'_>) -> String {
    match p {
        Plot::SimCdf(f, site, _) => format!(
            "Share of {site}'s reads whose staleness was at most x, one line per read strategy; \
             the red dashed line is the {} ms bound, triangles mark each strategy's p95 and \
             circles its p99 (the figures of --format json).",
            f.bound_ms
        ),
        Plot::SimScatter(_) => "One point per site x strategy; the shaded area is where both \
            the read-latency and the staleness-p99 objectives hold."
            .into(),
        Plot::Timeline(_) => "Per monitoring window (x: window end): the share of charge \
            attempts answered, charge latency p95, and the reported staleness and true data \
            age p95 of the answered reads. Shaded red: faults; blue bars: runbook flags; \
            orange dashed: alerts fired; green dotted: alerts resolved; purple: promotions."
            .into(),
        Plot::Rto(_) => "Each site's RTO in every run, as a cumulative share of the runs \
            (runs in which a site never recovered are counted in its legend)."
            .into(),
        Plot::Rpo(_) => "The RPO of every run, as a cumulative share of the runs.".into(),
        Plot::Compare(_) => "Bars: the largest value over the runs of each money figure; the \
            table below gives p95 and max."
            .into(),
        Plot::Plan(_) => "One point per design with both figures (normal operation, worst \
            site): green, accepted; large green, on the Pareto frontier; grey, rejected (the \
            table below says why). The shaded area is where the charge and read objectives \
            hold."
            .into(),
        Plot::Pbs(_) => "Probability that a read started t ms after a write commits returns \
            it (Monte Carlo over the WARS model); triangles mark t at 99 / 99.9 / 99.99 %."
            .into(),
    }
}

fn num(v: f64) -> String {
    format!("{v}")
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "never".into(), num)
}

fn spread_cells(s: &SpreadMs) -> String {
    [s.p50, s.p95, s.p99, s.max]
        .iter()
        .map(|v| format!("<td>{}</td>", opt(*v)))
        .collect()
}

/// SLO verdicts as a table: one row per scope, one column per objective.
fn slo_table(out: &mut String, verdicts: &[Verdict]) {
    let mut names: Vec<&str> = Vec::new();
    let mut scopes: Vec<&str> = Vec::new();
    for v in verdicts {
        if !names.contains(&v.name.as_str()) {
            names.push(&v.name);
        }
        if !scopes.contains(&v.scope.as_str()) {
            scopes.push(&v.scope);
        }
    }
    out.push_str("<table class=\"slo\"><tr><th class=\"l\"></th>");
    for n in &names {
        let target = verdicts
            .iter()
            .find(|v| v.name == *n)
            .map_or(0.0, |v| v.target_ms);
        let _ = write!(out, "<th>{} &lt; {} ms</th>", esc(n), num(target));
    }
    out.push_str("</tr>\n");
    for s in &scopes {
        let _ = write!(out, "<tr><td class=\"l\">{}</td>", esc(s));
        for n in &names {
            match verdicts.iter().find(|v| v.scope == *s && v.name == *n) {
                None => out.push_str("<td>-</td>"),
                Some(v) => {
                    let (class, what) = match (v.observed_ms, v.pass) {
                        (None, _) => ("nodata", "no data".to_string()),
                        (Some(o), true) => ("pass", format!("{} ms pass", num(o))),
                        (Some(o), false) => ("fail", format!("{} ms FAIL", num(o))),
                    };
                    let _ = write!(out, "<td class=\"{class}\">{what}</td>");
                }
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

fn drill_tables(out: &mut String, d: &DrillFigures) {
    out.push_str("<h2>Over the runs (p50 / p95 / p99 / max)</h2>\n<table><tr><th class=\"l\">configuration</th><th class=\"l\">figure</th><th>p50</th><th>p95</th><th>p99</th><th>max</th></tr>\n");
    for c in &d.configs {
        for s in &c.rto {
            let _ = writeln!(
                out,
                "<tr><td class=\"l\">{}</td><td class=\"l\">RTO {} (ms)</td>{}</tr>",
                esc(&c.label),
                esc(&s.site),
                spread_cells(&s.spread)
            );
        }
        if let Some(rpo) = &c.rpo_spread {
            let _ = writeln!(
                out,
                "<tr><td class=\"l\">{}</td><td class=\"l\">RPO (ms)</td>{}</tr>",
                esc(&c.label),
                spread_cells(rpo)
            );
        }
    }
    out.push_str("</table>\n");
    for c in &d.configs {
        let _ = writeln!(out, "<h2>SLOs, {}</h2>", esc(&c.label));
        slo_table(out, &c.slo);
        let _ = writeln!(
            out,
            "<h2>Error budgets per site and phase, {}</h2>",
            esc(&c.label)
        );
        budget_table(out, &c.budgets);
    }
}

/// Per-site, per-phase budgets: what each phase spent and how long a whole
/// budget lasts at its burn rate.
fn budget_table(out: &mut String, budgets: &[Budget]) {
    out.push_str("<table class=\"budget\"><tr><th class=\"l\">phase</th><th class=\"l\">site</th><th class=\"l\">SLO</th><th>good share</th><th>burn rate</th><th>budget consumed p95</th><th>budget lasts</th><th class=\"l\">verdict</th></tr>\n");
    let pct = |x: f64| format!("{:.3} %", x * 100.0);
    for b in budgets {
        let _ = writeln!(
            out,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
            esc(&b.phase),
            esc(&b.site),
            esc(&b.slo),
            b.good_share.map_or_else(|| "no data".into(), pct),
            b.burn_rate.map_or_else(|| "no data".into(), |r| format!("{r:.2}")),
            b.budget_consumed_p95.map_or_else(|| "-".into(), pct),
            esc(&b.lasts),
            if b.pass { "pass" } else { "fail" },
            if b.pass { "pass" } else { "FAIL" }
        );
    }
    out.push_str("</table>\n");
}

fn compare_table(out: &mut String, c: &CompareFigures) {
    out.push_str("<h2>Money figures (p95 / max over the runs)</h2>\n<table><tr><th class=\"l\">drill</th><th class=\"l\">write path</th><th>overspend</th><th>lost updates</th><th>duplicate effects</th><th>spurious declines</th><th>charge p95 SLO</th></tr>\n");
    for r in &c.rows {
        let pm = |s: &SpreadMs| format!("{} / {}", opt(s.p95), opt(s.max));
        let _ = writeln!(
            out,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
            esc(&r.drill),
            esc(&r.write_path),
            pm(&r.overspend_incidents),
            pm(&r.lost_updates),
            pm(&r.duplicate_effects),
            pm(&r.spurious_declines),
            match r.slo_ok {
                Some(true) => "pass",
                Some(false) => "fail",
                None => "nodata",
            },
            match r.slo_ok {
                Some(true) => "pass",
                Some(false) => "FAIL",
                None => "not judged",
            }
        );
    }
    out.push_str("</table>\n");
}

fn plan_table(out: &mut String, p: &PlanFigures) {
    out.push_str("<h2>Designs</h2>\n<table><tr><th>rank</th><th class=\"l\">design</th><th>charge p95 ms</th><th>read p95 ms</th><th>data_age p99 ms</th><th>worst-site RTO p95 s</th><th class=\"l\">verdict</th></tr>\n");
    for d in &p.designs {
        let (class, verdict) = match &d.rejected {
            None if d.pareto => ("pass", "accepted, Pareto".to_string()),
            None => ("pass", "accepted".to_string()),
            Some(why) => ("fail", why.clone()),
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"l {class}\">{}</td></tr>",
            d.rank.map_or("-".to_string(), |r| r.to_string()),
            esc(&d.design),
            opt(d.charge_p95_ms),
            opt(d.read_p95_ms),
            opt(d.staleness_p99_ms),
            esc(d.rto.as_deref().unwrap_or("-")),
            esc(&verdict)
        );
    }
    out.push_str("</table>\n");
    if let Some(best) = p.designs.first().filter(|d| d.rank == Some(1)) {
        let _ = writeln!(
            out,
            "<h2>Error budgets of {}, every fault at every site</h2>",
            esc(&best.design)
        );
        budget_table(out, &p.budgets);
    }
}

fn pbs_table(out: &mut String, p: &PbsFigures) {
    out.push_str("<h2>t-visibility</h2>\n<table><tr><th class=\"l\">P(consistent)</th><th>t (ms)</th></tr>\n");
    for (q, t) in &p.t_visibility_ms {
        let _ = writeln!(
            out,
            "<tr><td class=\"l\">{}</td><td>{}</td></tr>",
            esc(q),
            num(*t)
        );
    }
    out.push_str("</table>\n");
}

/// The whole page.
pub fn page(
    report: &Report,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<String, ReportError> {
    let what = match &report.figures {
        Figures::Sim(_) => "kata86 sim".to_string(),
        Figures::Drill(d) => format!("kata86 drill {}", d.drill),
        Figures::Compare(_) => "kata86 compare".to_string(),
        Figures::Pbs(p) => format!("kata86 pbs {}", p.model),
        Figures::Plan(_) => "kata86 plan".to_string(),
    };
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{} report</title>\n<style>{CSS}</style>\n</head>\n<body>\n<h1>{} report</h1>\n\
         <p>Reproduce it byte for byte (seed <b>{}</b>):</p>\n<pre class=\"cmd\" id=\"command\">{}</pre>\n",
        esc(&what),
        esc(&what),
        report.seed,
        esc(&report.command)
    );
    let plots = plan(report);
    let total = plots.len();
    for (done, (id, title, p)) in plots.into_iter().enumerate() {
        progress(done, total);
        let svg = render(&title, &p)?;
        let _ = write!(
            out,
            "<h2>{}</h2>\n<figure id=\"{id}\">\n{}\n<figcaption>{}</figcaption>\n</figure>\n",
            esc(&title),
            svg.trim_end(),
            esc(&caption(&p))
        );
    }
    match &report.figures {
        Figures::Sim(f) => {
            out.push_str("<h2>SLO verdicts</h2>\n");
            let all: Vec<Verdict> = f.cells.iter().flat_map(|c| c.slo.clone()).collect();
            slo_table(&mut out, &all);
        }
        Figures::Drill(d) => drill_tables(&mut out, d),
        Figures::Compare(c) => compare_table(&mut out, c),
        Figures::Pbs(p) => pbs_table(&mut out, p),
        Figures::Plan(p) => plan_table(&mut out, p),
    }
    progress(total, total);
    let data = serde_json::to_string(report)?;
    let _ = write!(
        out,
        "<pre id=\"kata86-figures\" hidden>{}</pre>\n</body>\n</html>\n",
        esc(&data)
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_plain() {
        assert_eq!(slug("promote-auto / async"), "promote-auto-async");
        assert_eq!(slug(" VN "), "vn");
    }

    #[test]
    fn escaping_covers_markup() {
        assert_eq!(esc("a<b & \"c\">"), "a&lt;b &amp; &quot;c&quot;&gt;");
    }
}
