//! Latency histograms as the rollup keeps them (migration `20261207000003_usage_rollups.sql`):
//! 64 buckets, bucket i (from 1) holding durations up to 1.25^(i-1) ms. A percentile is the
//! upper bound of the bucket it falls in: within 25 % of the true value.

use serde::Serialize;

pub struct Histogram(Vec<i64>);

impl From<&Vec<i64>> for Histogram {
    fn from(counts: &Vec<i64>) -> Self {
        Self(counts.clone())
    }
}

/// p50, p95 and p99 in milliseconds (null without data).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Percentiles {
    pub p50: Option<u64>,
    pub p95: Option<u64>,
    pub p99: Option<u64>,
}

impl Histogram {
    /// The `p` quantile (0..1), in milliseconds; `None` when empty.
    pub fn quantile(&self, p: f64) -> Option<u64> {
        let total: i64 = self.0.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = (p * total as f64).ceil().max(1.0) as i64;
        let mut seen = 0;
        for (i, count) in self.0.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(1.25f64.powi(i as i32).round() as u64);
            }
        }
        Some(1.25f64.powi(self.0.len() as i32 - 1).round() as u64)
    }

    pub fn percentiles(&self) -> Percentiles {
        Percentiles {
            p50: self.quantile(0.5),
            p95: self.quantile(0.95),
            p99: self.quantile(0.99),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bucket Postgres' `sluice_hist_bucket` gives a duration (0-based here).
    fn bucket(ms: f64) -> usize {
        if ms <= 1.0 {
            0
        } else {
            ((ms.ln() / 1.25f64.ln()).ceil() as usize).min(63)
        }
    }

    #[test]
    fn percentiles_fall_within_a_quarter_of_the_truth() {
        let mut counts = vec![0i64; 64];
        let values: Vec<f64> = (1..=1000).map(|i| i as f64 * 3.0).collect();
        for v in &values {
            counts[bucket(*v)] += 1;
        }
        let h = Histogram(counts);
        for (p, truth) in [(0.5, 1500.0), (0.95, 2850.0), (0.99, 2970.0)] {
            let got = h.quantile(p).unwrap() as f64;
            assert!(
                got >= truth && got <= truth * 1.25 + 1.0,
                "p{p}: {got} vs {truth}"
            );
        }
        assert_eq!(Histogram(vec![0; 64]).quantile(0.5), None);
    }
}
