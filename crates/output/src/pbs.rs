//! `kata86 pbs`: the run's settings and its [`Report`] as a table, JSON or
//! the t-visibility curve as CSV.

use std::io::Write;

use quorum::{round_ms, round_p, Config, Report, T_VIS_LABELS};

/// The JSON document: the settings, then the figures, each serialised by
/// its own type.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct Pbs<'a> {
    /// What was run.
    #[serde(flatten)]
    pub config: &'a Config,
    /// The world whose RTTs the replicas' latencies come from (absent for
    /// a published latency fit, `--preset`, which has no world).
    #[serde(flatten)]
    pub world: Option<crate::WorldKeys>,
    /// What it measured.
    #[serde(flatten)]
    pub report: &'a Report,
    /// The command that reproduces it.
    pub command: &'a str,
}

/// Writes the JSON document; `world` is the topology the model was built
/// on (`None` for a preset).
pub fn json(
    cfg: &Config,
    rep: &Report,
    world: Option<&topology::Topology>,
    command: &str,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    crate::json(
        out,
        &Pbs {
            config: cfg,
            world: world.map(crate::WorldKeys::of),
            report: rep,
            command,
        },
    )
}

/// Writes the curve as CSV: `t_ms,p_consistent`, one row per point.
pub fn csv(rep: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "t_ms,p_consistent")?;
    for p in &rep.curve {
        writeln!(out, "{},{}", round_ms(p.t_ms), round_p(p.p_consistent))?;
    }
    Ok(())
}

/// Writes the human tables (`world` as for [`json`]).
pub fn table(
    cfg: &Config,
    rep: &Report,
    world: Option<&topology::Topology>,
    command: &str,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    writeln!(
        out,
        "pbs {}: N = {}, R = {}, W = {}, {} trials, seed {}",
        cfg.model.name, cfg.n, cfg.r, cfg.w, cfg.trials, cfg.seed
    )?;
    if let Some(t) = world {
        writeln!(out, "world: {}", topology::WorldLine(t))?;
    }
    writeln!(out)?;
    writeln!(out, "| latency (ms) | p50 | p99 | p99.9 |")?;
    writeln!(out, "|---|---|---|---|")?;
    for (what, p) in [("read", rep.read_ms), ("write", rep.write_ms)] {
        writeln!(
            out,
            "| {what} | {} | {} | {} |",
            round_ms(p.p50),
            round_ms(p.p99),
            round_ms(p.p999)
        )?;
    }
    writeln!(out)?;
    writeln!(out, "| t-visibility | t (ms) |")?;
    writeln!(out, "|---|---|")?;
    for (l, t) in T_VIS_LABELS.iter().zip(rep.t_visibility_ms) {
        writeln!(out, "| p >= {l} | {} |", round_ms(t))?;
    }
    writeln!(out)?;
    writeln!(out, "| k-staleness | simulated | closed form |")?;
    writeln!(out, "|---|---|---|")?;
    for k in &rep.k_staleness {
        writeln!(
            out,
            "| k = {} | {} | {} |",
            k.k,
            round_p(k.simulated),
            round_p(k.closed_form)
        )?;
    }
    writeln!(out)?;
    writeln!(out, "| t (ms) | P(consistent) |")?;
    writeln!(out, "|---|---|")?;
    let every = rep.curve.len().div_ceil(10).max(1);
    for (j, p) in rep.curve.iter().enumerate() {
        if j % every == 0 || j + 1 == rep.curve.len() {
            writeln!(
                out,
                "| {} | {} |",
                round_ms(p.t_ms),
                round_p(p.p_consistent)
            )?;
        }
    }
    writeln!(out, "reproduce: {command}")
}
