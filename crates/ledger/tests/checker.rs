//! The checker finds each kind of breach, pointing at the first offending
//! entry, in ledgers the API would never produce; and it passes a clean one.

use ledger::{
    check, Acknowledged, Amount, Breach, ChargeOutcome, Entry, EntryKind, IdemKey, Ledger, Lsn,
    Replica, MAX_STORED_BREACHES,
};

/// Builds a log from `(kind, account, amount)` rows, numbering lsns densely.
/// Charges and refunds get key `lsn`; the helpers below override fields.
fn log(rows: &[(EntryKind, u32, Amount)]) -> Vec<Entry> {
    (1..)
        .zip(rows)
        .map(|(lsn, &(kind, account, amount))| Entry {
            lsn,
            account,
            kind,
            amount,
            key: (kind != EntryKind::TopUp).then_some(IdemKey(lsn)),
            refund_of: None,
            committed_at: lsn * 10,
        })
        .collect()
}

fn refund_of(mut entries: Vec<Entry>, refund: Lsn, charge: Lsn) -> Vec<Entry> {
    entries[refund as usize - 1].refund_of = Some(charge);
    entries
}

fn ack(ledger: &Ledger, lsn: Lsn) -> Acknowledged {
    let e = ledger.entry(lsn).expect("acknowledged entry exists");
    Acknowledged {
        kind: e.kind,
        key: e.key.expect("charges have keys"),
        lsn,
        account: e.account,
        amount: e.amount,
    }
}

fn caught_up(ledger: &Ledger) -> Replica {
    let mut replica = Replica::new(ledger.accounts());
    replica.catch_up(ledger).unwrap();
    replica
}

use EntryKind::{Charge, Refund, TopUp};

#[test]
fn a_clean_run_is_ok() {
    let mut l = Ledger::new(3).unwrap();
    l.top_up(0, 500, 1).unwrap();
    l.top_up(1, 50, 2).unwrap();
    let mut acks = Vec::new();
    for (account, amount, key) in [
        (0, 200, 1),
        (1, 80, 2),
        (0, 200, 1),
        (0, 300, 3),
        (1, 50, 4),
    ] {
        if let ChargeOutcome::Accepted { lsn } =
            l.charge(account, amount, IdemKey(key), 3).unwrap().outcome
        {
            acks.push(Acknowledged {
                kind: EntryKind::Charge,
                key: IdemKey(key),
                lsn,
                account,
                amount,
            });
        }
    }
    l.refund(acks[0].lsn, 150, IdemKey(10), 4).unwrap();
    l.refund(acks[0].lsn, 50, IdemKey(11), 5).unwrap();
    let replica = caught_up(&l);

    let report = check(&l, &acks, &[&replica, &replica]);
    assert!(report.ok(), "{report}");
    assert_eq!(report.first(), None);
    assert_eq!(report.entries_checked, l.last_lsn());
    assert_eq!(report.entries_checked, 7);
}

#[test]
fn an_overspend_is_found_at_the_charge_that_made_it() {
    let l = Ledger::from_entries_unchecked(
        2,
        log(&[
            (TopUp, 0, 100),
            (Charge, 0, 60),
            (TopUp, 1, 5),
            (Charge, 0, 60),
            (Charge, 0, 1),
        ]),
    );
    let report = check(&l, &[], &[]);
    assert_eq!(
        report.first(),
        Some(&Breach::NegativeBalance {
            account: 0,
            lsn: 4,
            balance: -20
        })
    );
    // The next charge digs deeper and is an overspend of its own.
    assert_eq!(report.breach_count, 2);
    assert!(report.first().unwrap().to_string().contains("lsn 4"));
}

#[test]
fn a_top_up_out_of_the_red_is_not_an_overspend() {
    let l =
        Ledger::from_entries_unchecked(1, log(&[(Charge, 0, 10), (TopUp, 0, 5), (TopUp, 0, 5)]));
    let report = check(&l, &[], &[]);
    assert_eq!(report.breaches.len(), 1, "{report}");
    assert!(matches!(
        report.first(),
        Some(Breach::NegativeBalance { lsn: 1, .. })
    ));
}

