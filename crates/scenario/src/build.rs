//! From the file as written to a validated configuration, checking every
//! field where it stands.

use engine::drill::{Builtin, DrillConfig, Fault, FaultKind, JpRole};
use engine::ops::{AlertRule, Flag, FlagSpan, Signal};
use metrics::{Series, Slo};
use replication::clock::ClockModel;
use replication::{EpisodicLag, IidLag, LagModel};
use toml::Spanned;
use topology::{Micros, RegionId, Topology, TopologyBuilder};

use crate::bounds::{bound, show, Length, Work};
use crate::error::{Locator, ScenarioError};
use crate::schema::{ClockSpec, FaultSpec, ScenarioFile, TopologyFile};

/// Signal names as scenario files spell them.
pub const SIGNALS: &[(&str, Signal)] = &[
    ("lag_p95_ms", Signal::LagP95),
    ("lag_p99_ms", Signal::LagP99),
    ("charge_p95_ms", Signal::ChargeP95),
    ("charge_p99_ms", Signal::ChargeP99),
    ("read_error_rate", Signal::ReadErrorRate),
    ("charge_error_rate", Signal::ChargeErrorRate),
    ("stale_read_share", Signal::StaleReadShare),
    ("rejected_share", Signal::RejectedShare),
];

/// Parses TOML text into `T`, locating a syntax or schema error.
fn parse<T: serde::de::DeserializeOwned>(
    loc: &Locator<'_>,
    text: &str,
) -> Result<T, ScenarioError> {
    toml::from_str(text).map_err(|e| {
        let span = e.span();
        let mut err = loc.plain(span.as_ref(), e.message().trim().to_string());
        // Name the key the error stands on, when its line reads `key = value`.
        if let Some(line) = err.line.and_then(|l| text.lines().nth(l - 1)) {
            if let Some((key, _)) = line.split_once('=') {
                let key = key.trim();
                if !key.is_empty() && !key.starts_with('[') && !key.contains(['{', '"']) {
                    err.field = Some(key.to_string());
                }
            }
        }
        err
    })
}

/// The keys a topology file holds at top level (a scenario under
/// `[topology]`).
const TOPOLOGY_KEYS: [&str; 3] = ["regions", "links", "sites"];

/// Which kind of file the top-level keys of `text` say it is: `None` when
/// it is not TOML (the parse that follows locates the error).
fn kind(text: &str) -> Option<FileKind> {
    let table: toml::Table = toml::from_str(text).ok()?;
    let world: Vec<&str> = TOPOLOGY_KEYS
        .into_iter()
        .filter(|k| table.contains_key(*k))
        .collect();
    let other: Vec<String> = table
        .keys()
        .filter(|k| !TOPOLOGY_KEYS.contains(&k.as_str()))
        .cloned()
        .collect();
    Some(if world.is_empty() {
        FileKind::Scenario { other }
    } else if other.is_empty() {
        FileKind::Topology
    } else {
        FileKind::Mixed { other }
    })
}

/// What a file's top-level keys make it.
enum FileKind {
    /// `regions`, `links`, `sites` at top level and nothing else.
    Topology,
    /// No topology key at top level; `other` are its keys.
    Scenario { other: Vec<String> },
    /// Topology keys at top level beside scenario keys.
    Mixed { other: Vec<String> },
}

