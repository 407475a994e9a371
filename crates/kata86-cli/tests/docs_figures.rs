//! The docs are still true: every figure README.md, DESIGN.md and
//! docs/findings.md quote inside a checked block is printed by the command
//! the block names, **in the row (and column) the block says**.
//!
//! A checked block is
//!
//! ```text
//! <!-- check: kata86 drill partition --matrix
//! promote-auto, async | lost acked = 22/31/33/33
//! promote-auto, majority | RTO VN s = 41/41/41/41
//! -->
//! ... prose quoting `22/31/33/33`, `41/41/41/41` and the command itself ...
//! <!-- /check -->
//! ```
//!
//! Each line after the command is an *anchor*,
//! `[SECTION >> ] ROW [| COLUMN] = FIGURE`:
//!
//! - `SECTION >> `, when given, limits the search to the lines after the
//!   one line holding `SECTION`, up to the next blank line.
//! - `ROW` is a comma-separated list of phrases; exactly one line of the
//!   output must hold every phrase as a run of whole tokens. Zero lines or
//!   several fail: an anchor that could match another row checks nothing.
//! - `COLUMN`, when given, names a column of the table that line belongs to
//!   (its header cell, the line above the table's `---` rule); the figure
//!   must then sit in that cell.
//! - `FIGURE` must appear as a run of whole tokens in the row (or the
//!   cell): `41` does not match `141` or `41.5`.
//!
//! Tokens are split on white space and on `| │ ( ) , ; : [ ] { } = "`; a
//! trailing `.` is dropped. Every inline code span of the block's prose
//! that starts with a digit must be the figure of some anchor, and every
//! anchor's figure must be quoted in the prose, so prose and anchors cannot
//! drift apart. The command must appear in the prose (the figure sits next
//! to the command that reproduces it). A block with no figure fails: a
//! check that checks nothing is a defect.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use common::{ok_at_root, repo_root};

const OPEN: &str = "<!-- check: ";
const CLOSE: &str = "<!-- /check -->";

/// One checked block: its command, its anchors and its prose.
#[derive(Debug)]
struct Block {
    cmd: String,
    anchors: Vec<Anchor>,
    body: String,
}

/// `[SECTION >> ] ROW [| COLUMN] = FIGURE`.
#[derive(Debug, PartialEq)]
struct Anchor {
    section: Option<String>,
    row: Vec<String>,
    column: Option<String>,
    figure: String,
}

