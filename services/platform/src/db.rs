use std::time::Duration;

use futures::future::BoxFuture;
use secrecy::ExposeSecret;
use sqlx::{
    error::BoxDynError,
    migrate::{Migration, MigrationSource, Migrator},
    postgres::{PgConnectOptions, PgPoolOptions},
    Connection, PgPool,
};

use crate::config::DatabaseSettings;

/// Tables every service database has (the outbox, the access projection), applied in one
/// version order with the service's own migrations.
static PLATFORM_MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

pub fn connect_options(
    settings: &DatabaseSettings,
    database: &str,
) -> Result<PgConnectOptions, sqlx::Error> {
    let options: PgConnectOptions = settings.url.expose_secret().parse()?;
    Ok(options.database(database).application_name("fitsync"))
}

/// A pool that connects on first use, so a process starts (and reports not-ready)
/// while its database is still coming up.
///
/// A connection idle for `ping_idle_after_ms` or longer is pinged before it is handed
/// out, and replaced if the server dropped it (a restart, an idle timeout); one in
/// steady use is not (sqlx's default pings on every acquire: one more round trip for
/// every request and batch). A connection that dies while in use fails that use, as it
/// would after a ping. A query that gets no connection within `acquire_timeout_ms` (all
/// busy, or the database unreachable) fails with `PoolTimedOut`, which a handler
/// answers with 503 and `Retry-After`.
pub fn pool(settings: &DatabaseSettings, database: &str) -> Result<PgPool, sqlx::Error> {
    let idle_after = Duration::from_millis(settings.ping_idle_after_ms);
    Ok(PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(Duration::from_millis(settings.acquire_timeout_ms.max(10)))
        .test_before_acquire(false)
        .before_acquire(move |conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= idle_after {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .connect_lazy_with(connect_options(settings, database)?))
}

/// Applies the platform's and then the service's migrations, waiting up to `wait` for
/// the database to accept connections (Kubernetes Jobs start before their database).
#[tracing::instrument(skip(pool, service), err)]
pub async fn migrate(pool: &PgPool, service: &Migrator, wait: Duration) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match sqlx::query!("select 1 as one").fetch_one(pool).await {
            Ok(_) => break,
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::info!(error = %e, "waiting for the database");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(anyhow::Error::new(e).context("database not reachable")),
        }
    }
    migrator(service).await?.run(pool).await?;
    Ok(())
}

/// The platform's migrations and the service's, as one migrator ordered by version, so
/// one `_sqlx_migrations` table tracks both (versions are timestamps; the first
/// platform migration, the outbox, is version 1).
pub async fn migrator(service: &Migrator) -> Result<Migrator, sqlx::migrate::MigrateError> {
    let mut all: Vec<Migration> = PLATFORM_MIGRATIONS
        .iter()
        .chain(service.iter())
        .cloned()
        .collect();
    all.sort_by_key(|m| m.version);
    Migrator::new(Combined(all)).await
}

#[derive(Debug)]
struct Combined(Vec<Migration>);

impl<'s> MigrationSource<'s> for Combined {
    fn resolve(self) -> BoxFuture<'s, Result<Vec<Migration>, BoxDynError>> {
        Box::pin(async move { Ok(self.0) })
    }
}
