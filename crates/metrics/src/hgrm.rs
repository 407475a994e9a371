//! HdrHistogram's percentile-distribution text (`.hgrm`): the output of its
//! `outputPercentileDistribution`, as wrk2 prints it, values in ms.
//!
//! [`write()`] lays out the rows of [`LatencyHistogram::percentiles`] (5 ticks
//! per half distance, like the Java default), [`parse()`] reads the text back,
//! so a report's `.hgrm` files can be checked against the run's figures.

use crate::histogram::LatencyHistogram;

/// One row of a percentile distribution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PercentileRow {
    /// The value reached, in ms (whole µs: 3 decimals).
    pub value_ms: f64,
    /// The quantile level iterated to, in `[0, 1]`.
    pub quantile: f64,
    /// How many values are at or below `value_ms`.
    pub total_count: u64,
}

/// A parsed `.hgrm` text.
#[derive(Debug, Clone, PartialEq)]
pub struct Hgrm {
    /// The rows, in order.
    pub rows: Vec<PercentileRow>,
    /// `Mean` of the footer, ms.
    pub mean_ms: f64,
    /// `StdDeviation` of the footer, ms.
    pub std_deviation_ms: f64,
    /// `Max` of the footer, ms.
    pub max_ms: f64,
    /// `Total count` of the footer.
    pub total_count: u64,
    /// `Buckets` of the footer.
    pub buckets: u64,
    /// `SubBuckets` of the footer.
    pub sub_buckets: u64,
}

/// Why a `.hgrm` text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HgrmError {
    /// A line that is neither a row, the header nor the footer.
    #[error("hgrm line {line}: cannot read `{text}`")]
    BadLine {
        /// 1-based line number.
        line: usize,
        /// The line as written.
        text: String,
    },
    /// The footer (`#[Mean ...`, `#[Max ...`, `#[Buckets ...`) is missing.
    #[error("hgrm: the footer line `{0}` is missing")]
    MissingFooter(&'static str),
}

/// The header line, exactly as HdrHistogram prints it.
pub const HEADER: &str = "       Value     Percentile TotalCount 1/(1-Percentile)";

/// Writes `h` as HdrHistogram's percentile distribution, values in ms with
/// 3 decimals (the histogram's µs).
pub fn write(h: &LatencyHistogram) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "{HEADER}");
    let _ = writeln!(s);
    for r in h.percentiles() {
        if r.quantile < 1.0 {
            let _ = writeln!(
                s,
                "{:12.3} {:2.12} {:10} {:14.2}",
                r.value_ms,
                r.quantile,
                r.total_count,
                1.0 / (1.0 - r.quantile)
            );
        } else {
            let _ = writeln!(
                s,
                "{:12.3} {:2.12} {:10}",
                r.value_ms, r.quantile, r.total_count
            );
        }
    }
    let f = h.footer();
    let _ = writeln!(
        s,
        "#[Mean    = {:12.3}, StdDeviation   = {:12.3}]",
        f.mean_ms, f.std_deviation_ms
    );
    let _ = writeln!(
        s,
        "#[Max     = {:12.3}, Total count    = {:12}]",
        f.max_ms, f.total_count
    );
    let _ = writeln!(
        s,
        "#[Buckets = {:12}, SubBuckets     = {:12}]",
        f.buckets, f.sub_buckets
    );
    s
}

/// The footer's figures of one histogram.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Footer {
    pub mean_ms: f64,
    pub std_deviation_ms: f64,
    pub max_ms: f64,
    pub total_count: u64,
    pub buckets: u64,
    pub sub_buckets: u64,
}

/// The two numbers of a footer line `#[A = x, B = y]`.
fn footer_pair(line: &str) -> Option<(&str, &str)> {
    let inner = line.strip_prefix("#[")?.strip_suffix(']')?;
    let (a, b) = inner.split_once(',')?;
    Some((a.split_once('=')?.1.trim(), b.split_once('=')?.1.trim()))
}

/// Reads a `.hgrm` text written by [`write()`] (or by HdrHistogram).
pub fn parse(text: &str) -> Result<Hgrm, HgrmError> {
    let mut rows = Vec::new();
    let (mut mean, mut max, mut buckets) = (None, None, None);
    for (i, line) in text.lines().enumerate() {
        let bad = || HgrmError::BadLine {
            line: i + 1,
            text: line.to_string(),
        };
        let t = line.trim();
        if t.is_empty() || t.starts_with("Value") {
            continue;
        }
        if t.starts_with("#[") {
            let (a, b) = footer_pair(t).ok_or_else(bad)?;
            if t.starts_with("#[Mean") {
                mean = Some((
                    a.parse::<f64>().map_err(|_| bad())?,
                    b.parse::<f64>().map_err(|_| bad())?,
                ));
            } else if t.starts_with("#[Max") {
                max = Some((
                    a.parse::<f64>().map_err(|_| bad())?,
                    b.parse::<u64>().map_err(|_| bad())?,
                ));
            } else if t.starts_with("#[Buckets") {
                buckets = Some((
                    a.parse::<u64>().map_err(|_| bad())?,
                    b.parse::<u64>().map_err(|_| bad())?,
                ));
            } else {
                return Err(bad());
            }
            continue;
        }
        let f: Vec<&str> = t.split_whitespace().collect();
        if !(3..=4).contains(&f.len()) {
            return Err(bad());
        }
        rows.push(PercentileRow {
            value_ms: f[0].parse().map_err(|_| bad())?,
            quantile: f[1].parse().map_err(|_| bad())?,
            total_count: f[2].parse().map_err(|_| bad())?,
        });
    }
    let (mean_ms, std_deviation_ms) = mean.ok_or(HgrmError::MissingFooter("#[Mean"))?;
    let (max_ms, total_count) = max.ok_or(HgrmError::MissingFooter("#[Max"))?;
    let (buckets, sub_buckets) = buckets.ok_or(HgrmError::MissingFooter("#[Buckets"))?;
    Ok(Hgrm {
        rows,
        mean_ms,
        std_deviation_ms,
        max_ms,
        total_count,
        buckets,
        sub_buckets,
    })
}
