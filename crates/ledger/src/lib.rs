//! The money: an append-only ledger of wallet entries, the followers that copy
//! it, and the checker that proves no money was made or lost.
//!
//! # Brief overview
//! * [`Ledger`] — the leader's authoritative log. [`Ledger::top_up`],
//!   [`Ledger::charge`] and [`Ledger::refund`] are the only writes; each checks
//!   its rule (no overspend, refunds capped by their charge, one effect per
//!   [`IdemKey`]) and appends at most one [`Entry`].
//! * [`Replica`] — a follower: applies the leader's entries strictly in
//!   [`Lsn`] order and answers balance reads from what it has applied so far.
//! * [`check`] — replays a finished run and returns an [`InvariantReport`]
//!   listing every [`Breach`] of the money invariants; [`Checker`] does the
//!   same as a long run goes, folding what [`Ledger::compact`] moves into the
//!   ledger's [`Checkpoint`], so that memory stays flat.
//!
//! # Key decision: the log is the only truth
//! Nothing but [`Entry`]s is ever written; a balance is a cache, the fold of
//! its account's entry deltas, kept beside the log so that reads are O(1). The
//! cache can always be thrown away and rebuilt ([`Ledger::recompute_balances`]),
//! and that is exactly what [`check`] does: it trusts no cached number, folds
//! the entries from scratch in lsn order, and compares every cache (the
//! leader's and each replica's) with the fold. So a bug in the fast path shows
//! up as a breach, never as a silently wrong balance.
//!
//! This crate knows nothing about regions, networks or read strategies. It
//! does no I/O, and nothing in it depends on hash-map iteration order.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod invariants;
mod ledger;
mod replica;

use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

pub use error::{LedgerError, Request};
pub use invariants::{check, Acknowledged, Breach, Checker, InvariantReport, MAX_STORED_BREACHES};
pub use ledger::{ChargeOutcome, ChargeReply, Checkpoint, Ledger, RefundReply};
pub use replica::Replica;
pub use topology::Micros;

/// Dense index of a wallet account: `0..accounts`.
pub type AccountId = u32;

/// Money in minor units (cents). Entry amounts are always > 0; balances are
/// never < 0 in a ledger built through [`Ledger`]'s API.
pub type Amount = i64;

/// Log sequence number: 1-based and dense, entry `i` of the log has lsn `i + 1`.
/// Lsn 0 means "nothing yet".
pub type Lsn = u64;

/// A client-chosen idempotency key: every request carrying the same key has
/// at most one effect, and every retry gets the first answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IdemKey(pub u64);

impl fmt::Display for IdemKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "key {}", self.0)
    }
}

/// What an [`Entry`] does to its account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// Money paid in.
    TopUp,
    /// Money paid out for a purchase.
    Charge,
    /// Money given back from an earlier charge (see [`Entry::refund_of`]).
    Refund,
}

/// One immutable fact of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Position in the log (see [`Lsn`]).
    pub lsn: Lsn,
    /// The account whose balance the entry moves.
    pub account: AccountId,
    /// Which way the money moves.
    pub kind: EntryKind,
    /// How much, always > 0; the sign comes from [`Entry::delta`].
    pub amount: Amount,
    /// The idempotency key of the request that made it; `None` for top-ups.
    pub key: Option<IdemKey>,
    /// For a [`EntryKind::Refund`], the lsn of the charge it refunds; `None`
    /// for every other kind.
    pub refund_of: Option<Lsn>,
    /// When the leader appended it, in simulated time.
    pub committed_at: Micros,
}

impl Entry {
    /// The signed change to the account's balance: `+amount` for top-ups and
    /// refunds, `-amount` for charges.
    pub fn delta(&self) -> Amount {
        match self.kind {
            EntryKind::TopUp | EntryKind::Refund => self.amount,
            EntryKind::Charge => -self.amount,
        }
    }
}

/// A `HashMap` for `u64`-like keys (idempotency keys, lsns) that is only ever
/// looked up, never iterated. The default SipHash is a measurable share of the
/// hot path, and DoS resistance is pointless inside a simulator.
type LookupMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<U64Hasher>>;

/// One multiply per key, then the high bits folded down: hashbrown picks the
/// bucket from the low bits and a tag from the top ones, so both must vary
/// even when keys differ only in their high half.
#[derive(Default)]
struct U64Hasher(u64);

impl Hasher for U64Hasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 32)
    }
}
