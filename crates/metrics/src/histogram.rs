//! [`LatencyHistogram`]: a fixed-precision histogram of durations in µs, and
//! its [`Summary`] in ms.

use std::fmt;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::MetricsError;

/// Significant decimal digits kept by every histogram: each recorded value is
/// distinguishable from values more than 0.1 % away.
const SIGNIFICANT_DIGITS: u8 = 3;

/// hdrhistogram's bucket layout for 3 significant digits and a lowest
/// discernible value of 1: each bucket has 2^11 sub-buckets (the smallest
/// power of two >= 2 × 10^3), the upper half of which bucket `b` uses, each
/// `2^b` µs wide; bucket 0 uses all of its sub-buckets, one per µs.
const SUB_BUCKET_BITS: u32 = 11;

/// The counts-array index hdrhistogram gives `value` in that layout (its
/// `index_for` with unit magnitude 0, folded into two shifts).
#[inline]
const fn index_of(value: u64) -> usize {
    let bucket = (64 - SUB_BUCKET_BITS) - (value | ((1 << SUB_BUCKET_BITS) - 1)).leading_zeros();
    ((bucket as usize) << (SUB_BUCKET_BITS - 1)) + (value >> bucket) as usize
}

/// The lowest value whose index is `index`: the inverse of [`index_of`] on
/// bucket floors.
const fn lowest_value_at(index: usize) -> u64 {
    let bucket = (index >> (SUB_BUCKET_BITS - 1)).saturating_sub(1);
    ((index - (bucket << (SUB_BUCKET_BITS - 1))) as u64) << bucket
}

/// The highest value of the bucket at `index` (hdrhistogram's
/// `highest_equivalent` of its values).
const fn highest_value_at(index: usize) -> u64 {
    let bucket = (index >> (SUB_BUCKET_BITS - 1)).saturating_sub(1);
    lowest_value_at(index) + (1 << bucket) - 1
}

/// Buckets summed at a time when a reader skips ahead (hdrhistogram's
/// `SCAN_CHUNK`).
const SCAN_CHUNK: usize = 8;

/// The first 4 bytes of hdrhistogram's V2 deflate encoding.
const V2_DEFLATE_COOKIE: u32 = 0x1c84_9314;
/// The first 4 bytes of the V2 encoding inside it.
const V2_COOKIE: u32 = 0x1c84_9313;
/// The V2 header: cookie, payload length, normalizing offset, significant
/// digits, lowest and highest value, conversion ratio.
const V2_HEADER_BYTES: usize = 40;

/// Counts slots needed up to [`LatencyHistogram::MAX_TRACKABLE_US`].
const COUNTS_LEN: usize = index_of(LatencyHistogram::MAX_TRACKABLE_US) + 1;

/// `saturated + n`, out of line so that the unsaturated path of
/// [`LatencyHistogram::record_n`] is a branch never taken rather than
/// arithmetic done every time. It takes and returns plain values: a call
/// taking `&mut` of the histogram would keep callers from holding its fields
/// in registers.
#[cold]
#[inline(never)]
fn add_saturated(saturated: u64, n: u64) -> u64 {
    saturated.saturating_add(n)
}

/// Adds `n` values of `value` (at most `MAX_TRACKABLE_US`) to their bucket.
#[inline]
fn add_to(counts: &mut [u64], value: u64, n: u64) {
    let count = &mut counts[index_of(value)];
    *count = count.saturating_add(n);
}

/// A histogram of simulated durations in whole microseconds.
///
/// Values from 0 up to [`MAX_TRACKABLE_US`](Self::MAX_TRACKABLE_US) are kept
/// to 3 significant digits; larger ones are clamped to that maximum and
/// counted in [`saturated`](Self::saturated). Quantiles are nearest-rank and
/// report the highest value of the bucket holding that rank, so they are never
/// below the exact answer and at most 0.1 % above it.
///
/// Recording is built for the simulator's hot loop. Consecutive equal values
/// are gathered in a run (many series are constant for long stretches); when
/// the value changes, the run is added to its bucket's count, the bucket
/// found with hdrhistogram's own arithmetic, and only the total is kept
/// besides (hdrhistogram's `record` also updates the minimum and maximum on
/// every call). Most readers are meant for report time: they load the counts
/// and the pending run into an [`hdrhistogram::Histogram`] with the same
/// bounds and read that, so every figure is hdrhistogram's and identical to
/// recording each value into it directly. The readers a monitor calls every
/// window ([`value_at_quantile`](Self::value_at_quantile),
/// [`quantile_floor`](Self::quantile_floor),
/// [`counts_at_most`](Self::counts_at_most)) walk the buckets themselves,
/// the way hdrhistogram does (a property test holds them to it).
#[derive(Clone)]
pub struct LatencyHistogram {
    /// How many values fell in each bucket, in hdrhistogram's layout, except
    /// the pending run.
    counts: Box<[u64]>,
    /// The (already clamped) value of the pending run.
    run_value: u64,
    /// How many times `run_value` was recorded since the last flush.
    run_len: u64,
    /// How many recorded values exceeded `MAX_TRACKABLE_US`.
    saturated: u64,
    /// Every value recorded (saturating): [`count`](Self::count) without
    /// a pass over the buckets, which a monitor asks every window.
    total: u64,
}

