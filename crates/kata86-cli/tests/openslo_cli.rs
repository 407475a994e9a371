//! `kata86 slo export --format openslo` and `--slo-file`: the export is
//! YAML of `openslo/v1` SLO documents, feeding it back changes nothing but
//! the echoed command line, a scenario's `slo_file` is the same include,
//! and a bad document is refused (exit 2) with its location.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_yaml_ng::Value;

mod common;

use common::{ok, refused};

/// A directory under the system's temporary one, unique to this test and
/// process, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "kata86-openslo-{}-{name}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).expect("temp file");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

fn documents(text: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|d| Value::deserialize(d).expect("every document is YAML"))
        .collect()
}

#[test]
fn the_export_is_openslo_v1_slo_documents() {
    let text = ok(&["slo", "export", "--format", "openslo"]);
    let docs = documents(&text);
    // The default world's six objectives (four of the kata's, two of
    // availability).
    assert_eq!(docs.len(), 6, "{text}");
    let mut names = Vec::new();
    for d in &docs {
        assert_eq!(d["apiVersion"].as_str(), Some("openslo/v1"), "{d:?}");
        assert_eq!(d["kind"].as_str(), Some("SLO"), "{d:?}");
        names.push(d["metadata"]["name"].as_str().expect("a name").to_string());
        let spec = &d["spec"];
        assert_eq!(spec["budgetingMethod"].as_str(), Some("Occurrences"));
        assert_eq!(spec["timeWindow"][0]["duration"].as_str(), Some("30d"));
        assert_eq!(spec["timeWindow"][0]["isRolling"].as_bool(), Some(true));
        let target = spec["objectives"][0]["target"].as_f64().expect("a target");
        assert!(target > 0.0 && target < 1.0, "{target}");
        let ratio = &spec["indicator"]["spec"]["ratioMetric"];
        for key in ["good", "total"] {
            let q = ratio[key]["metricSource"]["spec"]["query"]
                .as_str()
                .expect("a query");
            assert!(q.starts_with("kata86_"), "{q}");
            assert_eq!(
                ratio[key]["metricSource"]["type"].as_str(),
                Some("Prometheus")
            );
        }
        assert!(d["metadata"]["labels"]["kata86.io/series"].is_string());
    }
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "{names:?}");
    // Deterministic, and the kata world has the same objectives.
    assert_eq!(ok(&["slo", "export"]), text);
    assert_eq!(ok(&["slo", "export", "--world", "kata"]), text);
}

/// `stdout` without its `reproduce: ...` line.
fn without_command(stdout: &str) -> Vec<&str> {
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| !l.starts_with("reproduce: "))
        .collect();
    assert_eq!(
        lines.len() + 1,
        stdout.lines().count(),
        "one echoed command"
    );
    lines
}

#[test]
fn feeding_the_export_back_gives_the_same_drill() {
    let dir = TempDir::new("drill");
    let file = dir.write("slos.yaml", &ok(&["slo", "export", "--format", "openslo"]));
    let args = ["drill", "region-down", "--runs", "2", "--seed", "7"];
    let plain = ok(&args);
    let mut with = args.to_vec();
    with.extend(["--slo-file", s(&file)]);
    let fed = ok(&with);
    assert_eq!(without_command(&plain), without_command(&fed));
    assert!(fed.contains(&format!("--slo-file {}", s(&file))), "{fed}");
    // The objectives are really the file's: one edited target changes the
    // verdicts.
    let edited = std::fs::read_to_string(&file)
        .unwrap()
        .replace("target: 0.999", "target: 0.5");
    let loose = dir.write("loose.yaml", &edited);
    let mut with = args.to_vec();
    with.extend(["--slo-file", s(&loose)]);
    assert_ne!(without_command(&plain), without_command(&ok(&with)));
}

#[test]
fn a_scenario_includes_an_slo_file_relative_to_itself() {
    let dir = TempDir::new("include");
    let exported = ok(&["slo", "export"]);
    // A site-specific objective and a 7-day budget, through a scenario.
    let own = dir.write(
        "own.toml",
        "slo_budget_days = 7\n\
         [[slo]]\nname = \"read_p99\"\nseries = \"read\"\nquantile = 0.99\ntarget_ms = 300\nsite = \"US\"\n\
         [[slo]]\nname = \"fresh\"\nseries = \"staleness\"\nquantile = 0.9\ntarget_ms = 1000\nmeasure = \"reported\"\n",
    );
    let own_export = ok(&["slo", "export", "--scenario", s(&own)]);
    assert!(own_export.contains("kata86.io/site: US") && own_export.contains("duration: 7d"));
    std::fs::create_dir_all(dir.0.join("slos")).unwrap();
    dir.write("slos/own.yaml", &own_export);
    let inc = dir.write("inc.toml", "slo_file = \"slos/own.yaml\"\n");
    assert_eq!(ok(&["slo", "export", "--scenario", s(&inc)]), own_export);
    // A drill on the including scenario judges the file's objectives.
    let fed = ok(&[
        "drill",
        "baseline",
        "--scenario",
        s(&inc),
        "--runs",
        "1",
        "--duration",
        "60",
    ]);
    assert!(fed.contains("read_p99") && fed.contains("fresh"), "{fed}");
    // --slo-file overrides the scenario's include.
    dir.write("default.yaml", &exported);
    let drill = ok(&[
        "drill",
        "baseline",
        "--scenario",
        s(&inc),
        "--runs",
        "1",
        "--duration",
        "60",
        "--slo-file",
        s(&dir.0.join("default.yaml")),
    ]);
    assert!(
        !drill.contains("read_p99") && drill.contains("charge_availability"),
        "{drill}"
    );

    let twice = dir.write(
        "twice.toml",
        "slo_file = \"slos/own.yaml\"\n[[slo]]\nname = \"x\"\nseries = \"read\"\nquantile = 0.9\ntarget_ms = 100\n",
    );
    let err = refused(&["slo", "export", "--scenario", s(&twice)]);
    assert!(err.contains("one source of SLOs"), "{err}");
    let missing = dir.write("missing.toml", "slo_file = \"nowhere.yaml\"\n");
    let err = refused(&["drill", "baseline", "--scenario", s(&missing)]);
    assert!(
        err.contains("nowhere.yaml") && err.contains("included by"),
        "{err}"
    );
}

