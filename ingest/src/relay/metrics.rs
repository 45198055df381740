use std::sync::{Arc, LazyLock};

use prometheus::{register_int_counter_vec, IntCounter, IntCounterVec};

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

/// Counters of one relay, recorded once per batch.
#[derive(Debug)]
pub struct RelayStats {
    published: IntCounter,
    failed: IntCounter,
}

impl RelayStats {
    pub(crate) fn for_source(source: &str) -> Arc<Self> {
        Arc::new(Self {
            published: PUBLISHED.with_label_values(&[source]),
            failed: FAILED.with_label_values(&[source]),
        })
    }

    pub(crate) fn record(&self, published: usize, failed: usize) {
        self.published.inc_by(published as u64);
        self.failed.inc_by(failed as u64);
    }

    pub fn published(&self) -> u64 {
        self.published.get()
    }
}
