//! OpenSLO v1 documents in and out: each [`Slo`] as one `kind: SLO`
//! document with an inline ratio indicator over the per-site metrics of
//! [`crate::indicator`], and such documents read back into the same
//! objectives (docs/metrics.md, "OpenSLO").
//!
//! # Mapping
//! * `metadata.name`: the objective's name as a DNS label (`read-p95-vn`);
//!   the exact name is the annotation `kata86.io/name`.
//! * `spec.objectives[0].target`: the objective's quantile — the share of
//!   valid events that must be good (0.95 for a p95, 0.999 for 99.9 %).
//! * `spec.indicator.spec.ratioMetric`: `good` and `total` Prometheus
//!   selectors ([`crate::indicator::selectors`]); a latency or staleness
//!   objective's threshold is the `le` of its good selector, and the
//!   annotation `kata86.io/target-ms`.
//! * `spec.timeWindow`: the budget period, rolling; `budgetingMethod:
//!   Occurrences` (good events over valid events).
//! * labels `kata86.io/series`, `kata86.io/site` (absent: every site, each
//!   judged on its own) and `kata86.io/measure` (staleness only).
//!
//! Reading is strict: every field kata86 depends on is checked, the
//! queries must be the ones kata86 measures for the labels (so a file
//! cannot say one thing in its labels and another in its queries), and a
//! bad document gets an [`OpenSloError`] naming the document, the field,
//! its value and what is allowed. Nothing here panics on any input, and
//! sizes are bounded before anything is built ([`MAX_TEXT_BYTES`],
//! [`MAX_DOCUMENTS`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use metrics::{Series, Slo, StalenessMeasure};
use serde::{Deserialize, Serialize};
use serde_yaml_ng::Value;

use crate::indicator::{selectors, DATA_AGE_STAND_IN};
use crate::policy::{parse_duration, DAY_S};
use crate::rules::duration;

/// The prefix of every label and annotation kata86 reads and writes.
pub const PREFIX: &str = "kata86.io/";
/// Label: the series ([`series_name`]).
pub const LABEL_SERIES: &str = "kata86.io/series";
/// Label: the client site the objective is limited to; absent for all.
pub const LABEL_SITE: &str = "kata86.io/site";
/// Label: a staleness objective's measure (`data_age` or `reported`).
pub const LABEL_MEASURE: &str = "kata86.io/measure";
/// Annotation: the objective's exact kata86 name.
pub const ANNOTATION_NAME: &str = "kata86.io/name";
/// Annotation: a latency or staleness objective's target in ms.
pub const ANNOTATION_TARGET_MS: &str = "kata86.io/target-ms";
/// Annotation: why the indicator stands in for what the objective judges
/// (written, never needed to read).
pub const ANNOTATION_NOTE: &str = "kata86.io/note";
/// The `apiVersion` of every document.
pub const API_VERSION: &str = "openslo/v1";
/// `spec.service` of every document written.
pub const SERVICE: &str = "kata86-wallet";

/// The longest text read (1 MiB, as a scenario file).
pub const MAX_TEXT_BYTES: usize = 1 << 20;
/// The most documents one text may hold.
pub const MAX_DOCUMENTS: usize = 256;
/// The budget period's bounds, in days (as `slo_budget_days`).
pub const PERIOD_DAYS: (f64, f64) = (1.0, 366.0);
/// The objective target's lower bound (as a scenario's `slo.quantile`).
pub const MIN_TARGET: f64 = 0.0001;
/// The largest `kata86.io/target-ms` (as a scenario's `slo.target_ms`).
pub const MAX_TARGET_MS: f64 = 3_600_000.0;

/// The series as the label `kata86.io/series` writes it (a scenario's
/// `series`).
pub fn series_name(s: Series) -> &'static str {
    match s {
        Series::Read => "read",
        Series::Write => "charge",
        Series::Staleness => "staleness",
        Series::ReadAvailability => "read_availability",
        Series::ChargeAvailability => "charge_availability",
    }
}

const SERIES: [Series; 5] = [
    Series::Read,
    Series::Write,
    Series::Staleness,
    Series::ReadAvailability,
    Series::ChargeAvailability,
];

/// Objectives read from OpenSLO documents, and the budget period they share.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// The objectives, in document order.
    pub slos: Vec<Slo>,
    /// The budget period every document's `timeWindow` names, in seconds.
    pub period_s: u64,
}

/// A document that cannot become an objective: which document (1-based,
/// in the order of the text), the field (`spec.objectives[0].target`), its
/// value as read, and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct OpenSloError {
    /// The document, counting from 1; `None` for the text as a whole.
    pub document: Option<usize>,
    /// Line and column (1-based) when the YAML itself is broken.
    pub at: Option<(usize, usize)>,
    /// The field's path in the document.
    pub field: Option<String>,
    /// The value, as read.
    pub value: Option<String>,
    /// What is wrong and what is allowed.
    pub reason: String,
}

