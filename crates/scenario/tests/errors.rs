//! Every semantic check, one line of a table each: the input, the line the
//! error must name, and words it must hold. Inputs are short scenario files
//! over the default topology (SG, US, JP; sites VN and US).

use scenario::{parse_drill, parse_topology, Length};

/// `(scenario text, expected line, expected words)`.
const DRILL: &[(&str, usize, &[&str])] = &[
    // Numbers beyond their bounds, with the bound in the message.
    ("duration_s = 1e308\n", 1, &["duration_s = 1e308", "86400"]),
    ("duration_s = 0\n", 1, &["duration_s = 0", "1 to 86400 s"]),
    ("\nrate = 1e7\n", 2, &["rate = 1e7", "1000000"]),
    ("\nrate = 1e6\nduration_s = 3600\n", 2, &["requests", "MB", "--allow-long"]),
    ("rate = 20000\nduration_s = 86400\n", 1, &["requests", "--allow-long"]),
    ("accounts = 4294967295\n", 1, &["accounts", "1000000"]),
    ("accounts = 2.5\n", 1, &["whole number"]),
    ("signal_window_s = 1e300\n", 1, &["signal_window_s", "3600"]),
    ("duration_s = 100\nsignal_window_s = 200\n", 2, &["longer than the drill"]),
    ("[[fault]]\nkind = \"lag-spike\"\nfrom = \"SG\"\nto = \"US\"\nextra_ms = 1e308\nstart_s = 1\nend_s = 2\n", 5, &["extra_ms = 1e308", "600000 ms"]),
    ("[[fault]]\nkind = \"lag-spike\"\nfrom = \"SG\"\nto = \"US\"\nextra_ms = -5\nstart_s = 1\nend_s = 2\n", 5, &["extra_ms = -5", "ms"]),
    ("[[fault]]\nkind = \"link-delay\"\na = \"SG\"\nb = \"JP\"\ndelay_ms = 5000\nstart_s = 1\nend_s = 2\n", 5, &["fault[1].delay_ms = 5000", "0 to 2000 ms", "heartbeat timeout"]),
    ("[[fault]]\nkind = \"link-delay\"\na = \"SG\"\nb = \"JP\"\ndelay_ms = -1\nstart_s = 1\nend_s = 2\n", 5, &["delay_ms = -1", "ms"]),
    ("[[fault]]\nkind = \"disk-stall\"\nregion = \"JP\"\nstall_ms = 1e9\nstart_s = 1\nend_s = 2\n", 4, &["fault[1].stall_ms = 1e9", "0 to 60000 ms", "per fsync"]),
    ("[[fault]]\nkind = \"disk-stall\"\nregion = \"JP\"\nstall_ms = nan\nstart_s = 1\nend_s = 2\n", 4, &["stall_ms = nan"]),
    // One source of SLOs: an included OpenSLO file, or [[slo]] tables.
    ("slo_file = \"slos.yaml\"\n[[slo]]\nname = \"x\"\nseries = \"read\"\nquantile = 0.95\ntarget_ms = 100\n", 2, &["slo_file = \"slos.yaml\"", "one source of SLOs"]),
    ("slo_file = \"slos.yaml\"\nslo_budget_days = 7\n", 2, &["slo_budget_days = 7", "time window"]),
    ("slo_file = \" \"\n", 1, &["slo_file", "path of an OpenSLO file"]),
    // Names that must exist.
    ("[[slo]]\nname = \"x\"\nseries = \"read\"\nquantile = 0.95\ntarget_ms = 100\nsite = \"MARS\"\n", 6, &["MARS", "VN"]),
    ("[[fault]]\nkind = \"region-down\"\nregion = \"EU\"\nstart_s = 1\nend_s = 2\n", 3, &["EU", "SG"]),
    ("leader = \"XX\"\n", 1, &["XX"]),
    ("[[flag]]\nname = \"PANIC_MODE\"\non_s = 1\noff_s = 2\n", 2, &["PANIC_MODE", "FORCE_LEADER_READ"]),
    ("[[clock]]\nkind = \"offset\"\nregion = \"MOON\"\noffset_ms = 1\n", 3, &["MOON"]),
    ("policy = \"pray\"\n", 1, &["pray", "promote-auto"]),
    ("strategy = \"nearest\"\n", 1, &["nearest", "bounded"]),
    ("[[fault]]\nkind = \"link-delay\"\na = \"SG\"\nb = \"MARS\"\ndelay_ms = 400\nstart_s = 1\nend_s = 2\n", 4, &["fault[1].b", "MARS", "SG"]),
    ("[[fault]]\nkind = \"disk-stall\"\nregion = \"EU\"\nstall_ms = 100\nstart_s = 1\nend_s = 2\n", 3, &["fault[1].region", "EU"]),
    // Duplicates, self-loops, empty names.
    ("[[fault]]\nkind = \"link-delay\"\na = \"SG\"\nb = \"SG\"\ndelay_ms = 400\nstart_s = 1\nend_s = 2\n", 4, &["two different regions"]),
    ("[[fault]]\nkind = \"link-delay\"\na = \"SG\"\nb = \"JP\"\ndelay_ms = 400\nstart_s = 10\nend_s = 20\n\n[[fault]]\nkind = \"link-delay\"\na = \"JP\"\nb = \"SG\"\ndirection = \"a->b\"\ndelay_ms = 100\nstart_s = 15\nend_s = 30\n", 9, &["fault 2", "contradicts fault 1", "one direction of a link"]),
    ("[[fault]]\nkind = \"disk-stall\"\nregion = \"JP\"\nstall_ms = 100\nstart_s = 10\nend_s = 20\n[[fault]]\nkind = \"disk-stall\"\nregion = \"JP\"\nstall_ms = 200\nstart_s = 19\nend_s = 30\n", 7, &["fault 2", "two disk stalls of one region"]),
    ("[[clock]]\nkind = \"offset\"\nregion = \"SG\"\noffset_ms = 1\n[[clock]]\nkind = \"offset\"\nregion = \"SG\"\noffset_ms = 2\n", 7, &["already given"]),
    ("[[alert]]\nname = \"a\"\nsignal = \"lag_p95_ms\"\nthreshold = 1\n[[alert]]\nname = \"a\"\nsignal = \"lag_p99_ms\"\nthreshold = 1\n", 6, &["name of its own"]),
    ("witnesses = [\"JP\", \"JP\"]\n", 1, &["listed twice"]),
    ("[topology]\nregions = [\"SG\", \"\"]\nlinks = []\nsites = [{ name = \"VN\", home = \"SG\", rtt_ms = { SG = 1 } }]\n", 2, &["needs a name"]),
    ("[topology]\nregions = [\"SG\"]\nlinks = [{ a = \"SG\", b = \"SG\", rtt_ms = 1 }]\nsites = [{ name = \"VN\", home = \"SG\", rtt_ms = { SG = 1 } }]\n", 3, &["two different regions"]),
    ("[topology]\nregions = [\"SG\"]\nlinks = []\nsites = [{ name = \"VN\", home = \"\", rtt_ms = { SG = 1 } }]\n", 4, &["home", "needs a home region"]),
    ("[topology]\nregions = [\"SG\", \"US\"]\nlinks = [{ a = \"SG\", b = \"US\", rtt_ms = 1e308 }]\nsites = [{ name = \"VN\", home = \"SG\", rtt_ms = { SG = 1, US = 2 } }]\n", 3, &["rtt_ms = 1e308", "10000"]),
    ("[topology]\nregions = [\"SG\", \"US\"]\nlinks = [{ a = \"SG\", b = \"EU\", rtt_ms = 1 }]\nsites = [{ name = \"VN\", home = \"SG\", rtt_ms = { SG = 1, US = 2 } }]\n", 3, &["EU", "SG, US"]),
    ("[topology]\nregions = [\"SG\"]\nlinks = []\nsites = [{ name = \"VN\", home = \"SG\", rtt_ms = { SG = -4 } }]\n", 4, &["-4", "10000"]),
    // Events outside the drill, windows the wrong way round.
    ("duration_s = 60\n[[fault]]\nkind = \"region-down\"\nregion = \"SG\"\nstart_s = 10\nend_s = 90\n", 6, &["end_s = 90", "after the drill ends at 60 s"]),
    ("duration_s = 300\n\n[[fault]]\nkind = \"region-down\"\nregion = \"SG\"\nstart_s = 50\nend_s = 40\n", 7, &["end_s = 40", "after it starts at 50 s"]),
    ("duration_s = 60\n[[flag]]\nname = \"WRITE_READONLY_MODE\"\non_s = 10\noff_s = 90\n", 5, &["WRITE_READONLY_MODE", "90", "60 s"]),
    ("duration_s = 60\n[[clock]]\nkind = \"step\"\nregion = \"SG\"\nat_s = 61\nbefore_ms = 0\nafter_ms = -3000\n", 5, &["at_s = 61", "after the drill ends"]),
    ("duration_s = 100\nonset_window_s = 30\n[[fault]]\nkind = \"region-down\"\nregion = \"SG\"\nstart_s = 10\nend_s = 90\n", 2, &["onset_window_s = 30", "past the drill's end"]),
    ("onset_window_s = -1\n", 1, &["onset_window_s = -1", "3600"]),
    ("[[flag]]\nname = \"DISABLE_RECS\"\non_s = 10\noff_s = 20\n[[flag]]\nname = \"DISABLE_RECS\"\non_s = 15\noff_s = 30\n", 7, &["already on", "merge"]),
    // Shapes: kinds, fields a kind needs or does not take, unknown keys.
    ("[[fault]]\nkind = \"meteor\"\nstart_s = 1\nend_s = 2\n", 2, &["meteor", "region-down", "link-delay", "disk-stall"]),
    ("[[fault]]\nkind = \"link-delay\"\na = \"SG\"\nstart_s = 1\nend_s = 2\n", 2, &["a link-delay needs `b`"]),
    ("[[fault]]\nkind = \"link-delay\"\na = \"SG\"\nb = \"JP\"\nstart_s = 1\nend_s = 2\n", 2, &["a link-delay needs `delay_ms`"]),
    ("[[fault]]\nkind = \"link-delay\"\na = \"SG\"\nb = \"JP\"\ndelay_ms = 400\ndirection = \"sideways\"\nstart_s = 1\nend_s = 2\n", 6, &["fault[1].direction", "sideways", "a->b", "b->a"]),
    ("[[fault]]\nkind = \"link-delay\"\na = \"SG\"\nb = \"JP\"\nextra_ms = 400\nstart_s = 1\nend_s = 2\n", 5, &["extra_ms", "does not apply to a link-delay"]),
    ("[[fault]]\nkind = \"link-delay\"\nfrom = \"SG\"\nto = \"JP\"\ndelay_ms = 400\nstart_s = 1\nend_s = 2\n", 3, &["from", "does not apply to a link-delay"]),
    ("[[fault]]\nkind = \"disk-stall\"\nregion = \"JP\"\nstart_s = 1\nend_s = 2\n", 2, &["a disk-stall needs `stall_ms`"]),
    ("[[fault]]\nkind = \"disk-stall\"\nregion = \"JP\"\nstall_ms = 100\ndelay_ms = 5\nstart_s = 1\nend_s = 2\n", 5, &["delay_ms", "does not apply to a disk-stall"]),
    ("[[fault]]\nkind = \"region-down\"\nregion = \"SG\"\ndirection = \"a->b\"\nstart_s = 1\nend_s = 2\n", 4, &["direction", "does not apply to a region-down"]),
    ("[[fault]]\nkind = \"disk-stall\"\nregion = \"JP\"\nstall_ms = 100\nstart_s = 20\nend_s = 10\n", 6, &["end_s = 10", "after it starts at 20 s"]),
    ("[[fault]]\nkind = \"partition\"\na = \"SG\"\nstart_s = 1\nend_s = 2\n", 2, &["needs `b`"]),
    ("[[fault]]\nkind = \"region-down\"\nregion = \"SG\"\nextra_ms = 5\nstart_s = 1\nend_s = 2\n", 4, &["extra_ms", "does not apply"]),
    ("[[fault]]\nkind = \"region-down\"\nregion = \"SG\"\nseverity = 3\nstart_s = 1\nend_s = 2\n", 4, &["severity"]),
    ("bogus = 1\n", 1, &["bogus"]),
    ("duration_s = \"long\"\n", 1, &["duration_s"]),
    ("[[slo]]\nname = \"x\"\nseries = \"read\"\nquantile = 2\ntarget_ms = 100\n", 4, &["quantile = 2", "1"]),
    ("[[slo]]\nname = \"x\"\nseries = \"charge_availability\"\nquantile = 0.999\ntarget_ms = 100\n", 5, &["target_ms", "counts answers"]),
    ("[[slo]]\nname = \"x\"\nseries = \"charge\"\nquantile = 0.95\n", 3, &["target_ms", "needs"]),
    ("[[slo]]\nname = \"x\"\nseries = \"staleness\"\nquantile = 0.95\ntarget_ms = 100\nmeasure = \"vibes\"\n", 6, &["vibes", "data_age", "reported"]),
    ("[[slo]]\nname = \"x\"\nseries = \"read\"\nquantile = 0.95\ntarget_ms = 100\nmeasure = \"reported\"\n", 6, &["only a staleness objective"]),
    ("[[slo]]\nname = \"x\"\nseries = \"uptime\"\nquantile = 0.95\n", 3, &["uptime", "charge_availability"]),
    ("slo_budget_days = 0\n", 1, &["slo_budget_days = 0", "1 to 366"]),
    ("slo_incident_allowance = 2\n", 1, &["slo_incident_allowance = 2"]),
    ("\n[[alert]]\nname = \"x\"\nsignal = \"lag_p95_ms\"\nthreshold = -1\n", 5, &["threshold = -1"]),
    ("[[alert]]\nname = \"x\"\nsignal = \"vibes\"\nthreshold = 1\n", 3, &["vibes", "lag_p95_ms"]),
    // A share above 1 could never fire (issue #21).
    ("[[alert]]\nname = \"x\"\nsignal = \"read_error_rate\"\nthreshold = 5\n", 4, &["threshold = 5", "from 0 to 1", "never fire"]),
    ("[[alert]]\nname = \"x\"\nsignal = \"lag_p95_ms\"\nthreshold = 1\nfor_s = -5\n", 5, &["for_s = -5", "3600"]),
    ("[[clock]]\nkind = \"drift\"\nregion = \"SG\"\nppm = inf\n", 4, &["ppm = inf", "100000"]),
    ("name = \"\"\n", 1, &["name"]),
];

