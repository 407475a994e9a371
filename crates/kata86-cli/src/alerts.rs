//! `kata86 alerts`: the alert rules for people (a table), as Prometheus
//! alerting rules, or as a `promtool test rules` file that replays a drill.
//!
//! The metric names, bucket bounds and the PromQL of every signal are the
//! engine's ([`engine::ops::prometheus`], next to the signals they
//! recompute); this module only lays them out. YAML is written by hand: a
//! few fixed shapes, every string quoted by [`quote`].

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use engine::drill::{run_drill, Builtin, DrillConfig, DrillResult, JpRole};
use engine::ops::prometheus::{self as prom, Fit, Query};
use engine::ops::AlertRule;
use tabled::settings::Style;
use tabled::{Table, Tabled};
use topology::Micros;

use crate::files::read_scenario;
use crate::{CliError, Verdict};

/// Where every alert points for what to do: DESIGN.md's runbook.
const RUNBOOK_URL: &str = "DESIGN.md#7-runbook";
/// Every rule pages: DESIGN.md's runbook starts on any alert.
const SEVERITY: &str = "page";

/// `kata86 alerts` output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AlertFormat {
    /// The rules for people.
    Table,
    /// A Prometheus alerting-rules file.
    Prometheus,
    /// A `promtool test rules` file: a drill's windows as input series, the
    /// drill's own alerts as the expected ones (needs --drill or --scenario).
    PromtoolTest,
}

/// Which rules `kata86 alerts` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RuleSet {
    /// The burn-rate rules and the threshold rules, for comparison.
    All,
    /// Multi-window multi-burn-rate alerts generated from the SLOs.
    BurnRate,
    /// The threshold rules (the simulator's monitor).
    Threshold,
}

/// `kata86 alerts` options.
#[derive(Debug, Args)]
pub struct AlertsArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = AlertFormat::Table)]
    pub format: AlertFormat,

    /// The rules and window of this built-in drill; for promtool-test, the
    /// drill replayed [default: the defaults every built-in drill uses].
    #[arg(long, value_name = "NAME", value_enum)]
    pub drill: Option<crate::args::DrillName>,

    /// The rules, window and (for promtool-test) the timeline of a TOML
    /// scenario file.
    #[arg(long, value_name = "FILE", conflicts_with = "drill")]
    pub scenario: Option<PathBuf>,

    /// Replace the world's SLOs with the objectives of an OpenSLO v1 file
    /// (`apiVersion: openslo/v1`, `kind: SLO` documents, as `kata86 slo
    /// export` writes them); its time window becomes the budget period (unless --budget-days).
    /// The rules are generated from them. The same as a scenario's `slo_file`, which it overrides.
    #[arg(long, value_name = "FILE.yaml")]
    pub slo_file: Option<PathBuf>,

    /// promtool-test: the drill's seed.
    #[arg(long, default_value_t = 86)]
    pub seed: u64,

    /// promtool-test: the rules file the test loads, relative to the test
    /// file.
    #[arg(long, value_name = "PATH", default_value = "rules.yml")]
    pub rules_file: String,

    /// Accept a scenario over the normal size (see `kata86 drill --help`).
    #[arg(long)]
    pub allow_long: bool,

    /// Which rules: the burn-rate rules generated from the SLOs, the
    /// threshold rules, or both.
    #[arg(long, value_enum, default_value_t = RuleSet::All)]
    pub rules: RuleSet,

    /// The error budget's period, in days [default: the scenario's
    /// `slo_budget_days`, else 30].
    #[arg(long, value_name = "DAYS")]
    pub budget_days: Option<f64>,

    /// A burn-rate window pair, SEVERITY:LONG/SHORT:FACTOR (e.g.
    /// page:1h/5m:14.4); repeat for each pair. Replaces the SRE workbook's
    /// four (page 1h/5m at 14.4 and 6h/30m at 6, ticket 1d/2h at 3 and
    /// 3d/6h at 1).
    #[arg(long, value_name = "PAIR")]
    pub burn: Vec<String>,

    /// promtool-test: the failover policy the drill plays [default: the
    /// drill's or scenario's].
    #[arg(long, value_enum)]
    pub policy: Option<crate::args::PolicyArg>,

    /// promtool-test: how long the steady state before the drill is
    /// replayed for the burn-rate rules (windows reaching further back see
    /// nothing there, in the test and in its expected alerts alike).
    #[arg(long, value_name = "DURATION", default_value = "6h")]
    pub replay_warmup: String,
}

