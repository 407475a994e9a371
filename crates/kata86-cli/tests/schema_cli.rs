//! Machine outputs: every `--format json` carries `schema_version`, units in
//! key names, numbers as numbers; `compare --format csv` is tidy; `compare`
//! and `pbs` take `--quiet` and keep piped stderr clean.

mod common;

use common::{kata86, ok, stderr, stdout};
use serde_json::Value;

fn json(args: &[&str]) -> Value {
    serde_json::from_str(&ok(args)).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

#[test]
fn every_json_output_carries_schema_version_1_first() {
    let plan = [
        "plan",
        "--scenario",
        "examples/sg-down-two-regions.toml",
        "--without-flags",
        "--runs",
        "1",
        "--write-path",
        "majority,async",
        "--strategy",
        "bounded",
        "--format",
        "json",
        "-q",
    ];
    let commands: [&[&str]; 6] = [
        &["sim", "--iterations", "500", "--format", "json", "-q"],
        &[
            "drill",
            "baseline",
            "--runs",
            "1",
            "--duration",
            "30",
            "--format",
            "json",
        ],
        &[
            "drill",
            "partition",
            "--write-path",
            "escrow",
            "--runs",
            "1",
            "--format",
            "json",
        ],
        &["compare", "--runs", "1", "--format", "json", "-q"],
        &["pbs", "--trials", "2000", "--format", "json", "-q"],
        &plan,
    ];
    for args in commands {
        let o = common::ok_at_root(args);
        assert!(
            o.starts_with("{\n  \"schema_version\": 1,"),
            "{args:?}: {}",
            &o[..o.len().min(200)]
        );
        let v: Value = serde_json::from_str(&o).expect("JSON");
        assert_eq!(v["schema_version"], 1, "{args:?}");
    }
}

#[test]
fn plan_rto_is_a_number_and_money_is_in_cents() {
    let v: Value = serde_json::from_str(&common::ok_at_root(&[
        "plan",
        "--scenario",
        "examples/sg-down-two-regions.toml",
        "--without-flags",
        "--runs",
        "1",
        "--write-path",
        "majority",
        "--strategy",
        "bounded",
        "--format",
        "json",
        "-q",
    ]))
    .expect("JSON");
    let designs: Vec<&Value> = ["ranked", "rejected"]
        .iter()
        .flat_map(|k| v[k].as_array().into_iter().flatten())
        .collect();
    assert!(!designs.is_empty());
    for d in designs {
        let rto = &d["worst_site_rto_p95_s"];
        assert!(rto.is_number() || rto.is_null(), "{rto}");
        assert!(d["worst_site_recovered"].is_boolean() || d["worst_site_recovered"].is_null());
    }
    // Money keys say their unit; the old names are gone.
    let drill = json(&["drill", "region-down", "--runs", "2", "--format", "json"]);
    let r = &drill["results"][0];
    assert!(
        r["lost_amount_cents"]["max"].is_number(),
        "{}",
        r["lost_amount_cents"]
    );
    assert!(r["lost_top_up_amount_cents"]["p50"].is_number());
    assert!(r.get("lost_amount").is_none() && r.get("lost_top_up_amount").is_none());
    assert!(r["per_run"][0]["lost_amount_cents"].is_i64());
    let multi = json(&[
        "drill",
        "partition",
        "--write-path",
        "lww",
        "--runs",
        "1",
        "--format",
        "json",
    ]);
    assert!(multi["lost_amount_cents"].is_i64() && multi["overspend_amount_cents"].is_i64());
    assert!(multi.get("lost_amount").is_none());
    // The table says the unit.
    let table = ok(&["drill", "region-down", "--runs", "1"]);
    assert!(table.contains("lost amount $"), "{table}");
}

/// Every number in `v`, with its path.
fn numbers(v: &Value, path: &str, out: &mut Vec<(String, f64)>) {
    match v {
        Value::Number(n) => out.push((path.to_string(), n.as_f64().unwrap())),
        Value::Bool(b) => out.push((path.to_string(), f64::from(u8::from(*b)))),
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                numbers(x, &format!("{path}/{i}"), out)
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                numbers(x, &format!("{path}/{k}"), out)
            }
        }
        _ => {}
    }
}