impl LatencyHistogram {
    /// The largest value tracked, in µs: one hour. Larger values are recorded
    /// as this value and counted in [`saturated`](Self::saturated).
    pub const MAX_TRACKABLE_US: u64 = 3_600_000_000;

    /// The most bytes [`from_v2_deflate`](Self::from_v2_deflate) reads: the
    /// encoding of a histogram with every bucket at its largest count,
    /// compressed or not, is well under it.
    pub const MAX_V2_DEFLATE_BYTES: usize = 1 << 20;

    /// An empty histogram covering 0..=[`MAX_TRACKABLE_US`](Self::MAX_TRACKABLE_US)
    /// with 3 significant digits.
    pub fn new() -> Self {
        LatencyHistogram {
            counts: vec![0; COUNTS_LEN].into_boxed_slice(),
            run_value: 0,
            run_len: 0,
            saturated: 0,
            total: 0,
        }
    }

    /// Records one duration of `us` microseconds. Never panics.
    #[inline]
    pub fn record(&mut self, us: u64) {
        self.record_n(us, 1);
    }

    /// Records `n` durations of `us` microseconds each. Never panics.
    #[inline]
    pub fn record_n(&mut self, us: u64, n: u64) {
        self.total = self.total.saturating_add(n);
        let value = if us > Self::MAX_TRACKABLE_US {
            self.saturated = add_saturated(self.saturated, n);
            Self::MAX_TRACKABLE_US
        } else {
            us
        };
        if value == self.run_value {
            self.run_len = self.run_len.saturating_add(n);
        } else {
            // An empty run adds 0: no need to test for it.
            add_to(&mut self.counts, self.run_value, self.run_len);
            self.run_value = value;
            self.run_len = n;
        }
    }