/// The burn-rate policy of `cfg` with the command line's changes applied
/// (the same for `alerts` and `drill`).
pub fn burn_policy(
    cfg: &mut DrillConfig,
    budget_days: Option<f64>,
    burn: &[String],
) -> Result<slo::BurnPolicy, CliError> {
    if let Some(days) = budget_days {
        if !(days.is_finite() && (1.0..=366.0).contains(&days)) {
            return Err(CliError::Usage(format!(
                "--budget-days {days}: give a number of days from 1 to 366"
            )));
        }
        cfg.budget.period = (days * 86_400e6).round() as Micros;
    }
    if !burn.is_empty() {
        cfg.burn_windows = burn
            .iter()
            .map(|b| slo::BurnWindow::parse(b))
            .collect::<Result<_, _>>()?;
    }
    let p = cfg.burn_policy();
    p.validate()?;
    // Pairs given on the command line that no objective's error ratio could
    // reach are refused, for the drill as for the rules (the rules also
    // refuse the default pairs against a loose objective; a drill then
    // reports that they never fire).
    if !burn.is_empty() {
        for s in &cfg.slos {
            p.check_target(&s.name, s.quantile)?;
        }
    }
    Ok(p)
}

/// Runs `kata86 alerts`. Everything is checked before anything is written.
pub fn run(a: &AlertsArgs, out: &mut dyn Write) -> Result<Verdict, CliError> {
    if a.rules_file.trim().is_empty() {
        return Err(CliError::Usage(
            "--rules-file is empty: give the path of the rules file the test loads, relative \
             to the test file (default rules.yml)"
                .into(),
        ));
    }
    if a.format != AlertFormat::PromtoolTest && a.rules_file != "rules.yml" {
        return Err(CliError::Usage(
            "--rules-file is only written into a promtool test: add --format promtool-test, or \
             drop --rules-file"
                .into(),
        ));
    }
    let (mut cfg, source) = match (&a.drill, &a.scenario) {
        (_, Some(path)) => (
            read_scenario(path, a.allow_long)?,
            format!("scenario {}", path.display()),
        ),
        (Some(name), None) => (
            DrillConfig::builtin(name.engine(), JpRole::Replica),
            format!("drill {name}"),
        ),
        (None, None) if a.format == AlertFormat::PromtoolTest => {
            return Err(CliError::Usage(
                "--format promtool-test replays a drill: give --drill NAME or --scenario FILE"
                    .into(),
            ))
        }
        (None, None) => (
            DrillConfig::builtin(Builtin::Baseline, JpRole::Replica),
            "the defaults every built-in drill uses".into(),
        ),
    };
    crate::files::slo_file_arg(
        &crate::files::Inputs::disk(),
        a.slo_file.as_deref(),
        &mut cfg,
    )?;
    if let Some(p) = &a.policy {
        if a.format != AlertFormat::PromtoolTest {
            return Err(CliError::Usage(
                "--policy chooses the drill a promtool test replays: add --format promtool-test"
                    .into(),
            ));
        }
        cfg.policy = p.engine();
    }
    let policy = burn_policy(&mut cfg, a.budget_days, &a.burn)?;
    let text = match a.format {
        AlertFormat::Table => table(&cfg, &source, a.rules, &policy)?,
        AlertFormat::Prometheus => rules_yaml(&cfg, &source, &command(a), a.rules, &policy)?,
        AlertFormat::PromtoolTest => {
            let r = run_drill(&cfg, a.seed)?;
            let mut y = if a.rules == RuleSet::BurnRate {
                comment(
                    "",
                    &format!(
                        "promtool unit test of {}: {source} (seed {}), replayed.\n\
                         Generated by: {}\nDo not edit; regenerate.",
                        a.rules_file,
                        a.seed,
                        command(a)
                    ),
                ) + &format!(
                    "rule_files:\n  - {}\nevaluation_interval: {}\ntests:\n",
                    quote(&a.rules_file),
                    slo::rules::duration(cfg.burn_step_s())
                )
            } else {
                test_yaml(&cfg, &r, &source, a.seed, &command(a), &a.rules_file)?
            };
            if a.rules != RuleSet::Threshold {
                let warmup = slo::parse_duration(&a.replay_warmup).ok_or_else(|| {
                    CliError::Usage(format!(
                        "--replay-warmup {}: give a duration such as 6h or 3d",
                        a.replay_warmup
                    ))
                })?;
                y.push_str(&burn_test_yaml(&cfg, &r, &policy, warmup)?);
            }
            y
        }
    };
    out.write_all(text.as_bytes())?;
    Ok(Verdict::Clean)
}

