//! The published JSON Schema of each command's `--format json`, and a
//! validator for the subset of JSON Schema that [`of`] emits.
//!
//! [`of`] derives the schema from the document type (schemars, draft
//! 2020-12, as serialised): every object lists its keys in `required` and
//! forbids any other (`additionalProperties: false`), and the root object
//! gains `schema_version`. The checked-in files under `docs/schema/` are
//! these schemas; a test rewrites them with `KATA86_BLESS=1` and fails when
//! they differ.
//!
//! [`validate`] is hand-written rather than a validator crate: it covers
//! exactly the keywords [`of`] produces (`type`, `properties`, `required`,
//! `additionalProperties`, `items`, `prefixItems`, `minItems`, `maxItems`,
//! `$ref` into `$defs`, `enum`, `const`, `oneOf`, `anyOf`, `allOf`,
//! `minimum`, `maximum`), fetches nothing, and refuses a schema that uses a
//! keyword it does not know instead of ignoring it.

use schemars::transform::{RecursiveTransform, Transform};
use schemars::{generate::SchemaSettings, JsonSchema, Schema};
use serde_json::{Map, Value};

/// Every object with named keys allows no other key. (`required` is
/// schemars' own, as serialised: every key but those skipped when empty.)
/// An object that flattens an enum has its keys beside a `oneOf`/`anyOf`
/// of the variants' keys: each inline variant then gets the common keys
/// too and is closed itself, and the object stays open (its variants
/// decide).
fn close_objects(s: &mut Schema) {
    let Some(obj) = s.as_object_mut() else { return };
    let Some(Value::Object(props)) = obj.get("properties").cloned() else {
        return;
    };
    let required = obj.get("required").cloned();
    let key = ["oneOf", "anyOf"]
        .into_iter()
        .find(|k| obj.contains_key(*k));
    let Some(Value::Array(branches)) = key.and_then(|k| obj.get_mut(k)) else {
        obj.entry("additionalProperties")
            .or_insert(Value::Bool(false));
        return;
    };
    for b in branches.iter_mut() {
        let Some(b) = b.as_object_mut() else { continue };
        if b.contains_key("$ref") {
            continue;
        }
        let Value::Object(bp) = b
            .entry("properties")
            .or_insert_with(|| Value::Object(Map::new()))
        else {
            continue;
        };
        for (k, v) in &props {
            bp.entry(k.clone()).or_insert_with(|| v.clone());
        }
        if let Some(Value::Array(common)) = &required {
            let Value::Array(br) = b
                .entry("required")
                .or_insert_with(|| Value::Array(Vec::new()))
            else {
                continue;
            };
            for k in common {
                if !br.contains(k) {
                    br.push(k.clone());
                }
            }
        }
        b.insert("additionalProperties".into(), Value::Bool(false));
    }
}

/// The JSON Schema of a command's `--format json` whose body is `T`, with
/// `schema_version` (always [`crate::SCHEMA_VERSION`]) as the first key.
pub fn of<T: JsonSchema>() -> Value {
    let settings = SchemaSettings::draft2020_12().for_serialize();
    let mut root = settings.into_generator().into_root_schema_for::<T>();
    RecursiveTransform(close_objects).transform(&mut root);
    let mut v = root.to_value();
    if let Some(obj) = v.as_object_mut() {
        if let Some(Value::Object(props)) = obj.get_mut("properties") {
            props.insert(
                "schema_version".into(),
                serde_json::json!({
                    "description": "The version of this document's shape.",
                    "type": "integer",
                    "const": crate::SCHEMA_VERSION,
                }),
            );
        }
        if let Some(Value::Array(req)) = obj.get_mut("required") {
            req.insert(0, Value::String("schema_version".into()));
        }
    }
    v
}

/// `schema` pretty-printed with a final newline, as checked in.
pub fn pretty(schema: &Value) -> String {
    let mut s = serde_json::to_string_pretty(schema).unwrap_or_default();
    s.push('\n');
    s
}

/// One way a document breaks its schema: where (a JSON pointer) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The JSON pointer of the offending value (`""` is the root).
    pub at: String,
    /// What is wrong.
    pub why: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "at '{}': {}", self.at, self.why)
    }
}

/// Keywords that only annotate: no effect on validity.
const ANNOTATIONS: [&str; 6] = [
    "$schema",
    "title",
    "description",
    "format",
    "$defs",
    "default",
];

