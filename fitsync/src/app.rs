use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{routing::get, Json, Router};
use fitsync_ingest::Relay;
use fitsync_platform::{
    auth::{Authenticator, KeySet, RemoteKeys, Revocations, Verifier},
    db,
    health::{Check, Readiness},
    sealed::Sealer,
    server, Settings,
};
use fitsync_stream_jobs::{AccessProjector, AlertsJob, EventIndexer, ProgressAnalytics};
use sqlx::{migrate::Migrator, PgPool};
use tokio::{net::TcpListener, task::JoinSet};
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;

/// What one process runs: everything (`all`, a laptop) or one component (Kubernetes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    All,
    Users,
    Training,
    Progress,
    Relay,
    Analytics,
    /// The alerts job: trigger rules → in-app alerts in notificationdb.
    Alerts,
    Indexer,
    /// Access projections (who may see whose data) for the training and progress databases.
    Projector,
    /// The notifications service: its API (inbox, live stream) and its email sender.
    Notifications,
    /// The schedule service: availability, sessions and classes, bookings.
    Schedule,
    /// The web app (`server.web_root`), on the API's origin behind the same gateway.
    Web,
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

pub const SERVICES: [Service; 5] = [
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
        name: "schedule",
        migrations: &fitsync_schedule::MIGRATIONS,
        database: |s| &s.database.names.schedule,
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
        if service.name == "training" {
            fitsync_training::library::import(&pool).await?;
        }
        tracing::info!(service = service.name, "migrated");
    }
    Ok(())
}

