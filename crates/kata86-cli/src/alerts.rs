//! `kata86 alerts`: the arguments and the glue; the rules are written by
//! [`output::alerts`].

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use engine::drill::{run_drill, Builtin, DrillConfig};
use output::alerts::{self as text, Replay};

use crate::files::read_scenario;
use crate::{CliError, Verdict};

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

impl RuleSet {
    fn set(self) -> text::RuleSet {
        match self {
            RuleSet::All => text::RuleSet::All,
            RuleSet::BurnRate => text::RuleSet::BurnRate,
            RuleSet::Threshold => text::RuleSet::Threshold,
        }
    }
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
    let jp = engine::drill::DESIGN.jp;
    let (mut cfg, source) = match (&a.drill, &a.scenario) {
        (_, Some(path)) => (
            read_scenario(path, a.allow_long)?,
            format!("scenario {}", path.display()),
        ),
        (Some(name), None) => (
            DrillConfig::builtin(name.engine(), jp),
            format!("drill {name}"),
        ),
        (None, None) if a.format == AlertFormat::PromtoolTest => {
            return Err(CliError::Usage(
                "--format promtool-test replays a drill: give --drill NAME or --scenario FILE"
                    .into(),
            ))
        }
        (None, None) => (
            DrillConfig::builtin(Builtin::Baseline, jp),
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
    let policy = cfg.set_burn(a.budget_days, &a.burn)?;
    let (set, command) = (a.rules.set(), command(a));
    let text = match a.format {
        AlertFormat::Table => text::table(&cfg, &source, set, &policy)?,
        AlertFormat::Prometheus => text::rules_yaml(&cfg, &source, &command, set, &policy)?,
        AlertFormat::PromtoolTest => {
            let warmup_s = slo::parse_duration(&a.replay_warmup).ok_or_else(|| {
                CliError::Usage(format!(
                    "--replay-warmup {}: give a duration such as 6h or 3d",
                    a.replay_warmup
                ))
            })?;
            let result = run_drill(&cfg, a.seed)?;
            let replay = Replay {
                result: &result,
                seed: a.seed,
                rules_file: &a.rules_file,
                warmup_s,
            };
            text::promtool_test(&cfg, &source, &command, set, &policy, &replay)?
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
