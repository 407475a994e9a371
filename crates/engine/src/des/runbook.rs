//! Operating the run: monitoring windows and alerts, the runbook's flags, and
//! the five runbook steps of DESIGN.md played when an alert fires.

use topology::{ms, SiteId};

use super::{Core, Ev};
use crate::drill::RunbookStep;
use crate::ops::{AlertId, Change, Flag, Signal, Switch};

impl Core<'_> {
    pub(crate) fn flag(&self, f: Flag) -> bool {
        self.ops.flags.is_on(f)
    }

    pub(super) fn set_flag(&mut self, f: Flag, to: Switch) {
        let on = to == Switch::On;
        if !self.ops.flags.set(f, on, self.now) {
            return;
        }
        self.note(format!("flag {f} {}", if on { "on" } else { "off" }));
    }

    pub(crate) fn count_degraded(&mut self, site: usize) {
        self.ops.degraded_total += 1;
        self.ops.degraded_sites[site] += 1;
    }

    /// Closes a monitoring window: signals, alerts, and the runbook trigger.
    pub(super) fn tick(&mut self) {
        let last_fault = self
            .cfg
            .faults
            .iter()
            .map(|f| f.start)
            .filter(|&s| s < self.now)
            .max();
        for (alert, change) in self.ops.monitor.close(self.now, last_fault) {
            let name = &self.ops.monitor.rule(alert).name;
            self.note(format!(
                "alert {name} {}",
                match change {
                    Change::Fired => "fires",
                    Change::Resolved => "resolves",
                }
            ));
            match change {
                Change::Fired if self.cfg.runbook && self.ops.runbook_alert.is_none() => {
                    self.start_runbook(alert)
                }
                Change::Resolved if self.ops.runbook_alert == Some(alert) => {
                    if self.ops.runbook_steps.len() >= 3 {
                        let round = self.ops.runbook_round;
                        self.push(self.now + ms(60_000.0), Ev::Step { n: 5, round });
                    } else {
                        // Resolved before any mitigation: nothing to undo.
                        self.stand_down(alert);
                    }
                }
                _ => {}
            }
        }
        self.ops.last_sites =
            std::mem::replace(&mut self.ops.degraded_sites, vec![0; self.entry.len()]);
        if self.now < self.end {
            self.push(self.now + self.cfg.signal_window, Ev::Tick);
        }
    }

    /// Opens the runbook for `alert`: detect now, then confirm, mitigate and
    /// communicate 30, 60 and 90 s later. Steps run 1 µs after their instant,
    /// so a window closing at the same instant is seen first.
    fn start_runbook(&mut self, alert: AlertId) {
        if self.now >= self.end {
            return;
        }
        self.ops.runbook_alert = Some(alert);
        self.ops.runbook_round += 1;
        let round = self.ops.runbook_round;
        for (k, delay) in [0.0, 30_000.0, 60_000.0, 90_000.0].into_iter().enumerate() {
            let at = self.now + ms(delay) + if k == 0 { 0 } else { 1 };
            self.push(
                at,
                Ev::Step {
                    n: k as u8 + 1,
                    round,
                },
            );
        }
    }

    /// Abandons the running runbook (its alert was a blip), then opens it
    /// again for any other alert still firing.
    fn stand_down(&mut self, alert: AlertId) {
        let name = &self.ops.monitor.rule(alert).name;
        self.note(format!(
            "runbook: alert {name} already resolved, standing down"
        ));
        self.ops.runbook_steps.clear();
        self.ops.runbook_alert = None;
        self.ops.runbook_round += 1;
        if let Some(other) = self.ops.monitor.firing().into_iter().find(|&a| a != alert) {
            self.start_runbook(other);
        }
    }

    /// The runbook's mitigation for the alert that started it.
    fn mitigation(&self) -> Flag {
        match self
            .ops
            .runbook_alert
            .map(|a| self.ops.monitor.rule(a).signal)
        {
            Some(Signal::LagP95 | Signal::LagP99 | Signal::StaleReadShare) => Flag::ForceLeaderRead,
            Some(
                Signal::ChargeErrorRate
                | Signal::RejectedShare
                | Signal::ChargeP95
                | Signal::ChargeP99,
            ) => Flag::WriteReadonlyMode,
            _ => Flag::DisableRecs,
        }
    }

    /// Runbook step `n` (1–5) of DESIGN.md.
    pub(super) fn step(&mut self, n: u8) {
        if self.ops.runbook_steps.len() + 1 != n as usize {
            return;
        }
        let Some(alert) = self.ops.runbook_alert else {
            return;
        };
        if n == 2 && !self.ops.monitor.is_firing(alert) {
            // A blip (a natural lag episode): the on-call stands down.
            self.stand_down(alert);
            return;
        }
        let what = match n {
            1 => format!("detect: alert {} fired", self.ops.monitor.rule(alert).name),
            2 => {
                let t = &self.cfg.topology;
                let sites: Vec<&str> = self
                    .ops
                    .last_sites
                    .iter()
                    .enumerate()
                    .filter(|(_, &c)| c > 0)
                    .map(|(i, _)| t.site_name(SiteId(i as u8)))
                    .collect();
                format!(
                    "confirm blast radius: degraded responses last window from sites [{}]",
                    sites.join(", ")
                )
            }
            3 => {
                let f = self.mitigation();
                self.set_flag(f, Switch::On);
                format!("mitigate: {f} on")
            }
            4 => "communicate: status page and in-app banner".to_string(),
            _ => {
                let f = self.mitigation();
                self.set_flag(f, Switch::Off);
                format!("recover: alert resolved, {f} off")
            }
        };
        let before = self
            .ops
            .runbook_steps
            .iter()
            .map(|x| x.degraded)
            .sum::<u64>();
        self.ops.runbook_steps.push(RunbookStep {
            step: what.clone(),
            at: self.now,
            degraded: self.ops.degraded_total - before,
        });
        self.note(format!("runbook step {n}: {what}"));
    }
}
