//! A leaderless quorum as the request path of `kata86 sim`: one balance read
//! and one charge per request, against N replicas with R and W.
//!
//! The kata loop measures a read's staleness as how far behind the newest
//! committed state its answer is, with writes arriving continuously (for a
//! single leader: the serving follower's lag). The leaderless analogue is the
//! PBS threshold of the newest committed write: a read that starts `t` ms
//! after that write commits sees it once `t` reaches
//! `max(0, min over the read quorum of W_i − R_i − wt)`, so with writes
//! arriving all the time the answer misses exactly the writes committed in the
//! last threshold ms. The newest committed write comes from a writer at a site
//! drawn uniformly per request (everyone writes the balance); the read and the
//! request's own charge go from the cell's site.

use replication::rng::{below, Rng};

use crate::{check_nrw, draw_read, draw_write, Model, QuorumError, Trial};

/// What one request of the kata loop saw on a leaderless quorum.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Request {
    /// Read latency: the R-th fastest reply, ms.
    pub read_ms: f64,
    /// How far behind the newest committed write the read's answer is, ms
    /// (0: it saw it).
    pub staleness_ms: f64,
    /// The request's own charge: its W-th fastest acknowledgement, ms.
    pub charge_ms: f64,
}

/// N replicas with R and W over a [`Model`], drawing requests without
/// allocating.
pub struct Path {
    model: Model,
    n: usize,
    r: usize,
    w: usize,
    t: Trial,
}

impl Path {
    /// A path over `model`'s first `n` replicas; `n`, `r` and `w` checked as
    /// `kata86 pbs` checks them.
    pub fn new(model: Model, n: usize, r: usize, w: usize) -> Result<Path, QuorumError> {
        check_nrw(&model, n, r, w)?;
        Ok(Path {
            model,
            n,
            r,
            w,
            t: Trial::new(),
        })
    }

    /// One request from client site `site` (an index into the model's sites:
    /// a [`Model::topology`] has one per topology site, in its order).
    /// Draws the same number of random values whatever R and W are.
    #[inline]
    pub fn request(&mut self, site: usize, rng: &mut Rng) -> Request {
        let (n, r, w) = (self.n, self.r, self.w);
        let (m, t) = (&self.model, &mut self.t);
        let sites = m.sites() as u64;
        let writer = if sites > 1 {
            below(rng, sites) as usize
        } else {
            0
        };
        draw_write(m, n, w, writer, rng, t);
        let wt = t.ack[t.ack_order[w - 1] as usize];
        let (read_ms, threshold) = draw_read(m, n, r, site, wt, rng, t);
        draw_write(m, n, w, site, rng, t);
        Request {
            read_ms,
            staleness_ms: threshold.max(0.0),
            charge_ms: t.ack[t.ack_order[w - 1] as usize],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{round_robin, Dist, Legs};
    use replication::rng::substream;
    use topology::Topology;

    fn kata(n: usize, r: usize, w: usize) -> Path {
        let topo = Topology::kata();
        let sg = topo.region("SG").unwrap();
        let place = round_robin(&topo, sg, n).unwrap();
        Path::new(Model::topology("kata", &topo, &place).unwrap(), n, r, w).unwrap()
    }

    #[test]
    fn strict_quorums_are_never_stale() {
        let mut rng = substream(1, "t", 0);
        for (n, r, w) in [(3, 2, 2), (3, 1, 3), (3, 3, 1), (2, 1, 2)] {
            let mut p = kata(n, r, w);
            for i in 0..20_000 {
                let q = p.request(i % 2, &mut rng);
                assert_eq!(q.staleness_ms, 0.0, "N{n} R{r} W{w}");
            }
        }
    }

    #[test]
    fn partial_quorums_are_sometimes_stale_and_never_faster_to_read_with_more_r() {
        // Same stream for R = 1 and R = 2: common random numbers.
        let (mut a, mut b) = (kata(3, 1, 1), kata(3, 2, 1));
        let (mut ra, mut rb) = (substream(2, "t", 0), substream(2, "t", 0));
        let mut stale = 0;
        for _ in 0..20_000 {
            let (x, y) = (a.request(1, &mut ra), b.request(1, &mut rb));
            assert!(x.read_ms <= y.read_ms);
            assert!(x.staleness_ms >= y.staleness_ms);
            stale += (x.staleness_ms > 0.0) as u32;
        }
        assert!(stale > 0, "R = W = 1 over SG, US, SG must miss some writes");
    }

    #[test]
    fn fixed_legs_give_the_closed_form() {
        // No random service time: the US site (RTT 20 ms to US, 220 to SG;
        // see Topology::kata) reads R = 1 from US at 10 ms, and with W = 3 a
        // charge waits for the farthest replica's round trip.
        let topo = Topology::kata();
        let sg = topo.region("SG").unwrap();
        let place = round_robin(&topo, sg, 3).unwrap();
        let mut model = Model::topology("kata", &topo, &place).unwrap();
        model.legs = Legs::all(Dist::ZERO);
        let us_site = topo.site("US").unwrap().0 as usize;
        let to = |region: &str| {
            topology::to_ms(topo.rtt_site(topo.site("US").unwrap(), topo.region(region).unwrap()))
        };
        let mut p = Path::new(model, 3, 1, 3).unwrap();
        let q = p.request(us_site, &mut substream(3, "t", 0));
        assert_eq!(q.read_ms, to("US"));
        assert_eq!(q.charge_ms, to("SG"));
        assert_eq!(q.staleness_ms, 0.0);
    }

    #[test]
    fn bad_quorums_are_refused() {
        let topo = Topology::kata();
        let sg = topo.region("SG").unwrap();
        let m = Model::topology("kata", &topo, &round_robin(&topo, sg, 3).unwrap()).unwrap();
        assert!(matches!(
            Path::new(m.clone(), 3, 0, 1),
            Err(QuorumError::ZeroQuorum { .. })
        ));
        assert!(matches!(
            Path::new(m.clone(), 3, 1, 4),
            Err(QuorumError::QuorumAboveN { .. })
        ));
        assert!(matches!(
            Path::new(m, 7, 1, 1),
            Err(QuorumError::TooManyReplicas { .. })
        ));
    }
}