#[test]
fn every_bad_scenario_is_refused_at_its_line_with_the_words_that_explain_it() {
    for (text, line, words) in DRILL {
        let e = match parse_drill("s.toml", text, Length::Short) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(e) => e,
        };
        let shown = e.to_string();
        assert_eq!(e.line, Some(*line), "{shown}\nfor:\n{text}");
        for w in *words {
            assert!(
                shown.contains(w),
                "`{w}` missing from: {shown}\nfor:\n{text}"
            );
        }
    }
}

/// Two lag spikes on one link at once: the second is named, 1-based.
#[test]
fn overlapping_lag_spikes_point_at_the_second() {
    let one = "[[fault]]\nkind = \"lag-spike\"\nfrom = \"SG\"\nto = \"US\"\nextra_ms = 100\nstart_s = 10\nend_s = 20\n";
    let text = format!("{one}{}", one.replace("10", "15").replace("20", "30"));
    let e = parse_drill("s.toml", &text, Length::Short).unwrap_err();
    assert_eq!(e.line, Some(8), "{e}");
    assert!(e.to_string().contains("fault 2"), "{e}");
}

/// A long run is refused unless asked for; a run over the memory bound is
/// refused either way.
#[test]
fn a_long_run_needs_asking_for_and_a_huge_one_is_never_run() {
    let long = "rate = 20000\nduration_s = 86400\n";
    assert!(parse_drill("s", long, Length::Short).is_err());
    assert!(parse_drill("s", long, Length::Long).is_ok());
    // Thirty sites at a million requests/s each: about 10 GB, never run.
    let sites: Vec<String> = (0..30)
        .map(|i| format!("{{ name = \"S{i}\", home = \"SG\", rtt_ms = {{ SG = 1 }} }}"))
        .collect();
    let huge = format!(
        "rate = 1e6\nduration_s = 10\n[topology]\nregions = [\"SG\"]\nlinks = []\nsites = [{}]\n",
        sites.join(", ")
    );
    let e = parse_drill("s", &huge, Length::Long).unwrap_err();
    assert!(e.to_string().contains("lower the rate"), "{e}");
}