impl fmt::Display for OpenSloError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = self.document {
            write!(f, "document {d}")?;
            if let Some((l, c)) = self.at {
                write!(f, " (line {l}, column {c})")?;
            }
            f.write_str(": ")?;
        } else if let Some((l, c)) = self.at {
            write!(f, "line {l}, column {c}: ")?;
        }
        match (&self.field, &self.value) {
            (Some(k), Some(v)) => write!(f, "{k} = {v}: ")?,
            (Some(k), None) => write!(f, "{k}: ")?,
            _ => {}
        }
        f.write_str(&self.reason)
    }
}

// ---------------------------------------------------------------- writing

#[derive(Serialize)]
struct Document {
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata,
    spec: SloSpec,
}

#[derive(Serialize)]
struct Metadata {
    name: String,
    #[serde(rename = "displayName")]
    display_name: String,
    labels: BTreeMap<&'static str, String>,
    annotations: BTreeMap<&'static str, String>,
}

#[derive(Serialize)]
struct SloSpec {
    description: String,
    service: &'static str,
    indicator: IndicatorDoc,
    #[serde(rename = "timeWindow")]
    time_window: Vec<TimeWindow>,
    #[serde(rename = "budgetingMethod")]
    budgeting_method: &'static str,
    objectives: Vec<Objective>,
}

#[derive(Serialize)]
struct IndicatorDoc {
    metadata: IndicatorMeta,
    spec: IndicatorSpec,
}

#[derive(Serialize)]
struct IndicatorMeta {
    name: String,
}

#[derive(Serialize)]
struct IndicatorSpec {
    #[serde(rename = "ratioMetric")]
    ratio_metric: RatioMetric,
}

#[derive(Serialize)]
struct RatioMetric {
    counter: bool,
    good: Source,
    total: Source,
}

#[derive(Serialize)]
struct Source {
    #[serde(rename = "metricSource")]
    metric_source: MetricSource,
}

#[derive(Serialize)]
struct MetricSource {
    #[serde(rename = "type")]
    kind: &'static str,
    spec: Query,
}

#[derive(Serialize, Deserialize)]
struct Query {
    query: String,
}

#[derive(Serialize)]
struct TimeWindow {
    duration: String,
    #[serde(rename = "isRolling")]
    is_rolling: bool,
}

#[derive(Serialize)]
struct Objective {
    #[serde(rename = "displayName")]
    display_name: String,
    target: f64,
}

/// A name as a DNS label (RFC 1123): lowercase letters, digits and `-`,
/// at most 63 characters, starting and ending with a letter or digit.
fn dns_label(raw: &str) -> String {
    let mut s: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while s.contains("--") {
        s = s.replace("--", "-");
    }
    let s: String = s.trim_matches('-').chars().take(56).collect();
    let s = s.trim_end_matches('-').to_string();
    if s.is_empty() {
        "slo".into()
    } else {
        s
    }
}

fn valid_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// What an objective promises, in words.
fn promise(slo: &Slo) -> String {
    let what = match slo.series {
        Series::Read => "reads answered",
        Series::Write => "charges answered",
        Series::Staleness => match slo.measure {
            StalenessMeasure::DataAge => "reads returning a balance whose data age is",
            StalenessMeasure::Reported => "reads whose reported staleness is",
        },
        Series::ReadAvailability => "reads answered",
        Series::ChargeAvailability => "charges answered",
    };
    let share = format!("{} %", slo.quantile * 100.0);
    let at = slo
        .site
        .as_deref()
        .map_or_else(|| "at every client site".to_string(), |s| format!("at {s}"));
    if slo.series.is_availability() {
        format!("{share} of {what} {at}")
    } else if slo.series == Series::Staleness {
        format!("{share} of {what} under {} ms {at}", slo.target_ms)
    } else {
        format!("{share} of {what} in under {} ms {at}", slo.target_ms)
    }
}

