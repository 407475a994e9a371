//! The parsers against arbitrary and mutated input: they must never panic,
//! and every input is answered (a configuration or a located error) without
//! running anything. Case counts are fixed so that `cargo test` stays fast
//! and deterministic; raise `FUZZ_CASES` locally for a longer hunt.
//! `corpus/` keeps inputs that once broke a parser, each answered here too.

use proptest::prelude::*;
use scenario::{parse_drill, parse_topology, Length};

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000)
}

/// The example files of the repository: the seeds of the mutations.
fn examples() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("examples/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| std::fs::read_to_string(p).expect("example"))
        .collect()
}

/// Pieces a mutation splices in: the characters and tokens TOML and the
/// schema care about, and numbers at the edges of every bound.
const PIECES: &[&str] = &[
    "=",
    "\"",
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    ",",
    "\n",
    "#",
    "-",
    ".",
    "e",
    "0",
    "1",
    "9",
    "1e308",
    "-1e308",
    "nan",
    "inf",
    "-inf",
    "-0",
    "0.0000001",
    "4294967295",
    "18446744073709551615",
    "true",
    "\"\"",
    "\"SG\"",
    "\"MARS\"",
    "kind = \"step\"",
    "[[fault]]",
    "[[clock]]",
    "[[flag]]",
    "[[slo]]",
    "[[alert]]",
    "[topology]",
    "start_s",
    "end_s",
    "duration_s",
    "rate",
    "accounts",
    "\u{feff}",
    "é",
    "\t",
    "\r\n",
];

#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, usize),
    Delete(usize, usize),
    Replace(usize, usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 0..PIECES.len()).prop_map(|(at, p)| Edit::Insert(at, p)),
        (any::<usize>(), 1usize..40).prop_map(|(at, n)| Edit::Delete(at, n)),
        (any::<usize>(), 1usize..12, 0..PIECES.len())
            .prop_map(|(at, n, p)| Edit::Replace(at, n, p)),
    ]
}

/// Applies `edits` to `text` on character boundaries.
fn mutate(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for e in edits {
        let len = chars.len().max(1);
        match *e {
            Edit::Insert(at, p) => {
                let at = at % (chars.len() + 1);
                chars.splice(at..at, PIECES[p].chars());
            }
            Edit::Delete(at, n) => {
                let at = at % len;
                let end = (at + n).min(chars.len());
                chars.drain(at.min(end)..end);
            }
            Edit::Replace(at, n, p) => {
                let at = at % len;
                let end = (at + n).min(chars.len());
                chars.splice(at.min(end)..end, PIECES[p].chars());
            }
        }
    }
    chars.into_iter().collect()
}

/// Parses `text` every way: whatever comes back, no panic. An error that
/// names a line names one the text has.
fn answer(text: &str) {
    for result in [
        parse_drill("fuzz", text, Length::Short).map(|_| ()),
        parse_drill("fuzz", text, Length::Long).map(|_| ()),
        parse_topology(text, 0.0).map(|_| ()),
    ] {
        if let Err(e) = result {
            if let Some(line) = e.line {
                assert!(line >= 1 && line <= text.lines().count().max(1) + 1, "{e}");
            }
            assert!(!e.to_string().is_empty());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(86),
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_bytes_are_answered_without_a_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        answer(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn mutated_examples_are_answered_without_a_panic(
        which in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let seeds = examples();
        let seed = &seeds[which.index(seeds.len())];
        answer(&mutate(seed, &edits));
    }
}

/// Every input that once broke a parser, answered without a panic.
#[test]
fn the_regression_corpus_is_answered() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).expect("tests/corpus") {
        let path = entry.expect("entry").path();
        let text =
            String::from_utf8_lossy(&std::fs::read(&path).expect("corpus file")).into_owned();
        answer(&text);
        n += 1;
    }
    assert!(n > 0, "the corpus is empty");
}
