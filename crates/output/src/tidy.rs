//! Tidy CSV from JSON rows: one row per record, one value per cell, every
//! figure the JSON holds.
//!
//! A record is the JSON object a command already publishes (a `sim` cell,
//! say); [`write()`] flattens it, so a figure added to the result type shows
//! up in the CSV without being told. The column names follow the JSON's
//! keys, joined with `_`, with the unit moved to the end: `read_ms.p50`
//! becomes `read_p50_ms` (a count is no duration: `read_ms.count` becomes
//! `read_count`). A list of objects that carry a `name` (SLO verdicts)
//! becomes one group of columns per name: `slo[{name: read_p95, pass}]`
//! becomes `slo_read_p95_pass`. Other lists are joined into no cell: they
//! have no tidy form here, and [`write()`] refuses them rather than hide them.
//! Columns appear in the order their keys first appear; a record without a
//! column leaves its cell empty, as a missing value (so is a JSON `null`).
//! The record's JSON Schema shapes what the data leaves open: an object
//! that is `null` (a latency with no sample) still gives its columns,
//! empty, so the columns of a record type do not depend on the run.

use std::io::Write;

use serde_json::{Map, Value};

/// The units a key may end with, moved to the end of a flattened name.
const UNITS: [&str; 3] = ["_ms", "_s", "_cents"];

/// `key` split into its stem and unit suffix (`""` when it has none).
fn unit(key: &str) -> (&str, &str) {
    UNITS
        .iter()
        .find_map(|u| key.strip_suffix(u).map(|stem| (stem, *u)))
        .unwrap_or((key, ""))
}

/// The name of child `child` of the object under `key`.
fn join(key: &str, child: &str) -> String {
    let (stem, u) = unit(key);
    if child == "count" {
        format!("{stem}_count")
    } else {
        format!("{stem}_{child}{u}")
    }
}

/// The object schema `node` describes once its `$ref` is followed and the
/// `null` branch of an `anyOf` dropped (`None`: not an object with
/// properties).
fn object_schema<'s>(root: &'s Value, node: &'s Value) -> Option<&'s Map<String, Value>> {
    let node = match node.get("anyOf").and_then(Value::as_array) {
        Some(branches) => branches
            .iter()
            .find(|b| b.get("type").and_then(Value::as_str) != Some("null"))?,
        None => node,
    };
    let node = match node.get("$ref").and_then(Value::as_str) {
        Some(r) => root.get("$defs")?.get(r.strip_prefix("#/$defs/")?)?,
        None => node,
    };
    node.get("properties")?.as_object()
}

/// Flattens `v` (the value under `name`, described by `node` of schema
/// `root`) into `cols`. A `null` whose schema is an object gives that
/// object's columns, empty: the columns do not depend on the data.
fn flatten(
    name: &str,
    v: &Value,
    root: &Value,
    node: Option<&Value>,
    cols: &mut Vec<(String, Value)>,
) -> std::io::Result<()> {
    let props = node.and_then(|n| object_schema(root, n));
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let child = props.and_then(|p| p.get(k));
                flatten(&join(name, k), x, root, child, cols)?;
            }
        }
        Value::Null if props.is_some() => {
            for (k, child) in props.into_iter().flatten() {
                flatten(&join(name, k), &Value::Null, root, Some(child), cols)?;
            }
        }
        Value::Array(items) => {
            for item in items {
                let named = item
                    .as_object()
                    .and_then(|o| Some((o.get("name")?.as_str()?, o)));
                let Some((label, o)) = named else {
                    return Err(std::io::Error::other(format!(
                        "`{name}` is a list without names: no tidy CSV column for it"
                    )));
                };
                let group = format!("{name}_{label}");
                for (k, x) in o.iter().filter(|(k, _)| k.as_str() != "name") {
                    flatten(&format!("{group}_{k}"), x, root, None, cols)?;
                }
            }
        }
        x => cols.push((name.to_string(), x.clone())),
    }
    Ok(())
}