/// `slos` as OpenSLO v1 documents, one per objective, separated by `---`,
/// each over a rolling window of `period_s` seconds. Deterministic: the
/// same objectives give the same bytes.
pub fn export(slos: &[Slo], period_s: u64) -> String {
    let mut taken = BTreeSet::new();
    let mut out = String::new();
    for slo in slos {
        let base = dns_label(&match &slo.site {
            Some(site) => format!("{}-{site}", slo.name),
            None => slo.name.clone(),
        });
        let mut name = base.clone();
        let mut n = 2;
        while !taken.insert(name.clone()) {
            name = format!("{base}-{n}");
            n += 1;
        }
        let sli = selectors(slo, slo.site.as_deref());
        let mut labels = BTreeMap::new();
        labels.insert(LABEL_SERIES, series_name(slo.series).to_string());
        if let Some(site) = &slo.site {
            labels.insert(LABEL_SITE, site.clone());
        }
        if slo.series == Series::Staleness {
            labels.insert(LABEL_MEASURE, slo.measure.name().to_string());
        }
        let mut annotations = BTreeMap::new();
        annotations.insert(ANNOTATION_NAME, slo.name.clone());
        if !slo.series.is_availability() {
            annotations.insert(ANNOTATION_TARGET_MS, slo.target_ms.to_string());
        }
        if slo.series == Series::Staleness && slo.measure == StalenessMeasure::DataAge {
            annotations.insert(ANNOTATION_NOTE, DATA_AGE_STAND_IN.to_string());
        }
        let source = |query: String| Source {
            metric_source: MetricSource {
                kind: "Prometheus",
                spec: Query { query },
            },
        };
        let doc = Document {
            api_version: API_VERSION,
            kind: "SLO",
            metadata: Metadata {
                name: name.clone(),
                display_name: slo.name.clone(),
                labels,
                annotations,
            },
            spec: SloSpec {
                description: format!("kata86 {}: {}", slo.name, promise(slo)),
                service: SERVICE,
                indicator: IndicatorDoc {
                    metadata: IndicatorMeta {
                        name: format!("{name}-sli"),
                    },
                    spec: IndicatorSpec {
                        ratio_metric: RatioMetric {
                            counter: true,
                            good: source(sli.good),
                            total: source(sli.total),
                        },
                    },
                },
                time_window: vec![TimeWindow {
                    duration: duration(period_s),
                    is_rolling: true,
                }],
                budgeting_method: "Occurrences",
                objectives: vec![Objective {
                    display_name: promise(slo),
                    target: slo.quantile,
                }],
            },
        };
        if !out.is_empty() {
            out.push_str("---\n");
        }
        // Plain structs, maps with string keys: serialization cannot fail.
        match serde_yaml_ng::to_string(&doc) {
            Ok(text) => out.push_str(&text),
            Err(e) => out.push_str(&format!("# cannot write {}: {e}\n", slo.name)),
        }
    }
    out
}

// ---------------------------------------------------------------- reading

/// One document being read: its index, for errors.
struct Doc {
    index: usize,
}

impl Doc {
    fn err(
        &self,
        field: impl Into<String>,
        value: Option<&Value>,
        reason: impl Into<String>,
    ) -> OpenSloError {
        OpenSloError {
            document: Some(self.index),
            at: None,
            field: Some(field.into()),
            value: value.map(show),
            reason: reason.into(),
        }
    }

    /// The mapping at `path` (a field of `v`), required.
    fn mapping<'v>(&self, v: &'v Value, key: &str, path: &str) -> Result<&'v Value, OpenSloError> {
        match v.get(key) {
            Some(m @ Value::Mapping(_)) => Ok(m),
            None | Some(Value::Null) => Err(self.err(path, None, "missing: a mapping is required")),
            Some(other) => Err(self.err(path, Some(other), "must be a mapping")),
        }
    }

    /// The string at `path`, required.
    fn string<'v>(
        &self,
        v: &'v Value,
        key: &str,
        path: &str,
        allowed: &str,
    ) -> Result<&'v str, OpenSloError> {
        match v.get(key) {
            Some(Value::String(s)) => Ok(s),
            None | Some(Value::Null) => Err(self.err(path, None, format!("missing: {allowed}"))),
            Some(other) => Err(self.err(path, Some(other), format!("not a string: {allowed}"))),
        }
    }

    /// The string at `path` equal to `want`.
    fn exactly(&self, v: &Value, key: &str, path: &str, want: &str) -> Result<(), OpenSloError> {
        let s = self.string(v, key, path, &format!("write {key}: {want}"))?;
        if s == want {
            Ok(())
        } else {
            Err(self.err(path, v.get(key), format!("kata86 reads only {want} here")))
        }
    }

    /// The one-element sequence at `path`: its element.
    fn single<'v>(&self, v: &'v Value, key: &str, path: &str) -> Result<&'v Value, OpenSloError> {
        match v.get(key) {
            Some(Value::Sequence(items)) if items.len() == 1 => Ok(&items[0]),
            Some(Value::Sequence(items)) => Err(self.err(
                path,
                None,
                format!(
                    "has {} entries; kata86 reads exactly one (one objective, one time window per \
                     SLO document: write one document per objective)",
                    items.len()
                ),
            )),
            None | Some(Value::Null) => Err(self.err(path, None, "missing: a list of one entry")),
            Some(other) => Err(self.err(path, Some(other), "must be a list of one entry")),
        }
    }

    /// A string-to-string mapping's `kata86.io/` entries; any other prefix
    /// is left alone. An unknown `kata86.io/` key is refused.
    fn ours(
        &self,
        v: Option<&Value>,
        path: &str,
        known: &[&str],
    ) -> Result<BTreeMap<String, String>, OpenSloError> {
        let mut out = BTreeMap::new();
        let m = match v {
            None | Some(Value::Null) => return Ok(out),
            Some(Value::Mapping(m)) => m,
            Some(other) => return Err(self.err(path, Some(other), "must be a mapping")),
        };
        for (k, val) in m {
            let Value::String(k) = k else { continue };
            if !k.starts_with(PREFIX) {
                continue;
            }
            let at = format!("{path}.\"{k}\"");
            if !known.contains(&k.as_str()) {
                return Err(self.err(
                    at,
                    None,
                    format!("unknown kata86 key; allowed: {}", known.join(", ")),
                ));
            }
            match val {
                Value::String(s) => {
                    out.insert(k.clone(), s.clone());
                }
                Value::Number(n) => {
                    out.insert(k.clone(), n.to_string());
                }
                other => return Err(self.err(at, Some(other), "must be a string")),
            }
        }
        Ok(out)
    }
}

