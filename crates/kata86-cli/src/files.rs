//! Reading the user's files: scenario and topology TOML, with errors that
//! name the file and the line.

use std::ops::Range;

use serde::Deserialize;
use topology::TopologyBuilder;

use crate::CliError;

/// Regions, links and client sites as a file writes them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologySpec {
    regions: Vec<String>,
    links: Vec<LinkSpec>,
    sites: Vec<SiteSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkSpec {
    a: String,
    b: String,
    rtt_ms: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteSpec {
    name: String,
    home: String,
    rtt_ms: std::collections::BTreeMap<String, f64>,
}

impl TopologySpec {
    /// The builder that validates it (unknown regions, missing, negative or
    /// asymmetric RTTs are reported by `build`).
    pub fn builder(&self) -> TopologyBuilder {
        let mut b = TopologyBuilder::new();
        for r in &self.regions {
            b = b.region(r);
        }
        for l in &self.links {
            b = b.link(&l.a, &l.b, l.rtt_ms);
        }
        for s in &self.sites {
            let rtts: Vec<(&str, f64)> = s.rtt_ms.iter().map(|(k, v)| (k.as_str(), *v)).collect();
            b = b.site(&s.name, &s.home, &rtts);
        }
        b
    }
}

/// Reads a topology file (the `[topology]` table of a scenario, at top level).
pub fn read_topology(path: &std::path::Path) -> Result<TopologyBuilder, CliError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Usage(format!("cannot read topology {shown}: {e}")))?;
    let spec: TopologySpec = toml::from_str(&text).map_err(|e| {
        let line = e.span().map(|s| line_of(&text, &s));
        scenario_error(&shown, line, e.message())
    })?;
    Ok(spec.builder())
}

/// Line number (1-based) of a byte offset in `text`.
pub fn line_of(text: &str, span: &Range<usize>) -> usize {
    text[..span.start.min(text.len())].matches('\n').count() + 1
}

/// A usage error about `path`, at `line` when known: `FILE:LINE: reason`.
pub fn scenario_error(path: &str, line: Option<usize>, reason: impl std::fmt::Display) -> CliError {
    match line {
        Some(l) => CliError::Usage(format!("{path}:{l}: {reason}")),
        None => CliError::Usage(format!("{path}: {reason}")),
    }
}
