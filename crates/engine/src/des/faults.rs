//! The fault schedule as the core sees it: which regions are down, which
//! links are cut, and what happens when a fault starts or ends.

use replication::FollowerStream;
use topology::{Micros, SiteId};

use super::{Core, Ev};
use crate::drill::{Fault, FaultKind, Window};

/// What an active fault does to the stream from region `from` to region `to`:
/// a cut link receives nothing before the fault ends; a lag spike slows the
/// follower's apply. (Link delays and disk stalls are given to a stream
/// when it is made: [`slow_stream`].)
pub(crate) fn apply_fault(
    f: &Fault,
    stream: &mut FollowerStream,
    from: usize,
    to: usize,
    t: Micros,
) {
    if f.blocks(from, to, t) {
        stream.cut(f.end);
    }
    if let FaultKind::LagSpike {
        from: a,
        to: b,
        extra,
    } = f.kind
    {
        if a.idx() == from && b.idx() == to {
            stream.set_extra(extra);
        }
    }
}

/// Gives the stream from region `from` to region `to` every window in which
/// `faults` slow it: a link delay on that direction (what is sent then
/// arrives later) and a disk stall at `to` (what is received then is durable
/// later). The whole schedule is given when the stream is made, before it
/// sends anything, as the lag process's draws are.
pub(crate) fn slow_stream(faults: &[Fault], stream: &mut FollowerStream, from: usize, to: usize) {
    for f in faults {
        match f.kind {
            FaultKind::LinkDelay { extra, .. } if f.delay(from, to, f.start) > 0 => {
                stream.delay_sends(f.start, f.end, extra)
            }
            FaultKind::DiskStall { region, extra } if region.idx() == to => {
                stream.stall_fsync(f.start, f.end, extra)
            }
            _ => {}
        }
    }
}