#[test]
fn compare_csv_is_tidy_and_holds_every_figure_of_the_json() {
    let args = ["compare", "--runs", "2", "-q", "--format"];
    let csv_text = ok(&[&args[..], &["csv"]].concat());
    let v = json(&[&args[..], &["json"]].concat());
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let head: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    assert_eq!(
        head,
        [
            "drill",
            "write_path",
            "site",
            "metric",
            "statistic",
            "value"
        ]
    );
    let mut figures = Vec::new();
    for rec in reader.records() {
        let rec = rec.expect("a CSV record");
        assert_eq!(rec.len(), 6, "{rec:?}");
        let value: f64 = rec[5]
            .parse()
            .unwrap_or_else(|_| panic!("not a number: {rec:?}"));
        for cell in rec.iter() {
            assert!(
                cell != "-" && !cell.contains('/') && !cell.contains(' '),
                "{rec:?}"
            );
        }
        figures.push((
            rec[0].to_string(),
            rec[1].to_string(),
            rec[2].to_string(),
            rec[3].to_string(),
            rec[4].to_string(),
            value,
        ));
    }
    // Every figure of the JSON rows is a CSV row, and no more.
    let rows = v["rows"].as_array().expect("rows");
    let mut expected = 0;
    for row in rows {
        let (drill, path) = (
            row["drill"].as_str().unwrap(),
            row["write_path"].as_str().unwrap(),
        );
        for (key, x) in row.as_object().unwrap() {
            if key == "sites" {
                for s in x.as_array().unwrap() {
                    let site = s["site"].as_str().unwrap();
                    for (k, y) in s.as_object().unwrap() {
                        // A per-site spread (charges not completed) is one
                        // row per statistic, like the row-wide ones.
                        let mut found = Vec::new();
                        numbers(y, "", &mut found);
                        for (sub, y) in found {
                            let stat = if sub.is_empty() { "value" } else { &sub[1..] };
                            expected += 1;
                            assert!(
                                figures.iter().any(|f| f.0 == drill
                                    && f.1 == path
                                    && f.2 == site
                                    && f.3 == *k
                                    && f.4 == stat
                                    && f.5 == y),
                                "{drill} {path} {site} {k} {stat} = {y} missing"
                            );
                        }
                    }
                }
                continue;
            }
            let mut found = Vec::new();
            numbers(x, "", &mut found);
            for (sub, y) in found {
                let stat = if sub.is_empty() { "value" } else { &sub[1..] };
                expected += 1;
                assert!(
                    figures.iter().any(|f| f.0 == drill
                        && f.1 == path
                        && f.2 == "all"
                        && f.3 == *key
                        && f.4 == stat
                        && f.5 == y),
                    "{drill} {path} {key} {stat} = {y} missing"
                );
            }
        }
    }
    assert_eq!(figures.len(), expected, "one CSV row per figure");
    // A figure the run measured is there as a number.
    assert!(figures.iter().any(|f| f.3 == "charge_p95_ms" && f.5 > 0.0));
}

#[test]
fn sim_csv_is_one_row_per_cell_and_holds_every_figure_of_the_json() {
    for workload in ["kata", "wallet"] {
        let args = [
            "sim",
            "--workload",
            workload,
            "--iterations",
            "3000",
            "-q",
            "--format",
        ];
        let csv_text = ok(&[&args[..], &["csv"]].concat());
        let v = json(&[&args[..], &["json"]].concat());
        let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
        let head = reader.headers().expect("header").clone();
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
        let cells = v["results"].as_array().unwrap();
        assert_eq!(rows.len(), cells.len(), "{workload}: one row per cell");
        for (row, cell) in rows.iter().zip(cells) {
            assert_eq!(
                row.len(),
                head.len(),
                "{workload}: a value for every column"
            );
            // One value per cell: a number, a boolean, a plain name, or empty.
            let mut values: Vec<f64> = Vec::new();
            for (h, x) in head.iter().zip(row.iter()) {
                assert!(!x.contains(';'), "{workload}: {h} holds a list: {x}");
                match x {
                    "true" => values.push(1.0),
                    "false" => values.push(0.0),
                    x => values.extend(x.parse::<f64>().ok()),
                }
            }
            // Every figure of the cell's JSON is one of the row's values.
            let mut figures = Vec::new();
            numbers(cell, "", &mut figures);
            assert!(figures.len() > 20, "{workload}: {figures:?}");
            for (path, f) in figures {
                let i = values
                    .iter()
                    .position(|x| (x - f).abs() <= 1e-9 * f.abs().max(1.0));
                let i = i.unwrap_or_else(|| panic!("{workload}: {path} = {f} not in the CSV row"));
                values.swap_remove(i);
            }
        }
        assert_eq!(head.get(0), Some("client"));
        assert!(head.iter().any(|h| h == "read_p95_ms"), "{head:?}");
        if workload == "wallet" {
            assert!(head.iter().any(|h| h == "wallet_charges_ok"), "{head:?}");
            assert!(head.iter().any(|h| h == "slo_read_p95_pass"), "{head:?}");
        }
    }
}