/// Every checked block of `text`, or what is malformed.
fn blocks(text: &str) -> Result<Vec<Block>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(OPEN) {
        let after = &rest[i + OPEN.len()..];
        let end = after
            .find("-->")
            .ok_or_else(|| "a check marker is not closed".to_string())?;
        let mut lines = after[..end].lines();
        let cmd = lines.next().unwrap_or_default().trim().to_string();
        let anchors = lines
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| parse_anchor(l).map_err(|e| format!("`{cmd}`: anchor `{l}`: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        let body_and_more = &after[end + 3..];
        let close = body_and_more
            .find(CLOSE)
            .ok_or_else(|| format!("no {CLOSE} after `{cmd}`"))?;
        out.push(Block {
            cmd,
            anchors,
            body: body_and_more[..close].to_string(),
        });
        rest = &body_and_more[close + CLOSE.len()..];
    }
    Ok(out)
}

fn parse_anchor(line: &str) -> Result<Anchor, String> {
    let (sel, figure) = line
        .rsplit_once(" = ")
        .ok_or("expected `ROW [| COLUMN] = FIGURE`")?;
    let (section, sel) = match sel.split_once(" >> ") {
        Some((s, r)) => (Some(s.trim().to_string()), r),
        None => (None, sel),
    };
    let (row, column) = match sel.split_once(" | ") {
        Some((r, c)) => (r, Some(c.trim().to_string())),
        None => (sel, None),
    };
    let row: Vec<String> = row
        .split(',')
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    if row.is_empty() {
        return Err("no row phrase".into());
    }
    let figure = figure.trim().to_string();
    if figure.is_empty() {
        return Err("no figure".into());
    }
    Ok(Anchor {
        section,
        row,
        column,
        figure,
    })
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

fn tokens(s: &str) -> Vec<&str> {
    s.split(|c: char| c.is_whitespace() || "|│(),;:[]{}=\"".contains(c))
        .map(|t| t.strip_suffix('.').unwrap_or(t))
        .filter(|t| !t.is_empty())
        .collect()
}

/// Whether `needle`'s tokens appear as a contiguous run of `hay`'s.
fn has_run(hay: &[&str], needle: &str) -> bool {
    let n = tokens(needle);
    !n.is_empty() && hay.windows(n.len()).any(|w| w == n.as_slice())
}

/// A table rule: only `-`, `+`, `|`, `:` and spaces, with some `-`.
fn is_rule(line: &str) -> bool {
    line.contains('-') && line.chars().all(|c| "-+|:─┼│ ".contains(c))
}

fn cells(line: &str) -> Vec<&str> {
    line.split(['|', '│']).collect()
}

/// The index of the header line of the table `lines[i]` belongs to: the
/// line just above the nearest rule above it.
fn header_of(lines: &[&str], i: usize) -> Option<usize> {
    if !lines[i].contains(['|', '│']) || is_rule(lines[i]) {
        return None;
    }
    (1..i).rev().find(|&k| is_rule(lines[k])).map(|k| k - 1)
}

/// The index of the column headed exactly `col` in the header line `h`.
fn column_in(h: &str, col: &str) -> Vec<usize> {
    let header = cells(h);
    (0..header.len())
        .filter(|&k| header[k].trim() == col)
        .collect()
}

/// Checks one anchor against `out`; the error says what went wrong.
fn check_anchor(out: &str, a: &Anchor) -> Result<(), String> {
    let lines: Vec<&str> = out.lines().collect();
    // With a column, only rows of a table with that column are candidates.
    let in_scope = |i: usize| match &a.column {
        None => true,
        Some(col) => header_of(&lines, i).is_some_and(|h| !column_in(lines[h], col).is_empty()),
    };
    // With a section, only the lines after its heading, up to a blank line.
    let scope = match &a.section {
        None => 0..lines.len(),
        Some(sec) => {
            let heads: Vec<usize> = (0..lines.len())
                .filter(|&i| has_run(&tokens(lines[i]), sec))
                .collect();
            let [h] = heads.as_slice() else {
                return Err(format!("{} lines head a section `{sec}`", heads.len()));
            };
            let end = (h + 1..lines.len())
                .find(|&i| lines[i].trim().is_empty())
                .unwrap_or(lines.len());
            h + 1..end
        }
    };
    let hits: Vec<usize> = scope
        .filter(|&i| {
            let t = tokens(lines[i]);
            in_scope(i) && a.row.iter().all(|p| has_run(&t, p))
        })
        .collect();
    let i = match hits.as_slice() {
        [i] => *i,
        [] => {
            return Err(match &a.column {
                None => format!("no line holds every phrase of {:?}", a.row),
                Some(c) => format!("no row of a table with a column `{c}` holds {:?}", a.row),
            })
        }
        many => {
            return Err(format!(
                "{} lines hold {:?} (lines {:?}): name the row more precisely",
                many.len(),
                a.row,
                many.iter().map(|i| i + 1).collect::<Vec<_>>()
            ))
        }
    };
    let row = lines[i];
    let Some(col) = &a.column else {
        return if has_run(&tokens(row), &a.figure) {
            Ok(())
        } else {
            Err(format!("`{}` is not in the row `{}`", a.figure, row.trim()))
        };
    };
    let h = header_of(&lines, i).expect("in scope");
    let k = match column_in(lines[h], col).as_slice() {
        [k] => *k,
        more => {
            return Err(format!(
                "the table of `{}` has {} columns headed `{col}`",
                row.trim(),
                more.len()
            ))
        }
    };
    let cell = cells(row).get(k).copied().unwrap_or_default();
    if has_run(&tokens(cell), &a.figure) {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not in column `{col}` of the row `{}` (the cell holds `{}`)",
            a.figure,
            row.trim(),
            cell.trim()
        ))
    }
}