/// A value, shortly, as an error shows it.
fn show(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            let short: String = s.chars().take(80).collect();
            if short.len() < s.len() {
                format!("{short:?}…")
            } else {
                format!("{short:?}")
            }
        }
        Value::Sequence(s) => format!("a list of {}", s.len()),
        Value::Mapping(m) => format!("a mapping of {}", m.len()),
        Value::Tagged(t) => format!("a value tagged {}", t.tag),
    }
}

fn whole(reason: impl Into<String>) -> OpenSloError {
    OpenSloError {
        document: None,
        at: None,
        field: None,
        value: None,
        reason: reason.into(),
    }
}

/// OpenSLO v1 `kind: SLO` documents (as [`export`] writes them) → the
/// objectives and their shared budget period. `sites` are the world's
/// client sites: a `kata86.io/site` label must name one of them. Empty
/// documents (a stray `---`) are skipped but counted.
pub fn import(text: &str, sites: &[&str]) -> Result<Imported, OpenSloError> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(whole(format!(
            "the text is {} bytes, over the {} KiB an SLO file may hold",
            text.len(),
            MAX_TEXT_BYTES / 1024
        )));
    }
    let mut slos = Vec::new();
    let mut period: Option<(u64, usize)> = None;
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    for (i, de) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let doc = Doc { index: i + 1 };
        if doc.index > MAX_DOCUMENTS {
            return Err(whole(format!(
                "more than {MAX_DOCUMENTS} documents; kata86 reads at most {MAX_DOCUMENTS} SLOs"
            )));
        }
        let v = Value::deserialize(de).map_err(|e| OpenSloError {
            document: Some(doc.index),
            at: e.location().map(|l| (l.line(), l.column())),
            field: None,
            value: None,
            reason: format!("not YAML: {e}"),
        })?;
        if v.is_null() {
            continue;
        }
        let (slo, period_s) = document(&doc, &v, sites)?;
        let name = match v.get("metadata").and_then(|m| m.get("name")) {
            Some(Value::String(s)) => s.clone(),
            _ => String::new(),
        };
        if let Some(first) = names.insert(name.clone(), doc.index) {
            return Err(doc.err(
                "metadata.name",
                Some(&Value::String(name)),
                format!("document {first} has the same name; every SLO's name is unique"),
            ));
        }
        match period {
            Some((p, first)) if p != period_s => {
                return Err(doc.err(
                    "spec.timeWindow[0].duration",
                    v.get("spec")
                        .and_then(|s| s.get("timeWindow"))
                        .and_then(|t| t.get(0))
                        .and_then(|t| t.get("duration")),
                    format!(
                        "document {first} has {}; a world has one budget period, so every \
                         document names the same time window",
                        duration(p)
                    ),
                ))
            }
            Some(_) => {}
            None => period = Some((period_s, doc.index)),
        }
        slos.push(slo);
    }
    let Some((period_s, _)) = period else {
        return Err(whole(
            "no SLO document: write at least one `apiVersion: openslo/v1`, `kind: SLO` document",
        ));
    };
    Ok(Imported { slos, period_s })
}

