//! `--report` and `--hgrm`: checking the paths before a run, writing the
//! files after it, and the progress bars shown on a terminal.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use metrics::LatencyHistogram;

use crate::CliError;

/// A progress bar of `total` steps on stderr, only when stderr is a terminal
/// and `--quiet` was not given (hidden otherwise: every call is a no-op).
pub fn bar(quiet: bool, total: u64, template: &str) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}

/// Checks `--report FILE` before the run: not a directory, in a directory
/// that exists.
pub fn check_report(path: Option<&PathBuf>) -> Result<(), CliError> {
    let Some(p) = path else { return Ok(()) };
    if p.is_dir() {
        return Err(CliError::Usage(format!(
            "--report {}: is a directory; give a file name, e.g. --report report.html",
            p.display()
        )));
    }
    let parent = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err(CliError::Usage(format!(
            "--report {}: the directory {} does not exist",
            p.display(),
            parent.display()
        )));
    }
    Ok(())
}

/// Checks `--hgrm DIR` before the run: a directory, or nothing yet (it is
/// created).
pub fn check_hgrm(dir: Option<&PathBuf>) -> Result<(), CliError> {
    let Some(d) = dir else { return Ok(()) };
    if d.exists() && !d.is_dir() {
        return Err(CliError::Usage(format!(
            "--hgrm {}: is a file, not a directory; give a directory (created if missing)",
            d.display()
        )));
    }
    Ok(())
}

/// Renders `rep` and writes it to `path`, with a progress bar over its plots.
pub fn write_report(path: &Path, rep: &report::Report, quiet: bool) -> Result<(), CliError> {
    let total = report::plot_ids(rep).len() as u64;
    let bar = bar(quiet, total, "{bar:40} {pos}/{len} plots {elapsed}");
    let html = report::render_html_with(rep, &mut |done, _| bar.set_position(done as u64))?;
    bar.finish_and_clear();
    std::fs::write(path, html).map_err(|source| CliError::Output {
        flag: "--report",
        path: path.display().to_string(),
        source,
    })
}

/// A file name made of `parts`: `[A-Za-z0-9._]` kept, anything else `-`.
pub fn hgrm_name(parts: &[&str]) -> String {
    let joined = parts.join("-");
    let mut name: String = joined
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    name.push_str(".hgrm");
    name
}

/// Writes every `(file name, histogram)` into `dir` (created if missing).
pub fn write_hgrm(dir: &Path, files: &[(String, &LatencyHistogram)]) -> Result<(), CliError> {
    let fail = |source| CliError::Output {
        flag: "--hgrm",
        path: dir.display().to_string(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    for (name, h) in files {
        std::fs::write(dir.join(name), metrics::hgrm::write(h)).map_err(fail)?;
    }
    Ok(())
}
