use std::sync::LazyLock;

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Algorithm, Argon2, Params, Version,
};
use fitsync_platform::ApiError;
use prometheus::{register_int_counter_vec, IntCounterVec};

/// Argon2id runs, by operation: the costliest thing the service does, and what a flood
/// of sign-ins or reset confirmations would spend.
static ARGON2_RUNS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "fitsync_password_hashes_total",
        "Argon2id computations, by operation (hash, verify)",
        &["operation"]
    )
    .expect("metric registers once")
});

/// Registers the Argon2 counters at zero, so they exist before the first hash.
pub fn register_metrics() {
    for operation in ["hash", "verify"] {
        ARGON2_RUNS.with_label_values(&[operation]);
    }
}

/// OWASP's Argon2id recommendation: 19 MiB, 2 iterations, 1 lane.
fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 params");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Verified against when an account does not exist, so that an unknown email costs
/// the same time as a wrong password.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_blocking("dummy password for timing").expect("hashing works"));

/// One Argon2id hash with FitSync's parameters, on the calling thread.
pub fn hash_blocking(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(hasher()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Hashes off the async runtime: Argon2 is deliberately slow.
pub async fn hash(password: String) -> Result<String, ApiError> {
    ARGON2_RUNS.with_label_values(&["hash"]).inc();
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(|e| anyhow::Error::new(e).context("hashing task"))?
        .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("hashing: {e}")))
}

/// True if `password` matches `stored` (or, with no stored hash, after the same work).
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, ApiError> {
    ARGON2_RUNS.with_label_values(&["verify"]).inc();
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| DUMMY_HASH.clone());
        let ok = PasswordHash::new(&stored)
            .map(|parsed| {
                hasher()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        known && ok
    })
    .await
    .map_err(|e| ApiError::Unexpected(anyhow::Error::new(e).context("verify task")))
}
