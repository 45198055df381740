use std::sync::{Arc, LazyLock};

use prometheus::{
    register_gauge_vec, register_int_counter_vec, register_int_gauge_vec, Gauge, GaugeVec,
    IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
};

static PUBLISHED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "fitsync_relay_events_published_total",
        "Outbox rows published to Kafka and deleted",
        &["source"]
    )
    .expect("metric registers once")
});

static FAILED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "fitsync_relay_publish_failures_total",
        "Outbox rows Kafka did not acknowledge (they stay and are retried)",
        &["source"]
    )
    .expect("metric registers once")
});

static BACKLOG: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register_int_gauge_vec!(
        "fitsync_outbox_backlog",
        "Outbox rows waiting to be published, by source database (read by the leading relay)",
        &["source"]
    )
    .expect("metric registers once")
});

static OLDEST: LazyLock<GaugeVec> = LazyLock::new(|| {
    register_gauge_vec!(
        "fitsync_outbox_oldest_age_seconds",
        "Age of the oldest outbox row waiting to be published (0 when none), by source",
        &["source"]
    )
    .expect("metric registers once")
});

/// Counters of one relay, recorded once per batch.
#[derive(Debug)]
pub struct RelayStats {
    published: IntCounter,
    failed: IntCounter,
    backlog: IntGauge,
    oldest: Gauge,
}

impl RelayStats {
    pub(crate) fn for_source(source: &str) -> Arc<Self> {
        Arc::new(Self {
            published: PUBLISHED.with_label_values(&[source]),
            failed: FAILED.with_label_values(&[source]),
            backlog: BACKLOG.with_label_values(&[source]),
            oldest: OLDEST.with_label_values(&[source]),
        })
    }

    pub(crate) fn record(&self, published: usize, failed: usize) {
        self.published.inc_by(published as u64);
        self.failed.inc_by(failed as u64);
    }

    pub(crate) fn backlog(&self, rows: i64, oldest_age_secs: f64) {
        self.backlog.set(rows);
        self.oldest.set(oldest_age_secs);
    }

    pub fn published(&self) -> u64 {
        self.published.get()
    }
}
