//! The burn-rate policy: a budget period and the window pairs that page or
//! open a ticket, each with its burn-rate factor.

use serde::{Deserialize, Serialize};

use crate::SloError;

/// Who an alert goes to.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Someone is woken up: the budget is burning fast.
    Page,
    /// Someone looks during working hours: slow burn.
    Ticket,
}

impl Severity {
    /// The severity as alert labels and tables write it.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Page => "page",
            Severity::Ticket => "ticket",
        }
    }
}

/// One window pair: the alert fires while the error ratio over the long
/// window **and** over the short one are both over `factor × (1 − target)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BurnWindow {
    /// Page or ticket.
    pub severity: Severity,
    /// The long window, in seconds: how much budget must have burnt.
    pub long_s: u64,
    /// The short window, in seconds: the burn is still going on (it makes
    /// the alert reset soon after the burn stops).
    pub short_s: u64,
    /// The burn rate both windows must exceed.
    pub factor: f64,
}

/// `page 1h/5m at 14.4`: how reports name a pair.
impl std::fmt::Display for BurnWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}/{} at {}",
            self.severity.name(),
            crate::rules::duration(self.long_s),
            crate::rules::duration(self.short_s),
            self.factor
        )
    }
}

/// Seconds from a duration as PromQL writes one: `90s`, `5m`, `6h`, `3d`
/// (a whole number and one unit).
pub fn parse_duration(s: &str) -> Option<u64> {
    let unit = s.chars().last()?;
    let n: u64 = s[..s.len() - unit.len_utf8()].parse().ok()?;
    let mul = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => DAY_S,
        _ => return None,
    };
    n.checked_mul(mul).filter(|&x| x > 0)
}

impl BurnWindow {
    /// A pair as the command line writes it: `page:1h/5m:14.4`
    /// (severity, long and short window, factor).
    pub fn parse(s: &str) -> Result<BurnWindow, SloError> {
        let bad = |why: &str| {
            SloError::BadPolicy(format!(
                "`{s}`: {why}; write SEVERITY:LONG/SHORT:FACTOR, e.g. page:1h/5m:14.4 \
                 (severity page or ticket, windows as 90s, 5m, 6h, 3d)"
            ))
        };
        let mut parts = s.split(':');
        let (Some(sev), Some(windows), Some(factor), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("not three fields"));
        };
        let severity = match sev {
            "page" => Severity::Page,
            "ticket" => Severity::Ticket,
            _ => return Err(bad("the severity is neither page nor ticket")),
        };
        let (long, short) = windows
            .split_once('/')
            .ok_or_else(|| bad("the windows are not LONG/SHORT"))?;
        let long_s =
            parse_duration(long).ok_or_else(|| bad("the long window is not a duration"))?;
        let short_s =
            parse_duration(short).ok_or_else(|| bad("the short window is not a duration"))?;
        let factor: f64 = factor
            .parse()
            .map_err(|_| bad("the factor is not a number"))?;
        Ok(BurnWindow {
            severity,
            long_s,
            short_s,
            factor,
        })
    }

    /// The share of one period's budget spent at exactly `factor` over the
    /// long window: `factor × long / period` (2 % for 14.4 over 1 h of 30
    /// days).
    pub fn budget_spent(&self, period_s: u64) -> f64 {
        self.factor * self.long_s as f64 / period_s as f64
    }
}

/// A budget period and the window pairs evaluated against it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BurnPolicy {
    /// The period an error budget covers, in seconds.
    pub period_s: u64,
    /// The window pairs; pairs of one severity are OR-ed.
    pub windows: Vec<BurnWindow>,
}

/// One day, in seconds.
pub const DAY_S: u64 = 86_400;

impl BurnPolicy {
    /// The SRE workbook's starting point for a 30-day period: page on
    /// 1 h/5 min at 14.4 and on 6 h/30 min at 6; ticket on 1 d/2 h at 3 and
    /// on 3 d/6 h at 1.
    pub fn workbook() -> BurnPolicy {
        BurnPolicy::workbook_for(30 * DAY_S)
    }

    /// The workbook's windows and factors over another budget period.
    pub fn workbook_for(period_s: u64) -> BurnPolicy {
        let w = |severity, long_s, short_s, factor| BurnWindow {
            severity,
            long_s,
            short_s,
            factor,
        };
        BurnPolicy {
            period_s,
            windows: vec![
                w(Severity::Page, 3_600, 300, 14.4),
                w(Severity::Page, 6 * 3_600, 1_800, 6.0),
                w(Severity::Ticket, DAY_S, 2 * 3_600, 3.0),
                w(Severity::Ticket, 3 * DAY_S, 6 * 3_600, 1.0),
            ],
        }
    }

    /// The longest window: how long a warm-up must be so that no window
    /// starts empty.
    pub fn longest_s(&self) -> u64 {
        self.windows.iter().map(|w| w.long_s).max().unwrap_or(0)
    }

