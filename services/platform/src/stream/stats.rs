use std::sync::LazyLock;

use prometheus::{register_histogram_vec, register_int_counter_vec, HistogramVec, IntCounterVec};

static EVENTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "fitsync_job_events_total",
        "Messages a stream job consumed, by outcome",
        &["job", "outcome"]
    )
    .expect("metric registers once")
});

static BATCH_SECONDS: LazyLock<HistogramVec> = LazyLock::new(|| {
    register_histogram_vec!(
        "fitsync_job_batch_duration_seconds",
        "Time to process one micro-batch, from its last message to its commit",
        &["job"],
        crate::metrics::latency_buckets()
    )
    .expect("metric registers once")
});

static FRESHNESS: LazyLock<HistogramVec> = LazyLock::new(|| {
    register_histogram_vec!(
        "fitsync_pipeline_freshness_seconds",
        "From the API write that created an event to the job's result committed, by job",
        &["job"],
        crate::metrics::latency_buckets()
    )
    .expect("metric registers once")
});

/// Records the freshness of the results a batch committed (seconds since each write).
pub fn freshness(job: &str, ages_secs: &[f64]) {
    let histogram = FRESHNESS.with_label_values(&[job]);
    for age in ages_secs {
        histogram.observe(age.max(0.0));
    }
}

/// What one batch did, counted once per batch.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct JobStats {
    /// Messages whose results were written.
    pub applied: u64,
    /// Already counted (a re-published event, or an offset already committed).
    pub duplicates: u64,
    /// Valid events this job has no use for.
    pub skipped: u64,
    pub dead_lettered: u64,
}

impl JobStats {
    pub fn record(&self, job: &str, seconds: f64) {
        for (outcome, n) in [
            ("applied", self.applied),
            ("duplicate", self.duplicates),
            ("skipped", self.skipped),
            ("dead_lettered", self.dead_lettered),
        ] {
            if n > 0 {
                EVENTS.with_label_values(&[job, outcome]).inc_by(n);
            }
        }
        BATCH_SECONDS.with_label_values(&[job]).observe(seconds);
    }
}