/// Checks `doc` against `schema`; every violation found, none if it is
/// valid. A keyword the validator does not know is itself a violation, so
/// a schema it cannot check fully is never passed silently.
pub fn validate(schema: &Value, doc: &Value) -> Vec<Violation> {
    let mut out = Vec::new();
    check(schema, schema, doc, "", &mut out, 0);
    out
}

fn fail(out: &mut Vec<Violation>, at: &str, why: String) {
    out.push(Violation {
        at: at.to_string(),
        why,
    });
}

fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64(),
        _ => false,
    }
}

fn check(root: &Value, s: &Value, v: &Value, at: &str, out: &mut Vec<Violation>, depth: usize) {
    if depth > 64 {
        fail(out, at, "schema nests deeper than 64 levels".into());
        return;
    }
    let obj = match s {
        Value::Bool(true) => return,
        Value::Bool(false) => return fail(out, at, "no value is allowed here".into()),
        Value::Object(o) => o,
        _ => return fail(out, at, "the schema is not an object".into()),
    };
    for (k, kw) in obj {
        match k.as_str() {
            k if ANNOTATIONS.contains(&k) => {}
            "$ref" => {
                let target = kw
                    .as_str()
                    .and_then(|r| r.strip_prefix('#'))
                    .and_then(|p| root.pointer(p));
                match target {
                    Some(t) => check(root, t, v, at, out, depth + 1),
                    None => fail(out, at, format!("unresolvable $ref {kw}")),
                }
            }
            "type" => {
                let ok = match kw {
                    Value::String(t) => type_ok(t, v),
                    Value::Array(ts) => {
                        ts.iter().any(|t| t.as_str().is_some_and(|t| type_ok(t, v)))
                    }
                    _ => false,
                };
                if !ok {
                    fail(out, at, format!("{v} is not of type {kw}"));
                }
            }
            "const" => {
                if !same(kw, v) {
                    fail(out, at, format!("{v} is not {kw}"));
                }
            }
            "enum" => {
                let ok = kw
                    .as_array()
                    .is_some_and(|opts| opts.iter().any(|o| same(o, v)));
                if !ok {
                    fail(out, at, format!("{v} is not one of {kw}"));
                }
            }
            "minimum" | "maximum" => {
                if let (Some(bound), Some(x)) = (kw.as_f64(), v.as_f64()) {
                    let bad = if k == "minimum" { x < bound } else { x > bound };
                    if bad {
                        fail(out, at, format!("{x} is past the {k} {bound}"));
                    }
                }
            }
            "properties" | "required" | "additionalProperties" => {
                if let Value::Object(o) = v {
                    object(root, obj, k, o, at, out, depth);
                }
            }
            "items" | "prefixItems" | "minItems" | "maxItems" => {
                if let Value::Array(a) = v {
                    array(root, obj, k, a, at, out, depth);
                }
            }
            "oneOf" | "anyOf" | "allOf" => {
                let Some(subs) = kw.as_array() else {
                    return fail(out, at, format!("{k} is not an array"));
                };
                let results: Vec<Vec<Violation>> = subs
                    .iter()
                    .map(|sub| {
                        let mut o = Vec::new();
                        check(root, sub, v, at, &mut o, depth + 1);
                        o
                    })
                    .collect();
                let passed = results.iter().filter(|r| r.is_empty()).count();
                match k.as_str() {
                    "allOf" => out.extend(results.into_iter().flatten()),
                    "anyOf" if passed == 0 => {
                        fail(out, at, format!("{v} matches none of anyOf"));
                    }
                    "oneOf" if passed != 1 => {
                        fail(
                            out,
                            at,
                            format!("{v} matches {passed} of oneOf, not exactly 1"),
                        );
                    }
                    _ => {}
                }
            }
            other => fail(
                out,
                at,
                format!("the validator does not know the keyword {other}"),
            ),
        }
    }
}

fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn object(
    root: &Value,
    s: &Map<String, Value>,
    k: &str,
    o: &Map<String, Value>,
    at: &str,
    out: &mut Vec<Violation>,
    depth: usize,
) {
    let props = s.get("properties").and_then(Value::as_object);
    match k {
        "properties" => {
            for (name, sub) in props.into_iter().flatten() {
                if let Some(x) = o.get(name) {
                    check(root, sub, x, &format!("{at}/{name}"), out, depth + 1);
                }
            }
        }
        "required" => {
            for name in s[k].as_array().into_iter().flatten() {
                if let Some(name) = name.as_str() {
                    if !o.contains_key(name) {
                        fail(out, at, format!("the required key {name} is missing"));
                    }
                }
            }
        }
        _ => {
            for (name, x) in o {
                if props.is_some_and(|p| p.contains_key(name)) {
                    continue;
                }
                match &s[k] {
                    Value::Bool(false) => fail(out, at, format!("the key {name} is not allowed")),
                    extra => check(root, extra, x, &format!("{at}/{name}"), out, depth + 1),
                }
            }
        }
    }
}