/// One document → its objective and budget period, in seconds.
fn document(doc: &Doc, v: &Value, sites: &[&str]) -> Result<(Slo, u64), OpenSloError> {
    if !matches!(v, Value::Mapping(_)) {
        return Err(doc.err(
            "(document)",
            Some(v),
            "an OpenSLO document is a mapping with apiVersion, kind, metadata and spec",
        ));
    }
    doc.exactly(v, "apiVersion", "apiVersion", API_VERSION)?;
    let kind = doc.string(v, "kind", "kind", "write kind: SLO")?;
    if kind != "SLO" {
        return Err(doc.err(
            "kind",
            v.get("kind"),
            "kata86 reads only kind SLO (each with its indicator inline)",
        ));
    }
    let meta = doc.mapping(v, "metadata", "metadata")?;
    let name = doc.string(meta, "name", "metadata.name", "a DNS label")?;
    if !valid_dns_label(name) {
        return Err(doc.err(
            "metadata.name",
            meta.get("name"),
            "must be a DNS label (RFC 1123): lowercase letters, digits and `-`, at most 63, \
             starting and ending with a letter or digit",
        ));
    }
    let labels = doc.ours(
        meta.get("labels"),
        "metadata.labels",
        &[LABEL_SERIES, LABEL_SITE, LABEL_MEASURE],
    )?;
    let annotations = doc.ours(
        meta.get("annotations"),
        "metadata.annotations",
        &[ANNOTATION_NAME, ANNOTATION_TARGET_MS, ANNOTATION_NOTE],
    )?;
    let label_at = |k: &str| format!("metadata.labels.\"{k}\"");
    let annotation_at = |k: &str| format!("metadata.annotations.\"{k}\"");
    let quoted = |s: &str| Value::String(s.to_string());

    let series_names: Vec<&str> = SERIES.iter().map(|&s| series_name(s)).collect();
    let series = match labels.get(LABEL_SERIES) {
        None => {
            return Err(doc.err(
                label_at(LABEL_SERIES),
                None,
                format!(
                    "missing: kata86 needs the series an objective judges; allowed: {}",
                    series_names.join(", ")
                ),
            ))
        }
        Some(s) => match SERIES.iter().find(|&&x| series_name(x) == s) {
            Some(&x) => x,
            None if s == "write" => Series::Write,
            None => {
                return Err(doc.err(
                    label_at(LABEL_SERIES),
                    Some(&quoted(s)),
                    format!("unknown series; allowed: {}", series_names.join(", ")),
                ))
            }
        },
    };
    let kata_name = annotations
        .get(ANNOTATION_NAME)
        .cloned()
        .unwrap_or_else(|| name.replace('-', "_"));
    if kata_name.trim().is_empty() || kata_name.chars().any(char::is_control) {
        return Err(doc.err(
            annotation_at(ANNOTATION_NAME),
            Some(&quoted(&kata_name)),
            "give the objective a name (no control characters)",
        ));
    }

    let spec = doc.mapping(v, "spec", "spec")?;
    let objective = doc.single(spec, "objectives", "spec.objectives")?;
    if !matches!(objective, Value::Mapping(_)) {
        return Err(doc.err(
            "spec.objectives[0]",
            Some(objective),
            "must be a mapping with target",
        ));
    }
    for k in ["op", "value", "targetPercent"] {
        if objective.get(k).is_some() {
            return Err(doc.err(
                format!("spec.objectives[0].{k}"),
                objective.get(k),
                "kata86 objectives are ratios: give target (a fraction) only",
            ));
        }
    }
    let quantile = match objective.get("target") {
        Some(Value::Number(n)) => match n.as_f64() {
            Some(t) if (MIN_TARGET..=1.0).contains(&t) => t,
            _ => {
                return Err(doc.err(
                    "spec.objectives[0].target",
                    objective.get("target"),
                    format!(
                        "the share of valid events that must be good: from {MIN_TARGET} to 1 \
                         (0.999 for 99.9 %, 0.95 for a p95)"
                    ),
                ))
            }
        },
        None | Some(Value::Null) => {
            return Err(doc.err(
                "spec.objectives[0].target",
                None,
                "missing: the share of valid events that must be good, e.g. 0.999",
            ))
        }
        Some(other) => {
            return Err(doc.err(
                "spec.objectives[0].target",
                Some(other),
                "must be a number: the share of valid events that must be good, e.g. 0.999",
            ))
        }
    };
    let target_ms =
        match (
            annotations.get(ANNOTATION_TARGET_MS),
            series.is_availability(),
        ) {
            (None, true) => 0.0,
            (Some(t), true) => {
                return Err(doc.err(
                    annotation_at(ANNOTATION_TARGET_MS),
                    Some(&quoted(t)),
                    "an availability objective counts answers, not times: drop it",
                ))
            }
            (None, false) => return Err(doc.err(
                annotation_at(ANNOTATION_TARGET_MS),
                None,
                "missing: a latency or staleness objective needs its target in ms (the bound a \
                 good event is under)",
            )),
            (Some(t), false) => match t.trim().parse::<f64>() {
                Ok(x) if (0.0..=MAX_TARGET_MS).contains(&x) => x,
                _ => {
                    return Err(doc.err(
                        annotation_at(ANNOTATION_TARGET_MS),
                        Some(&quoted(t)),
                        format!("a number of milliseconds from 0 to {MAX_TARGET_MS}"),
                    ))
                }
            },
        };
    let mut slo = Slo::new(&kata_name, series, quantile, target_ms).map_err(|e| {
        doc.err(
            "spec.objectives[0].target",
            objective.get("target"),
            e.to_string(),
        )
    })?;
    match (labels.get(LABEL_MEASURE), series) {
        (None, _) => {}
        (Some(m), Series::Staleness) => {
            slo = slo.with_measure(match m.as_str() {
                "data_age" => StalenessMeasure::DataAge,
                "reported" => StalenessMeasure::Reported,
                _ => {
                    return Err(doc.err(
                        label_at(LABEL_MEASURE),
                        Some(&quoted(m)),
                        "unknown measure; allowed: data_age (the true age of the balance \
                         returned), reported (the watermark age a replica publishes)",
                    ))
                }
            })
        }
        (Some(m), _) => {
            return Err(doc.err(
                label_at(LABEL_MEASURE),
                Some(&quoted(m)),
                "only a staleness objective names a measure: drop it",
            ))
        }
    }
    if let Some(site) = labels.get(LABEL_SITE) {
        if !sites.contains(&site.as_str()) {
            return Err(doc.err(
                label_at(LABEL_SITE),
                Some(&quoted(site)),
                format!(
                    "not a client site of this world; allowed: {} (or no label: every site)",
                    sites.join(", ")
                ),
            ));
        }
        slo = slo.for_site(site);
    }

    match spec.get("budgetingMethod") {
        Some(Value::String(s)) if s == "Occurrences" => {}
        other => {
            return Err(doc.err(
                "spec.budgetingMethod",
                other,
                "kata86 counts good events over valid events: write budgetingMethod: Occurrences \
                 (Timeslices and RatioTimeslices are not judged)",
            ))
        }
    }
    let window = doc.single(spec, "timeWindow", "spec.timeWindow")?;
    if window.get("calendar").is_some() {
        return Err(doc.err(
            "spec.timeWindow[0].calendar",
            window.get("calendar"),
            "kata86 budgets are rolling: drop calendar and write isRolling: true",
        ));
    }
    match window.get("isRolling") {
        Some(Value::Bool(true)) => {}
        other => {
            return Err(doc.err(
                "spec.timeWindow[0].isRolling",
                other,
                "kata86 budgets are rolling: write isRolling: true",
            ))
        }
    }
    let allowed_period = format!(
        "a duration from {} to {} days, e.g. 30d, 4w, 36h",
        PERIOD_DAYS.0, PERIOD_DAYS.1
    );
    let d = doc.string(
        window,
        "duration",
        "spec.timeWindow[0].duration",
        &allowed_period,
    )?;
    let period_s = parse_period(d)
        .filter(|&s| {
            let days = s as f64 / DAY_S as f64;
            (PERIOD_DAYS.0..=PERIOD_DAYS.1).contains(&days)
        })
        .ok_or_else(|| {
            doc.err(
                "spec.timeWindow[0].duration",
                window.get("duration"),
                allowed_period.clone(),
            )
        })?;

    if spec.get("indicatorRef").is_some() {
        return Err(doc.err(
            "spec.indicatorRef",
            spec.get("indicatorRef"),
            "kata86 reads the indicator inline: write spec.indicator",
        ));
    }
    let indicator = doc.mapping(spec, "indicator", "spec.indicator")?;
    let ispec = doc.mapping(indicator, "spec", "spec.indicator.spec")?;
    let ratio = doc.mapping(ispec, "ratioMetric", "spec.indicator.spec.ratioMetric")?;
    if ratio.get("bad").is_some() {
        return Err(doc.err(
            "spec.indicator.spec.ratioMetric.bad",
            None,
            "kata86 reads good and total: write good (and total)",
        ));
    }
    let want = selectors(&slo, slo.site.as_deref());
    for (key, expected) in [("good", &want.good), ("total", &want.total)] {
        let base = format!("spec.indicator.spec.ratioMetric.{key}");
        let m = doc.mapping(ratio, key, &base)?;
        let src = doc.mapping(m, "metricSource", &format!("{base}.metricSource"))?;
        doc.exactly(
            src,
            "type",
            &format!("{base}.metricSource.type"),
            "Prometheus",
        )?;
        let qspec = doc.mapping(src, "spec", &format!("{base}.metricSource.spec"))?;
        let path = format!("{base}.metricSource.spec.query");
        let q = doc.string(qspec, "query", &path, &format!("write {expected}"))?;
        if q.trim() != expected {
            return Err(doc.err(
                path,
                qspec.get("query"),
                format!(
                    "not the {key} events kata86 measures for this objective (its labels): \
                     expected {expected}"
                ),
            ));
        }
    }
    Ok((slo, period_s))
}