#[test]
fn a_valid_scenario_sets_everything_it_names() {
    let text = r#"
name = "two regions"
duration_s = 100
policy = "reject-writes"
replication = "semi-sync"
strategy = "local"
[topology]
regions = ["SG", "US"]
links = [{ a = "SG", b = "US", rtt_ms = 180 }]
sites = [{ name = "VN", home = "SG", rtt_ms = { SG = 40, US = 220 } }]
[[slo]]
name = "charge_p95"
series = "charge"
quantile = 0.95
target_ms = 500
site = "VN"
[[fault]]
kind = "partition"
a = "SG"
b = "US"
start_s = 10
end_s = 20
[[clock]]
kind = "periodic"
region = "US"
amplitude_ms = 100
period_s = 60
"#;
    let cfg = parse_drill("s.toml", text, Length::Short).unwrap();
    assert_eq!(cfg.name, "two regions");
    assert_eq!(cfg.topology.region_count(), 2);
    assert_eq!(cfg.faults.len(), 1);
    assert_eq!(cfg.faults[0].end, 20_000_000);
    assert_eq!(cfg.policy.name(), "reject-writes");
    assert_eq!(cfg.replication.name(), "semi-sync");
    assert_eq!(cfg.strategy.name(), "local");
    assert_eq!(cfg.slos.len(), 1);
    assert_eq!(cfg.duration, 100_000_000);
}