/// The command that writes this output.
fn command(a: &AlertsArgs) -> String {
    let format = a
        .format
        .to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default();
    let mut cmd = format!("kata86 alerts --format {format}");
    if let Some(d) = &a.drill {
        cmd.push_str(&format!(" --drill {d}"));
    }
    if let Some(s) = &a.scenario {
        cmd.push_str(&format!(" --scenario {}", s.display()));
    }
    if let Some(s) = &a.slo_file {
        cmd.push_str(&format!(" --slo-file {}", s.display()));
    }
    if let Some(p) = &a.policy {
        cmd.push_str(&format!(" --policy {}", p.name()));
    }
    if a.format == AlertFormat::PromtoolTest {
        cmd.push_str(&format!(" --seed {} --rules-file {}", a.seed, a.rules_file));
    }
    if a.allow_long {
        cmd.push_str(" --allow-long");
    }
    if a.rules != RuleSet::All {
        if let Some(v) = a.rules.to_possible_value() {
            cmd.push_str(&format!(" --rules {}", v.get_name()));
        }
    }
    if let Some(d) = a.budget_days {
        cmd.push_str(&format!(" --budget-days {d}"));
    }
    for b in &a.burn {
        cmd.push_str(&format!(" --burn {b}"));
    }
    if a.format == AlertFormat::PromtoolTest && a.replay_warmup != "6h" {
        cmd.push_str(&format!(" --replay-warmup {}", a.replay_warmup));
    }
    cmd
}

/// A float as a promtool sample value: the shortest form that reads back
/// as the same number.
fn sample(x: f64) -> String {
    format!("{x}")
}