    /// Adds everything recorded in `other` to `self`.
    pub fn merge(&mut self, other: &LatencyHistogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts.iter()) {
            *mine = mine.saturating_add(*theirs);
        }
        add_to(&mut self.counts, other.run_value, other.run_len);
        self.saturated = self.saturated.saturating_add(other.saturated);
        self.total = self.total.saturating_add(other.total);
    }

    /// How many values were recorded (saturated ones included).
    pub fn count(&self) -> u64 {
        self.total
    }

    /// Whether `part` could be one of the shares added into `self`: every
    /// bucket of `self` holds at least as many values as the same bucket of
    /// `part`, and at least as many saturated ones. Equal counts and
    /// `covers` make the two histograms equal.
    pub fn covers(&self, part: &LatencyHistogram) -> bool {
        let bucket = |h: &LatencyHistogram, i: usize| -> u64 {
            let pending = if i == index_of(h.run_value) {
                h.run_len
            } else {
                0
            };
            h.counts[i].saturating_add(pending)
        };
        self.saturated >= part.saturated
            && (0..COUNTS_LEN).all(|i| bucket(self, i) >= bucket(part, i))
    }

    /// How many recorded values exceeded
    /// [`MAX_TRACKABLE_US`](Self::MAX_TRACKABLE_US) and were clamped to it.
    pub fn saturated(&self) -> u64 {
        self.saturated
    }

    /// The nearest-rank `q`-quantile in µs, e.g. `q = 0.95` for p95; 0 when
    /// empty.
    ///
    /// The result is the highest value of the bucket holding the sample of rank
    /// `ceil(q * count)`, so it is at least that sample and at most 0.1 % above
    /// it. `q` is clamped to `[0, 1]` (NaN counts as 0); for `q = 0` the
    /// bucket's lowest value is returned instead.
    pub fn value_at_quantile(&self, q: f64) -> u64 {
        let q = clamp_quantile(q);
        match self.index_at_quantile(q) {
            None => 0,
            Some(i) if q == 0.0 => lowest_value_at(i),
            Some(i) => highest_value_at(i),
        }
    }

    /// The index of the bucket holding the sample of nearest rank
    /// `ceil(q · count)` (at least 1), found as hdrhistogram's
    /// `value_at_quantile` finds it but without building one (a monitor asks
    /// a few times a simulated second); `None` when empty. `q` is clamped.
    fn index_at_quantile(&self, q: f64) -> Option<usize> {
        let target = ((q * self.count() as f64).ceil() as u64).max(1);
        let pending = index_of(self.run_value);
        let mut total = 0u64;
        let mut from = 0;
        // Unless the total saturated, no partial sum can overflow: skip
        // whole chunks with plain (vectorised) sums, as hdrhistogram does.
        if self.total < u64::MAX {
            for chunk in self.counts.chunks_exact(SCAN_CHUNK) {
                let mut sum: u64 = chunk.iter().sum();
                if (from..from + SCAN_CHUNK).contains(&pending) {
                    sum += self.run_len;
                }
                if total + sum >= target {
                    break;
                }
                total += sum;
                from += SCAN_CHUNK;
            }
        }
        for (i, &c) in self.counts.iter().enumerate().skip(from) {
            total = total.saturating_add(c);
            if i == pending {
                total = total.saturating_add(self.run_len);
            }
            if total >= target {
                return Some(i);
            }
        }
        None
    }

    /// Percentiles, max and mean in milliseconds; all zeros when empty.
    pub fn summary(&self) -> Summary {
        let hist = self.to_hdr();
        if hist.is_empty() {
            return Summary::default();
        }
        let mut quantiles = hist.value_at_quantiles([0.5, 0.95, 0.99, 0.999]);
        let mut next_ms = || us_to_ms(quantiles.next().unwrap_or_default() as f64);
        Summary {
            p50: next_ms(),
            p95: next_ms(),
            p99: next_ms(),
            p999: next_ms(),
            max: us_to_ms(hist.max() as f64),
            mean: us_to_ms(hist.mean()),
            count: hist.len(),
        }
    }

    /// The fraction of recorded values at or below `us`, to the histogram's
    /// precision (values sharing `us`'s bucket count as below); 0.0 when empty.
    pub fn quantile_below(&self, us: u64) -> f64 {
        let hist = self.to_hdr();
        if hist.is_empty() {
            0.0
        } else {
            hist.quantile_below(us)
        }
    }

    /// The lowest value of the bucket that holds the `q`-quantile: never above
    /// the exact quantile (where [`value_at_quantile`](Self::value_at_quantile)
    /// is never below it). Use it to compare against a threshold without the
    /// bucket's width tipping a value at the threshold over it.
    pub fn quantile_floor(&self, q: f64) -> u64 {
        self.index_at_quantile(clamp_quantile(q))
            .map_or(0, lowest_value_at)
    }

    /// How many recorded values are at most `us`, counting whole buckets:
    /// exact for 0 (which has a bucket of its own) and for any value below
    /// 2048 µs, within the histogram's precision above.
    pub fn count_at_most(&self, us: u64) -> u64 {
        self.counts_at_most([us])[0]
    }

    /// [`count_at_most`](Self::count_at_most) of each bound, reading the
    /// histogram once: the cumulative `le` buckets a Prometheus histogram with
    /// these bounds would hold, to this histogram's precision (a value up to
    /// 0.1 % over a bound shares its bucket and counts as at most it).
    pub fn counts_at_most<const N: usize>(&self, bounds_us: [u64; N]) -> [u64; N] {
        let pending = index_of(self.run_value);
        bounds_us.map(|us| {
            // Whole buckets up to the bound's (the last one for a bound
            // beyond the range), as hdrhistogram's `count_between(0, us)`.
            let last = index_of(us.min(Self::MAX_TRACKABLE_US));
            let run = if pending <= last { self.run_len } else { 0 };
            let counts = &self.counts[..=last];
            if self.total < u64::MAX {
                // No partial sum can overflow: a plain (vectorised) sum.
                counts.iter().sum::<u64>() + run
            } else {
                counts.iter().fold(run, |sum, &c| sum.saturating_add(c))
            }
        })
    }

    /// Every count in hdrhistogram's V2 deflate encoding (the compressed
    /// form HdrHistogram's implementations exchange), as a histogram with
    /// bounds 1 µs to [`MAX_TRACKABLE_US`](Self::MAX_TRACKABLE_US) and 3
    /// significant digits. The saturated count is not part of it: carry
    /// [`saturated`](Self::saturated) beside it.
    pub fn to_v2_deflate(&self) -> Vec<u8> {
        use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};
        let mut bytes = Vec::new();
        V2DeflateSerializer::new()
            .serialize(&self.to_hdr(), &mut bytes)
            .expect("serializing into memory cannot fail");
        bytes
    }

    /// The histogram [`to_v2_deflate`](Self::to_v2_deflate) encoded, with
    /// `saturated` of its values counted as clamped: the same counts, so
    /// every figure read from it is the same. Refuses bytes that are not
    /// such an encoding, or a histogram with another precision or range.
    ///
    /// The bytes are untrusted: every size they declare is checked against
    /// what a histogram of this layout can need
    /// ([`MAX_V2_DEFLATE_BYTES`](Self::MAX_V2_DEFLATE_BYTES) compressed, at
    /// most 9 bytes per bucket inflated) before anything is allocated, and
    /// the bounds and precision are checked before hdrhistogram builds a
    /// histogram of them.
    pub fn from_v2_deflate(bytes: &[u8], saturated: u64) -> Result<Self, MetricsError> {
        use hdrhistogram::serialization::Deserializer;
        use std::io::Read;
        let bad = |why: String| MetricsError::BadEncoding(why);
        if bytes.len() > Self::MAX_V2_DEFLATE_BYTES {
            return Err(bad(format!(
                "{} bytes, over the {} a histogram can need",
                bytes.len(),
                Self::MAX_V2_DEFLATE_BYTES
            )));
        }
        let word = |b: &[u8], at: usize| -> Option<u32> {
            Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
        };
        let long = |b: &[u8], at: usize| -> Option<u64> {
            Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
        };
        if word(bytes, 0) != Some(V2_DEFLATE_COOKIE) {
            return Err(bad("it does not start with the V2 deflate cookie".into()));
        }
        let declared = word(bytes, 4).ok_or_else(|| bad("it ends in its header".into()))?;
        let compressed = &bytes[8..];
        if declared as usize != compressed.len() {
            return Err(bad(format!(
                "its header declares {declared} compressed bytes and {} follow",
                compressed.len()
            )));
        }
        // The most an inflated histogram of this layout can take: the
        // 40-byte header and at most 9 bytes (a LEB128 of a zigzag i64)
        // for each bucket.
        let most = V2_HEADER_BYTES + 9 * COUNTS_LEN;
        let mut inflated = Vec::new();
        flate2::read::ZlibDecoder::new(compressed)
            .take(most as u64 + 1)
            .read_to_end(&mut inflated)
            .map_err(|e| bad(format!("its payload does not inflate: {e}")))?;
        if inflated.len() > most {
            return Err(bad(format!(
                "its payload inflates past the {most} bytes a histogram can need"
            )));
        }
        let header = (
            word(&inflated, 0),
            word(&inflated, 4),
            word(&inflated, 12),
            long(&inflated, 16),
            long(&inflated, 24),
        );
        let (Some(cookie), Some(payload), Some(digits), Some(low), Some(high)) = header else {
            return Err(bad("its inflated header is cut short".into()));
        };
        if cookie != V2_COOKIE {
            return Err(bad("its inflated payload is not a V2 histogram".into()));
        }
        if payload as usize != inflated.len() - V2_HEADER_BYTES {
            return Err(bad(format!(
                "its header declares {payload} payload bytes and {} follow",
                inflated.len() - V2_HEADER_BYTES
            )));
        }
        if low != 1 || digits != u32::from(SIGNIFICANT_DIGITS) || high != Self::MAX_TRACKABLE_US {
            return Err(bad(format!(
                "values {low} to {high} µs with {digits} significant digits (expected 1 to {} \
                 with {SIGNIFICANT_DIGITS})",
                Self::MAX_TRACKABLE_US
            )));
        }
        let hist: Histogram<u64> = Deserializer::new()
            .deserialize(&mut &inflated[..])
            .map_err(|e| bad(format!("{e:?}")))?;
        if hist.low() != 1 || hist.sigfig() != SIGNIFICANT_DIGITS {
            return Err(bad(format!(
                "lowest value {} and {} significant digits (expected 1 and {SIGNIFICANT_DIGITS})",
                hist.low(),
                hist.sigfig()
            )));
        }
        let mut out = LatencyHistogram::new();
        for v in hist.iter_recorded() {
            // The top of the bucket, which may lie above the maximum when the
            // maximum's own bucket holds it.
            let value = v.value_iterated_to();
            if index_of(value) >= COUNTS_LEN {
                return Err(bad(format!(
                    "a value of {value} µs is over the {} µs maximum",
                    Self::MAX_TRACKABLE_US
                )));
            }
            let count = &mut out.counts[index_of(value)];
            *count = count
                .checked_add(v.count_at_value())
                .ok_or_else(|| bad("its counts add up past 2^64".into()))?;
        }
        out.total = out
            .counts
            .iter()
            .try_fold(0u64, |s, &c| s.checked_add(c))
            .ok_or_else(|| bad("its counts add up past 2^64".into()))?;
        let top = out.counts[index_of(Self::MAX_TRACKABLE_US)];
        if saturated > top {
            return Err(bad(format!(
                "{saturated} saturated values but only {top} at the maximum"
            )));
        }
        out.saturated = saturated;
        Ok(out)
    }

    /// The percentile distribution HdrHistogram prints
    /// (`outputPercentileDistribution`, 5 ticks per half distance): each
    /// row's value is [`value_at_quantile`](Self::value_at_quantile) of its
    /// quantile (rounded to the 12 decimals printed), in ms. Empty when nothing was recorded.
    pub fn percentiles(&self) -> Vec<crate::hgrm::PercentileRow> {
        let hist = self.to_hdr();
        if hist.is_empty() {
            return Vec::new();
        }
        let mut total = 0u64;
        hist.iter_quantiles(5)
            .map(|v| {
                total = total.saturating_add(v.count_since_last_iteration());
                crate::hgrm::PercentileRow {
                    value_ms: us_to_ms(v.value_iterated_to() as f64),
                    // As printed: 12 decimals (the ticks' sums drift in f64).
                    quantile: (v.quantile_iterated_to() * 1e12).round() / 1e12,
                    total_count: total,
                }
            })
            .collect()
    }

    /// The figures of a `.hgrm` footer, in ms.
    pub(crate) fn footer(&self) -> crate::hgrm::Footer {
        let hist = self.to_hdr();
        let empty = hist.is_empty();
        crate::hgrm::Footer {
            mean_ms: if empty { 0.0 } else { us_to_ms(hist.mean()) },
            std_deviation_ms: if empty { 0.0 } else { hist.stdev() / 1000.0 },
            max_ms: if empty {
                0.0
            } else {
                us_to_ms(hist.max() as f64)
            },
            total_count: hist.len(),
            buckets: u64::from(hist.buckets()),
            sub_buckets: 1 << SUB_BUCKET_BITS,
        }
    }

    /// Everything recorded as an hdrhistogram with the same bounds: each
    /// bucket's count recorded at the bucket's lowest value, which
    /// hdrhistogram cannot tell from recording the original values.
    fn to_hdr(&self) -> Histogram<u64> {
        let mut hist = Histogram::new_with_bounds(1, Self::MAX_TRACKABLE_US, SIGNIFICANT_DIGITS)
            .expect("constant histogram bounds are valid");
        let pending = index_of(self.run_value);
        for (index, &count) in self.counts.iter().enumerate() {
            let count = if index == pending {
                count.saturating_add(self.run_len)
            } else {
                count
            };
            if count > 0 {
                // Every index up to that of MAX_TRACKABLE_US is in range.
                hist.saturating_record_n(lowest_value_at(index), count);
            }
        }
        hist
    }
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

