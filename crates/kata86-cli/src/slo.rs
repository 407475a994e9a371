//! `kata86 slo export`: a world's objectives as OpenSLO v1 documents. The
//! conversion is the `slo` crate's (`slo::openslo`); this only picks the
//! world and prints.

use std::io::Write;

use engine::drill::{Builtin, DrillConfig};

use crate::args::{SloExportArgs, SloFormat};
use crate::files::read_scenario;
use crate::{CliError, Verdict};

/// Runs `kata86 slo export`.
pub fn export(a: &SloExportArgs, out: &mut dyn Write) -> Result<Verdict, CliError> {
    let cfg = match &a.scenario {
        Some(path) => read_scenario(path, a.allow_long)?,
        None => DrillConfig::builtin(
            Builtin::Baseline,
            crate::multi::jp_of(crate::args::world(a.world)),
        ),
    };
    // The budget period is whole seconds in every file (days × 86 400).
    let period_s = cfg.budget.period.div_ceil(1_000_000);
    match a.format {
        SloFormat::Openslo => {
            out.write_all(::slo::openslo::export(&cfg.slos, period_s).as_bytes())?
        }
    }
    Ok(Verdict::Clean)
}