/// One CSV field: numbers as Rust's `Display` writes them (shortest text
/// that reads back to the same value), booleans as `true`/`false`,
/// `null` empty, text quoted when it holds a comma, a quote or a newline.
fn field(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) if s.contains([',', '"', '\n', '\r']) => {
            format!("\"{}\"", s.replace('"', "\"\""))
        }
        Value::String(s) => s.clone(),
        // As Rust prints it (`40`, not JSON's `40.0`): the text the old
        // columns had, which lag files quote figure for figure.
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => u.to_string(),
            (_, Some(i), _) => i.to_string(),
            (_, _, Some(f)) => f.to_string(),
            _ => n.to_string(),
        },
        x => x.to_string(),
    }
}

/// Writes `records` (JSON objects, each described by the JSON Schema
/// `schema`, as `crate::schema::of` makes it) as tidy CSV: a header, then
/// one row each.
pub fn write(
    records: &[Map<String, Value>],
    schema: &Value,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let mut rows: Vec<Vec<(String, Value)>> = Vec::with_capacity(records.len());
    for r in records {
        let mut cols = Vec::new();
        for (k, v) in r {
            let node = schema.get("properties").and_then(|p| p.get(k));
            flatten(k, v, schema, node, &mut cols)?;
        }
        rows.push(cols);
    }
    let mut header: Vec<&str> = Vec::new();
    for row in &rows {
        for (k, _) in row {
            if !header.contains(&k.as_str()) {
                header.push(k);
            }
        }
    }
    writeln!(out, "{}", header.join(","))?;
    for row in &rows {
        let cells: Vec<String> = header
            .iter()
            .map(|h| {
                row.iter()
                    .find(|(k, _)| k == h)
                    .map_or(String::new(), |(_, v)| field(v))
            })
            .collect();
        writeln!(out, "{}", cells.join(","))?;
    }
    Ok(())
}

/// `doc` as an object of its keys (a record), for [`write()`].
pub fn record<T: serde::Serialize>(doc: &T) -> std::io::Result<Map<String, Value>> {
    match serde_json::to_value(doc).map_err(std::io::Error::from)? {
        Value::Object(m) => Ok(m),
        _ => Err(std::io::Error::other("a CSV record must be a JSON object")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn csv(records: Vec<Value>) -> String {
        let records: Vec<Map<String, Value>> = records
            .into_iter()
            .map(|v| v.as_object().unwrap().clone())
            .collect();
        let mut out = Vec::new();
        write(&records, &json!({}), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn nested_figures_flatten_with_the_unit_last() {
        let text = csv(vec![
            json!({"client": "VN", "read_ms": {"p50": 40.5, "count": 7},
                   "slo": [{"name": "read_p95", "target_ms": 150.0, "pass": true}],
                   "wallet": {"charges": 3, "first_breach": null}}),
            json!({"client": "US, east", "read_ms": {"p50": 20.0, "count": 9},
                   "slo": [], "extra_s": 1.5}),
        ]);
        assert_eq!(
            text,
            "client,read_p50_ms,read_count,slo_read_p95_target_ms,slo_read_p95_pass,\
             wallet_charges,wallet_first_breach,extra_s\n\
             VN,40.5,7,150,true,3,,\n\
             \"US, east\",20,9,,,,,1.5\n"
        );
    }

    #[test]
    fn a_list_without_names_is_refused_not_hidden() {
        let records = vec![json!({"xs": [1, 2]}).as_object().unwrap().clone()];
        let err = write(&records, &json!({}), &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("`xs`"), "{err}");
    }

    #[test]
    fn a_null_object_keeps_its_columns_from_the_schema() {
        let schema = json!({
            "properties": {
                "client": {"type": "string"},
                "write_ms": {"anyOf": [{"$ref": "#/$defs/Summary"}, {"type": "null"}]},
            },
            "$defs": {"Summary": {"type": "object", "properties": {
                "p50": {"type": "number"}, "count": {"type": "integer"}}}},
        });
        let records = vec![json!({"client": "VN", "write_ms": null})
            .as_object()
            .unwrap()
            .clone()];
        let mut out = Vec::new();
        write(&records, &schema, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "client,write_p50_ms,write_count\nVN,,\n"
        );
    }
}