fn array(
    root: &Value,
    s: &Map<String, Value>,
    k: &str,
    a: &[Value],
    at: &str,
    out: &mut Vec<Violation>,
    depth: usize,
) {
    let prefix = s.get("prefixItems").and_then(Value::as_array);
    match k {
        "prefixItems" => {
            for (i, (sub, x)) in prefix.into_iter().flatten().zip(a).enumerate() {
                check(root, sub, x, &format!("{at}/{i}"), out, depth + 1);
            }
        }
        "items" => {
            let skip = prefix.map_or(0, Vec::len);
            for (i, x) in a.iter().enumerate().skip(skip) {
                check(root, &s[k], x, &format!("{at}/{i}"), out, depth + 1);
            }
        }
        _ => {
            if let Some(n) = s[k].as_u64() {
                let len = a.len() as u64;
                if (k == "minItems" && len < n) || (k == "maxItems" && len > n) {
                    fail(out, at, format!("{len} items, {k} is {n}"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(serde::Serialize, JsonSchema)]
    struct Inner {
        at_ms: f64,
        n: u64,
        why: Option<String>,
    }

    #[derive(serde::Serialize, JsonSchema)]
    #[serde(rename_all = "snake_case")]
    #[allow(dead_code)]
    enum Kind {
        Charge,
        TopUp,
    }

    #[derive(serde::Serialize, JsonSchema)]
    struct Doc {
        kind: Kind,
        inner: Vec<Inner>,
    }

    fn doc() -> Value {
        json!({
            "schema_version": 1,
            "kind": "top_up",
            "inner": [{"at_ms": 1.5, "n": 3, "why": null}],
        })
    }

    #[test]
    fn a_document_of_the_type_is_valid() {
        let s = of::<Doc>();
        assert_eq!(validate(&s, &doc()), vec![]);
        let mut out = Vec::new();
        crate::json(
            &mut out,
            &Doc {
                kind: Kind::Charge,
                inner: vec![],
            },
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(validate(&s, &v), vec![]);
    }

    #[test]
    fn wrong_documents_fail_and_say_where() {
        let s = of::<Doc>();
        type Edit = Box<dyn Fn(&mut Value)>;
        let cases: [(&str, Edit); 7] = [
            ("/inner/0/n", Box::new(|v| v["inner"][0]["n"] = json!("3"))),
            ("/inner/0/n", Box::new(|v| v["inner"][0]["n"] = json!(-1))),
            (
                "/inner/0",
                Box::new(|v| v["inner"][0]["extra_ms"] = json!(1)),
            ),
            (
                "/inner/0",
                Box::new(|v| {
                    v["inner"][0].as_object_mut().unwrap().remove("why");
                }),
            ),
            ("/kind", Box::new(|v| v["kind"] = json!("refund"))),
            (
                "/schema_version",
                Box::new(|v| v["schema_version"] = json!(2)),
            ),
            (
                "",
                Box::new(|v| {
                    v.as_object_mut().unwrap().remove("schema_version");
                }),
            ),
        ];
        for (at, edit) in cases {
            let mut d = doc();
            edit(&mut d);
            let errs = validate(&s, &d);
            assert!(errs.iter().any(|e| e.at == at), "{at}: {errs:?}");
        }
    }

    #[test]
    fn an_unknown_keyword_is_refused_not_ignored() {
        let s = json!({"type": "string", "pattern": "^a"});
        assert_eq!(validate(&s, &json!("b")).len(), 1);
    }

    #[test]
    fn hostile_schemas_do_not_panic() {
        let loops = json!({"$ref": "#"});
        assert!(!validate(&loops, &json!(1)).is_empty());
        for s in [
            json!(3),
            json!({"$ref": 3}),
            json!({"oneOf": 1}),
            json!({"items": 2}),
        ] {
            let _ = validate(&s, &json!([1, {"a": 2}]));
        }
    }
}