    /// Checks the policy on its own: a period, at least one pair, every
    /// window a whole positive number of seconds, every short window under
    /// its long one, every factor a finite positive number.
    pub fn validate(&self) -> Result<(), SloError> {
        if self.period_s == 0 {
            return Err(SloError::BadPolicy("the budget period is 0 s".into()));
        }
        if self.windows.is_empty() {
            return Err(SloError::BadPolicy(
                "no window pair: give at least one long/short window with its factor".into(),
            ));
        }
        for (i, w) in self.windows.iter().enumerate() {
            let at = format!(
                "window pair {} ({} {}s/{}s)",
                i + 1,
                w.severity.name(),
                w.long_s,
                w.short_s
            );
            if w.short_s == 0 || w.long_s == 0 {
                return Err(SloError::BadPolicy(format!("{at}: a window is 0 s")));
            }
            if w.short_s >= w.long_s {
                return Err(SloError::BadPolicy(format!(
                    "{at}: the short window must be shorter than the long one"
                )));
            }
            if w.long_s > self.period_s {
                return Err(SloError::BadPolicy(format!(
                    "{at}: the long window is longer than the budget period ({} s)",
                    self.period_s
                )));
            }
            if !(w.factor.is_finite() && w.factor > 0.0) {
                return Err(SloError::BadPolicy(format!(
                    "{at}: the burn-rate factor must be a finite number over 0, got {}",
                    w.factor
                )));
            }
        }
        Ok(())
    }

    /// Checks the policy against an objective: a factor at or above
    /// `1 / (1 − target)` would need an error ratio over 1, so its alert
    /// could never fire; it is refused, naming the largest factor allowed.
    pub fn check_target(&self, slo: &str, target: f64) -> Result<(), SloError> {
        let room = 1.0 - target;
        for w in &self.windows {
            if room <= 0.0 || w.factor * room >= 1.0 {
                return Err(SloError::NeverFires {
                    slo: slo.to_owned(),
                    severity: w.severity.name(),
                    long_s: w.long_s,
                    factor: w.factor,
                    target,
                    limit: if room > 0.0 {
                        // 1 / (1 − 0.95) is 19.999999999999982 in binary.
                        (1e9 / room).round() / 1e9
                    } else {
                        f64::INFINITY
                    },
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workbook_pairs_spend_the_budget_it_says() {
        let p = BurnPolicy::workbook();
        p.validate().unwrap();
        let spent: Vec<f64> = p
            .windows
            .iter()
            .map(|w| (w.budget_spent(p.period_s) * 1000.0).round() / 10.0)
            .collect();
        // 2 % (1 h at 14.4), 5 % (6 h at 6), 10 % (1 d at 3), 10 % (3 d at 1).
        assert_eq!(spent, [2.0, 5.0, 10.0, 10.0]);
        assert_eq!(p.longest_s(), 3 * DAY_S);
    }

    #[test]
    fn a_factor_at_or_over_one_over_the_budget_share_is_refused() {
        let mut p = BurnPolicy::workbook();
        // 99 %: 1/(1 − 0.99) = 100; 14.4 fits.
        p.check_target("x", 0.99).unwrap();
        // 90 %: at most 10; 14.4 cannot fire.
        let e = p.check_target("x", 0.9).unwrap_err();
        assert!(matches!(e, SloError::NeverFires { factor, .. } if factor == 14.4));
        assert!(e.to_string().contains("can never fire"), "{e}");
        // Exactly at the limit: the ratio would have to exceed 1.
        p.windows = vec![BurnWindow {
            severity: Severity::Page,
            long_s: 3600,
            short_s: 300,
            factor: 4.0,
        }];
        assert!(p.check_target("x", 0.75).is_err());
        p.check_target("x", 0.8).unwrap();
        // A 100 % objective has no budget to burn.
        assert!(p.check_target("x", 1.0).is_err());
    }

    #[test]
    fn pairs_parse_from_the_command_line() {
        assert_eq!(
            BurnWindow::parse("page:1h/5m:14.4").unwrap(),
            BurnPolicy::workbook().windows[0]
        );
        assert_eq!(
            BurnWindow::parse("ticket:3d/6h:1").unwrap(),
            BurnPolicy::workbook().windows[3]
        );
        for bad in [
            "page:1h:14.4",
            "pager:1h/5m:1",
            "page:1x/5m:1",
            "page:1h/5m:x",
            "page:0h/5m:1",
            "",
        ] {
            let e = BurnWindow::parse(bad).unwrap_err().to_string();
            assert!(e.contains("SEVERITY:LONG/SHORT:FACTOR"), "{bad}: {e}");
        }
        assert_eq!(parse_duration("90s"), Some(90));
        assert_eq!(parse_duration("ééh"), None);
    }

    #[test]
    fn bad_policies_say_what_is_wrong() {
        let mut p = BurnPolicy::workbook();
        p.windows[1].short_s = p.windows[1].long_s;
        assert!(p.validate().unwrap_err().to_string().contains("shorter"));
        let mut p = BurnPolicy::workbook();
        p.windows[0].factor = f64::NAN;
        assert!(p.validate().is_err());
        let p = BurnPolicy::workbook_for(DAY_S);
        assert!(p.validate().unwrap_err().to_string().contains("period"));
        let p = BurnPolicy {
            period_s: DAY_S,
            windows: vec![],
        };
        assert!(p.validate().is_err());
    }
}
