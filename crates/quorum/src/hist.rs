//! A log-linear histogram of non-negative milliseconds: exact integer counts,
//! so merging chunk histograms in any order gives the same bytes.

/// Mantissa bits kept per power of two: buckets are 2^-8 ≈ 0.39 % wide.
const SUB_BITS: u32 = 8;
/// Smallest resolved value: 2^-20 ms (about a nanosecond).
const MIN_EXP: i32 = -20;
/// Values at or above 2^40 ms share the last bucket.
const MAX_EXP: i32 = 40;
const SHIFT: u32 = 52 - SUB_BITS;
const BUCKETS: usize = 2 + (((MAX_EXP - MIN_EXP) as usize) << SUB_BITS);

fn key(v: f64) -> u64 {
    v.to_bits() >> SHIFT
}

/// Counts of values, by bucket; bucket 0 holds exact zeros (and negatives).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl Histogram {
    /// An empty histogram (one allocation, reused for every value).
    pub fn new() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            total: 0,
        }
    }

    #[inline(always)]
    fn index(v: f64) -> usize {
        let min = 2f64.powi(MIN_EXP);
        if v.is_nan() || v <= 0.0 {
            0
        } else if v < min {
            1
        } else {
            let i = 2 + (key(v) - key(min)) as usize;
            i.min(BUCKETS - 1)
        }
    }

    /// The largest value of bucket `i` (0 for the zero bucket).
    fn upper(i: usize) -> f64 {
        let min = 2f64.powi(MIN_EXP);
        match i {
            0 => 0.0,
            1 => min,
            _ => f64::from_bits((key(min) + (i - 1) as u64) << SHIFT),
        }
    }

    /// Records one value.
    #[inline(always)]
    pub fn record(&mut self, v: f64) {
        self.counts[Self::index(v)] += 1;
        self.total += 1;
    }

    /// Adds another histogram's counts (exact; order does not matter).
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
    }

    /// Values recorded.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The nearest-rank quantile at `per_10k` / 10000, reported as the upper
    /// edge of its bucket: at least that fraction of values are ≤ it, and it
    /// exceeds the exact order statistic by less than 0.4 %. 0 when empty.
    pub fn quantile(&self, per_10k: u32) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        let target = (self.total as u128 * per_10k as u128)
            .div_ceil(10_000)
            .max(1) as u64;
        let mut seen = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= target {
                return Self::upper(i);
            }
        }
        Self::upper(BUCKETS - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_edges_bound_their_values_tightly() {
        for &v in &[1e-7, 1e-3, 0.235, 1.0, 3.7, 75.0, 1234.5, 1e9] {
            let i = Histogram::index(v);
            let up = Histogram::upper(i);
            assert!(
                up >= v && up <= v * (1.0 + 1.0 / 256.0) + 1e-6,
                "{v} -> {up}"
            );
            assert!(Histogram::upper(i - 1) <= v);
        }
        assert_eq!(Histogram::index(0.0), 0);
    }
}