#[test]
fn a_key_with_two_effects_is_found_at_its_second_entry() {
    let mut entries = log(&[
        (TopUp, 0, 100),
        (Charge, 0, 10),
        (Charge, 0, 3),
        (Charge, 0, 10),
    ]);
    entries[3].key = Some(IdemKey(2));
    let l = Ledger::from_entries_unchecked(2, entries);
    let report = check(&l, &[], &[]);
    assert_eq!(
        report.breaches,
        [Breach::DuplicateEffect {
            key: IdemKey(2),
            first: 2,
            again: 4
        }]
    );
}

#[test]
fn a_key_shared_by_a_charge_and_a_refund_is_a_duplicate_effect() {
    let mut entries = refund_of(
        log(&[(TopUp, 0, 100), (Charge, 0, 10), (Refund, 0, 10)]),
        3,
        2,
    );
    entries[2].key = Some(IdemKey(2));
    let report = check(&Ledger::from_entries_unchecked(1, entries), &[], &[]);
    assert!(matches!(
        report.first(),
        Some(Breach::DuplicateEffect {
            first: 2,
            again: 3,
            ..
        })
    ));
}

#[test]
fn an_acknowledged_charge_missing_or_altered_is_lost() {
    let l =
        Ledger::from_entries_unchecked(2, log(&[(TopUp, 0, 100), (Charge, 0, 30), (TopUp, 1, 9)]));
    let good = ack(&l, 2);
    let beyond = Acknowledged { lsn: 4, ..good };
    let other_amount = Acknowledged { amount: 31, ..good };
    let other_account = Acknowledged { account: 1, ..good };
    let other_key = Acknowledged {
        key: IdemKey(99),
        ..good
    };
    let not_a_charge = Acknowledged { lsn: 3, ..good };
    let report = check(
        &l,
        &[
            good,
            beyond,
            other_amount,
            other_account,
            other_key,
            not_a_charge,
        ],
        &[],
    );
    let lost = |a: Acknowledged| Breach::LostAcknowledged {
        kind: a.kind,
        key: a.key,
        lsn: a.lsn,
    };
    assert_eq!(
        report.breaches,
        [beyond, other_amount, other_account, other_key, not_a_charge].map(lost)
    );
}

#[test]
fn refunds_beyond_their_charge_are_found_at_the_refund_that_crossed() {
    let entries = log(&[
        (TopUp, 0, 100),
        (Charge, 0, 50),
        (Refund, 0, 30),
        (Refund, 0, 20),
        (Refund, 0, 1),
    ]);
    let entries = refund_of(refund_of(refund_of(entries, 3, 2), 4, 2), 5, 2);
    let report = check(&Ledger::from_entries_unchecked(1, entries), &[], &[]);
    assert_eq!(
        report.breaches,
        [Breach::RefundOverCharge {
            charge: 2,
            refund: 5,
            refunded: 51,
            charged: 50
        }]
    );
}

#[test]
fn a_refund_of_something_that_is_not_its_charge_refunds_a_charge_of_zero() {
    let entries = log(&[
        (TopUp, 0, 100),
        (TopUp, 1, 100),
        (Charge, 1, 50),
        (Refund, 0, 5), // of a top-up
        (Refund, 0, 5), // of another account's charge
        (Refund, 0, 5), // of nothing
        (Refund, 1, 5), // of a later charge
        (Charge, 1, 5),
    ]);
    let entries = refund_of(refund_of(refund_of(entries, 4, 1), 5, 3), 7, 8);
    let report = check(&Ledger::from_entries_unchecked(2, entries), &[], &[]);
    let over = |charge, refund| Breach::RefundOverCharge {
        charge,
        refund,
        refunded: 5,
        charged: 0,
    };
    assert_eq!(
        report.breaches,
        [over(1, 4), over(3, 5), over(0, 6), over(8, 7)]
    );
}

