use std::{sync::LazyLock, time::Duration};

use prometheus::{register_gauge, register_int_gauge, Gauge, IntGauge};
use tokio_util::sync::CancellationToken;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::ExposeSecret;

use crate::config::RedisSettings;

/// A reconnecting Redis connection shared by a process.
pub async fn connect(settings: &RedisSettings) -> anyhow::Result<ConnectionManager> {
    let client = redis::Client::open(settings.url.expose_secret())?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Duration::from_secs(3))
        .set_response_timeout(Duration::from_secs(2))
        .set_number_of_retries(2);
    Ok(ConnectionManager::new_with_config(client, config).await?)
}

static UP: LazyLock<IntGauge> = LazyLock::new(|| {
    register_int_gauge!(
        "fitsync_redis_up",
        "Whether Redis answered the last ping (1) or not (0)"
    )
    .expect("metric registers once")
});

static PING: LazyLock<Gauge> = LazyLock::new(|| {
    register_gauge!(
        "fitsync_redis_ping_seconds",
        "Round trip of the last ping on the shared Redis connection: one multiplexed \
         connection carries every request, so a growing round trip is its saturation"
    )
    .expect("metric registers once")
});

/// Pings Redis every five seconds until `shutdown`, exporting whether it answers and how
/// long the round trip took.
pub async fn monitor(redis: ConnectionManager, shutdown: CancellationToken) -> anyhow::Result<()> {
    loop {
        let mut connection = redis.clone();
        let started = std::time::Instant::now();
        let pong = tokio::time::timeout(
            Duration::from_secs(2),
            redis::cmd("PING").query_async::<String>(&mut connection),
        )
        .await;
        match pong {
            Ok(Ok(_)) => {
                UP.set(1);
                PING.set(started.elapsed().as_secs_f64());
            }
            _ => UP.set(0),
        }
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
}
