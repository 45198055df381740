use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{routing::get, Json, Router};
use fitsync_ingest::Relay;
use fitsync_platform::{
    auth::{Authenticator, KeySet, Revocations},
    db,
    health::Readiness,
    server, Settings,
};
use fitsync_stream_jobs::{AccessProjector, EventIndexer, ProgressAnalytics};
use sqlx::{migrate::Migrator, PgPool};
use tokio::{net::TcpListener, task::JoinSet};
use tokio_util::sync::CancellationToken;

/// What one process runs: everything (`all`, a laptop) or one component (Kubernetes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    All,
    Users,
    Training,
    Progress,
    Relay,
    Analytics,
    Indexer,
    /// Access projections (who may see whose data) for the training and progress databases.
    Projector,
    /// The notifications service: its API and its email sender.
    Notifications,
}

/// The targets one process runs, e.g. `users,training,relay`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Targets(Vec<Target>);

impl Targets {
    pub fn new(targets: impl Into<Vec<Target>>) -> Self {
        Self(targets.into())
    }

    pub fn all() -> Self {
        Self(vec![Target::All])
    }

    fn runs(&self, component: Target) -> bool {
        self.0.iter().any(|t| *t == Target::All || *t == component)
    }
}

/// The database a service owns, with its migrations.
#[derive(Clone, Copy)]
pub struct Service {
    pub name: &'static str,
    pub migrations: &'static Migrator,
    database: fn(&Settings) -> &str,
}

pub const SERVICES: [Service; 4] = [
    Service {
        name: "users",
        migrations: &fitsync_users::MIGRATIONS,
        database: |s| &s.database.names.users,
    },
    Service {
        name: "training",
        migrations: &fitsync_training::MIGRATIONS,
        database: |s| &s.database.names.training,
    },
    Service {
        name: "progress",
        migrations: &fitsync_progress::MIGRATIONS,
        database: |s| &s.database.names.progress,
    },
    Service {
        name: "notifications",
        migrations: &fitsync_notifications::MIGRATIONS,
        database: |s| &s.database.names.notifications,
    },
];

impl Service {
    pub fn pool(&self, settings: &Settings) -> Result<PgPool, sqlx::Error> {
        db::pool(&settings.database, (self.database)(settings))
    }
}

/// Applies every service's migrations (the `migrate` command; `all` does it at start).
pub async fn migrate(settings: &Settings, wait: Duration) -> anyhow::Result<()> {
    for service in SERVICES {
        let pool = service.pool(settings)?;
        db::migrate(&pool, service.migrations, wait).await?;
        tracing::info!(service = service.name, "migrated");
    }
    Ok(())
}

/// A started process: its HTTP address, and a handle to stop it and wait.
pub struct RunningApp {
    pub addr: SocketAddr,
    pub shutdown: CancellationToken,
    tasks: JoinSet<anyhow::Result<()>>,
}