/// The burn-rate rules' test: the drill's per-second SLI counts as the
/// per-site metrics, after `warmup_s` of the steady state each site's
/// evaluation assumes, and for every alert the simulator's state at each
/// evaluation where it changes (and the one before), at the first and at
/// the last.
fn burn_test_yaml(
    cfg: &DrillConfig,
    r: &DrillResult,
    policy: &slo::BurnPolicy,
    warmup_s: u64,
) -> Result<String, CliError> {
    let step = cfg.burn_step_s();
    let warmup_steps = warmup_s / step;
    let warmup_s = warmup_steps * step;
    let groups = burn_groups(cfg, policy)?;
    let t = &cfg.topology;
    let sites: Vec<&str> = t.site_ids().map(|s| t.site_name(s)).collect();
    let seconds = r.duration / 1_000_000;
    let last = seconds / step * step;
    let mut y = comment(
        "  ",
        &format!(
            "The burn-rate rules (groups kata86-slo-*): {} of each site's steady state\n\
             (its rate over the run, bad at its steady-state share), then the drill's\n\
             per-second SLI counts, as the per-site metrics of docs/metrics.md sampled\n\
             every {step} s; expected: the simulator's own evaluation of the same rules\n\
             (slo::eval) on the same counts. The drill's second 0 is at {}.",
            slo::rules::duration(warmup_s),
            slo::rules::duration(warmup_s.max(1)),
        ),
    );
    let _ = write!(
        y,
        "  - interval: {}\n    input_series:\n",
        slo::rules::duration(step)
    );
    for (si, site) in sites.iter().enumerate() {
        let inputs = r.burn_inputs.get(si).map(Vec::as_slice).unwrap_or(&[]);
        let objectives: Vec<slo::replay::Objective> = cfg
            .slos
            .iter()
            .zip(inputs)
            .filter_map(|(slo, b)| {
                b.as_ref().map(|b| slo::replay::Objective {
                    slo,
                    good: &b.good,
                    valid: &b.valid,
                    warmup: b.warmup,
                })
            })
            .collect();
        for series in slo::replay::series(site, &objectives, step) {
            // The warm-up's last value as promtool expands `0+bxn`: b added
            // n times (a product can differ in the last bit, and a counter
            // that goes down by one bit is a reset to Prometheus).
            let base = (0..warmup_steps).fold(0.0, |k, _| k + series.warmup_step);
            let mut v = vec![format!("0+{}x{warmup_steps}", sample(series.warmup_step))];
            let mut total = base;
            for (i, c) in series.run.iter().enumerate() {
                total += c;
                if (i as u64 + 1).is_multiple_of(step) && (i as u64) < last {
                    v.push(sample(total));
                }
            }
            let _ = writeln!(y, "      - series: {}", quote(&series.name));
            let _ = writeln!(y, "        values: {}", quote(&v.join(" ")));
        }
    }
    y.push_str("    alert_rule_test:\n");
    let mut asserted = 0;
    for (j, slo) in cfg.slos.iter().enumerate() {
        if !slo::replay::replayable(slo) {
            y.push_str(&comment(
                "      ",
                &format!(
                    "{}: not asserted: {}",
                    slo.name,
                    slo::indicator::DATA_AGE_STAND_IN
                ),
            ));
            continue;
        }
        let mut severities: Vec<slo::Severity> =
            policy.windows.iter().map(|w| w.severity).collect();
        severities.sort();
        severities.dedup();
        for sev in severities {
            let name = slo::rules::alert_name(&slo.name, sev);
            // Per site: its firings, evaluated as the test sees the counts.
            let mut per_site: Vec<(&str, Vec<slo::Firing>)> = Vec::new();
            for (si, site) in sites.iter().enumerate() {
                let Some(Some(b)) = r.burn_inputs.get(si).and_then(|v| v.get(j)) else {
                    continue;
                };
                let c = b.counts().with_warmup_limit(warmup_s);
                let f: Vec<slo::Firing> = slo::eval::evaluate(&c, policy, slo.quantile, step)
                    .into_iter()
                    .filter(|f| f.severity == sev)
                    .collect();
                per_site.push((site, f));
            }
            if per_site.is_empty() {
                continue;
            }
            let mut times = vec![step.min(last), last];
            for (_, fs) in &per_site {
                for f in fs {
                    for t in [Some(f.fired_at_s), f.resolved_at_s].into_iter().flatten() {
                        times.push(t);
                        times.push(t.saturating_sub(step));
                    }
                }
            }
            times.retain(|&t| t >= step && t <= last);
            times.sort_unstable();
            times.dedup();
            let spans: Vec<String> = per_site
                .iter()
                .map(|(site, fs)| {
                    let f: Vec<String> = fs
                        .iter()
                        .map(|f| match f.resolved_at_s {
                            Some(e) => format!("{} s to {} s", f.fired_at_s, e),
                            None => format!("from {} s", f.fired_at_s),
                        })
                        .collect();
                    format!(
                        "{site} {}",
                        if f.is_empty() {
                            "never".into()
                        } else {
                            f.join(", ")
                        }
                    )
                })
                .collect();
            y.push_str(&comment(
                "      ",
                &format!(
                    "{name}: the simulator fires it at {} (drill time)",
                    spans.join("; ")
                ),
            ));
            for t in times {
                let at = slo::rules::duration(warmup_s + t);
                let firing: Vec<&str> = per_site
                    .iter()
                    .filter(|(_, fs)| {
                        fs.iter()
                            .any(|f| f.fired_at_s <= t && f.resolved_at_s.is_none_or(|e| t < e))
                    })
                    .map(|(s, _)| *s)
                    .collect();
                asserted += 1;
                if firing.is_empty() {
                    let _ = writeln!(
                        y,
                        "      - {{eval_time: {at}, alertname: {}, exp_alerts: []}}",
                        quote(&name)
                    );
                    continue;
                }
                let _ = writeln!(
                    y,
                    "      - eval_time: {at}\n        alertname: {}\n        exp_alerts:",
                    quote(&name)
                );
                for site in firing {
                    let rule = groups
                        .iter()
                        .flat_map(|g| &g.rules)
                        .find(|x| {
                            x.kind == slo::RuleKind::Alert(name.clone())
                                && x.labels.contains(&("site".into(), site.to_string()))
                        })
                        .ok_or_else(|| CliError::Usage(format!("no rule {name} at {site}")))?;
                    y.push_str("          - exp_labels:\n");
                    for (k, v) in &rule.labels {
                        let _ = writeln!(y, "              {k}: {}", quote(v));
                    }
                    y.push_str("            exp_annotations:\n");
                    for (k, v) in &rule.annotations {
                        let _ = writeln!(y, "              {k}: {}", quote(v));
                    }
                }
            }
        }
    }
    if asserted == 0 {
        y.push_str("      []\n");
    }
    Ok(y)
}

/// The burn-rate rule groups of `cfg`'s objectives at its sites.
fn burn_groups(cfg: &DrillConfig, policy: &slo::BurnPolicy) -> Result<Vec<slo::Group>, CliError> {
    let t = &cfg.topology;
    let sites: Vec<&str> = t.site_ids().map(|s| t.site_name(s)).collect();
    let step = cfg.burn_step_s();
    Ok(slo::rules::burn_rules(
        &cfg.slos,
        &sites,
        policy,
        step,
        RUNBOOK_URL,
    )?)
}