/// Checks a block's anchors against `out` and its prose against its
/// anchors; every problem is listed.
fn check_block(b: &Block, out: &str) -> Vec<String> {
    let mut errs = Vec::new();
    // Prose wraps: a command broken over lines is still quoted.
    let flat = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
    if !flat(&b.body).contains(&flat(&b.cmd)) {
        errs.push("the block does not quote its command".to_string());
    }
    let quoted = figures(&b.body);
    if quoted.is_empty() {
        errs.push("the block quotes no figure".to_string());
    }
    for f in &quoted {
        if !b.anchors.iter().any(|a| &a.figure == f) {
            errs.push(format!(
                "`{f}` is quoted but no anchor says where it is printed"
            ));
        }
    }
    for a in &b.anchors {
        if !quoted.contains(&a.figure) {
            errs.push(format!(
                "the anchor for `{}` has no such figure in the prose",
                a.figure
            ));
        }
        if let Err(e) = check_anchor(out, a) {
            errs.push(e);
        }
    }
    errs
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
    let found = blocks(&text).unwrap_or_else(|e| panic!("{doc}: {e}"));
    let mut failures = Vec::new();
    for b in &found {
        let args: Vec<&str> = b
            .cmd
            .strip_prefix("kata86 ")
            .unwrap_or_else(|| panic!("{doc}: `{}` is not a kata86 command", b.cmd))
            .split_whitespace()
            .collect();
        // One run per distinct command, across the docs (their tests run
        // in parallel: a second asker waits for the first run).
        let out = output_of(&b.cmd, &args);
        for e in check_block(b, &out) {
            failures.push(format!("{doc}, `{}`: {e}", b.cmd));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
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
fn model_quotes_only_figures_its_commands_still_print() {
    assert!(
        check("docs/model.md") >= 1,
        "docs/model.md lost its checked blocks"
    );
}

// ---- the checker itself ----------------------------------------------------

const TABLE: &str = "\
header line
 policy        | replication | RTO VN s    | lost acked
---------------+-------------+-------------+------------
 promote-auto  | async       | 41/41/41/41 | 22/31/33/33
 promote-auto  | majority    | 41/41/41/41 | 0/0/0/0
 reject-writes | majority    | 121/121     | 0/0/0/0
detect: 5.4 s; charge p95 279 ms (VN 119 ms)
";

fn block(anchors: &str, prose: &str) -> Block {
    let text = format!("<!-- check: kata86 x\n{anchors}\n-->\n{prose} `kata86 x`\n<!-- /check -->");
    blocks(&text).expect("well formed").remove(0)
}

#[test]
fn the_block_parser_finds_commands_anchors_and_figures() {
    let b = block(
        "promote-auto, async | lost acked = 22/31/33/33",
        "lost `22/31/33/33`",
    );
    assert_eq!(b.cmd, "kata86 x");
    assert_eq!(
        b.anchors,
        [Anchor {
            section: None,
            row: vec!["promote-auto".into(), "async".into()],
            column: Some("lost acked".into()),
            figure: "22/31/33/33".into(),
        }]
    );
    assert_eq!(figures(&b.body), ["22/31/33/33"]);
    assert!(check_block(&b, TABLE).is_empty());
}

#[test]
fn a_figure_moved_to_another_row_fails() {
    // 22/31/33/33 is async's, not majority's.
    let b = block(
        "promote-auto, majority | lost acked = 22/31/33/33",
        "`22/31/33/33`",
    );
    let errs = check_block(&b, TABLE);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].contains("not in column"), "{errs:?}");
    // Without a column, the row alone still tells them apart.
    let b = block("promote-auto, majority = 22/31/33/33", "`22/31/33/33`");
    assert_eq!(check_block(&b, TABLE).len(), 1);
}

#[test]
fn a_figure_moved_to_another_column_fails() {
    let b = block(
        "promote-auto, async | RTO VN s = 22/31/33/33",
        "`22/31/33/33`",
    );
    assert_eq!(check_block(&b, TABLE).len(), 1);
}

#[test]
fn a_part_of_a_token_is_not_a_figure() {
    // `21` is inside `121/121`, `9 ms` inside `119 ms`: neither is printed.
    let b = block("reject-writes = 21", "`21`");
    assert_eq!(check_block(&b, TABLE).len(), 1);
    let b = block("detect = 9 ms", "`9 ms`");
    assert_eq!(check_block(&b, TABLE).len(), 1);
    let b = block("detect = 119 ms", "`119 ms`");
    assert!(check_block(&b, TABLE).is_empty());
}

#[test]
fn a_section_tells_rows_apart() {
    let out = "steps:\n  160 s  mitigate: flag on\n\ncounts:\n  160 s  1346  mitigate: flag on\n";
    let b = block("mitigate = 1346", "`1346`");
    assert_eq!(check_block(&b, out).len(), 1, "two lines are `mitigate`");
    let b = block("counts >> mitigate = 1346", "`1346`");
    assert!(check_block(&b, out).is_empty());
    let b = block("steps >> mitigate = 1346", "`1346`");
    assert_eq!(check_block(&b, out).len(), 1);
}

#[test]
fn an_ambiguous_row_fails() {
    // Two rows are promote-auto: the anchor must say which.
    let b = block("promote-auto | RTO VN s = 41/41/41/41", "`41/41/41/41`");
    let errs = check_block(&b, TABLE);
    assert!(errs.iter().any(|e| e.contains("2 lines")), "{errs:?}");
}

#[test]
fn prose_and_anchors_cannot_drift_apart() {
    // A quoted figure with no anchor, and an anchor whose figure is not quoted.
    let b = block(
        "promote-auto, async | lost acked = 22/31/33/33",
        "`22/31/33/33` and `5.4 s`",
    );
    assert_eq!(check_block(&b, TABLE).len(), 1);
    let b = block(
        "promote-auto, async | lost acked = 22/31/33/33\ndetect = 5.4 s",
        "`22/31/33/33`",
    );
    assert_eq!(check_block(&b, TABLE).len(), 1);
    // A block that quotes nothing checks nothing.
    let b = block("", "no figure");
    assert!(!check_block(&b, TABLE).is_empty());
}
