//! Prometheus rules generated from the objectives: per objective and site,
//! a recording rule for the error ratio over every window the policy uses,
//! and one multi-window multi-burn-rate alert per severity.
//!
//! The rules are data ([`Group`], [`Rule`]); the CLI lays them out as YAML.

use metrics::Slo;

use crate::indicator::indicator;
use crate::policy::{BurnPolicy, Severity};
use crate::SloError;

/// The recorded error ratio over a window, labelled `slo` and `site`:
/// `kata86:slo_error_ratio:rate1h`.
pub fn record_name(window_s: u64) -> String {
    format!("kata86:slo_error_ratio:rate{}", duration(window_s))
}

/// A whole number of seconds as PromQL writes a range: `3d`, `6h`, `5m`,
/// `90s`.
pub fn duration(s: u64) -> String {
    match s {
        0 => "0s".into(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// What a rule does.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleKind {
    /// A recording rule: the series it records.
    Record(String),
    /// An alerting rule: the alert's name.
    Alert(String),
}

/// One rule of a group.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Recording or alerting, with its name.
    pub kind: RuleKind,
    /// The PromQL expression.
    pub expr: String,
    /// Labels the rule adds, in order.
    pub labels: Vec<(String, String)>,
    /// Annotations (alerts only), in order.
    pub annotations: Vec<(String, String)>,
}

/// A rule group: Prometheus evaluates its rules in order every `interval_s`.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The group's name.
    pub name: String,
    /// Its evaluation interval, in seconds.
    pub interval_s: u64,
    /// Its rules.
    pub rules: Vec<Rule>,
}

/// One objective's alert at one site and severity: `charge_availability_burn_page`.
pub fn alert_name(slo: &str, severity: Severity) -> String {
    format!("{slo}_burn_{}", severity.name())
}

/// The threshold an error ratio must exceed: `factor × (1 − target)`,
/// computed as PromQL computes `(factor * (1 - target))`.
pub fn threshold(factor: f64, target: f64) -> f64 {
    factor * (1.0 - target)
}

/// Whether `name` is a valid Prometheus metric (and alert) name.
fn valid_name(name: &str) -> bool {
    let mut c = name.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == ':')
}

/// Label values are written inside double quotes in PromQL.
fn valid_label(v: &str) -> bool {
    !v.chars().any(|c| c == '"' || c == '\\' || c.is_control())
}