#[test]
fn compare_and_pbs_are_quiet_on_piped_stderr() {
    for args in [
        &["compare", "--runs", "1"][..],
        &["pbs", "--trials", "300000"][..],
    ] {
        let loud = kata86(args);
        assert_eq!(loud.status.code(), Some(0), "{}", stderr(&loud));
        // No progress bar when stderr is not a terminal.
        assert_eq!(stderr(&loud), "", "{args:?}");
        let quiet = kata86(&[args, &["--quiet"]].concat());
        assert_eq!(quiet.status.code(), Some(0));
        assert_eq!(
            stdout(&loud),
            stdout(&quiet),
            "--quiet changes nothing on stdout"
        );
        let short = kata86(&[args, &["-q"]].concat());
        assert_eq!(stdout(&short), stdout(&quiet));
    }
}

/// The published schema `docs/schema/NAME`.
fn published(name: &str) -> Value {
    let path = common::repo_root().join("docs/schema").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Each command's real `--format json` output and its published schema.
fn documents() -> Vec<(&'static str, Value)> {
    let run = |args: &[&str]| -> Value {
        serde_json::from_str(&common::ok_at_root(args)).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    };
    vec![
        (
            "pbs.schema.json",
            run(&["pbs", "--trials", "2000", "--format", "json", "-q"]),
        ),
        (
            "pbs.schema.json",
            run(&[
                "pbs", "--preset", "lnkd-ssd", "--trials", "2000", "--format", "json", "-q",
            ]),
        ),
        (
            "drill.schema.json",
            run(&["drill", "region-down", "--runs", "2", "--format", "json"]),
        ),
        (
            "drill.schema.json",
            run(&[
                "drill",
                "baseline",
                "--runs",
                "1",
                "--duration",
                "30",
                "--format",
                "json",
            ]),
        ),
        (
            "drill-multi.schema.json",
            run(&[
                "drill",
                "partition",
                "--write-path",
                "escrow",
                "--runs",
                "1",
                "--format",
                "json",
            ]),
        ),
        (
            "compare.schema.json",
            run(&["compare", "--runs", "1", "--format", "json", "-q"]),
        ),
        (
            "sim.schema.json",
            run(&["sim", "--iterations", "500", "--format", "json", "-q"]),
        ),
        (
            "sim.schema.json",
            run(&[
                "sim",
                "--workload",
                "wallet",
                "--iterations",
                "500",
                "--format",
                "json",
                "-q",
            ]),
        ),
        (
            "plan.schema.json",
            run(&[
                "plan",
                "--scenario",
                "examples/sg-down-two-regions.toml",
                "--without-flags",
                "--runs",
                "1",
                "--write-path",
                "majority,async",
                "--strategy",
                "bounded",
                "--format",
                "json",
                "-q",
            ]),
        ),
    ]
}

#[test]
fn every_json_output_validates_against_its_published_schema() {
    for (name, doc) in documents() {
        let errs = output::schema::validate(&published(name), &doc);
        assert!(errs.is_empty(), "{name}: {errs:?}");
    }
}

#[test]
fn a_wrong_document_fails_its_schema() {
    for (name, doc) in documents() {
        let schema = published(name);
        let obj = doc.as_object().expect("an object");
        // A renamed key, a number as a string, a missing key: each fails.
        let (first, _) = obj.iter().nth(1).expect("a key after schema_version");
        let mut renamed = doc.clone();
        let v = renamed.as_object_mut().unwrap().remove(first).unwrap();
        renamed[format!("{first}_renamed")] = v;
        assert!(
            !output::schema::validate(&schema, &renamed).is_empty(),
            "{name}"
        );
        let mut stringly = doc.clone();
        stringly["schema_version"] = Value::String("1".into());
        assert!(
            !output::schema::validate(&schema, &stringly).is_empty(),
            "{name}"
        );
        let mut nested = doc.clone();
        if let Some((k, _)) = obj.iter().find(|(_, v)| v.is_object()) {
            nested[k]["unexpected_ms"] = 1.into();
            let errs = output::schema::validate(&schema, &nested);
            assert!(
                errs.iter().any(|e| e.at == format!("/{k}")),
                "{name}: {errs:?}"
            );
        }
    }
}
