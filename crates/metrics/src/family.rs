//! The three metric kinds the hub uses, each a family of series keyed by a
//! typed label set ([`LabelSet`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::marker::PhantomData;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::format::{float, label_set};
use crate::header;
use crate::labels::LabelSet;

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Label set → series, behind one lock (held for a map lookup and a few adds).
struct Series<L, T>(Mutex<BTreeMap<L, T>>);

impl<L: LabelSet, T: Clone> Series<L, T> {
    fn new() -> Self {
        Self(Mutex::new(BTreeMap::new()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<L, T>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn with<R>(&self, labels: L, make: impl FnOnce() -> T, f: impl FnOnce(&mut T) -> R) -> R {
        let mut map = self.lock();
        // Look up by reference first: the hot path (an existing series) only
        // drops `labels`; a new series keeps them without a clone.
        if let Some(value) = map.get_mut(&labels) {
            return f(value);
        }
        f(map.entry(labels).or_insert_with(make))
    }

    fn snapshot(&self) -> Vec<(L, T)> {
        self.lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// A histogram family with fixed buckets (the last one `+Inf`).
pub struct Histogram<L = ()> {
    name: String,
    help: &'static str,
    buckets: Vec<f64>,
    series: Series<L, HistogramSeries>,
}

#[derive(Clone)]
struct HistogramSeries {
    /// Observations per bucket (not cumulative).
    counts: Vec<u64>,
    sum: f64,
    created: f64,
}

impl<L: LabelSet> Histogram<L> {
    /// A histogram family; `buckets` must be increasing and end with `+Inf`.
    #[must_use]
    pub fn new(name: String, help: &'static str, buckets: &[f64]) -> Self {
        debug_assert_eq!(buckets.last(), Some(&f64::INFINITY), "{name}");
        Self {
            name,
            help,
            buckets: buckets.to_vec(),
            series: Series::new(),
        }
    }

    fn empty(&self) -> HistogramSeries {
        HistogramSeries {
            counts: vec![0; self.buckets.len()],
            sum: 0.0,
            created: now(),
        }
    }

    /// Records one observation (seconds) under `labels`.
    pub fn observe(&self, labels: L, seconds: f64) {
        let slot = self
            .buckets
            .iter()
            .position(|upper| seconds <= *upper)
            .unwrap_or(self.buckets.len() - 1);
        self.series.with(
            labels,
            || self.empty(),
            |s| {
                s.counts[slot] += 1;
                s.sum += seconds;
            },
        );
    }

    /// Creates the series for `labels` with no observations, so it is exported
    /// as zeros (upstream pre-creates its status series this way).
    pub fn touch(&self, labels: L) {
        self.series.with(labels, || self.empty(), |_| ());
    }

    /// How many observations `labels` has (for tests and diagnostics).
    #[must_use]
    pub fn count(&self, labels: &L) -> u64 {
        self.series
            .lock()
            .get(labels)
            .map_or(0, |s| s.counts.iter().sum())
    }

    /// The bucket upper bounds, `+Inf` last.
    #[must_use]
    pub fn buckets(&self) -> &[f64] {
        &self.buckets
    }

    pub(crate) fn encode(&self, out: &mut String) {
        let series = self.series.snapshot();
        header(out, &self.name, self.help, "histogram");
        for (labels, s) in &series {
            let values = labels.values();
            let mut cumulative = 0;
            for (upper, count) in self.buckets.iter().zip(&s.counts) {
                cumulative += count;
                let le = float(*upper);
                let labels = label_set(L::NAMES, &values, Some(&le));
                let _ = writeln!(
                    out,
                    "{}_bucket{labels} {}",
                    self.name,
                    float(cumulative as f64)
                );
            }
            let labels = label_set(L::NAMES, &values, None);
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
        for (labels, s) in &series {
            let labels = label_set(L::NAMES, &labels.values(), None);
            let _ = writeln!(out, "{created}{labels} {}", float(s.created));
        }
    }
}

impl Histogram<()> {
    /// A histogram without labels; its one series exists from the start, as in
    /// `prometheus_client`.
    #[must_use]
    pub fn unlabelled(name: String, help: &'static str, buckets: &[f64]) -> Self {
        let histogram = Self::new(name, help, buckets);
        histogram.touch(());
        histogram
    }
}

/// A value that goes up and down.
pub struct Gauge<L = ()> {
    name: String,
    help: &'static str,
    series: Series<L, f64>,
    labels: PhantomData<L>,
}

impl<L: LabelSet> Gauge<L> {
    /// A gauge family.
    #[must_use]
    pub fn new(name: String, help: &'static str) -> Self {
        Self {
            name,
            help,
            series: Series::new(),
            labels: PhantomData,
        }
    }

    /// Sets the value under `labels`.
    pub fn set(&self, labels: L, value: f64) {
        self.series.with(labels, || 0.0, |v| *v = value);
    }

    /// The current value under `labels` (0 when never set).
    #[must_use]
    pub fn get(&self, labels: &L) -> f64 {
        self.series.lock().get(labels).copied().unwrap_or(0.0)
    }

    pub(crate) fn encode(&self, out: &mut String) {
        header(out, &self.name, self.help, "gauge");
        for (labels, value) in self.series.snapshot() {
            let labels = label_set(L::NAMES, &labels.values(), None);
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
    /// A counter without labels, registered under its base name (`csp_reports`).
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
