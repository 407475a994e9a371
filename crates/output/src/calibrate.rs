//! `kata86 calibrate postgres` for people: markdown tables of a
//! [`calibrate::Report`] (its JSON is the report's own serialisation).

use std::io::Write;

use calibrate::{model::Metric, Report};

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map(|v| format!("{v:.digits$}")).unwrap_or_default()
}

/// The calibration report for people: the fitted parameters, every
/// prediction beside its measurement, the standbys' own lag views, and
/// what `kata86 sim --lag-from` prints with the fitted law.
pub fn table(r: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    let f = &r.fitted;
    writeln!(
        out,
        "calibrate postgres: fitted on {} ({} s per configuration, {} repeat(s))",
        r.fitted_on, r.duration_s, r.repeats
    )?;
    writeln!(out)?;
    writeln!(out, "| fitted parameter | value |")?;
    writeln!(out, "|---|---|")?;
    writeln!(
        out,
        "| commit time p50 / p95 / p99 (ms) | {:.3} / {:.3} / {:.3} |",
        f.commit_ms.p50, f.commit_ms.p95, f.commit_ms.p99
    )?;
    writeln!(
        out,
        "| apply lag (ms) | {:.3} + U[0, {:.1}) |",
        f.apply_base_ms, f.apply_jitter_ms
    )?;
    writeln!(
        out,
        "| delay line per traversal p50 / p99 (ms) | {:.3} / {:.3} |",
        r.delay_line.p50_ms, r.delay_line.p99_ms
    )?;
    writeln!(
        out,
        "| delay line release lateness p50 / p99 (ms) | {:.3} / {:.3} |",
        r.delay_line_lateness_ms.p50, r.delay_line_lateness_ms.p99
    )?;
    writeln!(
        out,
        "| heartbeat period, offset (ms) | {:.0}, {:.3} |",
        f.heartbeat_ms, f.heartbeat_offset_ms
    )?;
    writeln!(
        out,
        "| fsync probe, 8 KiB (ms, not used to predict) | {:.3} |",
        f.fsync_probe_ms
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "| world | mode | metric | at | pct | n | measured ms | interval | predicted ms | interval | ratio | tolerance ms | within |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|---|---|")?;
    for c in &r.configurations {
        for row in c.rows.iter().filter(|row| {
            matches!(
                row.metric,
                Metric::Commit | Metric::Staleness | Metric::DataAge
            )
        }) {
            let within = match (c.in_sample, row.within) {
                (true, _) => "fit",
                (false, Some(true)) => "yes",
                (false, Some(false)) => "NO",
                (false, None) => "",
            };
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {:.1} | {:.1}–{:.1} | {} | {} | {} | {} | {} |",
                c.world,
                c.mode.name(),
                row.metric.name(),
                row.at,
                row.quantile,
                row.samples,
                row.measured_ms,
                row.measured_interval_ms[0],
                row.measured_interval_ms[1],
                opt(row.predicted_ms, 1),
                row.predicted_interval_ms
                    .map(|[a, b]| format!("{a:.1}–{b:.1}"))
                    .unwrap_or_default(),
                opt(row.ratio.filter(|x| x.is_finite()), 3),
                opt(row.tolerance_ms, 1),
                within
            )?;
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "| world | mode | standby | write_lag p50/p95 | flush_lag p50/p95 | replay_lag p50/p95 |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|")?;
    for c in &r.configurations {
        let lags: Vec<_> = c
            .rows
            .iter()
            .filter(|row| row.metric == Metric::WriteLag && row.quantile == "p50")
            .map(|row| row.at.clone())
            .collect();
        for at in lags {
            let get = |m: Metric, q: &str| {
                c.rows
                    .iter()
                    .find(|row| row.metric == m && row.at == at && row.quantile == q)
                    .map(|row| row.measured_ms)
                    .unwrap_or_default()
            };
            writeln!(
                out,
                "| {} | {} | {} | {:.1} / {:.1} | {:.1} / {:.1} | {:.1} / {:.1} |",
                c.world,
                c.mode.name(),
                at,
                get(Metric::WriteLag, "p50"),
                get(Metric::WriteLag, "p95"),
                get(Metric::FlushLag, "p50"),
                get(Metric::FlushLag, "p95"),
                get(Metric::ReplayLag, "p50"),
                get(Metric::ReplayLag, "p95"),
            )?;
        }
    }
    writeln!(out)?;
    let check = &r.sim_check;
    writeln!(
        out,
        "What `kata86 sim --lag-from` prints on {} (leader {}, --commit {:.3}: the fitted commit p95; \
         no delay line, no heartbeat), as the model predicts it; `--lag-out FILE` records the \
         command and these figures:",
        check.world, check.leader, check.commit_ms
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "| client | strategy | charge p95 | lag p50 | lag p95 | lag p99 | (sim --format csv) |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|")?;
    for c in &check.figures {
        let get = |k: &str| {
            c.columns
                .iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| {
                    v.parse::<f64>()
                        .map(|v| format!("{v:.0}"))
                        .unwrap_or_default()
                })
                .unwrap_or_default()
        };
        let csv: Vec<String> = c.columns.iter().map(|(k, v)| format!("{k}={v}")).collect();
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            c.client,
            c.strategy,
            get("write_p95_ms"),
            get("lag_p50_ms"),
            get("lag_p95_ms"),
            get("lag_p99_ms"),
            csv.join(" ")
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "{} of {} out-of-sample predictions within tolerance of the measured interval (the \
         predicted and measured order-statistic intervals, {} standard deviations of the rank \
         each way, at most this far apart: commit p50/p95 15 % or 5 ms; staleness and data age \
         p50/p95 20 % or 10 ms)",
        r.within,
        r.judged,
        calibrate::model::INTERVAL_Z
    )?;
    Ok(())
}
