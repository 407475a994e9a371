//! A follower's copy of the ledger, as far as it has caught up.

use crate::{AccountId, Amount, Checkpoint, Entry, Ledger, LedgerError, Lsn};

/// A follower's copy: applies the leader's entries strictly in lsn order; its
/// balances are the fold of what it has applied, so a read from it is the
/// leader's answer as of [`Replica::applied_lsn`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replica {
    balances: Vec<Amount>,
    applied: Lsn,
}

impl Replica {
    /// A replica over accounts `0..accounts` that has applied nothing.
    pub fn new(accounts: u32) -> Replica {
        Replica {
            balances: vec![0; accounts as usize],
            applied: 0,
        }
    }

    /// A replica that holds exactly the checkpoint: the state a follower
    /// restores from a snapshot before it applies the log after it.
    pub fn from_checkpoint(c: &Checkpoint) -> Replica {
        Replica {
            balances: c.balances.clone(),
            applied: c.lsn,
        }
    }

    /// Applies the next entry of the log. Refuses ([`LedgerError::OutOfOrder`])
    /// any entry whose lsn is not `applied_lsn() + 1` — a redelivered one as
    /// well as one past a gap — and an unknown account; either way the
    /// replica is left unchanged.
    pub fn apply(&mut self, e: &Entry) -> Result<(), LedgerError> {
        let expected = self.applied + 1;
        if e.lsn != expected {
            return Err(LedgerError::OutOfOrder {
                expected,
                got: e.lsn,
            });
        }
        let accounts = self.balances.len() as u32;
        let balance =
            self.balances
                .get_mut(e.account as usize)
                .ok_or(LedgerError::UnknownAccount {
                    account: e.account,
                    accounts,
                })?;
        *balance += e.delta();
        self.applied = e.lsn;
        Ok(())
    }

    /// Applies every entry of `leader` past [`Replica::applied_lsn`] and
    /// returns how many that was.
    ///
    /// A replica behind the leader's checkpoint cannot catch up from the log
    /// ([`LedgerError::OutOfOrder`]): it needs the checkpoint first.
    pub fn catch_up(&mut self, leader: &Ledger) -> Result<u64, LedgerError> {
        let base = leader.checkpoint().lsn;
        if self.applied < base {
            return Err(LedgerError::OutOfOrder {
                expected: self.applied + 1,
                got: base + 1,
            });
        }
        let pending = leader
            .entries()
            .get((self.applied - base) as usize..)
            .unwrap_or(&[]);
        for e in pending {
            self.apply(e)?;
        }
        Ok(pending.len() as u64)
    }

    /// The lsn of the last entry applied; 0 before the first.
    pub fn applied_lsn(&self) -> Lsn {
        self.applied
    }

    /// The account's balance as of [`Replica::applied_lsn`].
    ///
    /// # Panics
    /// If the account does not exist.
    pub fn balance(&self, account: AccountId) -> Amount {
        self.balances[account as usize]
    }

    /// Every account's balance as of [`Replica::applied_lsn`], indexed by account.
    pub fn balances(&self) -> &[Amount] {
        &self.balances
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IdemKey;

    fn leader() -> Ledger {
        let mut l = Ledger::new(2).unwrap();
        l.top_up(0, 100, 0).unwrap();
        l.top_up(1, 50, 1).unwrap();
        l.charge(0, 30, IdemKey(1), 2).unwrap();
        l.refund(3, 10, IdemKey(2), 3).unwrap();
        l
    }

    #[test]
    fn applies_in_order_and_converges() {
        let l = leader();
        let mut r = Replica::new(2);
        for (applied, e) in l.entries().iter().enumerate() {
            assert_eq!(r.applied_lsn(), applied as u64);
            r.apply(e).unwrap();
        }
        assert_eq!(r.applied_lsn(), l.last_lsn());
        assert_eq!(r.balances(), [l.balance(0), l.balance(1)]);
        assert_eq!(r.balance(0), 80);
    }

    #[test]
    fn out_of_order_entries_are_rejected_and_change_nothing() {
        let l = leader();
        let mut r = Replica::new(2);
        r.apply(&l.entries()[0]).unwrap();
        let before = r.clone();
        // A gap ...
        assert_eq!(
            r.apply(&l.entries()[2]),
            Err(LedgerError::OutOfOrder {
                expected: 2,
                got: 3
            })
        );
        // ... and a redelivery.
        assert_eq!(
            r.apply(&l.entries()[0]),
            Err(LedgerError::OutOfOrder {
                expected: 2,
                got: 1
            })
        );
        assert_eq!(r, before);
    }

    #[test]
    fn an_entry_for_an_unknown_account_is_rejected() {
        let l = leader();
        let mut r = Replica::new(1);
        r.apply(&l.entries()[0]).unwrap();
        assert_eq!(
            r.apply(&l.entries()[1]),
            Err(LedgerError::UnknownAccount {
                account: 1,
                accounts: 1
            })
        );
        assert_eq!(r.applied_lsn(), 1);
    }

    #[test]
    fn catch_up_applies_only_what_is_missing() {
        let l = leader();
        let mut r = Replica::new(2);
        r.apply(&l.entries()[0]).unwrap();
        assert_eq!(r.catch_up(&l), Ok(3));
        assert_eq!(r.catch_up(&l), Ok(0));
        assert_eq!(r.balances(), l.recompute_balances());
    }
}