/// Shows the totals only: the raw bucket array has tens of thousands of
/// entries.
impl fmt::Debug for LatencyHistogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LatencyHistogram")
            .field("count", &self.count())
            .field("saturated", &self.saturated)
            .field("pending_run", &(self.run_value, self.run_len))
            .finish_non_exhaustive()
    }
}

/// The headline numbers of one [`LatencyHistogram`].
///
/// Every field but `count` is in milliseconds, rounded to 3 decimals (whole
/// microseconds). An empty histogram gives all zeros.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Summary {
    /// Median (50th percentile).
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest recorded value.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Number of recorded values.
    pub count: u64,
}

/// p50, p95, p99 and max of one [`LatencyHistogram`], in milliseconds: the
/// tail of its [`Summary`], as reports write an error distribution.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, schemars::JsonSchema)]
#[schemars(rename = "ErrorJson")]
pub struct Tail {
    /// Median (50th percentile).
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest recorded value.
    pub max: f64,
}

impl Summary {
    /// p50, p95, p99 and max.
    pub fn tail(&self) -> Tail {
        Tail {
            p50: self.p50,
            p95: self.p95,
            p99: self.p99,
            max: self.max,
        }
    }
}

/// Serialises a [`LatencyHistogram`] as its [`Summary`].
pub fn as_summary<S: serde::Serializer>(h: &LatencyHistogram, s: S) -> Result<S::Ok, S::Error> {
    h.summary().serialize(s)
}

