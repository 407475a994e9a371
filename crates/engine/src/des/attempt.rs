//! A charge attempt and the client's retry rule: one type for both event
//! cores (the single-leader one in this module's parent and the
//! multi-leader one in `crate::multi`), so a client behaves the same
//! whichever design it writes to.

use topology::Micros;

use crate::wallet::WalletConfig;

/// One attempt of a charge on its way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Attempt {
    /// The charge's idempotency key (every attempt of a charge shares it).
    pub(crate) key: u64,
    pub(crate) site: u8,
    pub(crate) account: u32,
    pub(crate) amount: i64,
    /// When the client sent the charge's first attempt.
    pub(crate) first_sent: Micros,
    /// When it sent this attempt.
    pub(crate) sent: Micros,
    /// 1 for the first attempt.
    pub(crate) number: u32,
    /// One-way time from the client to the region that books it on this
    /// attempt's path (single-leader: the leader, with any link delay on
    /// the entry region's hop to it).
    pub(crate) out: Micros,
    /// One-way time back (single-leader: with any link delay on the
    /// leader's hop back to the entry region, once the answer is known to
    /// leave).
    pub(crate) back: Micros,
    /// The region this attempt entered (single-leader: which forwards it to
    /// the leader; multi-leader: which books it).
    pub(crate) entry: u8,
    /// The region the charge's first attempt entered (escrow pins the key
    /// there).
    pub(crate) owner: u8,
}

impl Attempt {
    /// A charge's first attempt, sent now from `site` into region `entry`;
    /// `key` is its idempotency key.
    pub(crate) fn first(
        key: u64,
        site: usize,
        account: u32,
        amount: i64,
        now: Micros,
        entry: u8,
    ) -> Attempt {
        Attempt {
            key,
            site: site as u8,
            account,
            amount,
            first_sent: now,
            sent: now,
            number: 1,
            out: 0,
            back: 0,
            entry,
            owner: entry,
        }
    }

    /// This attempt got no answer by the client's `deadline`: its retry and
    /// when the client sends it (after the deadline and the backoff, not
    /// before `now`), or `None` once the client has used its attempts (the
    /// charge's outcome is unknown to it).
    pub(crate) fn retry(
        &self,
        now: Micros,
        deadline: Micros,
        w: &WalletConfig,
    ) -> Option<(Micros, Attempt)> {
        (self.number < w.max_attempts).then(|| {
            let at = (self.sent + deadline + w.backoff).max(now);
            (
                at,
                Attempt {
                    number: self.number + 1,
                    ..*self
                },
            )
        })
    }
}
