//! `kata86 plan`: it reproduces DESIGN.md's choice on the kata's topology,
//! names the binding constraint when nothing can pass, gives the same bytes
//! on any thread count, and refuses what means nothing.

mod common;

use std::process::Command;

use common::{ok, ok_at_root, refused, repo_root};
use serde_json::Value;

#[test]
fn the_kata_plan_ranks_designs_choice_first() {
    // DESIGN.md §3: single leader, majority commits, automatic promotion,
    // bounded-staleness reads. One run per scenario keeps the test short;
    // DESIGN quotes the default five.
    let out = ok(&["plan", "--runs", "1", "--format", "json"]);
    let v: Value = serde_json::from_str(&out).expect("JSON");
    let ranked = v["ranked"].as_array().expect("ranked");
    // Option A's best; Option B is judged below (one run is too few to
    // show its failures: see `option_b_is_rejected_by_the_same_verdicts`).
    let first_a = ranked
        .iter()
        .find(|d| {
            !d["design"]
                .as_str()
                .unwrap_or("")
                .starts_with("multi-leader")
        })
        .expect("a single-leader design is accepted");
    assert_eq!(
        first_a["design"], "majority / promote-auto / bounded",
        "{out}"
    );
    // Every accepted design kept the money; async with promotion did not.
    let rejected = v["rejected"].as_array().expect("rejected");
    let why = |name: &str| {
        rejected
            .iter()
            .find(|d| d["design"] == name)
            .and_then(|d| d["rejected"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    assert!(why("async / promote-auto / bounded").starts_with("money:"));
    // Option B is judged by the same per-site verdicts: lww and crdt lose
    // on money, escrow on whatever verdict it fails (never "not modelled").
    for strategy in ["local", "fallback", "bounded"] {
        assert!(why(&format!("multi-leader lww / {strategy}")).starts_with("money:"));
        assert!(why(&format!("multi-leader crdt / {strategy}")).starts_with("money:"));
        let escrow = format!("multi-leader escrow / {strategy}");
        let judged = rejected
            .iter()
            .chain(ranked)
            .find(|d| d["design"] == escrow.as_str())
            .expect("escrow is played");
        assert!(
            judged["verdicts"].as_array().is_some_and(|v| !v.is_empty()),
            "{escrow} is judged per site and phase: {judged}"
        );
        assert!(!why(&escrow).starts_with("not"), "{}", why(&escrow));
    }
    assert!(why("quorum N3 R2 W2").starts_with("not judged on money"));
    assert!(ranked.iter().all(|d| d["money_breach"].is_null()));
    assert!(v["pareto"].as_array().is_some_and(|p| !p.is_empty()));
}

/// DESIGN.md's A-versus-B choice: over three runs, escrow with bounded
/// reads is rejected by a per-site verdict (not by money, never as "not
/// modelled"), and A's design ranks first.
#[test]
fn option_b_is_rejected_by_the_same_verdicts() {
    let out = ok(&[
        "plan",
        "--runs",
        "3",
        "--write-path",
        "majority,escrow",
        "--strategy",
        "bounded",
        "--format",
        "json",
    ]);
    let v: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(
        v["ranked"][0]["design"], "majority / promote-auto / bounded",
        "{out}"
    );
    let escrow = v["rejected"]
        .as_array()
        .expect("rejected")
        .iter()
        .find(|d| d["design"] == "multi-leader escrow / bounded")
        .expect("escrow is rejected");
    let why = escrow["rejected"].as_str().expect("a reason");
    assert!(
        why.contains(" at VN in ") || why.contains(" at US in "),
        "{why}"
    );
    assert!(escrow["money_breach"].is_null(), "{escrow}");
}

#[test]
fn an_impossible_slo_is_named_as_the_binding_constraint() {
    let out = ok_at_root(&[
        "plan",
        "--scenario",
        "examples/plan-impossible-charge-slo.toml",
        "--runs",
        "1",
        "--write-path",
        "majority",
        "--write-path",
        "async",
    ]);
    assert!(out.contains("No design meets every SLO"), "{out}");
    assert!(
        out.contains("charge_p95 < 30 ms: the best design reaches"),
        "{out}"
    );
}

#[test]
fn the_plan_is_the_same_on_one_thread_and_two() {
    let args = [
        "plan",
        "--runs",
        "2",
        "--write-path",
        "majority",
        "--write-path",
        "quorum",
        "--format",
        "json",
    ];
    let with = |threads: &str| {
        let o = Command::new(env!("CARGO_BIN_EXE_kata86"))
            .args(args)
            .env("RAYON_NUM_THREADS", threads)
            .current_dir(repo_root())
            .output()
            .expect("runs");
        assert!(o.status.success());
        o.stdout
    };
    assert_eq!(with("1"), with("2"));
}

#[test]
fn plans_refuse_what_means_nothing() {
    for (args, says) in [
        (
            vec!["plan", "--priorities", "money,latency"],
            "unknown priority `latency`",
        ),
        (
            vec!["plan", "--write-path", "lww", "--strategy", "leader"],
            "search space is empty",
        ),
        (vec!["plan", "--runs", "0"], "--runs 0"),
        (
            vec![
                "plan",
                "--write-path",
                "majority",
                "--write-path",
                "majorty",
            ],
            "invalid value 'majorty' for '--write-path <PATH>'",
        ),
        (
            vec!["plan", "--strategy", "nearest"],
            "invalid value 'nearest' for '--strategy <NAME>'",
        ),
        (
            vec!["plan", "--format", "csv"],
            "[possible values: table, json]",
        ),
    ] {
        let err = refused(&args);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn four_plan_shards_merge_to_the_single_run() {
    let dir = std::env::temp_dir().join(format!("kata86-plan-shards-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let base = [
        "plan",
        "--scenario",
        "examples/sg-down-two-regions.toml",
        "--without-flags",
        "--runs",
        "1",
        "--write-path",
        "majority",
        "--write-path",
        "crdt",
        "--write-path",
        "quorum",
        "-q",
    ];
    let mut files = Vec::new();
    for i in 0..4 {
        let file = dir.join(format!("shard-{i}.json"));
        let shard = format!("{i}/4");
        let mut args = base.to_vec();
        args.extend(["--shard", &shard, "--out", file.to_str().expect("utf-8")]);
        let printed = ok_at_root(&args);
        assert!(printed.is_empty(), "a shard prints no report: {printed}");
        files.push(file);
    }
    for format in ["table", "json"] {
        let mut single = base.to_vec();
        single.extend(["--format", format]);
        let mut merge = vec!["merge", "--format", format];
        merge.extend(files.iter().map(|f| f.to_str().expect("utf-8")));
        // The merge runs elsewhere: the scenario's text travels in the files.
        assert_eq!(ok(&merge), ok_at_root(&single), "{format}");
    }
    let two = [
        "merge",
        files[0].to_str().unwrap(),
        files[0].to_str().unwrap(),
    ];
    assert!(refused(&two).contains("shard"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue #19: a 30-minute SG outage spends about 70 % of a 30-day 99.9 %
/// charge budget at a site that waits it out, over the 10 % one incident may
/// spend: every `reject-writes` design is rejected on charge availability at
/// both sites in that fault, while `majority / promote-auto` designs pass.
#[test]
fn a_long_outage_rejects_waiting_it_out_on_the_budget_it_spends() {
    let out = ok_at_root(&[
        "plan",
        "--scenario",
        "examples/sg-down-30-minutes.toml",
        "--strategy",
        "bounded",
        "--runs",
        "4",
        "--format",
        "json",
    ]);
    let v: Value = serde_json::from_str(&out).expect("JSON");
    let rejected = v["rejected"].as_array().expect("rejected");
    let ranked = v["ranked"].as_array().expect("ranked");
    for mode in ["async", "semi-sync", "majority"] {
        let name = format!("{mode} / reject-writes / bounded");
        let d = rejected
            .iter()
            .find(|d| d["design"] == name.as_str())
            .unwrap_or_else(|| panic!("{name} accepted: {out}"));
        for site in ["VN", "US"] {
            let f = d["failing_verdicts"]
                .as_array()
                .expect("failing verdicts")
                .iter()
                .find(|f| {
                    f["verdict"]["site"] == site
                        && f["verdict"]["slo"] == "charge_availability"
                        && f["verdict"]["phase"] == "fault"
                })
                .unwrap_or_else(|| panic!("{name}: no charge availability failure at {site}"));
            let p95 = f["verdict"]["budget"]["consumed_ppm"]["p95"]
                .as_f64()
                .expect("a budget");
            // 1,800 s of a 2,592 s budget, less the few charges answered.
            assert!(
                (600_000.0..760_000.0).contains(&p95),
                "{name} {site}: {p95}"
            );
        }
    }
    assert!(
        ranked
            .iter()
            .any(|d| d["design"] == "majority / promote-auto / bounded"),
        "{out}"
    );
    // Every verdict of an accepted design passes; each one's pass follows
    // from its own counts.
    for d in ranked {
        for f in d["verdicts"].as_array().expect("verdicts") {
            assert_eq!(f["verdict"]["pass"], true, "{f}");
        }
    }
}