#[test]
fn a_gap_in_the_lsns_is_found() {
    let mut entries = log(&[(TopUp, 0, 100), (TopUp, 0, 100), (TopUp, 0, 100)]);
    entries[1].lsn = 3;
    entries[2].lsn = 4;
    let report = check(&Ledger::from_entries_unchecked(1, entries), &[], &[]);
    assert_eq!(
        report.breaches,
        [
            Breach::Misnumbered {
                expected: 2,
                got: 3
            },
            Breach::Misnumbered {
                expected: 3,
                got: 4
            }
        ]
    );
}

#[test]
fn a_replica_that_applied_a_different_log_has_diverged() {
    let rows = [(TopUp, 0, 100), (TopUp, 1, 40), (Charge, 1, 10)];
    let leader = Ledger::from_entries_unchecked(3, log(&rows));
    let mut forked = log(&rows);
    forked[2].amount = 11;
    let mut replica = Replica::new(3);
    for e in &forked {
        replica.apply(e).unwrap();
    }
    let good = caught_up(&leader);
    let report = check(&leader, &[], &[&good, &replica]);
    assert_eq!(
        report.breaches,
        [Breach::Diverged {
            replica: 1,
            account: 1,
            replica_balance: 29,
            leader_balance: 30
        }]
    );
}

#[test]
fn a_replica_with_extra_accounts_must_hold_nothing_there() {
    let leader = Ledger::from_entries_unchecked(1, log(&[(TopUp, 0, 100), (TopUp, 0, 100)]));
    let mut replica = Replica::new(2);
    for e in log(&[(TopUp, 0, 200), (TopUp, 1, 7)]) {
        replica.apply(&e).unwrap();
    }
    let report = check(&leader, &[], &[&replica]);
    assert_eq!(
        report.breaches,
        [Breach::Diverged {
            replica: 0,
            account: 1,
            replica_balance: 7,
            leader_balance: 0
        }]
    );
}

#[test]
fn a_replica_that_has_not_caught_up_is_reported_not_compared() {
    let leader = Ledger::from_entries_unchecked(1, log(&[(TopUp, 0, 100), (Charge, 0, 10)]));
    let mut lagging = Replica::new(1);
    lagging.apply(&leader.entries()[0]).unwrap();
    let report = check(&leader, &[], &[&lagging]);
    assert_eq!(
        report.breaches,
        [Breach::ReplicaNotCaughtUp {
            replica: 0,
            applied: 1,
            last: 2
        }]
    );
}

#[test]
fn breaches_are_counted_past_the_stored_ones() {
    let rows: Vec<_> = (0..500).map(|_| (Charge, 0, 1)).collect();
    let report = check(&Ledger::from_entries_unchecked(1, log(&rows)), &[], &[]);
    assert_eq!(report.breach_count, 500);
    assert_eq!(report.breaches.len(), MAX_STORED_BREACHES);
    assert_eq!(
        report.first(),
        Some(&Breach::NegativeBalance {
            account: 0,
            lsn: 1,
            balance: -1
        })
    );
    assert!(!report.ok());
}

/// Compaction forgets a key only once it is older than the horizon the
/// caller gives: a retry inside it is still recognised, a reuse past it is a
/// new request (as with a payment API's key expiry).
#[test]
fn keys_expire_only_past_their_horizon() {
    let mut l = Ledger::new(1).unwrap();
    l.top_up(0, 100, 0).unwrap();
    l.charge(0, 10, IdemKey(7), 1_000).unwrap();
    let folded = l.compact(l.last_lsn(), 1_000);
    assert_eq!(folded.len(), 2);
    assert_eq!(l.checkpoint().lsn, 2);
    assert_eq!(l.entry(2), None, "folded away");
    assert!(l.charge(0, 10, IdemKey(7), 2_000).unwrap().duplicate);
    l.compact(l.last_lsn(), 1_001);
    assert!(!l.charge(0, 10, IdemKey(7), 3_000).unwrap().duplicate);
    assert_eq!(l.balance(0), 80);
    assert_eq!(l.recompute_balances(), vec![80]);
}