/// `(topology text, expected line, expected words)`.
const TOPOLOGY: &[(&str, usize, &[&str])] = &[
    ("regions = [\"SG\", \"US\"]\nlinks = []\nsites = [{ name = \"VN\", home = \"SG\", rtt_ms = { SG = 1, US = 2 } }]\n", 1, &["no link SG <-> US"]),
    ("regions = [\"SG\"]\nlinks = []\nsites = [{ name = \"VN\", home = \"SG\", rtt_ms = { SG = 1, EU = 2 } }]\n", 3, &["EU"]),
    ("regions = [\"SG\", \"US\"]\nlinks = [{ a = \"SG\", b = \"US\", rtt_ms = 1 }]\nsites = [{ name = \"VN\", home = \"SG\", rtt_ms = { SG = 1 } }]\n", 3, &["no RTT to region US"]),
    ("regions = [\"SG\", \"US\"]\nlinks = [{ a = \"SG\", b = \"US\", rtt_ms = 1 }, { a = \"US\", b = \"SG\", rtt_ms = 2 }]\nsites = [{ name = \"VN\", home = \"SG\", rtt_ms = { SG = 1, US = 1 } }]\n", 2, &["given twice"]),
    ("regions = [\"SG\"]\nlinks = []\nsites = [{ name = \"VN\", home = \"SG\", rtt_ms = { SG = 1 } }, { name = \"VN\", home = \"SG\", rtt_ms = { SG = 1 } }]\n", 3, &["declared twice"]),
];

