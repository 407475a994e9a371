//! Reading the user's files: the size cap, and the file's name in front of
//! the `scenario` crate's located errors. Parsing and checking live in the
//! `scenario` crate.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use engine::drill::DrillConfig;
use scenario::{Length, ScenarioError, MAX_FILE_BYTES};

use crate::CliError;

/// Reads a file of at most [`MAX_FILE_BYTES`] as UTF-8 text.
pub fn read_capped(path: &Path, what: &str) -> Result<String, CliError> {
    let shown = path.display();
    let file = std::fs::File::open(path)
        .map_err(|e| CliError::Usage(format!("cannot read {what} {shown}: {e}")))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| CliError::Usage(format!("cannot read {what} {shown}: {e}")))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(CliError::Usage(format!(
            "{what} {shown} is over {} KiB; such a file is a page of text",
            MAX_FILE_BYTES / 1024
        )));
    }
    String::from_utf8(bytes)
        .map_err(|_| CliError::Usage(format!("{what} {shown} is not UTF-8 text")))
}

/// Where a command's input files come from: the disk, remembering every
/// text read (a shard file carries them, so that `kata86 merge` needs none
/// of the files and cannot see a file changed between shards), or the texts
/// a shard file carried.
#[derive(Debug, Default)]
pub struct Inputs {
    stored: Option<BTreeMap<String, String>>,
    read: RefCell<BTreeMap<String, String>>,
}

impl Inputs {
    /// Read from the disk.
    pub fn disk() -> Inputs {
        Inputs::default()
    }

    /// The texts a shard file carried, by kind (`topology`, `scenario`).
    pub fn stored(texts: BTreeMap<String, String>) -> Inputs {
        Inputs {
            stored: Some(texts),
            read: RefCell::default(),
        }
    }

    /// The text of the `what` file at `path`.
    pub fn text(&self, path: &Path, what: &str) -> Result<String, CliError> {
        let text = match &self.stored {
            Some(texts) => texts.get(what).cloned().ok_or_else(|| {
                CliError::Usage(format!(
                    "the shard files name a {what} file ({}) but do not carry it",
                    path.display()
                ))
            })?,
            None => read_capped(path, what)?,
        };
        self.read
            .borrow_mut()
            .insert(what.to_string(), text.clone());
        Ok(text)
    }

    /// Every text read, by kind.
    pub fn texts(&self) -> BTreeMap<String, String> {
        self.read.borrow().clone()
    }
}

/// A scenario file → its drill configuration, errors located in the file.
pub fn read_scenario(path: &Path, allow_long: bool) -> Result<DrillConfig, CliError> {
    read_scenario_from(&Inputs::disk(), path, allow_long)
}

/// [`read_scenario`] with the text from `inputs`.
pub fn read_scenario_from(
    inputs: &Inputs,
    path: &Path,
    allow_long: bool,
) -> Result<DrillConfig, CliError> {
    let shown = path.display().to_string();
    let text = inputs.text(path, "scenario")?;
    let mut cfg =
        scenario::parse_drill(&shown, &text, length(allow_long)).map_err(|e| located(&shown, e))?;
    if let Some(inc) = scenario::slo_include(&text).map_err(|e| located(&shown, e))? {
        // Relative to the scenario file, as a reader of the file expects.
        let target = path
            .parent()
            .unwrap_or_else(|| Path::new(""))
            .join(&inc.path);
        apply_slo_file(inputs, &target, SCENARIO_SLO, &mut cfg).map_err(|e| {
            CliError::Usage(format!(
                "{e} (included by {shown}:{}:{}: slo_file)",
                inc.line, inc.column
            ))
        })?;
    }
    Ok(cfg)
}

/// The kind under which a scenario's `slo_file` text is kept in [`Inputs`]
/// (and in a shard file).
pub const SCENARIO_SLO: &str = shard::SCENARIO_SLO;
/// The kind under which `--slo-file`'s text is kept in [`Inputs`].
pub const SLO_FILE: &str = shard::SLO_FILE;

/// The OpenSLO file at `path` (read as `kind` through `inputs`) replaces
/// `cfg`'s objectives, and its time window the budget period. Its site
/// labels must name the world's client sites; a bad document is a usage
/// error naming the file, the document, the field, the value and what is
/// allowed.
pub fn apply_slo_file(
    inputs: &Inputs,
    path: &Path,
    kind: &str,
    cfg: &mut DrillConfig,
) -> Result<(), CliError> {
    let imported = read_slo_file(inputs, path, kind, &cfg.topology)?;
    cfg.slos = imported.slos;
    cfg.budget.period = imported.period_s * 1_000_000;
    Ok(())
}

/// The objectives of the OpenSLO file at `path` (read as `kind` through
/// `inputs`), their site labels checked against `topology`'s client sites.
pub fn read_slo_file(
    inputs: &Inputs,
    path: &Path,
    kind: &str,
    topology: &topology::Topology,
) -> Result<slo::openslo::Imported, CliError> {
    let text = inputs.text(path, kind)?;
    let sites: Vec<&str> = topology.site_ids().map(|s| topology.site_name(s)).collect();
    slo::openslo::import(&text, &sites)
        .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))
}

/// `--slo-file`, when given, applied to `cfg` (see [`apply_slo_file`]).
pub fn slo_file_arg(
    inputs: &Inputs,
    path: Option<&Path>,
    cfg: &mut DrillConfig,
) -> Result<(), CliError> {
    match path {
        Some(p) => apply_slo_file(inputs, p, SLO_FILE, cfg),
        None => Ok(()),
    }
}

/// A scenario error with the file's name in front: `FILE:LINE:COLUMN: ...`.
pub fn located(path: &str, e: ScenarioError) -> CliError {
    if e.line.is_some() {
        CliError::Usage(format!("{path}:{e}"))
    } else {
        CliError::Usage(format!("{path}: {e}"))
    }
}

/// `--allow-long` as the scenario crate's [`Length`].
pub fn length(allow_long: bool) -> Length {
    if allow_long {
        Length::Long
    } else {
        Length::Short
    }
}

/// One run of `cfg` in the shared cost model.
pub fn drill_work(cfg: &DrillConfig) -> scenario::Work {
    scenario::Work::drill_on(
        cfg.rate,
        topology::to_ms(cfg.duration) / 1000.0,
        cfg.topology.site_ids().count(),
        cfg.topology.region_count(),
    )
}
