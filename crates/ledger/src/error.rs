//! Why a write or an apply was refused.

use std::fmt;

use crate::{AccountId, Amount, IdemKey, Lsn};

/// A keyed request as the ledger remembers it, to tell a retry (same request)
/// from a reused key (a different request under the same key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// [`Ledger::charge`](crate::Ledger::charge) of `amount` to `account`.
    Charge {
        /// The charged account.
        account: AccountId,
        /// The charged amount.
        amount: Amount,
    },
    /// [`Ledger::refund`](crate::Ledger::refund) of `amount` from the charge at lsn `charge`.
    Refund {
        /// The refunded charge's lsn.
        charge: Lsn,
        /// The refunded amount.
        amount: Amount,
    },
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Request::Charge { account, amount } => {
                write!(f, "a charge of {amount} to account {account}")
            }
            Request::Refund { charge, amount } => {
                write!(f, "a refund of {amount} from the charge at lsn {charge}")
            }
        }
    }
}

/// A request the ledger (or a replica) refused. Nothing was appended or
/// applied, and a refused request does not use up its idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// A ledger without accounts can hold no money.
    #[error("a ledger needs at least one account: pass accounts >= 1")]
    NoAccounts,
    /// The account id is not below the ledger's account count.
    #[error("account {account} does not exist: valid ids are 0..{accounts}")]
    UnknownAccount {
        /// The id asked for.
        account: AccountId,
        /// How many accounts there are.
        accounts: u32,
    },
    /// Amounts are magnitudes; the operation gives the direction.
    #[error("amount must be > 0 minor units, got {amount}: to give money back, refund the charge")]
    NonPositiveAmount {
        /// The amount given.
        amount: Amount,
    },
    /// The balance would no longer fit an [`Amount`].
    #[error(
        "account {account} would overflow: balance {balance} + {amount} does not fit an i64; \
         spread the money over more accounts"
    )]
    Overflow {
        /// The account.
        account: AccountId,
        /// Its balance before the request.
        balance: Amount,
        /// The amount to add.
        amount: Amount,
    },
    /// A replica was handed an entry that is not the next one in the log.
    #[error(
        "entry lsn {got} arrived out of order, expected lsn {expected}: apply the leader's \
         entries strictly in lsn order (drop lsns already applied, wait for the missing ones)"
    )]
    OutOfOrder {
        /// The lsn the replica can apply next.
        expected: Lsn,
        /// The lsn it was handed.
        got: Lsn,
    },
    /// The key was already used for a different request.
    #[error(
        "{key} was first used for {first} and now for {again}: \
         a retry must repeat the request exactly; a new request needs a fresh key"
    )]
    KeyReused {
        /// The reused key.
        key: IdemKey,
        /// The request it was first used for.
        first: Request,
        /// The different request now carrying it.
        again: Request,
    },
    /// The refunds of one charge would add up to more than the charge.
    #[error(
        "refunding {requested} from the charge at lsn {charge} would exceed it: \
         {refunded} of its {charged} is already refunded, at most {} is left",
        charged - refunded
    )]
    RefundExceedsCharge {
        /// The charge's lsn.
        charge: Lsn,
        /// The charge's amount.
        charged: Amount,
        /// What its earlier refunds add up to.
        refunded: Amount,
        /// The refund asked for.
        requested: Amount,
    },
    /// A refund named an lsn that is not a charge.
    #[error(
        "lsn {lsn} is not a charge in this ledger: refund the lsn that an accepted charge returned"
    )]
    UnknownCharge {
        /// The lsn given.
        lsn: Lsn,
    },
}
