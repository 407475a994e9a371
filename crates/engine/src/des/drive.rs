//! The one driver both event cores run under: requests arrive in time
//! order, every event due before an arrival is played first, and when the
//! traffic stops what is in flight settles within two key horizons.

use topology::Micros;

use super::workload::{Request, Traffic};
use super::Stop;
use crate::PROGRESS_EVERY;

/// What the driver needs of an event core.
pub(crate) trait Play {
    /// Plays every event due by `t`, in time order.
    fn run_until(&mut self, t: Micros);
    /// One request from `site`, arriving at `at` (every event due by then
    /// played); `key` numbers the charges, for their idempotency keys.
    fn request(&mut self, at: Micros, site: usize, req: Request, key: &mut u64);
    /// Requests so far.
    fn requests(&self) -> u64;
    /// When the traffic stops; `stop_now` makes it now.
    fn end(&self) -> Micros;
    fn stop_now(&mut self);
    /// How long a charge's attempts can be in flight (every retry, answer
    /// and timeout settles within it).
    fn horizon(&self) -> Micros;
}

/// Where requests come from: the sites' random [`Traffic`], or a script.
pub(crate) trait Arrivals {
    /// When the next request arrives (`Micros::MAX`: never).
    fn next_at(&mut self) -> Micros;
    /// The next request: when, from which site, what.
    fn take(&mut self) -> Option<(Micros, usize, Request)>;
}

impl Arrivals for Traffic<'_> {
    fn next_at(&mut self) -> Micros {
        Traffic::next_at(self)
    }
    fn take(&mut self) -> Option<(Micros, usize, Request)> {
        Traffic::take(self)
    }
}

/// A fixed list of requests, in time order.
pub(crate) struct Script<I: Iterator<Item = (Micros, usize, Request)>>(
    pub(crate) std::iter::Peekable<I>,
);

impl<I: Iterator<Item = (Micros, usize, Request)>> Arrivals for Script<I> {
    fn next_at(&mut self) -> Micros {
        self.0.peek().map_or(Micros::MAX, |r| r.0)
    }
    fn take(&mut self) -> Option<(Micros, usize, Request)> {
        self.0.next()
    }
}

/// Plays `core` until `stop`: each arrival after the events due before
/// it, then what is in flight, for two key horizons past the end (periodic
/// events past that are dropped). `progress` hears the request count every
/// [`PROGRESS_EVERY`] requests and at the end.
pub(crate) fn drive<C: Play>(
    core: &mut C,
    arrivals: &mut impl Arrivals,
    stop: Stop,
    progress: &mut dyn FnMut(u64),
) {
    let mut key = 0u64;
    loop {
        let at = arrivals.next_at();
        let done = match stop {
            Stop::At(t) => at >= t,
            Stop::Requests(n) => core.requests() >= n,
        };
        if done {
            if let Stop::Requests(_) = stop {
                core.stop_now();
            }
            core.run_until(core.end().saturating_add(2 * core.horizon()));
            break;
        }
        core.run_until(at);
        let Some((at, site, req)) = arrivals.take() else {
            break;
        };
        core.request(at, site, req, &mut key);
        if core.requests().is_multiple_of(PROGRESS_EVERY) {
            progress(core.requests());
        }
    }
    progress(core.requests());
}
