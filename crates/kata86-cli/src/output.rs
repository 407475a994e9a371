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

/// Writes `bytes` to `path` through a temporary file in the same directory,
/// renamed into place: a failed run never leaves half a file, and never
/// truncates the file it replaces before the new one is complete.
pub fn write_atomic(flag: &'static str, path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    use std::io::Write;
    let fail = |source| CliError::Output {
        flag,
        path: path.display().to_string(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".kata86-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(fail)?;
    tmp.write_all(bytes).map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

/// What a path names on this machine: its canonical form, or for a file
/// not written yet its canonical directory and its name.
fn identity(p: &Path) -> Option<PathBuf> {
    if let Ok(c) = p.canonicalize() {
        return Some(c);
    }
    let dir = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    Some(dir.canonicalize().ok()?.join(p.file_name()?))
}

/// Refuses, before a run, an output that would replace one of its inputs
/// or another output: the same file after canonicalisation (links and
/// `..` followed). `outputs` are `(flag, path)`, `--hgrm` a directory whose
/// `.hgrm` files are checked; `inputs` are `(flag or kind, path)`.
pub fn check_outputs(outputs: &[(&str, &Path)], inputs: &[(&str, &Path)]) -> Result<(), CliError> {
    let known: Vec<(&str, &Path, PathBuf)> = inputs
        .iter()
        .filter_map(|&(f, p)| Some((f, p, identity(p)?)))
        .collect();
    let mut seen: Vec<(&str, &Path, PathBuf)> = Vec::new();
    for &(flag, path) in outputs {
        let Some(id) = identity(path) else { continue };
        if flag == "--hgrm" {
            if let Some((what, p, _)) = known.iter().find(|(_, _, i)| {
                i.parent() == Some(id.as_path()) && i.extension().is_some_and(|e| e == "hgrm")
            }) {
                return Err(CliError::Usage(format!(
                    "--hgrm {}: the directory holds the input {what} {}, which a .hgrm file \
                     could replace; give another directory",
                    path.display(),
                    p.display()
                )));
            }
            continue;
        }
        if let Some((what, p, _)) = known.iter().find(|(_, _, i)| *i == id) {
            return Err(CliError::Usage(format!(
                "{flag} {}: is the input {what} {}; writing it would destroy it. Give another \
                 file name",
                path.display(),
                p.display()
            )));
        }
        if let Some((other, p, _)) = seen.iter().find(|(_, _, i)| *i == id) {
            return Err(CliError::Usage(format!(
                "{flag} {} and {other} {} are the same file; give each output its own",
                path.display(),
                p.display()
            )));
        }
        seen.push((flag, path, id));
    }
    Ok(())
}

/// The checks every command makes of its outputs before it runs: `--report`
/// a file in a directory that exists, `--hgrm` a directory, `--out` a
/// file; none of them one of `inputs`, none the same as another; and, with
/// `--out` (a shard), no `--report` or `--hgrm`, which only `kata86 merge`
/// can write.
pub fn check_all(
    report: Option<&PathBuf>,
    hgrm: Option<&PathBuf>,
    out: Option<&PathBuf>,
    inputs: &[(&str, Option<&PathBuf>)],
) -> Result<(), CliError> {
    check_report(report)?;
    check_hgrm(hgrm)?;
    if out.is_some() {
        if let Some(flag) = [("--report", report.is_some()), ("--hgrm", hgrm.is_some())]
            .iter()
            .find(|f| f.1)
            .map(|f| f.0)
        {
            return Err(CliError::Usage(format!(
                "{flag}: a shard (--shard/--out) writes only its --out file, not {flag}; give \
                 {flag} to `kata86 merge FILES... {flag} ...`, which writes it for the whole run"
            )));
        }
        if out.is_some_and(|o| o.is_dir()) {
            return Err(CliError::Usage(format!(
                "--out {}: is a directory; give a file name, e.g. --out shard-0.json",
                out.map(|o| o.display().to_string()).unwrap_or_default()
            )));
        }
    }
    let outputs: Vec<(&str, &Path)> = [("--report", report), ("--hgrm", hgrm), ("--out", out)]
        .into_iter()
        .filter_map(|(f, p)| Some((f, p?.as_path())))
        .collect();
    let inputs: Vec<(&str, &Path)> = inputs
        .iter()
        .filter_map(|&(f, p)| Some((f, p?.as_path())))
        .collect();
    check_outputs(&outputs, &inputs)
}

/// Renders the page of `figures` and writes it to `path`, with a progress
/// bar over its plots.
pub fn write_page(
    path: &Path,
    command: String,
    seed: u64,
    figures: report::Figures,
    quiet: bool,
) -> Result<(), CliError> {
    let rep = &report::Report {
        command,
        seed,
        figures,
    };
    let total = report::plot_ids(rep).len() as u64;
    let bar = bar(quiet, total, "{bar:40} {pos}/{len} plots {elapsed}");
    let html = report::render_html_with(rep, &mut |done, _| bar.set_position(done as u64))?;
    bar.finish_and_clear();
    write_atomic("--report", path, html.as_bytes())
}

/// Writes every `(file name, histogram)` into `dir` (created if missing),
/// each through a temporary file. Names are unique by construction
/// ([`output::hgrm_name`]); a repeated one is a bug, refused rather than written
/// over.
pub fn write_hgrm(dir: &Path, files: &[(String, &LatencyHistogram)]) -> Result<(), CliError> {
    let fail = |source| CliError::Output {
        flag: "--hgrm",
        path: dir.display().to_string(),
        source,
    };
    let mut names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(fail(std::io::Error::other(format!(
            "two histograms would be written to {}",
            w[0]
        ))));
    }
    std::fs::create_dir_all(dir).map_err(fail)?;
    for (name, h) in files {
        write_atomic(
            "--hgrm",
            &dir.join(name),
            metrics::hgrm::write(h).as_bytes(),
        )?;
    }
    Ok(())
}