/// A topology file (regions, links, sites at top level) → a validated
/// topology with `jitter_ms` of per-leg jitter. A scenario file whose only
/// table is `[topology]` is read as that topology; one with more is
/// refused as a scenario file, with the fix.
pub fn parse_topology(text: &str, jitter_ms: f64) -> Result<Topology, ScenarioError> {
    let loc = Locator::new(text);
    if let Some(FileKind::Scenario { other }) = kind(text) {
        if other.iter().any(|k| k == "topology") {
            let rest: Vec<&String> = other.iter().filter(|k| *k != "topology").collect();
            if rest.is_empty() {
                let sc: ScenarioFile = parse(&loc, text)?;
                let t = sc.topology.as_ref().expect("the key is there");
                return topology(&loc, t, jitter_ms);
            }
            return Err(loc.plain(
                None,
                format!(
                    "this looks like a scenario file (a [topology] table beside {}), not a \
                     topology file: a topology file holds only regions, links and sites at top \
                     level; play the scenario with `kata86 drill --scenario FILE` (or `plan`, \
                     `compare`, `pbs` --scenario), or keep only its [topology] table here",
                    rest.iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    let file: TopologyFile = parse(&loc, text)?;
    topology(&loc, &file, jitter_ms)
}

/// Quotes a name as the file wrote it.
fn quoted(s: &str) -> Option<String> {
    Some(format!("\"{s}\""))
}

fn topology(
    loc: &Locator<'_>,
    t: &TopologyFile,
    jitter_ms: f64,
) -> Result<Topology, ScenarioError> {
    let regions: Vec<&str> = t.regions.iter().map(|r| r.get_ref().as_str()).collect();
    let known = regions.join(", ");
    let first = t.regions.first().map(|r| r.span());
    for (i, r) in t.regions.iter().enumerate() {
        let name = r.get_ref();
        if name.trim().is_empty() {
            return Err(loc.error(
                Some(&r.span()),
                "regions",
                quoted(name),
                "a region needs a name",
            ));
        }
        if regions[..i].contains(&name.as_str()) {
            return Err(loc.error(
                Some(&r.span()),
                "regions",
                quoted(name),
                "declared twice; region names must be unique",
            ));
        }
    }
    if regions.is_empty() || t.sites.is_empty() {
        return Err(loc.plain(
            first.as_ref(),
            "a topology needs at least one region (`regions`) and one client site (`sites`)",
        ));
    }
    let region = |s: &Spanned<String>, field: &str| -> Result<usize, ScenarioError> {
        regions
            .iter()
            .position(|r| r == s.get_ref())
            .ok_or_else(|| {
                loc.error(
                    Some(&s.span()),
                    field,
                    quoted(s.get_ref()),
                    format!("unknown region (declared: {known})"),
                )
            })
    };
    let n = regions.len();
    let mut rtt: Vec<Option<f64>> = vec![None; n * n];
    for l in &t.links {
        let l = l.get_ref();
        let (a, b) = (region(&l.a, "links.a")?, region(&l.b, "links.b")?);
        if a == b {
            return Err(loc.error(
                Some(&l.b.span()),
                "links.b",
                quoted(l.b.get_ref()),
                "a link joins two different regions; a region talks to itself for free",
            ));
        }
        let v = bound("topology.links.rtt_ms").check(
            loc,
            "rtt_ms",
            *l.rtt_ms.get_ref(),
            &l.rtt_ms.span(),
        )?;
        if let Some(prev) = rtt[a * n + b] {
            return Err(loc.error(
                Some(&l.rtt_ms.span()),
                "rtt_ms",
                Some(show(v)),
                format!(
                    "the link {} <-> {} is given twice (first {} ms); give one value per pair",
                    regions[a],
                    regions[b],
                    show(prev)
                ),
            ));
        }
        rtt[a * n + b] = Some(v);
        rtt[b * n + a] = Some(v);
    }
    for a in 0..n {
        for b in a + 1..n {
            if rtt[a * n + b].is_none() {
                return Err(loc.plain(
                    first.as_ref(),
                    format!(
                        "no link {} <-> {}; give every pair of regions a link with its rtt_ms",
                        regions[a], regions[b]
                    ),
                ));
            }
        }
    }
    let mut builder = TopologyBuilder::new().jitter_ms(jitter_ms);
    for r in &regions {
        builder = builder.region(r);
    }
    for a in 0..n {
        for b in a + 1..n {
            builder = builder.link(regions[a], regions[b], rtt[a * n + b].unwrap_or_default());
        }
    }
    let mut sites: Vec<&str> = Vec::new();
    for s in &t.sites {
        let site = s.get_ref();
        let name = site.name.get_ref();
        if name.trim().is_empty() {
            return Err(loc.error(
                Some(&site.name.span()),
                "sites.name",
                quoted(name),
                "a client site needs a name",
            ));
        }
        if sites.contains(&name.as_str()) {
            return Err(loc.error(
                Some(&site.name.span()),
                "sites.name",
                quoted(name),
                "declared twice; site names must be unique",
            ));
        }
        sites.push(name);
        if site.home.get_ref().trim().is_empty() {
            return Err(loc.error(
                Some(&site.home.span()),
                "sites.home",
                quoted(site.home.get_ref()),
                format!("site {name} needs a home region (declared: {known})"),
            ));
        }
        region(&site.home, "sites.home")?;
        let mut rtts = Vec::new();
        for (r, v) in &site.rtt_ms {
            if !regions.contains(&r.as_str()) {
                return Err(loc.error(
                    Some(&v.span()),
                    format!("sites.rtt_ms.{r}"),
                    Some(loc.written(&v.span())),
                    format!("unknown region `{r}` (declared: {known})"),
                ));
            }
            let v = bound("topology.sites.rtt_ms").check(
                loc,
                &format!("rtt_ms.{r}"),
                *v.get_ref(),
                &v.span(),
            )?;
            rtts.push((r.as_str(), v));
        }
        if let Some(missing) = regions.iter().find(|r| !site.rtt_ms.contains_key(**r)) {
            return Err(loc.error(
                Some(&site.name.span()),
                "sites.rtt_ms",
                None,
                format!("site {name} has no RTT to region {missing}; give one to every region"),
            ));
        }
        builder = builder.site(name, site.home.get_ref(), &rtts);
    }
    builder
        .build()
        .map_err(|e| loc.plain(first.as_ref(), e.to_string()))
}

/// Seconds or milliseconds as written → µs. Callers bound the value first,
/// so the product is exact and far from overflow.
fn us(value: f64, unit_us: f64) -> Micros {
    (value * unit_us).round() as Micros
}

/// Offsets (ms, possibly negative) → signed µs.
fn signed_us(ms: f64) -> i64 {
    (ms * 1000.0).round() as i64
}

/// A name from a closed list, parsed with `FromStr` whose error lists the
/// choices.
fn choice<T: std::str::FromStr>(
    loc: &Locator<'_>,
    field: &str,
    s: &Spanned<String>,
) -> Result<T, ScenarioError>
where
    T::Err: std::fmt::Display,
{
    s.get_ref()
        .parse()
        .map_err(|e: T::Err| loc.error(Some(&s.span()), field, quoted(s.get_ref()), e.to_string()))
}

/// A scenario file → a validated drill. `default_name` names it when the
/// file does not; `length` says whether a run over the normal size may go
/// ahead.
pub fn parse_drill(
    default_name: &str,
    text: &str,
    length: Length,
) -> Result<DrillConfig, ScenarioError> {
    let loc = Locator::new(text);
    // A topology file is a scenario whose world is that topology, with
    // every other setting at its default.
    let (sc, world): (ScenarioFile, Option<TopologyFile>) = match kind(text) {
        Some(FileKind::Topology) => (parse(&loc, "")?, Some(parse(&loc, text)?)),
        Some(FileKind::Mixed { other }) => {
            return Err(loc.plain(
                None,
                format!(
                    "this looks like a topology file (regions, links or sites at top level) \
                     with scenario keys ({}): in a scenario file, put regions, links and sites \
                     under a [topology] table",
                    other
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ))
        }
        _ => (parse(&loc, text)?, None),
    };
    let topology_only = world.is_some();
    let loc = &loc;
    let mut cfg = DrillConfig::builtin(Builtin::RegionDown, JpRole::Replica);
    cfg.builtin = None;
    cfg.faults.clear();
    // A file's timeline plays as written unless it asks for drawn onsets.
    cfg.onset_window = 0;
    if let Some(t) = sc.topology.as_ref().or(world.as_ref()) {
        cfg.topology = topology(loc, t, 0.0)?;
    }
    let topo = cfg.topology.clone();
    let region = |s: &Spanned<String>, field: &str| -> Result<RegionId, ScenarioError> {
        topo.region(s.get_ref())
            .map_err(|e| loc.error(Some(&s.span()), field, quoted(s.get_ref()), e.to_string()))
    };
    cfg.name = match &sc.name {
        Some(n) if n.get_ref().trim().is_empty() => {
            return Err(loc.error(
                Some(&n.span()),
                "name",
                quoted(n.get_ref()),
                "give the scenario a name, or leave the key out",
            ))
        }
        Some(n) => n.get_ref().clone(),
        None => default_name.to_string(),
    };
    let duration_s = match &sc.duration_s {
        Some(d) => bound("duration_s").check(loc, "duration_s", *d.get_ref(), &d.span())?,
        None => 300.0,
    };
    cfg.duration = us(duration_s, 1e6);
    cfg.leader = match &sc.leader {
        Some(l) => region(l, "leader")?,
        // A topology file names no leader: SG if it has one, else its
        // first region.
        None if topology_only => topo
            .region("SG")
            .ok()
            .or_else(|| topo.region_ids().next())
            .expect("a topology has a region"),
        None => topo.region("SG").map_err(|_| {
            loc.plain(
                None,
                format!(
                    "no region SG in the topology: name the leader with `leader` (regions: {})",
                    region_names(&topo)
                ),
            )
        })?,
    };
    cfg.witnesses.clear();
    for w in sc.witnesses.iter().flatten() {
        let r = region(w, "witnesses")?;
        if cfg.witnesses.contains(&r) {
            return Err(loc.error(
                Some(&w.span()),
                "witnesses",
                quoted(w.get_ref()),
                "listed twice",
            ));
        }
        if r == cfg.leader {
            return Err(loc.error(
                Some(&w.span()),
                "witnesses",
                quoted(w.get_ref()),
                "the leader cannot be a witness: a witness serves no reads and never leads",
            ));
        }
        cfg.witnesses.push(r);
    }
    if let Some(p) = &sc.policy {
        cfg.policy = choice(loc, "policy", p)?;
    }
    if let Some(r) = &sc.replication {
        cfg.replication = choice(loc, "replication", r)?;
    }
    if let Some(s) = &sc.strategy {
        cfg.strategy = choice(loc, "strategy", s)?;
    }
    if let Some(w) = &sc.watermark {
        cfg.watermark = choice(loc, "watermark", w)?;
    }
    if let Some(f) = sc.fencing {
        cfg.fencing = f;
    }
    if let Some(o) = sc.offset_check {
        cfg.max_offset_enforced = o;
    }
    if let Some(m) = &sc.model {
        cfg.lag = match m.get_ref().as_str() {
            "iid" => LagModel::Iid(IidLag::default()),
            "episodic" => LagModel::Episodic(EpisodicLag::default()),
            other => {
                return Err(loc.error(
                    Some(&m.span()),
                    "model",
                    quoted(other),
                    "choose iid or episodic",
                ))
            }
        };
    }
    if let Some(r) = &sc.rate {
        cfg.rate = bound("rate").check(loc, "rate", *r.get_ref(), &r.span())?;
    }
    if let Some(a) = &sc.accounts {
        let n = bound("accounts").check(loc, "accounts", *a.get_ref(), &a.span())?;
        if n.fract() != 0.0 {
            return Err(loc.error(
                Some(&a.span()),
                "accounts",
                Some(show(n)),
                "give a whole number of accounts",
            ));
        }
        cfg.workload.accounts = n as u32;
    }
    let work = Work::drill_on(
        cfg.rate,
        duration_s,
        topo.site_ids().count(),
        topo.region_count(),
    );
    if let Some(why) = work.refusal(length) {
        let span = sc
            .rate
            .as_ref()
            .map(|r| r.span())
            .or(sc.duration_s.as_ref().map(|d| d.span()));
        return Err(loc.error(span.as_ref(), "rate x duration_s x sites", None, why));
    }
    if let Some(f) = &sc.slo_file {
        if f.get_ref().trim().is_empty() {
            return Err(loc.error(
                Some(&f.span()),
                "slo_file",
                quoted(f.get_ref()),
                "give the path of an OpenSLO file (relative to this file), or drop slo_file",
            ));
        }
        if let Some(first) = sc.slo.first() {
            return Err(loc.error(
                Some(&first.span()),
                "slo",
                None,
                format!(
                    "this file takes its objectives from slo_file = {}; one world has one \
                     source of SLOs: drop the [[slo]] tables or slo_file",
                    loc.written(&f.span())
                ),
            ));
        }
        if let Some(d) = &sc.slo_budget_days {
            return Err(loc.error(
                Some(&d.span()),
                "slo_budget_days",
                Some(loc.written(&d.span())),
                "the budget period is the time window of the OpenSLO file slo_file names: \
                 drop slo_budget_days",
            ));
        }
    }
    if !sc.slo.is_empty() {
        cfg.slos = sc
            .slo
            .iter()
            .map(|s| slo(loc, &topo, s))
            .collect::<Result<_, _>>()?;
    }
    let within = |field: &str, v: &Spanned<f64>, key: &str| -> Result<Micros, ScenarioError> {
        let x = bound(key).check(loc, field, *v.get_ref(), &v.span())?;
        if x > duration_s {
            return Err(loc.error(
                Some(&v.span()),
                field,
                Some(show(x)),
                format!(
                    "after the drill ends at {} s (duration_s)",
                    show(duration_s)
                ),
            ));
        }
        Ok(us(x, 1e6))
    };
    for (i, f) in sc.fault.iter().enumerate() {
        cfg.faults
            .push(fault(loc, &region, &within, i, f.get_ref())?);
    }
    for f in &sc.flag {
        let spec = f.get_ref();
        let flag: Flag = choice(loc, "flag.name", &spec.name)?;
        let (on_field, off_field) = (format!("flag[{flag}].on_s"), format!("flag[{flag}].off_s"));
        let on = within(&on_field, &spec.on_s, "flag.on_s")?;
        let off = within(&off_field, &spec.off_s, "flag.off_s")?;
        if off <= on {
            return Err(loc.error(
                Some(&spec.off_s.span()),
                off_field,
                Some(loc.written(&spec.off_s.span())),
                format!(
                    "the flag must go off after it goes on at {} s",
                    show(*spec.on_s.get_ref())
                ),
            ));
        }
        if let Some(g) = cfg
            .flags
            .iter()
            .find(|g| g.flag == flag && on < g.off && g.on < off)
        {
            return Err(loc.error(
                Some(&spec.on_s.span()),
                on_field,
                Some(loc.written(&spec.on_s.span())),
                format!(
                    "{flag} is already on from {} s to {} s; merge the two windows",
                    show(g.on as f64 / 1e6),
                    show(g.off as f64 / 1e6)
                ),
            ));
        }
        cfg.flags.push(FlagSpan { flag, on, off });
    }
    if let Some(w) = &sc.signal_window_s {
        let x = bound("signal_window_s").check(loc, "signal_window_s", *w.get_ref(), &w.span())?;
        if x > duration_s {
            return Err(loc.error(
                Some(&w.span()),
                "signal_window_s",
                Some(show(x)),
                format!("longer than the drill ({} s)", show(duration_s)),
            ));
        }
        cfg.signal_window = us(x, 1e6);
    }
    if let Some(d) = &sc.slo_budget_days {
        let days =
            bound("slo_budget_days").check(loc, "slo_budget_days", *d.get_ref(), &d.span())?;
        cfg.budget.period = (days * 86_400e6).round() as Micros;
    }
    if let Some(a) = &sc.slo_incident_allowance {
        cfg.budget.incident_allowance = bound("slo_incident_allowance").check(
            loc,
            "slo_incident_allowance",
            *a.get_ref(),
            &a.span(),
        )?;
    }
    if let Some(r) = &sc.recovery_share {
        cfg.recovery_share =
            bound("recovery_share").check(loc, "recovery_share", *r.get_ref(), &r.span())?;
    }
    if let Some(h) = &sc.recovery_hold_s {
        let x = bound("recovery_hold_s").check(loc, "recovery_hold_s", *h.get_ref(), &h.span())?;
        if x > duration_s {
            return Err(loc.error(
                Some(&h.span()),
                "recovery_hold_s",
                Some(loc.written(&h.span())),
                format!("longer than the drill ({} s)", show(duration_s)),
            ));
        }
        cfg.recovery_hold = us(x, 1e6);
    }
    if let Some(w) = &sc.onset_window_s {
        let x = bound("onset_window_s").check(loc, "onset_window_s", *w.get_ref(), &w.span())?;
        cfg.onset_window = us(x, 1e6);
    }
    if !sc.alert.is_empty() {
        // Alerts listed in the file replace the defaults.
        cfg.alerts.clear();
    }
    for a in &sc.alert {
        let spec = a.get_ref();
        let name = spec.name.get_ref();
        if name.trim().is_empty() || cfg.alerts.iter().any(|r| &r.name == name) {
            return Err(loc.error(
                Some(&spec.name.span()),
                "alert.name",
                quoted(name),
                "give every alert a name of its own",
            ));
        }
        let signal = SIGNALS
            .iter()
            .find(|(n, _)| *n == spec.signal.get_ref())
            .map(|(_, s)| *s)
            .ok_or_else(|| {
                let known: Vec<&str> = SIGNALS.iter().map(|(n, _)| *n).collect();
                loc.error(
                    Some(&spec.signal.span()),
                    "alert.signal",
                    quoted(spec.signal.get_ref()),
                    format!("unknown signal (choose from: {})", known.join(", ")),
                )
            })?;
        let threshold = bound("alert.threshold").check(
            loc,
            "alert.threshold",
            *spec.threshold.get_ref(),
            &spec.threshold.span(),
        )?;
        let ratio = matches!(
            signal,
            Signal::ReadErrorRate
                | Signal::ChargeErrorRate
                | Signal::StaleReadShare
                | Signal::RejectedShare
        );
        if ratio && threshold > 1.0 {
            return Err(loc.error(
                Some(&spec.threshold.span()),
                "alert.threshold",
                Some(show(threshold)),
                format!(
                    "signal `{}` is a share from 0 to 1, so this alert could never fire; give \
                     e.g. 0.05 for 5 %",
                    spec.signal.get_ref()
                ),
            ));
        }
        let hold = match &spec.for_s {
            Some(f) => us(
                bound("alert.for_s").check(loc, "alert.for_s", *f.get_ref(), &f.span())?,
                1e6,
            ),
            None => 0,
        };
        cfg.alerts.push(AlertRule {
            name: name.clone(),
            signal,
            threshold,
            hold,
        });
    }
    if !sc.clock.is_empty() {
        cfg.clocks = vec![ClockModel::Exact; topo.region_count()];
    }
    let mut clocked: Vec<RegionId> = Vec::new();
    for c in &sc.clock {
        let spec = c.get_ref();
        let r = region(&spec.region, "clock.region")?;
        if clocked.contains(&r) {
            return Err(loc.error(
                Some(&spec.region.span()),
                "clock.region",
                quoted(spec.region.get_ref()),
                "this region's clock is already given; one [[clock]] per region",
            ));
        }
        clocked.push(r);
        cfg.clocks[r.idx()] = clock(loc, &within, spec)?;
    }
    cfg.validate().map_err(|e| match e {
        engine::EngineError::BadFault { index, reason } => {
            let span = sc.fault.get(index).map(|f| f.span());
            loc.plain(span.as_ref(), format!("fault {}: {reason}", index + 1))
        }
        other => loc.plain(None, other.to_string()),
    })?;
    if let Some(w) = &sc.onset_window_s {
        cfg.check_onset_window().map_err(|e| {
            loc.error(
                Some(&w.span()),
                "onset_window_s",
                Some(loc.written(&w.span())),
                e.to_string(),
            )
        })?;
    }
    Ok(cfg)
}

fn region_names(t: &Topology) -> String {
    t.regions()
        .iter()
        .map(|r| r.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn slo(
    loc: &Locator<'_>,
    topo: &Topology,
    s: &Spanned<crate::schema::SloSpec>,
) -> Result<Slo, ScenarioError> {
    let s = s.get_ref();
    let series = match s.series.get_ref().as_str() {
        "read" => Series::Read,
        "write" | "charge" => Series::Write,
        "staleness" => Series::Staleness,
        "read_availability" => Series::ReadAvailability,
        "charge_availability" => Series::ChargeAvailability,
        other => {
            return Err(loc.error(
                Some(&s.series.span()),
                "slo.series",
                quoted(other),
                "choose read, charge, staleness, read_availability or charge_availability",
            ))
        }
    };
    let name = s.name.get_ref();
    if name.trim().is_empty() {
        return Err(loc.error(
            Some(&s.name.span()),
            "slo.name",
            quoted(name),
            "give the objective a name",
        ));
    }
    let q = bound("slo.quantile").check(
        loc,
        "slo.quantile",
        *s.quantile.get_ref(),
        &s.quantile.span(),
    )?;
    let target = match (&s.target_ms, series.is_availability()) {
        (Some(t), false) => {
            bound("slo.target_ms").check(loc, "slo.target_ms", *t.get_ref(), &t.span())?
        }
        (None, true) => 0.0,
        (Some(t), true) => {
            return Err(loc.error(
                Some(&t.span()),
                "slo.target_ms",
                Some(t.get_ref().to_string()),
                "an availability objective counts answers, not times: drop target_ms",
            ))
        }
        (None, false) => return Err(loc.error(
            Some(&s.series.span()),
            "slo.target_ms",
            None,
            "a latency or staleness objective needs target_ms (the bound a good event is under)",
        )),
    };
    let mut slo = Slo::new(name, series, q, target)
        .map_err(|e| loc.plain(Some(&s.name.span()), e.to_string()))?;
    if let Some(m) = &s.measure {
        let measure = match (m.get_ref().as_str(), series) {
            ("data_age", Series::Staleness) => metrics::StalenessMeasure::DataAge,
            ("reported", Series::Staleness) => metrics::StalenessMeasure::Reported,
            (other, Series::Staleness) => {
                return Err(loc.error(
                    Some(&m.span()),
                    "slo.measure",
                    quoted(other),
                    "choose data_age (the true age of the balance returned) or reported (the watermark age a replica publishes)",
                ))
            }
            (other, _) => {
                return Err(loc.error(
                    Some(&m.span()),
                    "slo.measure",
                    quoted(other),
                    "only a staleness objective names a measure: drop it",
                ))
            }
        };
        slo = slo.with_measure(measure);
    }
    Ok(match &s.site {
        Some(site) => {
            topo.site(site.get_ref()).map_err(|e| {
                loc.error(
                    Some(&site.span()),
                    "slo.site",
                    quoted(site.get_ref()),
                    e.to_string(),
                )
            })?;
            slo.for_site(site.get_ref())
        }
        None => slo,
    })
}

/// The one value of an optional field a fault or clock kind needs.
fn needed<'s, T>(
    loc: &Locator<'_>,
    kind: &Spanned<String>,
    field: &str,
    v: &'s Option<Spanned<T>>,
) -> Result<&'s Spanned<T>, ScenarioError> {
    v.as_ref().ok_or_else(|| {
        loc.error(
            Some(&kind.span()),
            "kind",
            quoted(kind.get_ref()),
            format!("a {} needs `{field}`", kind.get_ref()),
        )
    })
}

/// Refuses a field that the kind does not use.
fn unused<T>(
    loc: &Locator<'_>,
    kind: &Spanned<String>,
    field: &str,
    v: &Option<Spanned<T>>,
) -> Result<(), ScenarioError> {
    match v {
        Some(x) => Err(loc.error(
            Some(&x.span()),
            field,
            None,
            format!("does not apply to a {}", kind.get_ref()),
        )),
        None => Ok(()),
    }
}

type RegionOf<'a> = dyn Fn(&Spanned<String>, &str) -> Result<RegionId, ScenarioError> + 'a;
type Within<'a> = dyn Fn(&str, &Spanned<f64>, &str) -> Result<Micros, ScenarioError> + 'a;

fn fault(
    loc: &Locator<'_>,
    region: &RegionOf<'_>,
    within: &Within<'_>,
    i: usize,
    f: &FaultSpec,
) -> Result<Fault, ScenarioError> {
    let k = &f.kind;
    let field = |name: &str| format!("fault[{}].{name}", i + 1);
    // Which of the optional fields each kind takes; any other must be absent.
    let uses: &[&str] = match k.get_ref().as_str() {
        "region-down" => &["region"],
        "partition" => &["a", "b", "both_ways"],
        "lag-spike" => &["from", "to", "extra_ms"],
        "link-delay" => &["a", "b", "direction", "delay_ms"],
        "disk-stall" => &["region", "stall_ms"],
        other => {
            return Err(loc.error(
                Some(&k.span()),
                field("kind"),
                quoted(other),
                "choose region-down, partition, lag-spike, link-delay or disk-stall",
            ))
        }
    };
    for (n, v) in [
        ("region", &f.region),
        ("a", &f.a),
        ("b", &f.b),
        ("from", &f.from),
        ("to", &f.to),
        ("direction", &f.direction),
    ] {
        if !uses.contains(&n) {
            unused(loc, k, n, v)?;
        }
    }
    for (n, v) in [
        ("extra_ms", &f.extra_ms),
        ("delay_ms", &f.delay_ms),
        ("stall_ms", &f.stall_ms),
    ] {
        if !uses.contains(&n) {
            unused(loc, k, n, v)?;
        }
    }
    if !uses.contains(&"both_ways") {
        unused(loc, k, "both_ways", &f.both_ways)?;
    }
    // A number a kind needs, within its bound, in µs.
    let amount = |name: &str, v: &Option<Spanned<f64>>| -> Result<Micros, ScenarioError> {
        let v = needed(loc, k, name, v)?;
        let x =
            bound(&format!("fault.{name}")).check(loc, &field(name), *v.get_ref(), &v.span())?;
        Ok(us(x, 1e3))
    };
    // Two different regions, `second` named where they are the same.
    let pair = |first: (&str, &Option<Spanned<String>>),
                second: (&str, &Option<Spanned<String>>),
                why: &str|
     -> Result<(RegionId, RegionId), ScenarioError> {
        let (x, y) = (
            needed(loc, k, first.0, first.1)?,
            needed(loc, k, second.0, second.1)?,
        );
        let (rx, ry) = (region(x, &field(first.0))?, region(y, &field(second.0))?);
        if rx == ry {
            return Err(loc.error(Some(&y.span()), field(second.0), quoted(y.get_ref()), why));
        }
        Ok((rx, ry))
    };
    let kind = match k.get_ref().as_str() {
        "region-down" => FaultKind::RegionDown {
            region: region(needed(loc, k, "region", &f.region)?, &field("region"))?,
        },
        "partition" => {
            let (a, b) = pair(
                ("a", &f.a),
                ("b", &f.b),
                "a partition needs two different regions",
            )?;
            FaultKind::Partition {
                a,
                b,
                both_ways: f.both_ways.as_ref().is_none_or(|w| *w.get_ref()),
            }
        }
        "lag-spike" => {
            let (from, to) = pair(
                ("from", &f.from),
                ("to", &f.to),
                "a lag spike slows a link between two different regions",
            )?;
            FaultKind::LagSpike {
                from,
                to,
                extra: amount("extra_ms", &f.extra_ms)?,
            }
        }
        "link-delay" => {
            let (a, b) = pair(
                ("a", &f.a),
                ("b", &f.b),
                "a link delay slows a link between two different regions",
            )?;
            let (from, to, both_ways) =
                match f.direction.as_ref().map(|d| (d, d.get_ref().as_str())) {
                    None | Some((_, "both")) => (a, b, true),
                    Some((_, "a->b")) => (a, b, false),
                    Some((_, "b->a")) => (b, a, false),
                    Some((d, other)) => {
                        return Err(loc.error(
                            Some(&d.span()),
                            field("direction"),
                            quoted(other),
                            "choose both (the default), a->b or b->a",
                        ))
                    }
                };
            FaultKind::LinkDelay {
                from,
                to,
                both_ways,
                extra: amount("delay_ms", &f.delay_ms)?,
            }
        }
        // "disk-stall": the kind was checked above.
        _ => FaultKind::DiskStall {
            region: region(needed(loc, k, "region", &f.region)?, &field("region"))?,
            extra: amount("stall_ms", &f.stall_ms)?,
        },
    };
    let start = within(&field("start_s"), &f.start_s, "fault.start_s")?;
    let end = within(&field("end_s"), &f.end_s, "fault.end_s")?;
    if end <= start {
        return Err(loc.error(
            Some(&f.end_s.span()),
            field("end_s"),
            Some(loc.written(&f.end_s.span())),
            format!(
                "the fault must end after it starts at {} s",
                show(*f.start_s.get_ref())
            ),
        ));
    }
    Ok(Fault { kind, start, end })
}

fn clock(
    loc: &Locator<'_>,
    within: &Within<'_>,
    c: &ClockSpec,
) -> Result<ClockModel, ScenarioError> {
    let k = &c.kind;
    let ms = |key: &str, v: &Spanned<f64>| -> Result<i64, ScenarioError> {
        Ok(signed_us(bound(key).check(
            loc,
            key,
            *v.get_ref(),
            &v.span(),
        )?))
    };
    let opt_ms = |key: &str, v: &Option<Spanned<f64>>| -> Result<i64, ScenarioError> {
        v.as_ref().map_or(Ok(0), |v| ms(key, v))
    };
    // Which of the optional fields each kind takes; any other must be absent.
    let uses: &[&str] = match k.get_ref().as_str() {
        "offset" => &["offset_ms"],
        "drift" => &["offset_ms", "ppm"],
        "step" => &["at_s", "before_ms", "after_ms"],
        "periodic" => &["amplitude_ms", "period_s", "noise_ms"],
        other => {
            return Err(loc.error(
                Some(&k.span()),
                "clock.kind",
                quoted(other),
                "choose offset, drift, step or periodic",
            ))
        }
    };
    for (n, v) in [
        ("offset_ms", &c.offset_ms),
        ("ppm", &c.ppm),
        ("at_s", &c.at_s),
        ("before_ms", &c.before_ms),
        ("after_ms", &c.after_ms),
        ("amplitude_ms", &c.amplitude_ms),
        ("period_s", &c.period_s),
        ("noise_ms", &c.noise_ms),
    ] {
        if !uses.contains(&n) {
            unused(loc, k, n, v)?;
        }
    }
    let model = match k.get_ref().as_str() {
        "offset" => ClockModel::Offset {
            offset: ms(
                "clock.offset_ms",
                needed(loc, k, "offset_ms", &c.offset_ms)?,
            )?,
        },
        "drift" => {
            let ppm = needed(loc, k, "ppm", &c.ppm)?;
            ClockModel::Drift {
                offset: opt_ms("clock.offset_ms", &c.offset_ms)?,
                ppm: bound("clock.ppm").check(loc, "clock.ppm", *ppm.get_ref(), &ppm.span())?,
            }
        }
        "step" => ClockModel::Step {
            at: within("clock.at_s", needed(loc, k, "at_s", &c.at_s)?, "clock.at_s")?,
            before: ms(
                "clock.before_ms",
                needed(loc, k, "before_ms", &c.before_ms)?,
            )?,
            after: ms("clock.after_ms", needed(loc, k, "after_ms", &c.after_ms)?)?,
        },
        // "periodic": the kind was checked above.
        _ => {
            let period = needed(loc, k, "period_s", &c.period_s)?;
            let p = bound("clock.period_s").check(
                loc,
                "clock.period_s",
                *period.get_ref(),
                &period.span(),
            )?;
            ClockModel::Periodic {
                amplitude: ms(
                    "clock.amplitude_ms",
                    needed(loc, k, "amplitude_ms", &c.amplitude_ms)?,
                )?,
                period: us(p, 1e6),
                noise: opt_ms("clock.noise_ms", &c.noise_ms)?,
                // Replaced by the run's own sub-stream `clock/<region>`.
                seed: 0,
            }
        }
    };
    model
        .validate()
        .map_err(|e| loc.plain(Some(&k.span()), e.to_string()))?;
    Ok(model)
}

/// An OpenSLO file a scenario includes (`slo_file`): the path as written
/// (relative to the scenario file) and where it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SloInclude {
    /// The path, as written.
    pub path: String,
    /// Line of `slo_file`'s value (1-based).
    pub line: usize,
    /// Column of `slo_file`'s value (1-based).
    pub column: usize,
}

/// The OpenSLO file a scenario includes, if any. The CLI reads it and
/// replaces the configuration's objectives with its documents
/// ([`parse_drill`] has checked that the file has no `[[slo]]` beside it).
pub fn slo_include(text: &str) -> Result<Option<SloInclude>, ScenarioError> {
    #[derive(serde::Deserialize)]
    struct Top {
        slo_file: Option<Spanned<String>>,
    }
    let loc = Locator::new(text);
    let top: Top = parse(&loc, text)?;
    Ok(top.slo_file.map(|f| {
        let (line, column) = loc.at(&f.span());
        SloInclude {
            path: f.get_ref().clone(),
            line,
            column,
        }
    }))
}