/// The burn-rate rules for every objective at every site it covers (an
/// objective limited to a site the list lacks covers none), one group per
/// objective evaluated every `interval_s`. `runbook` goes into every
/// alert's `runbook_url`.
pub fn burn_rules(
    slos: &[Slo],
    sites: &[&str],
    policy: &BurnPolicy,
    interval_s: u64,
    runbook: &str,
) -> Result<Vec<Group>, SloError> {
    policy.validate()?;
    if interval_s == 0 {
        return Err(SloError::BadPolicy("the evaluation interval is 0 s".into()));
    }
    let mut windows: Vec<u64> = policy
        .windows
        .iter()
        .flat_map(|w| [w.short_s, w.long_s])
        .collect();
    windows.sort_unstable();
    windows.dedup();
    let mut severities: Vec<Severity> = policy.windows.iter().map(|w| w.severity).collect();
    severities.sort();
    severities.dedup();
    let mut groups = Vec::new();
    for slo in slos {
        if !valid_name(&slo.name) {
            return Err(SloError::BadName(slo.name.clone()));
        }
        policy.check_target(&slo.name, slo.quantile)?;
        let mut rules = Vec::new();
        for site in sites.iter().filter(|s| slo.applies_to(s)) {
            if !valid_label(site) {
                return Err(SloError::BadName((*site).to_owned()));
            }
            let sli = indicator(slo, site);
            let labels = vec![
                ("slo".to_string(), slo.name.clone()),
                ("site".to_string(), (*site).to_owned()),
            ];
            for &w in &windows {
                let d = duration(w);
                rules.push(Rule {
                    kind: RuleKind::Record(record_name(w)),
                    expr: format!(
                        "1 - (sum(rate({}[{d}])) / sum(rate({}[{d}])))",
                        sli.good, sli.total
                    ),
                    labels: labels.clone(),
                    annotations: vec![],
                });
            }
            let sel = format!("{{slo=\"{}\",site=\"{site}\"}}", slo.name);
            for &sev in &severities {
                let pairs: Vec<String> = policy
                    .windows
                    .iter()
                    .filter(|w| w.severity == sev)
                    .map(|w| {
                        let t = format!("({} * (1 - {}))", w.factor, slo.quantile);
                        format!(
                            "({}{sel} > {t} and {}{sel} > {t})",
                            record_name(w.long_s),
                            record_name(w.short_s)
                        )
                    })
                    .collect();
                let spans: Vec<String> = policy
                    .windows
                    .iter()
                    .filter(|w| w.severity == sev)
                    .map(|w| {
                        format!(
                            "{}× over {} and {} ({:.1} % of the budget spent)",
                            w.factor,
                            duration(w.long_s),
                            duration(w.short_s),
                            w.budget_spent(policy.period_s) * 100.0
                        )
                    })
                    .collect();
                let mut description = format!(
                    "{} at {site} is burning its {} error budget ({} of valid events good) \
                     at {}. Metrics: docs/metrics.md.",
                    slo.name,
                    duration(policy.period_s),
                    slo.quantile,
                    spans.join(" or ")
                );
                if let Some(why) = sli.stand_in {
                    description.push_str(&format!(" Note: {why}."));
                }
                let mut alabels = vec![("severity".to_string(), sev.name().to_string())];
                alabels.extend(labels.iter().cloned());
                rules.push(Rule {
                    kind: RuleKind::Alert(alert_name(&slo.name, sev)),
                    expr: pairs.join(" or "),
                    labels: alabels,
                    annotations: vec![
                        (
                            "summary".into(),
                            format!("{} at {site}: error budget burn ({})", slo.name, sev.name()),
                        ),
                        ("description".into(), description),
                        ("runbook_url".into(), runbook.to_owned()),
                    ],
                });
            }
        }
        groups.push(Group {
            name: format!("kata86-slo-{}", slo.name),
            interval_s,
            rules,
        });
    }
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_use_the_largest_whole_unit() {
        assert_eq!(duration(300), "5m");
        assert_eq!(duration(3600), "1h");
        assert_eq!(duration(259_200), "3d");
        assert_eq!(duration(90), "90s");
        assert_eq!(duration(7_200), "2h");
    }

    #[test]
    fn each_objective_and_site_gets_a_ratio_per_window_and_an_alert_per_severity() {
        let slos = metrics::default_slos();
        let p = BurnPolicy::workbook();
        let g = burn_rules(&slos, &["SG", "VN", "JP"], &p, 10, "rb").unwrap();
        assert_eq!(g.len(), slos.len());
        // 8 distinct windows (5m 30m 1h 2h 6h 1d 3d; 6h twice) = 7.
        let avail = g
            .iter()
            .find(|g| g.name.ends_with("charge_availability"))
            .unwrap();
        let records = avail
            .rules
            .iter()
            .filter(|r| matches!(r.kind, RuleKind::Record(_)))
            .count();
        assert_eq!(records, 3 * 7);
        let page = avail
            .rules
            .iter()
            .find(|r| r.kind == RuleKind::Alert("charge_availability_burn_page".into()))
            .unwrap();
        assert_eq!(
            page.expr,
            "(kata86:slo_error_ratio:rate1h{slo=\"charge_availability\",site=\"SG\"} > \
             (14.4 * (1 - 0.999)) and kata86:slo_error_ratio:rate5m{slo=\"charge_availability\",\
             site=\"SG\"} > (14.4 * (1 - 0.999))) or (kata86:slo_error_ratio:rate6h{slo=\
             \"charge_availability\",site=\"SG\"} > (6 * (1 - 0.999)) and kata86:slo_error_ratio:\
             rate30m{slo=\"charge_availability\",site=\"SG\"} > (6 * (1 - 0.999)))"
        );
        // read_p95 covers VN only.
        let read = g.iter().find(|g| g.name.ends_with("read_p95")).unwrap();
        assert!(read
            .rules
            .iter()
            .all(|r| r.labels.contains(&("site".into(), "VN".into()))));
    }

    #[test]
    fn an_objective_the_policy_cannot_alert_on_is_refused() {
        let slo = |q| {
            vec![metrics::Slo::availability("loose", metrics::Series::ReadAvailability, q).unwrap()]
        };
        // 1 / (1 − 0.95) = 20: every workbook factor fits.
        burn_rules(&slo(0.95), &["SG"], &BurnPolicy::workbook(), 10, "rb").unwrap();
        // 1 / (1 − 0.9) = 10: 14.4 would need an error ratio over 1.
        let e = burn_rules(&slo(0.9), &["SG"], &BurnPolicy::workbook(), 10, "rb").unwrap_err();
        assert!(e.to_string().contains("loose"), "{e}");
        assert!(e.to_string().contains("can never fire"), "{e}");
    }
}