/// A started process: its HTTP address (and its metrics address, if separate), and a
/// handle to stop it and wait.
pub struct RunningApp {
    pub addr: SocketAddr,
    pub metrics_addr: Option<SocketAddr>,
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

/// Starts `targets` on `listener`: their HTTP APIs (or only health and metrics for
/// workers) and their background workers. Workers never stop the process: they retry
/// what fails (a broker, an index, a database down) with backoff until shutdown.
pub async fn start(
    settings: Settings,
    targets: Targets,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<RunningApp> {
    let all = targets.0.contains(&Target::All);
    if all {
        migrate(&settings, Duration::from_secs(30)).await?;
    }
    fitsync_platform::metrics::register_process_metrics();
    let pool_of = |name: &str| -> anyhow::Result<PgPool> {
        let service = SERVICES
            .iter()
            .find(|s| s.name == name)
            .expect("known service");
        let pool = service.pool(&settings)?;
        fitsync_platform::metrics::watch_pool(name, &pool);
        Ok(pool)
    };
    let serves_api = [
        Target::Users,
        Target::Training,
        Target::Progress,
        Target::Notifications,
        Target::Schedule,
    ]
    .into_iter()
    .any(|t| targets.runs(t));
    let mut checks: Vec<Check> = Vec::new();

    // Only the users service holds the signing key; every other process verifies with
    // the keys it publishes.
    let signing = if targets.runs(Target::Users) {
        Some(Arc::new(KeySet::from_settings(&settings.auth, all)?))
    } else {
        None
    };
    let (redis, auth) = if serves_api {
        let redis = fitsync_platform::redis::connect(&settings.redis).await?;
        let verifier = match &signing {
            Some(keys) => Verifier::Local(keys.clone()),
            None => {
                let remote = Verifier::Remote(Arc::new(RemoteKeys::new(&settings.auth)?));
                checks.push(Check::keys(remote.clone()));
                remote
            }
        };
        checks.push(Check::redis(redis.clone()));
        let revocations = Revocations::mirrored(redis.clone(), &settings.redis, shutdown.clone())?;
        (
            Some(redis),
            Some(Arc::new(
                Authenticator::new(verifier, revocations)
                    .with_access_max_staleness(settings.auth.access_max_staleness_secs),
            )),
        )
    } else {
        (None, None)
    };
    let auth_of = || auth.clone().expect("an API target has an authenticator");
    // The users service seals the tokens of emailed links; the notifications service
    // opens them. Both hold the key; nothing between them can read a token.
    let sealer = if targets.runs(Target::Users) || targets.runs(Target::Notifications) {
        Some(Arc::new(Sealer::from_settings(
            settings.auth.email_token_key.as_ref(),
            all,
        )?))
    } else {
        None
    };
    let sealer_of = || {
        sealer
            .clone()
            .expect("the users and notifications targets seal")
    };
    let mut api: OpenApiRouter = OpenApiRouter::with_openapi(fitsync_platform::openapi::document());
    let mut tasks: JoinSet<anyhow::Result<()>> = JoinSet::new();
    let mut uses_kafka = false;
    if let Some(redis) = &redis {
        tasks.spawn(fitsync_platform::redis::monitor(
            redis.clone(),
            shutdown.clone(),
        ));
    }

    if targets.runs(Target::Users) {
        let pool = pool_of("users")?;
        let redis = redis.clone().expect("an API target has Redis");
        let prefix = &settings.redis.key_prefix;
        let a = &settings.auth;
        api = api.merge(fitsync_users::router(fitsync_users::UsersState {
            pool: pool.clone(),
            auth: auth_of(),
            keys: signing
                .clone()
                .expect("the users target holds the signing key"),
            refresh: fitsync_users::RefreshTokens::new(
                redis.clone(),
                prefix.clone(),
                a.refresh_token_ttl_secs,
                a.refresh_token_max_lifetime_secs,
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
            sealer: sealer_of(),
            access_revocation_ttl_secs: a.access_revocation_ttl_secs,
            session_cookie_secure: a.session_cookie_secure,
        }));
        checks.push(Check::postgres("users", pool));
    }
    if targets.runs(Target::Training) {
        let pool = pool_of("training")?;
        api = api.merge(fitsync_training::router(fitsync_training::TrainingState {
            pool: pool.clone(),
            auth: auth_of(),
            search: Arc::new(fitsync_training::ExerciseSearch::new(
                &settings.opensearch.url,
                settings.opensearch.index("exercises"),
            )?),
        }));
        // Not required: without OpenSearch only the exercise search answers 503.
        checks.push(Check::opensearch(&settings.opensearch.url, false)?);
        checks.push(Check::access_projection(
            "training",
            pool.clone(),
            settings.auth.access_max_staleness_secs,
        ));
        checks.push(Check::postgres("training", pool));
    }
    // Local stand-ins for providers (payments, SMS), served beside the API.
    let mut simulators = Vec::new();
    if targets.runs(Target::Schedule) {
        let pool = pool_of("schedule")?;
        let s = &settings.schedule;
        let own_webhook = format!("http://{}/api/payments/webhook", listener.local_addr()?);
        let gateway = Arc::new(fitsync_schedule::SimulatedGateway::from_settings(
            s,
            &settings.server.public_url,
            &own_webhook,
            all,
        )?);
        simulators.push(fitsync_schedule::simulator(gateway.clone(), pool.clone()));
        tasks.spawn(fitsync_schedule::run_sweeper(
            pool.clone(),
            Duration::from_secs(s.sweep_interval_secs.max(1)),
            chrono::Duration::minutes(s.no_show_grace_min),
            shutdown.clone(),
        ));
        api = api.merge(fitsync_schedule::router(fitsync_schedule::ScheduleState {
            pool: pool.clone(),
            auth: auth_of(),
            cache: fitsync_schedule::SlotCache {
                redis: redis.clone().expect("an API target has Redis"),
                prefix: settings.redis.key_prefix.clone(),
                ttl_secs: s.slot_cache_ttl_secs,
            },
            gateway,
        }));
        checks.push(Check::access_projection(
            "schedule",
            pool.clone(),
            settings.auth.access_max_staleness_secs,
        ));
        checks.push(Check::postgres("schedule", pool));
    }
    if targets.runs(Target::Progress) {
        let pool = pool_of("progress")?;
        api = api.merge(fitsync_progress::router(fitsync_progress::ProgressState {
            pool: pool.clone(),
            auth: auth_of(),
        }));
        checks.push(Check::access_projection(
            "progress",
            pool.clone(),
            settings.auth.access_max_staleness_secs,
        ));
        checks.push(Check::postgres("progress", pool));
    }
    if targets.runs(Target::Notifications) {
        let pool = pool_of("notifications")?;
        let hub = fitsync_notifications::Hub::start(
            pool.clone(),
            Duration::from_millis(settings.delivery.stream_resync_ms.max(100)),
            shutdown.clone(),
        );
        let vapid = Arc::new(fitsync_notifications::push::Vapid::from_settings(
            &settings.push,
            all,
        )?);
        let push = fitsync_notifications::push::PushSender::new(vapid, &settings.push)?;
        let sms = sms_gateway(&settings, &listener, all, &mut simulators)?;
        api = api.merge(fitsync_notifications::router(
            fitsync_notifications::NotificationsState {
                pool: pool.clone(),
                auth: auth_of(),
                hub: hub.clone(),
                push: push.clone(),
                sms: sms.clone(),
            },
        ));
        checks.push(Check::postgres("notifications", pool.clone()));
        // Not required: a mail server down delays emails (they wait in Kafka), nothing else.
        checks.push(Check::tcp(
            "smtp",
            &settings.smtp.host,
            settings.smtp.port,
            false,
        ));
        let mailer =
            fitsync_notifications::Mailer::new(&settings.smtp, &settings.server.public_url)?;
        // A worker per channel, so a slow channel holds up only itself.
        let mut channels = vec![
            fitsync_notifications::Channel::Email(Box::new(mailer.clone())),
            fitsync_notifications::Channel::Push(push),
        ];
        channels.extend(sms.map(fitsync_notifications::Channel::Sms));
        for channel in channels {
            let worker = fitsync_notifications::DeliveryWorker::new(
                pool.clone(),
                channel,
                hub.clone(),
                settings.delivery.clone(),
            );
            tasks.spawn(worker.run(shutdown.clone()));
        }
        let sender = fitsync_notifications::EmailSender::new(
            pool,
            mailer,
            sealer_of(),
            settings.kafka.clone(),
            settings.jobs.clone(),
        )?;
        tasks.spawn(sender.run(shutdown.clone()));
        uses_kafka = true;
    }
    if targets.runs(Target::Relay) {
        // One relay per database that has an outbox.
        for (source, name) in [
            ("users", "users"),
            ("training", "training"),
            ("schedule", "schedule"),
            ("progress", "progress"),
            ("notifications", "notifications"),
        ] {
            let pool = pool_of(name)?;
            if !serves_api {
                checks.push(Check::postgres(name, pool.clone()));
            }
            let mut relay = Relay::new(source, pool, &settings.kafka, settings.relay.clone())?;
            if source == "users" {
                // The access projections measure how current they are by these.
                relay = relay.with_heartbeats(fitsync_events::Topic::Users);
            }
            tasks.spawn(relay.run(shutdown.clone()));
        }
        uses_kafka = true;
    }
    if targets.runs(Target::Analytics) {
        let pool = pool_of("progress")?;
        if !serves_api {
            checks.push(Check::postgres("progress", pool.clone()));
        }
        let job = ProgressAnalytics::new(pool, settings.kafka.clone(), settings.jobs.clone())?;
        tasks.spawn(job.run(shutdown.clone()));
        uses_kafka = true;
    }
    if targets.runs(Target::Alerts) {
        let pool = pool_of("notifications")?;
        if !serves_api {
            checks.push(Check::postgres("notifications", pool.clone()));
        }
        let job = AlertsJob::new(pool, settings.kafka.clone(), settings.jobs.clone())?;
        tasks.spawn(job.run(shutdown.clone()));
        uses_kafka = true;
    }
    if targets.runs(Target::Projector) {
        for name in ["training", "schedule", "progress"] {
            let pool = pool_of(name)?;
            if !serves_api {
                checks.push(Check::postgres(name, pool.clone()));
            }
            let job =
                AccessProjector::new(name, pool, settings.kafka.clone(), settings.jobs.clone())?;
            tasks.spawn(job.run(shutdown.clone()));
        }
        uses_kafka = true;
    }
    if targets.runs(Target::Indexer) {
        let job = EventIndexer::new(
            &settings.opensearch,
            settings.kafka.clone(),
            settings.jobs.clone(),
        )?;
        tasks.spawn(job.run(shutdown.clone()));
        checks.push(Check::opensearch(&settings.opensearch.url, !serves_api)?);
        uses_kafka = true;
    }
    if uses_kafka {
        checks.push(Check::kafka(&settings.kafka, !serves_api)?);
    }
    // A database two targets share is checked once.
    let mut seen = std::collections::HashSet::new();
    checks.retain(|c| seen.insert(c.name().to_owned()));

    let (api, document) = api.split_for_parts();
    let document = Arc::new(fitsync_platform::openapi::finish(document));
    let api = api.route(
        "/api/openapi.json",
        get(move || async move { Json((*document).clone()) }),
    );
    let metrics_listener = match settings.server.metrics_bind {
        Some(addr) => Some(server::bind(addr).await?),
        None => None,
    };
    let api = simulators.into_iter().fold(api, |api, s| api.merge(s));
    let web = if targets.runs(Target::Web) {
        let root = &settings.server.web_root;
        let web = fitsync_platform::web::router(root);
        match (&web, targets.0.contains(&Target::Web)) {
            (None, true) => anyhow::bail!(
                "the web target serves {}, which has no index.html: build the app (npm run build in web/)",
                root.display()
            ),
            (None, false) => {
                tracing::warn!(root = %root.display(), "the web app is not built; serving the API only");
            }
            (Some(_), _) => tracing::info!(root = %root.display(), "serving the web app"),
        }
        web
    } else {
        None
    };
    let app = server::with_common_layers(
        api,
        settings.server.request_timeout(),
        metrics_listener.is_none(),
        web,
    )
    .merge(Readiness::new(checks).router());
    let addr = listener.local_addr()?;
    let grace = settings.server.shutdown_grace();
    tasks.spawn(serve_until(listener, app, shutdown.clone(), grace));
    let metrics_addr = match metrics_listener {
        Some(listener) => {
            let addr = listener.local_addr()?;
            tasks.spawn(serve_until(
                listener,
                server::metrics_only(),
                shutdown.clone(),
                grace,
            ));
            Some(addr)
        }
        None => None,
    };
    tracing::info!(%addr, ?metrics_addr, targets = ?targets.0, "fitsync started");
    Ok(RunningApp {
        addr,
        metrics_addr,
        shutdown,
        tasks,
    })
}

/// Serves until `shutdown`, then drains for at most `grace`.
async fn serve_until(
    listener: TcpListener,
    app: Router,
    shutdown: CancellationToken,
    grace: Duration,
) -> anyhow::Result<()> {
    let served = server::serve(listener, app, shutdown.clone());
    tokio::pin!(served);
    tokio::select! {
        r = &mut served => r?,
        () = async { shutdown.cancelled().await; tokio::time::sleep(grace).await } => {
            tracing::warn!("in-flight requests did not finish within the grace period");
        }
    }
    Ok(())
}

/// The SMS provider `[sms]` configures: its gateway; without one, under `--target all`,
/// the simulated gateway served beside the API (its receipts come back to this process),
/// else none (numbers cannot be set, no alert is texted).
fn sms_gateway(
    settings: &Settings,
    listener: &TcpListener,
    all: bool,
    simulators: &mut Vec<Router>,
) -> anyhow::Result<Option<Arc<dyn fitsync_notifications::sms::SmsProvider>>> {
    use fitsync_notifications::sms;
    let s = &settings.sms;
    // The simulator signs its receipts with the key this process checks them with (made
    // here if none is configured); a real gateway's key must be configured.
    let key = match (&s.gateway_url, all) {
        (None, false) => return Ok(None),
        (None, true) => sms::webhook_key(s, true)?,
        (Some(_), _) => sms::webhook_key(s, false)?,
    };
    let gateway_url = match &s.gateway_url {
        Some(url) => url.clone(),
        None if all => {
            let own = format!("http://{}", listener.local_addr()?);
            let sim = sms::SimulatedSms::new(
                key.clone(),
                &format!("{own}/api/notifications/sms/receipts"),
            );
            simulators.push(sms::simulator_routes(&sim));
            format!("{own}{}", sms::SIMULATOR_PATH)
        }
        None => return Ok(None),
    };
    Ok(Some(Arc::new(sms::HttpGateway::new(&gateway_url, s, key)?)))
}