/// The burn-rate groups as YAML list items under `groups:`.
fn burn_yaml(groups: &[slo::Group]) -> String {
    let mut y = String::new();
    for g in groups {
        let _ = writeln!(
            y,
            "  - name: {}
    interval: {}
    rules:{}",
            quote(&g.name),
            slo::rules::duration(g.interval_s),
            if g.rules.is_empty() { " []" } else { "" }
        );
        for r in &g.rules {
            match &r.kind {
                slo::RuleKind::Record(name) => {
                    let _ = writeln!(y, "      - record: {}", quote(name));
                }
                slo::RuleKind::Alert(name) => {
                    let _ = writeln!(y, "      - alert: {}", quote(name));
                }
            }
            let _ = writeln!(y, "        expr: {}", quote(&r.expr));
            if !r.labels.is_empty() {
                y.push_str("        labels:\n");
                for (k, v) in &r.labels {
                    let _ = writeln!(y, "          {k}: {}", quote(v));
                }
            }
            if !r.annotations.is_empty() {
                y.push_str("        annotations:\n");
                for (k, v) in &r.annotations {
                    let _ = writeln!(y, "          {k}: {}", quote(v));
                }
            }
        }
    }
    y
}

/// A duration as rule files write it, or why it cannot be.
fn duration(us: Micros, what: &str) -> Result<String, CliError> {
    prom::duration(us).ok_or_else(|| {
        CliError::Usage(format!(
            "{what} ({us} µs) is not a whole number of milliseconds, which Prometheus cannot express"
        ))
    })
}

/// The rule's threshold in its query's unit, for people.
fn threshold(rule: &AlertRule) -> String {
    match prom::query(rule.signal) {
        Query::Quantile { .. } => format!("{} s", prom::threshold(rule)),
        Query::Ratio { .. } => prom::threshold(rule).to_string(),
    }
}

/// Why the rule may not fire where the simulator's monitor does, if it may not.
fn fit_note(rule: &AlertRule) -> Option<String> {
    match prom::fit(rule) {
        Fit::Exact => None,
        Fit::Inside { lower, upper } => Some(format!(
            "threshold {} is inside the bucket ({lower}, {upper}] s, where \
             histogram_quantile interpolates: it can fire in other windows than the \
             simulator's monitor (docs/metrics.md)",
            threshold(rule)
        )),
        Fit::AboveLast { last } => Some(format!(
            "threshold {} is over the highest bucket bound ({last} s), which \
             histogram_quantile never exceeds: this rule cannot fire",
            threshold(rule)
        )),
    }
}

