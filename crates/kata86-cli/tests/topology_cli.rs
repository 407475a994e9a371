//! `kata86 sim --topology FILE`: a user-supplied map, and what bad ones get.

mod common;

fn kata86(args: &[&str]) -> (i32, String, String) {
    let out = common::kata86(args);
    (
        out.status.code().unwrap_or(-1),
        common::stdout(&out),
        common::stderr(&out),
    )
}

fn write(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("kata86-topology-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

const LINKS: &str = "links = [{ a = \"SG\", b = \"US\", rtt_ms = 180 }]\n";

#[test]
fn a_topology_file_replaces_the_kata_map() {
    let manifest = env!("CARGO_MANIFEST_DIR");
    let file = format!("{manifest}/../../examples/three-regions.toml");
    let (code, out, err) = kata86(&[
        "sim",
        "--topology",
        &file,
        "--client",
        "JP",
        "--strategy",
        "leader",
        "--iterations",
        "2000",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let r = &doc["results"][0];
    assert_eq!(r["client"], "JP");
    // JP users reach the SG leader in the file's 74 ms (to the histogram's
    // 3 significant digits).
    let p95 = r["read_ms"]["p95"].as_f64().unwrap();
    assert!((p95 - 74.0).abs() <= 74.0 * 1e-3, "{p95}");
}

#[test]
fn bad_topology_files_are_explained_with_exit_code_2() {
    let cases = [
        (
            "negative.toml",
            format!("regions = [\"SG\", \"US\"]\n{LINKS}sites = [{{ name = \"VN\", home = \"SG\", rtt_ms = {{ SG = -40, US = 220 }} }}]\n"),
            "-40",
        ),
        (
            "missing.toml",
            "regions = [\"SG\", \"US\"]\nlinks = []\nsites = [{ name = \"VN\", home = \"SG\", rtt_ms = { SG = 40, US = 220 } }]\n".to_string(),
            "no link SG <-> US",
        ),
        (
            "unknown.toml",
            format!("regions = [\"SG\", \"US\"]\n{LINKS}sites = [{{ name = \"VN\", home = \"TH\", rtt_ms = {{ SG = 40, US = 220 }} }}]\n"),
            "home = \"TH\": unknown region",
        ),
        ("syntax.toml", "regions = [\"SG\"\n".to_string(), "syntax.toml:"),
    ];
    for (name, text, expect) in cases {
        let path = write(name, &text);
        let (code, out, err) = kata86(&["sim", "--topology", &path, "--iterations", "10"]);
        assert_eq!(code, 2, "{name}: {err}");
        assert!(out.is_empty(), "{name}");
        assert!(err.contains(expect), "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
    }
    let (code, _, err) = kata86(&["sim", "--topology", "/nonexistent/topo.toml"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read topology"), "{err}");
    // Not a file of TOML at all: refused by its size before anything else.
    let (code, _, err) = kata86(&["sim", "--topology", "/dev/zero"]);
    assert_eq!(code, 2);
    assert!(err.contains("KiB"), "{err}");
}