impl Core<'_> {
    /// The extra one-way delay the faults put at `t` on a message from
    /// region `a` to region `b`.
    pub(crate) fn link_delay(&self, a: usize, b: usize, t: Micros) -> Micros {
        self.cfg.faults.iter().map(|f| f.delay(a, b, t)).sum()
    }

    /// The extra time the faults add at `t` to an fsync at region `r`.
    pub(crate) fn disk_stall(&self, r: usize, t: Micros) -> Micros {
        self.cfg.faults.iter().map(|f| f.stall(r, t)).sum()
    }

    pub(crate) fn down(&self, r: usize, t: Micros) -> bool {
        self.cfg.faults.iter().any(|f| {
            f.active(t) && matches!(f.kind, FaultKind::RegionDown { region } if region.idx() == r)
        })
    }

    pub(crate) fn reachable(&self, a: usize, b: usize, t: Micros) -> bool {
        !self
            .cfg
            .faults
            .iter()
            .any(|f| f.blocks(a, b, t) || f.blocks(b, a, t))
    }

    fn in_fault(&self, t: Micros) -> bool {
        self.cfg.faults.iter().any(|f| f.active(t))
    }

    /// The window (inside or outside the faults) a time belongs to.
    pub(crate) fn window(&mut self, t: Micros) -> &mut Window {
        if self.in_fault(t) {
            &mut self.during
        } else {
            &mut self.outside
        }
    }

    /// Whether entry region `e` treats leader region `l` as unavailable: it
    /// cannot reach it, or a fault between them ended less than one detection
    /// period ago (health checks have not yet seen it recover). Returns since
    /// when the problem has been known, for the fast-reject decision.
    pub(crate) fn leader_unavailable(&self, e: usize, l: usize) -> Option<Micros> {
        let t = self.now;
        self.cfg
            .faults
            .iter()
            .filter(|f| {
                let during = f.blocks(e, l, t) || f.blocks(l, e, t);
                let lately = t >= f.end
                    && t < f.end + self.cfg.detection
                    && (f.blocks(e, l, f.end - 1) || f.blocks(l, e, f.end - 1));
                during || lately
            })
            .map(|f| f.start)
            .min()
    }

    pub(crate) fn describe(&self, f: &Fault) -> String {
        match f.kind {
            FaultKind::RegionDown { region } => format!("{} down", self.name(region.idx())),
            FaultKind::Partition { a, b, both_ways } => format!(
                "partition {} {} {}",
                self.name(a.idx()),
                if both_ways { "<->" } else { "->" },
                self.name(b.idx())
            ),
            FaultKind::LagSpike { from, to, extra } => format!(
                "lag spike {} -> {} +{} ms",
                self.name(from.idx()),
                self.name(to.idx()),
                topology::to_ms(extra)
            ),
            FaultKind::LinkDelay {
                from,
                to,
                both_ways,
                extra,
            } => format!(
                "link delay {} {} {} +{} ms one way",
                self.name(from.idx()),
                if both_ways { "<->" } else { "->" },
                self.name(to.idx()),
                topology::to_ms(extra)
            ),
            FaultKind::DiskStall { region, extra } => format!(
                "disk stall at {}: +{} ms per fsync",
                self.name(region.idx()),
                topology::to_ms(extra)
            ),
        }
    }

    pub(super) fn fault_start(&mut self, i: usize) {
        let f = self.cfg.faults[i];
        self.recovery.first_fault.get_or_insert(f.start);
        self.note(format!("fault {} starts: {}", i + 1, self.describe(&f)));
        for s in 0..self.terms.len() {
            let from = self.terms[s].region;
            for r in 0..self.follows.len() {
                let Some(stream) = self.terms[s].streams[r].as_mut() else {
                    continue;
                };
                stream.advance(f.start);
                if matches!(f.kind, FaultKind::RegionDown { region } if region.idx() == from) {
                    // The sender died: what the follower had not received is gone.
                    stream.drop_in_flight();
                }
                apply_fault(&f, stream, from, r, f.start);
                self.refile(s, r);
            }
        }
        // Who loses sight of its leader, and who must act.
        for r in 0..self.follows.len() {
            let leader = self.terms[self.follows[r]].region;
            if r != leader && f.blocks(leader, r, f.start) | f.blocks(r, leader, f.start) {
                self.push(
                    f.start + self.cfg.detection,
                    Ev::Detect {
                        region: r,
                        fault: i,
                    },
                );
            }
        }
        for site in 0..self.entry.len() {
            let home = self.cfg.topology.home(SiteId(site as u8)).idx();
            if matches!(f.kind, FaultKind::RegionDown { region } if region.idx() == home) {
                self.push(
                    f.start + self.cfg.detection + self.cfg.dns_ttl,
                    Ev::Route { site },
                );
            }
        }
    }

    pub(super) fn fault_end(&mut self, i: usize) {
        let f = self.cfg.faults[i];
        self.note(format!("fault {} ends", i + 1));
        if let FaultKind::LagSpike { from, to, .. } = f.kind {
            for s in 0..self.terms.len() {
                if self.terms[s].region == from.idx() {
                    if let Some(st) = self.terms[s].streams[to.idx()].as_mut() {
                        st.set_extra(0);
                        self.refile(s, to.idx());
                    }
                }
            }
        }
        self.pump();
        if let FaultKind::RegionDown { region } = f.kind {
            let r = region.idx();
            // A returning leader re-sends what its followers miss.
            for s in 0..self.terms.len() {
                if self.terms[s].region == r && self.terms[s].alive {
                    for x in 0..self.follows.len() {
                        if x != r && self.follows[x] == s {
                            self.sync(x);
                            self.attach(s, x);
                        }
                    }
                    self.push(self.now, Ev::Renew(s));
                }
            }
        }
        // Health checks see the fault is over; clients follow after the TTL.
        for site in 0..self.entry.len() {
            self.push(
                f.end + self.cfg.detection + self.cfg.dns_ttl,
                Ev::Route { site },
            );
        }
        self.heal();
    }
}