/// A time window's duration: `30d`, `4w`, `36h`, `90m` (whole numbers).
fn parse_period(s: &str) -> Option<u64> {
    let s = s.trim();
    if let Some(w) = s.strip_suffix('w') {
        return w
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(7 * DAY_S))
            .filter(|&x| x > 0);
    }
    if s.is_empty() || !s.is_ascii() {
        return None;
    }
    parse_duration(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SITES: [&str; 2] = ["VN", "US"];
    const MONTH: u64 = 30 * DAY_S;

    fn round_trip(slos: &[Slo], period_s: u64) {
        let text = export(slos, period_s);
        let back = import(&text, &SITES).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(back.slos, slos, "{text}");
        assert_eq!(back.period_s, period_s);
        assert_eq!(export(&back.slos, back.period_s), text, "deterministic");
    }

    #[test]
    fn the_default_worlds_slos_come_back_identical() {
        let slos = metrics::default_slos();
        round_trip(&slos, MONTH);
        let text = export(&slos, MONTH);
        assert_eq!(text.matches("apiVersion: openslo/v1").count(), slos.len());
        assert_eq!(text.matches("\n---\n").count(), slos.len() - 1);
        assert!(text.contains("kind: SLO"));
        assert!(text.contains("duration: 30d"));
        assert!(text.contains("budgetingMethod: Occurrences"));
        assert!(text.contains("kata86_read_duration_seconds_bucket{site=\"VN\",le=\"0.15\"}"));
    }

    #[test]
    fn site_specific_slos_and_odd_periods_come_back_identical() {
        let slos = vec![
            Slo::new("read_p99", Series::Read, 0.99, 250.5)
                .unwrap()
                .for_site("US"),
            Slo::new("read_p99", Series::Read, 0.99, 300.0)
                .unwrap()
                .for_site("VN"),
            Slo::new("fresh", Series::Staleness, 0.9, 1_000.0)
                .unwrap()
                .with_measure(StalenessMeasure::Reported)
                .for_site("VN"),
            Slo::availability("charge_availability", Series::ChargeAvailability, 0.9995)
                .unwrap()
                .for_site("US"),
            Slo::new("Charge P95!", Series::Write, 0.95, 500.0).unwrap(),
        ];
        round_trip(&slos, MONTH);
        round_trip(&slos, 7 * DAY_S);
        round_trip(&slos, 36 * 3_600);
    }

    /// The default world's export with `from` replaced by `to` in document
    /// `doc` (1-based).
    fn edited(doc: usize, from: &str, to: &str) -> String {
        let text = export(&metrics::default_slos(), MONTH);
        let mut docs: Vec<String> = text.split("---\n").map(str::to_string).collect();
        assert!(
            docs[doc - 1].contains(from),
            "{from} not in {}",
            docs[doc - 1]
        );
        docs[doc - 1] = docs[doc - 1].replacen(from, to, 1);
        docs.join("---\n")
    }

    fn refused(text: &str) -> OpenSloError {
        match import(text, &SITES) {
            Ok(i) => panic!("accepted: {i:?}\n{text}"),
            Err(e) => e,
        }
    }

    #[test]
    fn malformed_documents_name_the_document_the_field_and_what_is_allowed() {
        let e = refused(&edited(
            2,
            "apiVersion: openslo/v1",
            "apiVersion: openslo/v2alpha",
        ));
        assert_eq!(e.document, Some(2));
        assert_eq!(e.field.as_deref(), Some("apiVersion"));
        assert_eq!(e.value.as_deref(), Some("\"openslo/v2alpha\""));
        assert!(e
            .to_string()
            .starts_with("document 2: apiVersion = \"openslo/v2alpha\": "));
        assert!(e.reason.contains("openslo/v1"), "{e}");

        let e = refused(&edited(3, "kind: SLO", "kind: SLI"));
        assert_eq!((e.document, e.field.as_deref()), (Some(3), Some("kind")));
        assert!(e.to_string().contains("kind = \"SLI\""), "{e}");

        let e = refused(&edited(1, "objectives:", "objectivez:"));
        assert_eq!(e.document, Some(1));
        assert_eq!(e.field.as_deref(), Some("spec.objectives"));
        assert!(e.reason.starts_with("missing"), "{e}");

        let e = refused(&edited(5, "target: 0.999", "target: 1.5"));
        assert_eq!(e.document, Some(5));
        assert_eq!(e.field.as_deref(), Some("spec.objectives[0].target"));
        assert_eq!(e.value.as_deref(), Some("1.5"));
        assert!(e.reason.contains("from 0.0001 to 1"), "{e}");

        let e = refused(&edited(4, "target: 0.99", "target: 0"));
        assert_eq!(e.field.as_deref(), Some("spec.objectives[0].target"));

        let e = refused(&edited(
            2,
            "kata86.io/series: charge",
            "kata86.io/series: latency",
        ));
        assert_eq!(e.document, Some(2));
        assert_eq!(
            e.field.as_deref(),
            Some("metadata.labels.\"kata86.io/series\"")
        );
        assert_eq!(e.value.as_deref(), Some("\"latency\""));
        assert!(e.reason.contains("read, charge, staleness"), "{e}");

        let e = refused(&edited(1, "kata86.io/site: VN", "kata86.io/site: JP"));
        assert_eq!(
            e.field.as_deref(),
            Some("metadata.labels.\"kata86.io/site\"")
        );
        assert!(e.reason.contains("VN, US"), "{e}");

        let e = refused(&edited(
            3,
            "kata86.io/measure: data_age",
            "kata86.io/measure: age",
        ));
        assert_eq!(
            e.field.as_deref(),
            Some("metadata.labels.\"kata86.io/measure\"")
        );

        let e = refused(&edited(
            1,
            "kata86.io/series:",
            "kata86.io/serie: x\n    kata86.io/series:",
        ));
        assert!(e.reason.contains("unknown kata86 key"), "{e}");

        let e = refused(&edited(2, "duration: 30d", "duration: 1y"));
        assert_eq!(e.field.as_deref(), Some("spec.timeWindow[0].duration"));

        let e = refused(&edited(2, "duration: 30d", "duration: 7d"));
        assert_eq!(e.document, Some(2));
        assert!(e.reason.contains("document 1 has 30d"), "{e}");

        let e = refused(&edited(2, "Occurrences", "Timeslices"));
        assert_eq!(e.field.as_deref(), Some("spec.budgetingMethod"));

        let e = refused(&edited(6, "outcome!=\"failed\"", "outcome=\"good\""));
        assert_eq!(e.document, Some(6));
        assert_eq!(
            e.field.as_deref(),
            Some("spec.indicator.spec.ratioMetric.good.metricSource.spec.query")
        );
        assert!(e.reason.contains("expected kata86_requests_total"), "{e}");

        let e = refused(&edited(2, "name: charge-p95\n", "name: charge_p95\n"));
        assert_eq!(e.field.as_deref(), Some("metadata.name"));

        let e = refused(&edited(2, "name: charge-p95\n", "name: read-p95-vn\n"));
        assert!(e.reason.contains("document 1 has the same name"), "{e}");
    }

    #[test]
    fn broken_yaml_empty_text_and_odd_values_are_errors_not_panics() {
        let e = refused("apiVersion: openslo/v1\nkind: [SLO\n");
        assert_eq!(e.document, Some(1));
        assert!(e.at.is_some(), "{e}");
        let e = refused("");
        assert!(e.reason.contains("no SLO document"), "{e}");
        let e = refused("---\n---\n");
        assert!(e.reason.contains("no SLO document"), "{e}");
        for text in [
            "42",
            "- a\n- b",
            "apiVersion: 1",
            "apiVersion: openslo/v1\nkind: SLO\nmetadata: 3",
            "apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: x, labels: {kata86.io/series: [1]}}",
            "a: &a [*a]",
            "!!binary aGVsbG8=",
        ] {
            let e = refused(text);
            assert!(!e.to_string().is_empty());
        }
        let many = "---\n".repeat(MAX_DOCUMENTS + 1) + "a: 1\n";
        assert!(refused(&many).reason.contains("at most"));
        let big = "#".repeat(MAX_TEXT_BYTES + 1);
        assert!(refused(&big).reason.contains("KiB"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Any text, and any export with one line cut or one byte changed,
        /// is read or refused, never a panic.
        #[test]
        fn no_input_panics(
            junk in ".{0,200}",
            line in 0usize..400,
            at in 0usize..20_000,
            byte in proptest::prelude::any::<u8>(),
        ) {
            let _ = import(&junk, &SITES);
            let text = export(&metrics::default_slos(), MONTH);
            let cut: Vec<&str> = text
                .lines()
                .enumerate()
                .filter(|&(i, _)| i != line)
                .map(|(_, l)| l)
                .collect();
            let _ = import(&cut.join("\n"), &SITES);
            let mut bytes = text.into_bytes();
            let n = bytes.len();
            bytes[at % n] = byte;
            if let Ok(t) = String::from_utf8(bytes) {
                let _ = import(&t, &SITES);
            }
        }
    }
}