#[test]
fn a_bad_document_is_refused_with_its_location() {
    let dir = TempDir::new("bad");
    let text = ok(&["slo", "export"]);
    let cases = [
        (
            text.replacen("target: 0.999", "target: 1.5", 1),
            "document 5: spec.objectives[0].target = 1.5: ",
        ),
        (
            text.replacen("apiVersion: openslo/v1", "apiVersion: openslo/v2", 1),
            "document 1: apiVersion = \"openslo/v2\": kata86 reads only openslo/v1",
        ),
        (
            text.replacen("kata86.io/site: VN", "kata86.io/site: XX", 1),
            "document 1: metadata.labels.\"kata86.io/site\" = \"XX\": not a client site of this world; allowed: VN, US",
        ),
        (
            text.replacen("kind: SLO", "kind: Service", 1),
            "document 1: kind = \"Service\"",
        ),
        ("spec: [".to_string(), "document 1 (line "),
        ("".to_string(), "no SLO document"),
    ];
    for (i, (bad, want)) in cases.iter().enumerate() {
        let file = dir.write(&format!("bad{i}.yaml"), bad);
        let err = refused(&[
            "drill",
            "region-down",
            "--runs",
            "1",
            "--slo-file",
            s(&file),
        ]);
        assert!(
            err.contains(&format!("{}: {want}", s(&file))),
            "{want}\n{err}"
        );
        // Every command that reads the file says the same.
        let err = refused(&["alerts", "--slo-file", s(&file)]);
        assert!(err.contains(want), "{err}");
    }
    let err = refused(&[
        "drill",
        "region-down",
        "--slo-file",
        s(&dir.0.join("absent.yaml")),
    ]);
    assert!(err.contains("cannot read SLO file"), "{err}");
}

/// docs/metrics.md's "OpenSLO" section names every `kata86.io/` key the
/// code reads or writes, and quotes the refusal the command really prints.
#[test]
fn docs_metrics_md_names_every_key_and_quotes_a_real_refusal() {
    use slo::openslo::*;
    let doc = std::fs::read_to_string(common::repo_root().join("docs/metrics.md"))
        .expect("docs/metrics.md");
    let section = doc
        .split("\n## OpenSLO\n")
        .nth(1)
        .expect("an OpenSLO section");
    for key in [
        LABEL_SERIES,
        LABEL_SITE,
        LABEL_MEASURE,
        ANNOTATION_NAME,
        ANNOTATION_TARGET_MS,
        ANNOTATION_NOTE,
    ] {
        assert!(key.starts_with(PREFIX));
        assert!(section.contains(&format!("| `{key}` |")), "{key}");
    }
    assert!(section.contains(&format!("`{SERVICE}`")));
    let dir = TempDir::new("docs");
    let bad = ok(&["slo", "export"]).replacen("target: 0.999", "target: 1.5", 1);
    dir.write("slos.yaml", &bad);
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_kata86"))
        .args(["drill", "region-down", "--slo-file", "slos.yaml"])
        .current_dir(&dir.0)
        .output()
        .expect("kata86 runs");
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8(o.stderr).unwrap();
    let line = err.lines().next().expect("an error line");
    assert!(
        section.contains(line),
        "docs/metrics.md should quote:\n{line}"
    );
}

/// A shard file carries the SLO file's text: the merge needs no file and
/// prints what the unsharded run prints.
#[test]
fn shards_carry_the_slo_file() {
    let dir = TempDir::new("shards");
    let text = ok(&["slo", "export"]).replace("target: 0.999", "target: 0.99");
    let file = dir.write("slos.yaml", &text);
    let base = [
        "drill",
        "region-down",
        "--runs",
        "2",
        "--seed",
        "7",
        "--quiet",
        "--slo-file",
        s(&file),
    ];
    let whole = ok(&base);
    assert!(whole.contains("99 % answered"), "{whole}");
    let mut outs = Vec::new();
    for i in 0..2 {
        let out = dir.0.join(format!("shard{i}.json"));
        let shard = format!("{i}/2");
        let mut args = base.to_vec();
        args.extend(["--shard", &shard, "--out", s(&out)]);
        ok(&args);
        outs.push(out);
    }
    std::fs::remove_file(&file).unwrap();
    let merged = ok(&["merge", s(&outs[0]), s(&outs[1])]);
    assert_eq!(merged, whole);
}
