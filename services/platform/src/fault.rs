//! Fault injection for crash tests: `FITSYNC_FAULT=<point>:<n>` aborts the process the
//! n-th time execution reaches `<point>`, the way a `kill -9` would at that instant.
//! Unset (always, outside tests) it costs one relaxed load per call.

use std::sync::{
    atomic::{AtomicU64, Ordering},
    OnceLock,
};

static PLAN: OnceLock<Option<(String, u64)>> = OnceLock::new();
static HITS: AtomicU64 = AtomicU64::new(0);

pub fn point(name: &str) {
    let plan = PLAN.get_or_init(|| {
        let raw = std::env::var("FITSYNC_FAULT").ok()?;
        let (point, n) = raw.rsplit_once(':')?;
        Some((point.to_owned(), n.parse().ok()?))
    });
    if let Some((point, n)) = plan {
        if point == name && HITS.fetch_add(1, Ordering::Relaxed) + 1 >= *n {
            eprintln!("FITSYNC_FAULT: aborting at {name}");
            std::process::abort();
        }
    }
}
