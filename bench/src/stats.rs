//! Latency samples and their percentiles (nearest rank).

use std::time::Duration;

#[derive(Clone, Debug, Default)]
pub struct Samples(Vec<Duration>);

impl Samples {
    pub fn push(&mut self, d: Duration) {
        self.0.push(d);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The `p`-th percentile (0 < p ≤ 100) in milliseconds; `NaN` when empty.
    pub fn pct(&self, p: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        let mut v = self.0.clone();
        v.sort_unstable();
        let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
        ms(v[rank.clamp(1, v.len()) - 1])
    }

    pub fn p50(&self) -> f64 {
        self.pct(50.0)
    }

    pub fn p99(&self) -> f64 {
        self.pct(99.0)
    }

    pub fn min(&self) -> f64 {
        self.0.iter().min().map_or(f64::NAN, |d| ms(*d))
    }

    pub fn max(&self) -> f64 {
        self.0.iter().max().map_or(f64::NAN, |d| ms(*d))
    }

    pub fn mean(&self) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        ms(self.0.iter().sum::<Duration>()) / self.0.len() as f64
    }

    /// The mean of the samples each rounded up to a whole millisecond, as Lambda bills a duration
    /// (1 ms increments); `NaN` when empty.
    pub fn mean_billed_ms(&self) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        self.0.iter().map(|d| ms(*d).ceil()).sum::<f64>() / self.0.len() as f64
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "n": self.len(), "p50_ms": r3(self.p50()), "p99_ms": r3(self.p99()),
            "min_ms": r3(self.min()), "mean_ms": r3(self.mean()), "max_ms": r3(self.max()),
        })
    }
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Rounded to 3 decimals; `null` in JSON for NaN.
pub fn r3(x: f64) -> Option<f64> {
    x.is_finite().then(|| (x * 1000.0).round() / 1000.0)
}