impl RunningApp {
    /// Waits until every component stopped; the first failure cancels the rest.
    pub async fn wait(mut self) -> anyhow::Result<()> {
        let mut first_error = None;
        while let Some(joined) = self.tasks.join_next().await {
            let result = joined.map_err(anyhow::Error::from).and_then(|r| r);
            if let Err(e) = result {
                tracing::error!(error = ?e, "component failed; stopping");
                self.shutdown.cancel();
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.wait().await
    }
}

/// Starts `target` on `listener`: its HTTP API (or only health and metrics for workers)
/// and its background workers.
pub async fn start(
    settings: Settings,
    targets: Targets,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<RunningApp> {
    if targets.0.contains(&Target::All) {
        migrate(&settings, Duration::from_secs(30)).await?;
    }
    let pool_of = |name: &str| -> anyhow::Result<PgPool> {
        let service = SERVICES
            .iter()
            .find(|s| s.name == name)
            .expect("known service");
        Ok(service.pool(&settings)?)
    };
    let needs_auth = targets.runs(Target::Users)
        || targets.runs(Target::Training)
        || targets.runs(Target::Progress);
    let redis = if needs_auth {
        Some(fitsync_platform::redis::connect(&settings.redis).await?)
    } else {
        None
    };
    let auth = match &redis {
        Some(redis) => Some(Arc::new(Authenticator::new(
            KeySet::from_settings(&settings.auth)?,
            Revocations::new(redis.clone(), settings.redis.key_prefix.clone()),
        ))),
        None => None,
    };
    let auth_of = || auth.clone().expect("an API target has an authenticator");
    let mut api = Router::new();
    let mut openapi = Vec::new();
    let mut pools: Vec<(&'static str, PgPool)> = Vec::new();
    let mut tasks: JoinSet<anyhow::Result<()>> = JoinSet::new();

    if targets.runs(Target::Users) {
        let pool = pool_of("users")?;
        let redis = redis.clone().expect("an API target has Redis");
        let prefix = &settings.redis.key_prefix;
        let a = &settings.auth;
        api = api.merge(fitsync_users::router(fitsync_users::UsersState {
            pool: pool.clone(),
            auth: auth_of(),
            refresh: fitsync_users::RefreshTokens::new(
                redis.clone(),
                prefix.clone(),
                a.refresh_token_ttl_secs,
            ),
            limits: fitsync_users::LoginLimits::new(
                redis,
                prefix.clone(),
                a.max_login_failures,
                a.lockout_secs,
                a.login_attempts_per_address_per_minute,
            ),
            email_ttl: fitsync_users::EmailTtl {
                verify: a.verify_email_ttl_secs,
                reset: a.password_reset_ttl_secs,
            },
        }));
        openapi.push(fitsync_users::openapi());
        pools.push(("userdb", pool));
    }
    if targets.runs(Target::Training) {
        let pool = pool_of("training")?;
        api = api.merge(fitsync_training::router(fitsync_training::TrainingState {
            pool: pool.clone(),
            auth: auth_of(),
        }));
        openapi.push(fitsync_training::openapi());
        pools.push(("trainingdb", pool));
    }
    if targets.runs(Target::Progress) {
        let pool = pool_of("progress")?;
        api = api.merge(fitsync_progress::router(fitsync_progress::ProgressState {
            pool: pool.clone(),
            auth: auth_of(),
        }));
        openapi.push(fitsync_progress::openapi());
        pools.push(("progressdb", pool));
    }
    if targets.runs(Target::Notifications) {
        let pool = pool_of("notifications")?;
        api = api.merge(fitsync_notifications::router(
            fitsync_notifications::NotificationsState {
                pool: pool.clone(),
                auth: auth_of(),
            },
        ));
        openapi.push(fitsync_notifications::openapi());
        pools.push(("notificationdb", pool.clone()));
        let mailer =
            fitsync_notifications::Mailer::new(&settings.smtp, &settings.server.public_url)?;
        let sender = fitsync_notifications::EmailSender::new(
            pool,
            mailer,
            settings.kafka.clone(),
            settings.jobs.clone(),
        )?;
        tasks.spawn(sender.run(shutdown.clone()));
    }
    if targets.runs(Target::Relay) {
        // One relay per database that has an outbox.
        for (source, name) in [("users", "users"), ("training", "training")] {
            let pool = pool_of(name)?;
            let relay = Relay::new(source, pool, &settings.kafka, settings.relay.clone())?;
            tasks.spawn(relay.run(shutdown.clone()));
        }
    }
    if targets.runs(Target::Analytics) {
        let pool = pool_of("progress")?;
        let job = ProgressAnalytics::new(pool, settings.kafka.clone(), settings.jobs.clone())?;
        tasks.spawn(job.run(shutdown.clone()));
    }
    if targets.runs(Target::Projector) {
        for name in ["training", "progress"] {
            let job = AccessProjector::new(
                name,
                pool_of(name)?,
                settings.kafka.clone(),
                settings.jobs.clone(),
            )?;
            tasks.spawn(job.run(shutdown.clone()));
        }
    }
    if targets.runs(Target::Indexer) {
        let job = EventIndexer::new(
            &settings.opensearch,
            settings.kafka.clone(),
            settings.jobs.clone(),
        )?;
        tasks.spawn(job.run(shutdown.clone()));
    }

    let document = Arc::new(fitsync_platform::openapi::merge(&openapi));
    let api = api.route(
        "/api/openapi.json",
        get(move || async move { Json((*document).clone()) }),
    );
    let app = server::with_common_layers(api, settings.server.request_timeout())
        .merge(Readiness::new(pools).router());
    let addr = listener.local_addr()?;
    let serving = shutdown.clone();
    let grace = settings.server.shutdown_grace();
    tasks.spawn(async move {
        let served = server::serve(listener, app, serving.clone());
        tokio::pin!(served);
        tokio::select! {
            r = &mut served => r?,
            () = async { serving.cancelled().await; tokio::time::sleep(grace).await } => {
                tracing::warn!("in-flight requests did not finish within the grace period");
            }
        }
        Ok(())
    });
    tracing::info!(%addr, targets = ?targets.0, "fitsync started");
    Ok(RunningApp {
        addr,
        shutdown,
        tasks,
    })
}