/// A rule's annotations, the same in the rules file and in a test's
/// expected alerts.
fn annotations(rule: &AlertRule, window: &str, hold: &str) -> [(&'static str, String); 3] {
    let what = prom::describe(rule.signal);
    [
        ("summary", format!("{what} over {}", threshold(rule))),
        (
            "description",
            format!(
                "The {what} {} (the simulator's alert {}). Metrics, and how the query \
                 relates to the simulator's signal: docs/metrics.md.",
                if rule.hold == 0 {
                    format!("was over {} in the last {window} window", threshold(rule))
                } else {
                    format!(
                        "has been over {} in every {window} window for {hold}",
                        threshold(rule)
                    )
                },
                rule.name
            ),
        ),
        ("runbook_url", RUNBOOK_URL.into()),
    ]
}

/// Text as a YAML scalar: single-quoted (`'` doubled) when every character
/// prints, else double-quoted with escapes, so any rule name is safe.
fn quote(s: &str) -> String {
    let special = |c: char| {
        c.is_control()
            || matches!(
                c,
                '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
            )
    };
    if !s.chars().any(special) {
        return format!("'{}'", s.replace('\'', "''"));
    }
    let mut q = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            '\t' => q.push_str("\\t"),
            c if special(c) => q.push_str(&format!("\\u{:04x}", c as u32)),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

/// A counter's samples in promtool's notation: `a+bxn` for a run of n + 1
/// values growing by b each, single values otherwise.
fn values(v: &[u64]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let step = v.get(i + 1).and_then(|next| next.checked_sub(v[i]));
        // How many values after v[i] keep growing by that step.
        let run = (i + 1..v.len())
            .take_while(|&j| step.is_some() && v[j].checked_sub(v[j - 1]) == step)
            .count();
        match step {
            Some(step) if run >= 2 => {
                parts.push(format!("{}+{step}x{run}", v[i]));
                i += run + 1;
            }
            _ => {
                parts.push(v[i].to_string());
                i += 1;
            }
        }
    }
    parts.join(" ")
}

/// `text` as YAML comment lines indented by `indent`, split wherever YAML
/// would see a line break (so no text can end a comment early).
fn comment(indent: &str, text: &str) -> String {
    text.split(['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}'])
        .map(|l| format!("{indent}# {l}\n"))
        .collect()
}

/// The Prometheus rules file: the threshold rules in one group evaluated
/// every window, the burn-rate rules in one group per objective.
fn rules_yaml(
    cfg: &DrillConfig,
    source: &str,
    command: &str,
    set: RuleSet,
    policy: &slo::BurnPolicy,
) -> Result<String, CliError> {
    let window = duration(cfg.signal_window, "the monitoring window")?;
    let burn = match set {
        RuleSet::Threshold => Vec::new(),
        _ => burn_groups(cfg, policy)?,
    };
    let mut head = String::new();
    if set != RuleSet::BurnRate {
        head.push_str(&format!(
            "Threshold alerting rules generated from the simulator's alert rules\n\
             ({source}), over the metrics of docs/metrics.md, evaluated every {window}\n\
             window as the simulator's monitor is (group kata86).\n"
        ));
    }
    if set != RuleSet::Threshold {
        let pairs: Vec<String> = policy.windows.iter().map(|w| w.to_string()).collect();
        head.push_str(&format!(
            "Multi-window multi-burn-rate alerts generated from the SLOs ({source}):\n\
             per SLO and site, the error ratio recorded over each window and one alert\n\
             per severity, over a {} error budget ({}),\n\
             over the per-site SLI metrics of docs/metrics.md (groups kata86-slo-*).\n",
            slo::rules::duration(policy.period_s),
            pairs.join(", ")
        ));
    }
    let mut y = comment(
        "",
        &format!("{head}Generated by: {command}\nDo not edit; regenerate."),
    );
    y.push_str("groups:\n");
    if set == RuleSet::BurnRate {
        y.push_str(&burn_yaml(&burn));
        if burn.is_empty() {
            y.truncate(y.len() - 1);
            y.push_str(" []\n");
        }
        return Ok(y);
    }
    y.push_str(&format!(
        "  - name: 'kata86'\n    interval: {window}\n    rules:{}\n",
        if cfg.alerts.is_empty() { " []" } else { "" }
    ));
    for rule in &cfg.alerts {
        let hold = duration(rule.hold, &format!("alert {}'s hold", rule.name))?;
        if let Some(note) = fit_note(rule) {
            y.push_str(&comment("      ", &note));
        }
        let _ = writeln!(y, "      - alert: {}", quote(&rule.name));
        let expr = prom::alert_expr(rule, &window);
        let _ = writeln!(y, "        expr: {}", quote(&expr));
        let _ = writeln!(y, "        for: {hold}");
        let _ = writeln!(
            y,
            "        labels:\n          severity: {}",
            quote(SEVERITY)
        );
        y.push_str("        annotations:\n");
        for (k, v) in annotations(rule, &window, &hold) {
            let _ = writeln!(y, "          {k}: {}", quote(&v));
        }
    }
    y.push_str(&burn_yaml(&burn));
    Ok(y)
}

#[derive(Tabled)]
struct Row {
    alert: String,
    signal: &'static str,
    #[tabled(rename = "fires over")]
    over: String,
    #[tabled(rename = "for")]
    hold: String,
    #[tabled(rename = "exported as")]
    metric: String,
}

/// The rules for people: the threshold rules and the burn-rate alerts.
fn table(
    cfg: &DrillConfig,
    source: &str,
    set: RuleSet,
    policy: &slo::BurnPolicy,
) -> Result<String, CliError> {
    let mut y = String::new();
    if set != RuleSet::BurnRate {
        y.push_str(&threshold_table(cfg, source)?);
    }
    if set == RuleSet::Threshold {
        return Ok(y);
    }
    if !y.is_empty() {
        y.push('\n');
    }
    let groups = burn_groups(cfg, policy)?;
    let mut b = tabled::builder::Builder::default();
    b.push_record(
        [
            "severity",
            "long window",
            "short window",
            "burn rate",
            "budget spent when it fires",
        ]
        .map(String::from),
    );
    for w in &policy.windows {
        b.push_record([
            w.severity.name().to_string(),
            slo::rules::duration(w.long_s),
            slo::rules::duration(w.short_s),
            w.factor.to_string(),
            format!("{:.1} %", w.budget_spent(policy.period_s) * 100.0),
        ]);
    }
    let mut t = b.build();
    t.with(Style::psql());
    let _ = writeln!(
        y,
        "kata86 alerts: burn-rate alerts from {} SLOs ({source}), {} error budget, evaluated every {}\n\n{t}\n",
        cfg.slos.len(),
        slo::rules::duration(policy.period_s),
        slo::rules::duration(cfg.burn_step_s())
    );
    let t = &cfg.topology;
    let sites: Vec<&str> = t.site_ids().map(|s| t.site_name(s)).collect();
    for slo in &cfg.slos {
        for site in sites.iter().filter(|s| slo.applies_to(s)) {
            let sli = slo::indicator::indicator(slo, site);
            let _ = writeln!(
                y,
                "  {} at {site} ({} good): good {} / valid {}",
                slo.name, slo.quantile, sli.good, sli.total
            );
        }
    }
    let alerts: usize = groups
        .iter()
        .flat_map(|g| &g.rules)
        .filter(|r| matches!(r.kind, slo::RuleKind::Alert(_)))
        .count();
    let _ = writeln!(
        y,
        "\n{alerts} alerts; as a Prometheus rules file: kata86 alerts --format prometheus --rules burn-rate"
    );
    Ok(y)
}

/// The threshold rules for people, each with its PromQL.
fn threshold_table(cfg: &DrillConfig, source: &str) -> Result<String, CliError> {
    let window = duration(cfg.signal_window, "the monitoring window")?;
    let mut rows = Vec::new();
    for rule in &cfg.alerts {
        rows.push(Row {
            alert: rule.name.clone(),
            signal: scenario::SIGNALS
                .iter()
                .find(|(_, s)| *s == rule.signal)
                .map_or("?", |(n, _)| n),
            over: threshold(rule),
            hold: duration(rule.hold, &format!("alert {}'s hold", rule.name))?,
            metric: match prom::query(rule.signal) {
                Query::Quantile { histogram, .. } => histogram.to_string(),
                Query::Ratio {
                    numerator,
                    denominator,
                } => format!("{numerator} / {denominator}"),
            },
        });
    }
    let mut t = Table::new(rows);
    t.with(Style::psql());
    let mut y = format!(
        "kata86 alerts: {} rules ({source}), each evaluated on every {window} window\n\n{t}\n\nPromQL (metrics: docs/metrics.md):\n",
        cfg.alerts.len()
    );
    for rule in &cfg.alerts {
        let _ = writeln!(y, "  {}: {}", rule.name, prom::alert_expr(rule, &window));
    }
    for rule in &cfg.alerts {
        if let Some(note) = fit_note(rule) {
            let _ = writeln!(y, "note: {}: {note}", rule.name);
        }
    }
    y.push_str(
        "\nAs a Prometheus rules file: kata86 alerts --format prometheus --rules threshold\n",
    );
    Ok(y)
}

/// When the drill's monitor fired and resolved rule `i`, for people.
fn firings(r: &DrillResult, i: usize) -> String {
    let secs = |t: Micros| format!("{} s", t as f64 / 1e6);
    let spans: Vec<String> = r
        .alerts
        .iter()
        .filter(|f| f.alert.0 == i)
        .map(|f| match f.resolved_at {
            Some(end) => format!("{} to {}", secs(f.fired_at), secs(end)),
            None => format!("from {}", secs(f.fired_at)),
        })
        .collect();
    if spans.is_empty() {
        "never fired".into()
    } else {
        format!("firing {}", spans.join(", "))
    }
}

/// The `promtool test rules` file: the drill's windows as input series and,
/// for every rule whose threshold is exact, the monitor's state at every
/// window end as the expected alerts.
fn test_yaml(
    cfg: &DrillConfig,
    r: &DrillResult,
    source: &str,
    seed: u64,
    command: &str,
    rules_file: &str,
) -> Result<String, CliError> {
    let window = duration(cfg.signal_window, "the monitoring window")?;
    let faults: Vec<String> = cfg
        .faults
        .iter()
        .map(|f| format!("{} s to {} s", f.start as f64 / 1e6, f.end as f64 / 1e6))
        .collect();
    let mut y = comment(
        "",
        &format!(
            "promtool unit test of {rules_file}: {source} (seed {}), replayed. The input\n\
         series are what the drill's monitor counted in each {window} window, as running\n\
         totals; the expected alerts are the monitor's own, at every window end, for\n\
         every rule whose threshold is exact (docs/metrics.md). Faults: {}.\n\
         Generated by: {command}\nDo not edit; regenerate.",
            seed,
            if faults.is_empty() {
                "none".into()
            } else {
                faults.join(", ")
            }
        ),
    );
    let _ = write!(
        y,
        "rule_files:\n  - {}\nevaluation_interval: {window}\ntests:\n  - interval: {window}\n    input_series:\n",
        quote(rules_file)
    );
    for s in prom::series(&r.signals) {
        let _ = writeln!(y, "      - series: {}", quote(&s.name));
        let _ = writeln!(y, "        values: {}", quote(&values(&s.values)));
    }
    y.push_str("    alert_rule_test:\n");
    let mut asserted = 0;
    for (i, rule) in cfg.alerts.iter().enumerate() {
        let name = quote(&rule.name);
        y.push_str(&comment(
            "      ",
            &format!("{}: the drill's monitor {}", rule.name, firings(r, i)),
        ));
        if let Some(note) = fit_note(rule) {
            y.push_str(&comment("      ", &format!("not asserted: {note}")));
            continue;
        }
        let hold = duration(rule.hold, &format!("alert {}'s hold", rule.name))?;
        for s in &r.signals {
            let at = duration(s.at, "a window end")?;
            let firing = r.alerts.iter().any(|f| {
                f.alert.0 == i && f.fired_at <= s.at && f.resolved_at.is_none_or(|end| s.at < end)
            });
            asserted += 1;
            if !firing {
                let _ = writeln!(
                    y,
                    "      - {{eval_time: {at}, alertname: {name}, exp_alerts: []}}"
                );
                continue;
            }
            let _ = writeln!(
                y,
                "      - eval_time: {at}\n        alertname: {name}\n        exp_alerts:\n          \
                 - exp_labels:\n              severity: {}\n            exp_annotations:",
                quote(SEVERITY)
            );
            for (k, v) in annotations(rule, &window, &hold) {
                let _ = writeln!(y, "              {k}: {}", quote(&v));
            }
        }
    }
    if asserted == 0 {
        y.push_str("      []\n");
    }
    Ok(y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_quoted_single_unless_a_character_needs_an_escape() {
        assert_eq!(quote("lag"), "'lag'");
        assert_eq!(quote("it's {le=\"2\"}"), "'it''s {le=\"2\"}'");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a\tb\n\"c\"\\"), "\"a\\tb\\n\\\"c\\\"\\\\\"");
        assert_eq!(
            quote("x\u{85}\u{2028}\u{feff}"),
            "\"x\\u0085\\u2028\\ufeff\""
        );
        assert_eq!(quote("Tōkyō ✓"), "'Tōkyō ✓'");
    }

    #[test]
    fn counters_use_promtools_expanding_notation_for_even_runs() {
        assert_eq!(values(&[0, 0, 0, 0]), "0+0x3");
        assert_eq!(values(&[0, 5, 10, 15, 17, 40]), "0+5x3 17 40");
        assert_eq!(values(&[0, 2, 3]), "0 2 3");
        assert_eq!(values(&[0, 1, 2, 2, 2]), "0+1x2 2 2");
        assert_eq!(values(&[7]), "7");
        assert_eq!(values(&[]), "");
        // Not a counter (never written): listed as is.
        assert_eq!(values(&[5, 3, 1]), "5 3 1");
    }

    /// promtool expands `a+bxn` to n + 1 values: expanding the notation
    /// gives back the samples.
    #[test]
    fn the_notation_expands_back_to_the_samples() {
        let expand = |s: &str| -> Vec<u64> {
            s.split(' ')
                .flat_map(|p| match p.split_once('+') {
                    Some((a, rest)) => {
                        let (b, n) = rest.split_once('x').unwrap();
                        let (a, b, n): (u64, u64, u64) =
                            (a.parse().unwrap(), b.parse().unwrap(), n.parse().unwrap());
                        (0..=n).map(|k| a + b * k).collect::<Vec<_>>()
                    }
                    None => vec![p.parse().unwrap()],
                })
                .collect()
        };
        let samples = [0, 3, 6, 9, 9, 9, 9, 10, 12, 20, 28, 36, 44, 45];
        assert_eq!(expand(&values(&samples)), samples);
    }
}
