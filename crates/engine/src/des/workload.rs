//! What clients ask for: arrivals per site, the request mix, accounts and
//! amounts, each site drawing from its own named sub-streams.

use replication::rng::{below, exponential, substream, unit, Rng};
use topology::{Micros, SiteId};

use crate::wallet::{Popularity, WalletConfig};

/// Which account a request touches.
pub(crate) struct Accounts {
    /// Cumulative weights for Zipf; empty for uniform.
    cdf: Vec<f64>,
    n: u32,
}

impl Accounts {
    pub(crate) fn new(n: u32, p: Popularity) -> Accounts {
        let cdf = match p {
            Popularity::Uniform => Vec::new(),
            Popularity::Zipf(s) => {
                let mut acc = 0.0;
                let mut cdf: Vec<f64> = (1..=n)
                    .map(|k| {
                        acc += (k as f64).powf(-s);
                        acc
                    })
                    .collect();
                for c in &mut cdf {
                    *c /= acc;
                }
                cdf
            }
        };
        Accounts { cdf, n }
    }

    pub(crate) fn draw(&self, rng: &mut Rng) -> u32 {
        if self.cdf.is_empty() {
            below(rng, self.n as u64) as u32
        } else {
            let u = unit(rng);
            (self.cdf.partition_point(|&c| c <= u) as u32).min(self.n - 1)
        }
    }
}

/// What a read asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadKind {
    /// The account's balance.
    Balance,
    /// Whether the balance earns the discount.
    Eligibility,
}

/// One request as the client site issues it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Request {
    /// A balance or a discount-eligibility read.
    Read { account: u32, kind: ReadKind },
    /// A charge of `amount` cents.
    Charge { account: u32, amount: i64 },
    /// A top-up of `amount` cents.
    TopUp { account: u32, amount: i64 },
}

fn amount(rng: &mut Rng, (lo, hi): (i64, i64)) -> i64 {
    lo + below(rng, (hi - lo + 1) as u64) as i64
}

/// One client site's request source: a Poisson arrival stream and the mix,
/// on sub-streams `arrivals/<site>` and `mix/<site>`.
pub(crate) struct Source {
    arrivals: Rng,
    mix: Rng,
    mean_gap: f64,
    /// The next arrival, in fractional µs.
    next: f64,
}

impl Source {
    pub(crate) fn new(seed: u64, site: SiteId, rate: f64) -> Source {
        let mut arrivals = substream(seed, "arrivals", site.0 as u64);
        let mean_gap = 1e6 / rate;
        let next = exponential(&mut arrivals, mean_gap);
        Source {
            arrivals,
            mix: substream(seed, "mix", site.0 as u64),
            mean_gap,
            next,
        }
    }

    /// When the next request arrives.
    pub(crate) fn next_at(&self) -> Micros {
        self.next as Micros
    }

    /// The request arriving now; moves on to the next arrival.
    pub(crate) fn take(&mut self, w: &WalletConfig, accounts: &Accounts) -> Request {
        self.next += exponential(&mut self.arrivals, self.mean_gap);
        let rng = &mut self.mix;
        let account = accounts.draw(rng);
        let u = unit(rng);
        let m = w.mix;
        if u < m.balance + m.eligibility {
            Request::Read {
                account,
                kind: if u < m.balance {
                    ReadKind::Balance
                } else {
                    ReadKind::Eligibility
                },
            }
        } else if u < m.balance + m.eligibility + m.charge {
            Request::Charge {
                account,
                amount: amount(rng, w.charge_amount),
            }
        } else {
            Request::TopUp {
                account,
                amount: amount(rng, w.top_up_amount),
            }
        }
    }
}

/// What every client site sends, merged in time order (on a tie, the site
/// listed first): one stream of requests for either event core.
pub(crate) struct Traffic<'w> {
    sources: Vec<(usize, Source)>,
    accounts: Accounts,
    workload: &'w WalletConfig,
    /// Which source sends next, and when (`None` without sites): found once
    /// per request, after each take.
    next: Option<(usize, Micros)>,
}

impl<'w> Traffic<'w> {
    /// The traffic of `sites`, each at `rate` requests/s, drawn from `seed`.
    pub(crate) fn new(
        seed: u64,
        sites: impl IntoIterator<Item = SiteId>,
        rate: f64,
        workload: &'w WalletConfig,
    ) -> Traffic<'w> {
        let mut t = Traffic {
            sources: sites
                .into_iter()
                .map(|s| (s.idx(), Source::new(seed, s, rate)))
                .collect(),
            accounts: Accounts::new(workload.accounts, workload.popularity),
            workload,
            next: None,
        };
        t.next = t.peek();
        t
    }

    /// Which source sends next, and when (`None` without sites).
    fn peek(&self) -> Option<(usize, Micros)> {
        self.sources
            .iter()
            .enumerate()
            .map(|(i, (_, src))| (i, src.next_at()))
            .min_by_key(|&(i, at)| (at, i))
    }

    /// When the next request arrives (never, without sites).
    pub(crate) fn next_at(&self) -> Micros {
        self.next.map_or(Micros::MAX, |(_, at)| at)
    }

    /// The next request: when it arrives, from which site, and what it
    /// asks; `None` without sites.
    pub(crate) fn take(&mut self) -> Option<(Micros, usize, Request)> {
        let (i, at) = self.next?;
        let (site, src) = &mut self.sources[i];
        let req = (at, *site, src.take(self.workload, &self.accounts));
        self.next = self.peek();
        Some(req)
    }
}
