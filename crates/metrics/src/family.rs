//! The three metric kinds the hub uses, each a family of series keyed by label values.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::format::{float, label_set};
use crate::header;

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Label values joined by a separator no label value contains in practice
/// (unit separator), so a lookup needs one short string and no per-value allocation.
const SEPARATOR: char = '\u{1f}';

fn key(values: &[&str]) -> String {
    values.join(&SEPARATOR.to_string())
}

/// Label values → series, behind one lock (held for a map lookup and a few adds).
struct Series<T>(Mutex<BTreeMap<String, T>>);

impl<T> Series<T> {
    fn new() -> Self {
        Self(Mutex::new(BTreeMap::new()))
    }

    fn with<R>(&self, values: &[&str], make: impl FnOnce() -> T, f: impl FnOnce(&mut T) -> R) -> R {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(map.entry(key(values)).or_insert_with(make))
    }

    fn snapshot(&self) -> Vec<(Vec<String>, T)>
    where
        T: Clone,
    {
        let map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.iter()
            .map(|(k, v)| {
                let values = if k.is_empty() {
                    Vec::new()
                } else {
                    k.split(SEPARATOR).map(str::to_owned).collect()
                };
                (values, v.clone())
            })
            .collect()
    }
}

/// A histogram with fixed buckets (the last one `+Inf`).
pub struct Histogram {
    name: String,
    help: &'static str,
    labels: &'static [&'static str],
    buckets: Vec<f64>,
    series: Series<HistogramSeries>,
}

#[derive(Clone)]
struct HistogramSeries {
    /// Observations per bucket (not cumulative).
    counts: Vec<u64>,
    sum: f64,
    created: f64,
}

impl Histogram {
    /// A histogram family; `buckets` must be increasing and end with `+Inf`.
    #[must_use]
    pub fn new(
        name: String,
        help: &'static str,
        labels: &'static [&'static str],
        buckets: &[f64],
    ) -> Self {
        let histogram = Self {
            name,
            help,
            labels,
            buckets: buckets.to_vec(),
            series: Series::new(),
        };
        // Without labels the one series exists from the start, as in `prometheus_client`.
        if labels.is_empty() {
            histogram.touch(&[]);
        }
        histogram
    }

    fn empty(&self) -> HistogramSeries {
        HistogramSeries {
            counts: vec![0; self.buckets.len()],
            sum: 0.0,
            created: now(),
        }
    }

    /// Records one observation (seconds) under `values`, one per label name in order.
    pub fn observe(&self, values: &[&str], seconds: f64) {
        debug_assert_eq!(values.len(), self.labels.len(), "{}", self.name);
        let slot = self
            .buckets
            .iter()
            .position(|upper| seconds <= *upper)
            .unwrap_or(self.buckets.len() - 1);
        self.series.with(
            values,
            || self.empty(),
            |s| {
                s.counts[slot] += 1;
                s.sum += seconds;
            },
        );
    }

    /// Creates the series for `values` with no observations (so it is exported as zeros).
    pub fn touch(&self, values: &[&str]) {
        self.series.with(values, || self.empty(), |_| ());
    }

    /// How many observations `values` has (for tests and diagnostics).
    #[must_use]
    pub fn count(&self, values: &[&str]) -> u64 {
        self.series
            .with(values, || self.empty(), |s| s.counts.iter().sum())
    }

    pub(crate) fn encode(&self, out: &mut String) {
        let series = self.series.snapshot();
        header(out, &self.name, self.help, "histogram");
        for (values, s) in &series {
            let mut cumulative = 0;
            for (upper, count) in self.buckets.iter().zip(&s.counts) {
                cumulative += count;
                let le = float(*upper);
                let labels = label_set(self.labels, values, Some(&le));
                let _ = writeln!(
                    out,
                    "{}_bucket{labels} {}",
                    self.name,
                    float(cumulative as f64)
                );
            }
            let labels = label_set(self.labels, values, None);
            let _ = writeln!(
                out,
                "{}_count{labels} {}",
                self.name,
                float(cumulative as f64)
            );
            let _ = writeln!(out, "{}_sum{labels} {}", self.name, float(s.sum));
        }
        let created = format!("{}_created", self.name);
        header(out, &created, self.help, "gauge");
        for (values, s) in &series {
            let labels = label_set(self.labels, values, None);
            let _ = writeln!(out, "{created}{labels} {}", float(s.created));
        }
    }
}

/// A value that goes up and down.
pub struct Gauge {
    name: String,
    help: &'static str,
    labels: &'static [&'static str],
    series: Series<f64>,
}

impl Gauge {
    /// A gauge family.
    #[must_use]
    pub fn new(name: String, help: &'static str, labels: &'static [&'static str]) -> Self {
        Self {
            name,
            help,
            labels,
            series: Series::new(),
        }
    }

    /// Sets the value under `values`.
    pub fn set(&self, values: &[&str], value: f64) {
        self.series.with(values, || 0.0, |v| *v = value);
    }

    /// The current value under `values`.
    #[must_use]
    pub fn get(&self, values: &[&str]) -> f64 {
        self.series.with(values, || 0.0, |v| *v)
    }

    pub(crate) fn encode(&self, out: &mut String) {
        header(out, &self.name, self.help, "gauge");
        for (values, value) in self.series.snapshot() {
            let labels = label_set(self.labels, &values, None);
            let _ = writeln!(out, "{}{labels} {}", self.name, float(value));
        }
    }
}

/// A count that only goes up; exported as `<name>_total` with `<name>_created`.
pub struct Counter {
    name: String,
    help: &'static str,
    value: Mutex<f64>,
    created: f64,
}

impl Counter {
    /// A counter without labels.
    #[must_use]
    pub fn new(name: String, help: &'static str) -> Self {
        Self {
            name,
            help,
            value: Mutex::new(0.0),
            created: now(),
        }
    }

    /// Adds one.
    pub fn inc(&self) {
        *self
            .value
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) += 1.0;
    }

    /// The current count.
    #[must_use]
    pub fn get(&self) -> f64 {
        *self
            .value
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn encode(&self, out: &mut String) {
        let total = format!("{}_total", self.name);
        header(out, &total, self.help, "counter");
        let _ = writeln!(out, "{total} {}", float(self.get()));
        let created = format!("{}_created", self.name);
        header(out, &created, self.help, "gauge");
        let _ = writeln!(out, "{created} {}", float(self.created));
    }
}
