//! The run's summary: built from the merged histogram and the run control, printed as
//! one line of text or one JSON object (the keys scripts read).

use std::time::Instant;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::control::RunControl;

#[derive(Serialize, Debug)]
pub struct Summary {
    pub workload: String,
    pub connections: usize,
    pub window: usize,
    pub value_bytes: usize,
    pub duration_secs: f64,
    pub operations: u64,
    pub errors: u64,
    pub ops_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    /// Longest time without a success (see `RunControl::max_gap`).
    pub max_gap_ms: f64,
}

/// How the run was set up, echoed in the summary.
pub struct Shape {
    pub workload: String,
    pub connections: usize,
    pub window: usize,
    pub value_bytes: usize,
}

fn micros_to_ms(micros: u64) -> f64 {
    micros as f64 / 1_000.0
}

impl Summary {
    pub fn new(
        shape: Shape,
        histogram: &Histogram<u64>,
        control: &RunControl,
        ended: Instant,
    ) -> Summary {
        let elapsed = ended.saturating_duration_since(control.started()).as_secs_f64();
        let operations = histogram.len();
        Summary {
            workload: shape.workload,
            connections: shape.connections,
            window: shape.window,
            value_bytes: shape.value_bytes,
            duration_secs: elapsed,
            operations,
            errors: control.errors(),
            ops_per_sec: if elapsed > 0.0 { operations as f64 / elapsed } else { 0.0 },
            p50_ms: micros_to_ms(histogram.value_at_quantile(0.50)),
            p99_ms: micros_to_ms(histogram.value_at_quantile(0.99)),
            p999_ms: micros_to_ms(histogram.value_at_quantile(0.999)),
            max_ms: micros_to_ms(histogram.max()),
            max_gap_ms: control.max_gap(ended).as_secs_f64() * 1_000.0,
        }
    }

    pub fn json(&self) -> String {
        serde_json::to_string(self).expect("a summary serializes")
    }

    pub fn text(&self) -> String {
        format!(
            "{} {}x{}: {:.0} ops/s over {:.1}s ({} ops, {} errors)  p50 {:.2} ms  p99 {:.2} ms  \
             p99.9 {:.2} ms  max {:.2} ms  longest gap {:.1} ms",
            self.workload,
            self.connections,
            self.window,
            self.ops_per_sec,
            self.duration_secs,
            self.operations,
            self.errors,
            self.p50_ms,
            self.p99_ms,
            self.p999_ms,
            self.max_ms,
            self.max_gap_ms,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::control::latency_histogram;

    #[test]
    fn the_json_summary_has_exactly_the_promised_keys() {
        let control = RunControl::new(None, None);
        let mut histogram = latency_histogram();
        for micros in [1_000, 2_000, 3_000, 40_000] {
            histogram.record(micros).unwrap();
        }
        control.succeeded(4);
        let shape =
            Shape { workload: "create".into(), connections: 2, window: 3, value_bytes: 100 };
        let summary = Summary::new(shape, &histogram, &control, Instant::now());
        let value: serde_json::Value = serde_json::from_str(&summary.json()).unwrap();
        let mut keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut promised = vec![
            "workload",
            "connections",
            "window",
            "value_bytes",
            "duration_secs",
            "operations",
            "errors",
            "ops_per_sec",
            "p50_ms",
            "p99_ms",
            "p999_ms",
            "max_ms",
            "max_gap_ms",
        ];
        promised.sort_unstable();
        assert_eq!(keys, promised);
        assert_eq!(value["operations"], 4);
        assert_eq!(value["workload"], "create");
        assert!((summary.p50_ms - 2.0).abs() < 0.01, "{}", summary.p50_ms);
        assert!((summary.max_ms - 40.0).abs() < 0.1, "{}", summary.max_ms);
    }
}