#[test]
fn every_bad_topology_is_refused_at_its_line() {
    for (text, line, words) in TOPOLOGY {
        let e = parse_topology(text, 0.0).expect_err(text);
        let shown = e.to_string();
        assert_eq!(e.line, Some(*line), "{shown}\nfor:\n{text}");
        for w in *words {
            assert!(shown.contains(w), "`{w}` missing from: {shown}");
        }
    }
    assert!(parse_topology("regions = [\"SG\"]\nlinks = []\nsites = [{ name = \"VN\", home = \"SG\", rtt_ms = { SG = 1 } }]\n", 1e9).is_err(), "jitter bound");
}

/// The README's reference of scenario keys is the table the checks read:
/// it cannot drift from the code.
#[test]
fn the_readme_reference_is_the_bounds_table() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md");
    let table = scenario::reference_table();
    assert!(
        readme.contains(&table),
        "README.md's \"Scenario files\" table differs from scenario::BOUNDS; paste this:\n{table}"
    );
}

/// The faults that reach the commit path: a link delay both ways by
/// default, or one way with `direction`; a disk stall at one region.
#[test]
fn link_delays_and_disk_stalls_set_what_they_name() {
    use engine::drill::FaultKind;
    let text = r#"
[[fault]]
kind = "link-delay"
a = "SG"
b = "JP"
delay_ms = 400
start_s = 60
end_s = 180

[[fault]]
kind = "link-delay"
a = "SG"
b = "US"
direction = "b->a"
delay_ms = 250.5
start_s = 60
end_s = 180

[[fault]]
kind = "disk-stall"
region = "US"
stall_ms = 300
start_s = 100
end_s = 120
"#;
    let cfg = parse_drill("s.toml", text, Length::Short).expect("valid");
    let r = |n: &str| cfg.topology.region(n).unwrap();
    assert_eq!(
        cfg.faults[0].kind,
        FaultKind::LinkDelay {
            from: r("SG"),
            to: r("JP"),
            both_ways: true,
            extra: 400_000
        }
    );
    assert_eq!(
        cfg.faults[1].kind,
        FaultKind::LinkDelay {
            from: r("US"),
            to: r("SG"),
            both_ways: false,
            extra: 250_500
        }
    );
    assert_eq!(
        cfg.faults[2].kind,
        FaultKind::DiskStall {
            region: r("US"),
            extra: 300_000
        }
    );
    assert_eq!(
        (cfg.faults[2].start, cfg.faults[2].end),
        (100_000_000, 120_000_000)
    );
}