/// Converts µs to ms, rounded to whole µs so the result prints with at most 3
/// decimals.
pub(crate) fn us_to_ms(us: f64) -> f64 {
    us.round() / 1000.0
}

/// Brings `q` into `[0, 1]`; NaN becomes 0.
fn clamp_quantile(q: f64) -> f64 {
    if q.is_nan() {
        0.0
    } else {
        q.clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: u64 = LatencyHistogram::MAX_TRACKABLE_US;

    /// A plain hdrhistogram with the same configuration, recorded value by
    /// value: the reference the run-length cache must match.
    fn plain(values: &[u64]) -> Histogram<u64> {
        let mut hist = Histogram::new_with_bounds(1, MAX, SIGNIFICANT_DIGITS).unwrap();
        for &v in values {
            hist.record(v.min(MAX)).unwrap();
        }
        hist
    }

    fn recorded(values: &[u64]) -> LatencyHistogram {
        let mut h = LatencyHistogram::new();
        values.iter().for_each(|&v| h.record(v));
        h
    }

    /// Long runs, single values, a return to an earlier value, zeros and a
    /// large value: every transition the run cache has to get right.
    fn runs_and_changes() -> Vec<u64> {
        let mut values = Vec::new();
        for (value, len) in [
            (0, 3),
            (1_500, 1_000),
            (1_501, 1),
            (1_500, 2),
            (250_000, 5_000),
            (0, 1),
            (7, 1),
            (3_000_000, 40),
            (1_500, 700),
        ] {
            values.extend(std::iter::repeat_n(value, len));
        }
        values
    }

    proptest::proptest! {
        /// The direct scans (quantiles, floors, cumulative counts) give what
        /// hdrhistogram gives on the same values recorded one by one: the
        /// oracle the monitor's figures rest on. Values cluster on a few
        /// bases so runs, shared buckets and empty stretches all occur.
        #[test]
        fn direct_scans_are_hdrhistogram_s(
            picks in proptest::collection::vec((0usize..6, 0u64..5_000, 1usize..40), 0..40),
            qs in proptest::collection::vec(-0.1f64..1.1, 1..8),
            bounds in proptest::collection::vec(0u64..(2 * MAX), 1..6),
        ) {
            const BASES: [u64; 6] = [0, 900, 2_047, 150_000, 2_000_000, MAX - 2_000];
            let mut values = Vec::new();
            for (b, off, len) in picks {
                values.extend(std::iter::repeat_n(BASES[b] + off, len));
            }
            let (ours, hdr) = (recorded(&values), plain(&values));
            for &q in qs.iter().chain(&[0.0, 0.5, 0.95, 1.0]) {
                let c = q.clamp(0.0, 1.0);
                proptest::prop_assert_eq!(ours.value_at_quantile(q), hdr.value_at_quantile(c));
                let floor = if hdr.is_empty() { 0 } else { hdr.lowest_equivalent(hdr.value_at_quantile(c)) };
                proptest::prop_assert_eq!(ours.quantile_floor(q), floor);
            }
            for &us in &bounds {
                proptest::prop_assert_eq!(ours.counts_at_most([us])[0], hdr.count_between(0, us));
            }
        }
    }

    /// A total past 2^64 saturates and the readers take the saturating
    /// walk (the chunked sums would overflow): still the right buckets.
    #[test]
    fn a_saturated_total_reads_by_the_saturating_walk() {
        let mut h = LatencyHistogram::new();
        h.record_n(5, u64::MAX - 3);
        h.record_n(7_000, 10);
        h.record(3);
        assert_eq!(h.count(), u64::MAX);
        assert_eq!(h.value_at_quantile(0.5), 5);
        assert_eq!(h.value_at_quantile(1.0), 7_003);
        assert_eq!(h.quantile_floor(1.0), 7_000);
        assert_eq!(
            h.counts_at_most([2, 6, 10_000]),
            [0, u64::MAX - 2, u64::MAX]
        );
    }

    /// The bucket arithmetic agrees with hdrhistogram's at every bucket edge.
    #[test]
    fn index_layout_is_hdrhistogram_s() {
        let hist = plain(&[]);
        assert!(COUNTS_LEN <= hist.distinct_values());
        let mut edges: Vec<u64> = (0..4096).collect();
        for shift in 11..32 {
            for v in [1u64 << shift, 3 << (shift - 1)] {
                edges.extend([v - 1, v, v + 1]);
            }
        }
        edges.push(MAX);
        for v in edges {
            let i = index_of(v);
            assert_eq!(lowest_value_at(i), hist.lowest_equivalent(v), "value {v}");
            assert_eq!(index_of(hist.highest_equivalent(v)), i, "value {v}");
            assert_eq!(index_of(hist.next_non_equivalent(v)), i + 1, "value {v}");
        }
    }

    #[test]
    fn empty_histogram_reads_as_zero() {
        let h = LatencyHistogram::new();
        assert_eq!(h.summary(), Summary::default());
        assert_eq!(h.summary().count, 0);
        assert_eq!(h.summary().p999, 0.0);
        assert_eq!(h.count(), 0);
        assert_eq!(h.saturated(), 0);
        assert_eq!(h.value_at_quantile(0.5), 0);
        assert_eq!(h.quantile_below(1_000), 0.0);
    }

    #[test]
    fn a_histogram_field_serialises_as_its_summary_and_tail() {
        #[derive(Serialize)]
        struct T {
            #[serde(serialize_with = "as_summary")]
            h: LatencyHistogram,
            tail: Tail,
        }
        let mut h = LatencyHistogram::new();
        h.record(1_500);
        let t = T {
            tail: h.summary().tail(),
            h,
        };
        let v = serde_json::to_value(&t).unwrap();
        assert_eq!(v["h"], serde_json::to_value(t.h.summary()).unwrap());
        assert_eq!(
            v["tail"],
            serde_json::json!({"p50": 1.5, "p95": 1.5, "p99": 1.5, "max": 1.5})
        );
    }

    #[test]
    fn zero_is_recordable() {
        let mut h = LatencyHistogram::new();
        h.record(0);
        assert_eq!(h.count(), 1);
        assert_eq!(h.value_at_quantile(1.0), 0);
        assert_eq!(h.quantile_below(0), 1.0);
        assert_eq!(h.summary().max, 0.0);

        h.record(2_000);
        assert_eq!(h.value_at_quantile(0.5), 0);
        assert_eq!(h.quantile_below(0), 0.5);
    }

    #[test]
    fn values_above_max_are_clamped_and_counted() {
        let mut h = LatencyHistogram::new();
        h.record(MAX); // at the limit: tracked, not saturated
        h.record(MAX + 1);
        h.record(u64::MAX);
        h.record_n(MAX * 2, 10);
        assert_eq!(h.saturated(), 12);
        assert_eq!(h.count(), 13);

        let top = h.value_at_quantile(1.0);
        assert_eq!(
            h.value_at_quantile(0.0),
            plain(&[MAX]).lowest_equivalent(MAX)
        );
        assert!(top >= MAX && top - MAX <= MAX / 1000, "top = {top}");
        assert_eq!(h.summary().max, top as f64 / 1000.0);
    }

    #[test]
    fn run_cache_and_counts_match_direct_recording() {
        let values = runs_and_changes();
        let h = recorded(&values);
        assert!(h.run_len > 0, "the test should end with a pending run");
        assert_eq!(h.to_hdr(), plain(&values));
        assert_eq!(h.count(), values.len() as u64);
    }

    #[test]
    fn reading_between_records_does_not_disturb_recording() {
        let values = runs_and_changes();
        let mut h = LatencyHistogram::new();
        for (i, &v) in values.iter().enumerate() {
            h.record(v);
            if i % 997 == 0 {
                assert_eq!(h.to_hdr(), plain(&values[..=i]));
                assert_eq!(h.count(), i as u64 + 1);
            }
        }
        assert_eq!(h.to_hdr(), plain(&values));
    }

    #[test]
    fn record_n_equals_repeated_record() {
        let mut bulk = LatencyHistogram::new();
        bulk.record_n(1_500, 1_000);
        bulk.record_n(9, 0); // a no-op, even though it changes the run value
        bulk.record_n(1_500, 2);
        bulk.record_n(80, 3);
        let mut expected = vec![1_500; 1_002];
        expected.extend([80; 3]);
        assert_eq!(bulk.to_hdr(), plain(&expected));
    }

    #[test]
    fn a_sum_covers_its_parts_and_not_other_histograms() {
        let (a, b) = (recorded(&[5, 5, 900, 70_000]), recorded(&[5, 6, 6]));
        let mut sum = a.clone();
        sum.merge(&b);
        assert!(sum.covers(&a) && sum.covers(&b) && a.covers(&a));
        assert!(!a.covers(&sum) && !a.covers(&b));
        assert!(LatencyHistogram::new().covers(&LatencyHistogram::new()));
    }

    #[test]
    fn merge_equals_recording_both_streams() {
        let values = runs_and_changes();
        let (left, right) = values.split_at(values.len() / 3);
        let mut merged = recorded(left);
        merged.record(u64::MAX);
        let mut other = recorded(right);
        other.record_n(MAX + 5, 2);

        merged.merge(&other);

        let mut all = values.clone();
        all.extend([MAX; 3]);
        assert_eq!(merged.to_hdr(), plain(&all));
        assert_eq!(merged.saturated(), 3);
        assert_eq!(merged.count(), all.len() as u64);
        // `other` is only read.
        assert_eq!(other.count(), right.len() as u64 + 2);
    }

    #[test]
    fn v2_deflate_round_trips_every_figure() {
        let mut h = recorded(&runs_and_changes());
        h.record_n(MAX + 9, 4);
        let bytes = h.to_v2_deflate();
        let back = LatencyHistogram::from_v2_deflate(&bytes, h.saturated()).unwrap();
        assert_eq!(back.to_hdr(), h.to_hdr());
        assert_eq!(back.summary(), h.summary());
        assert_eq!(back.saturated(), 4);
        assert_eq!(back.count(), h.count());
        // It is hdrhistogram's own encoding: its deserializer reads it.
        let plain: Histogram<u64> = hdrhistogram::serialization::Deserializer::new()
            .deserialize(&mut &bytes[..])
            .unwrap();
        assert_eq!(plain.len(), h.count());
        // Empty histograms too.
        let empty = LatencyHistogram::new();
        let back = LatencyHistogram::from_v2_deflate(&empty.to_v2_deflate(), 0).unwrap();
        assert_eq!(back.count(), 0);
    }

    /// Sizes a header declares are checked before anything is allocated:
    /// a 4 GiB payload, compressed or inflated, is refused at once.
    #[test]
    fn v2_deflate_refuses_declared_sizes_it_cannot_need() {
        use std::io::{Read, Write};
        let bytes = recorded(&[5, 6, 7]).to_v2_deflate();
        // The compressed length edited to 2^32 - 1.
        let mut huge = bytes.clone();
        huge[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        let e = LatencyHistogram::from_v2_deflate(&huge, 0).unwrap_err();
        assert!(e.to_string().contains("declares"), "{e}");
        // The inflated V2 header declaring a 4 GiB payload, recompressed.
        let mut v2 = Vec::new();
        flate2::read::ZlibDecoder::new(&bytes[8..])
            .read_to_end(&mut v2)
            .unwrap();
        v2[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&v2).unwrap();
        let z = z.finish().unwrap();
        let mut forged = V2_DEFLATE_COOKIE.to_be_bytes().to_vec();
        forged.extend((z.len() as u32).to_be_bytes());
        forged.extend(z);
        let e = LatencyHistogram::from_v2_deflate(&forged, 0).unwrap_err();
        assert!(e.to_string().contains("payload"), "{e}");
        // A zip bomb: megabytes of zeros compress to a few kB.
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(&vec![0u8; 8 << 20]).unwrap();
        let z = z.finish().unwrap();
        let mut bomb = V2_DEFLATE_COOKIE.to_be_bytes().to_vec();
        bomb.extend((z.len() as u32).to_be_bytes());
        bomb.extend(z);
        let e = LatencyHistogram::from_v2_deflate(&bomb, 0).unwrap_err();
        assert!(e.to_string().contains("inflates past"), "{e}");
    }

    #[test]
    fn v2_deflate_refuses_what_it_did_not_write() {
        let h = recorded(&[5, 6, 7]);
        let bytes = h.to_v2_deflate();
        assert!(LatencyHistogram::from_v2_deflate(&bytes[..bytes.len() / 2], 0).is_err());
        assert!(LatencyHistogram::from_v2_deflate(b"not a histogram", 0).is_err());
        // More saturated values than values at the maximum.
        assert!(LatencyHistogram::from_v2_deflate(&bytes, 1).is_err());
        // Another precision.
        use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};
        let other = Histogram::<u64>::new_with_bounds(1, MAX, 2).unwrap();
        let mut two_digits = Vec::new();
        V2DeflateSerializer::new()
            .serialize(&other, &mut two_digits)
            .unwrap();
        let err = LatencyHistogram::from_v2_deflate(&two_digits, 0).unwrap_err();
        assert!(err.to_string().contains("significant digits"), "{err}");
    }

    #[test]
    fn clones_are_independent() {
        let mut h = recorded(&[5, 5, 5]);
        let snapshot = h.clone();
        h.record(5);
        h.record(6);
        assert_eq!(snapshot.count(), 3);
        assert_eq!(h.count(), 5);
    }

    #[test]
    fn summary_rounds_to_whole_microseconds() {
        let h = recorded(&[1, 2]); // mean 1.5 µs
        let s = h.summary();
        assert_eq!(s.mean, 0.002);
        assert_eq!(s.p50, 0.001);
        assert_eq!(s.max, 0.002);
        assert_eq!(s.count, 2);
    }

    #[test]
    fn out_of_range_quantiles_are_clamped() {
        let h = recorded(&[10, 20, 30]);
        assert_eq!(h.value_at_quantile(7.0), 30);
        assert_eq!(h.value_at_quantile(-1.0), 10);
        assert_eq!(h.value_at_quantile(f64::NAN), 10);
    }

    #[test]
    fn debug_shows_totals_not_buckets() {
        let text = format!("{:?}", recorded(&[3, 3, 4]));
        assert!(text.contains("count: 3"), "{text}");
        assert!(text.len() < 200, "{text}");
    }
}
