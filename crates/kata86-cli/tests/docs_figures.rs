//! The docs are still true: every figure README.md, DESIGN.md and
//! docs/findings.md quote
//! inside a checked block is printed by the command the block names.
//!
//! A checked block is
//!
//! ```text
//! <!-- check: kata86 drill partition --matrix -->
//! ... prose quoting `22/31/33/33` and the command itself ...
//! <!-- /check -->
//! ```
//!
//! The test runs the command and requires every inline code span of the
//! block that starts with a digit to appear verbatim in what it printed, and
//! the command to appear in the block's own text (the figure sits next to
//! the command that reproduces it). A block with no figure fails: a check
//! that checks nothing is a defect.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use common::{ok_at_root, repo_root};

const OPEN: &str = "<!-- check: ";
const CLOSE: &str = "<!-- /check -->";

/// `(command, body)` of every checked block of `text`.
fn blocks(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(OPEN) {
        let after = &rest[i + OPEN.len()..];
        let end = after.find("-->").expect("a check marker is closed");
        let cmd = after[..end].trim().to_string();
        let body_and_more = &after[end + 3..];
        let close = body_and_more
            .find(CLOSE)
            .unwrap_or_else(|| panic!("no {CLOSE} after `{cmd}`"));
        out.push((cmd, body_and_more[..close].to_string()));
        rest = &body_and_more[close + CLOSE.len()..];
    }
    out
}

/// Inline code spans of `body` that start with a digit: the figures.
fn figures(body: &str) -> Vec<String> {
    body.split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| s.starts_with(|c: char| c.is_ascii_digit()))
        .map(str::to_string)
        .collect()
}

/// What `kata86 ARGS` printed, run once per distinct command line.
fn output_of(cmd: &str, args: &[&str]) -> String {
    static RUNS: Mutex<BTreeMap<String, Arc<OnceLock<String>>>> = Mutex::new(BTreeMap::new());
    let cell = RUNS
        .lock()
        .expect("no test panicked holding the lock")
        .entry(cmd.to_string())
        .or_default()
        .clone();
    cell.get_or_init(|| ok_at_root(args)).clone()
}

fn check(doc: &str) -> usize {
    let path = repo_root().join(doc);
    let text = std::fs::read_to_string(&path).expect("the doc exists");
    let found = blocks(&text);
    for (cmd, body) in &found {
        let args: Vec<&str> = cmd
            .strip_prefix("kata86 ")
            .unwrap_or_else(|| panic!("{doc}: `{cmd}` is not a kata86 command"))
            .split_whitespace()
            .collect();
        assert!(
            body.contains(cmd.as_str()),
            "{doc}: the block checked by `{cmd}` does not quote that command"
        );
        let figs = figures(body);
        assert!(
            !figs.is_empty(),
            "{doc}: the block of `{cmd}` quotes no figure"
        );
        // One run per distinct command, across the docs (their tests run
        // in parallel: a second asker waits for the first run).
        let out = output_of(cmd, &args);
        for f in figs {
            assert!(
                out.contains(&f),
                "{doc}: `{f}` is quoted beside `{cmd}`, which no longer prints it:\n{out}"
            );
        }
    }
    found.len()
}

#[test]
fn design_quotes_only_figures_its_commands_still_print() {
    assert!(check("DESIGN.md") >= 5, "DESIGN.md lost its checked blocks");
}

#[test]
fn findings_quote_only_figures_their_commands_still_print() {
    assert!(
        check("docs/findings.md") >= 5,
        "docs/findings.md lost its checked blocks"
    );
}

#[test]
fn readme_quotes_only_figures_its_commands_still_print() {
    check("README.md");
}

#[test]
fn the_block_parser_finds_commands_and_figures() {
    let text = "a\n<!-- check: kata86 drill x -->\nsaw `1/2/3/4` in `kata86 drill x` and `--flag`\n<!-- /check -->\n";
    let b = blocks(text);
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].0, "kata86 drill x");
    assert_eq!(figures(&b[0].1), ["1/2/3/4"]);
}