#[test]
fn availability_objectives_measures_and_the_budget_parse() {
    let cfg = parse_drill(
        "s.toml",
        "slo_budget_days = 28\nslo_incident_allowance = 0.05\n\
         [[slo]]\nname = \"charges\"\nseries = \"charge_availability\"\nquantile = 0.999\n\
         [[slo]]\nname = \"seen\"\nseries = \"staleness\"\nquantile = 0.99\ntarget_ms = 500\nmeasure = \"reported\"\n",
        Length::Short,
    )
    .expect("a valid scenario");
    assert_eq!(cfg.slos.len(), 2);
    assert_eq!(cfg.slos[0].series, metrics::Series::ChargeAvailability);
    assert_eq!(cfg.slos[1].measure, metrics::StalenessMeasure::Reported);
    assert_eq!(cfg.budget.period, 28 * 86_400 * 1_000_000);
    assert_eq!(cfg.budget.incident_allowance, 0.05);
}

/// A topology file (keys at top level) is a scenario whose world is that
/// topology; a scenario file is not a topology file unless it holds only
/// `[topology]`; a mix of both is refused with the fix.
#[test]
fn topology_and_scenario_files_say_which_kind_they_are() {
    let topo = "regions = [\"EU\", \"AU\"]\nlinks = [{ a = \"EU\", b = \"AU\", rtt_ms = 250 }]\nsites = [{ name = \"DE\", home = \"EU\", rtt_ms = { EU = 10, AU = 260 } }]\n";
    // As a scenario: its world, the leader its first region (no SG).
    let cfg = parse_drill("t", topo, Length::Short).expect("a topology file is a scenario");
    assert_eq!(cfg.topology.region_count(), 2);
    assert_eq!(cfg.topology.region_name(cfg.leader), "EU");
    assert!(cfg.faults.is_empty());
    // The same world under [topology] plays the same configuration.
    let wrapped = format!("leader = \"EU\"\n[topology]\n{topo}");
    let same = parse_drill("t", &wrapped, Length::Short).expect("scenario");
    assert_eq!(format!("{}", same.topology), format!("{}", cfg.topology));
    // A scenario holding only [topology] is read by --topology too.
    let only = format!("[topology]\n{topo}");
    let t = parse_topology(&only, 0.0).expect("[topology] alone is a topology");
    assert_eq!(t.region_count(), 2);
    // A full scenario given as a topology: said so, with the fix.
    let e = parse_topology(&wrapped, 0.0).expect_err("a scenario is not a topology");
    let msg = e.to_string();
    assert!(msg.contains("this looks like a scenario file"), "{msg}");
    assert!(
        msg.contains("`leader`") && msg.contains("--scenario"),
        "{msg}"
    );
    // Topology keys at top level beside scenario keys: said so, with the fix.
    let mixed = format!("duration_s = 60\n{topo}");
    let e = parse_drill("t", &mixed, Length::Short).expect_err("mixed");
    let msg = e.to_string();
    assert!(msg.contains("this looks like a topology file"), "{msg}");
    assert!(
        msg.contains("`duration_s`") && msg.contains("[topology]"),
        "{msg}"
    );
}

#[test]
fn an_included_slo_file_is_named_with_its_place() {
    let inc = scenario::slo_include("rate = 20\n\nslo_file = \"slos/a.yaml\"\n")
        .unwrap()
        .expect("an include");
    assert_eq!(
        (inc.path.as_str(), inc.line, inc.column),
        ("slos/a.yaml", 3, 12)
    );
    assert_eq!(scenario::slo_include("rate = 20\n").unwrap(), None);
    // Parsed on its own, the file with an include is a world with the
    // default objectives: the CLI replaces them.
    let cfg = parse_drill("t", "slo_file = \"a.yaml\"\n", Length::Short).unwrap();
    assert_eq!(cfg.slos, metrics::default_slos());
}
