use std::{
    collections::HashMap,
    future::Future,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use fitsync::{app, RunningApp, Target, Targets};
use fitsync_platform::Settings;
use rdkafka::{
    consumer::{BaseConsumer, Consumer},
    message::OwnedMessage,
    ClientConfig, Message, Offset, TopicPartitionList,
};
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use sqlx::{postgres::PgPoolOptions, PgPool};
use uuid::Uuid;

pub const PASSWORD: &str = "correct horse battery";

/// Waits, if fewer than ten seconds are left in the current minute, for the next one:
/// per-minute budgets count by the clock's minute, and a test counting to a budget must
/// not straddle two (not a synchronisation: the time itself is what is waited for).
pub async fn start_of_a_minute() {
    let second = chrono::Utc::now().timestamp() % 60;
    if second >= 50 {
        tokio::time::sleep(Duration::from_secs((61 - second) as u64)).await;
    }
}

/// What `select count(*) …` returns.
pub async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

/// Waits until the outbox of `pool`'s database is empty (the relay published it all).
pub async fn outbox_drained(pool: &PgPool, secs: u64, what: &str) {
    eventually(secs, what, || async {
        let n: i64 = sqlx::query_scalar("select count(*) from outbox")
            .fetch_one(pool)
            .await
            .ok()?;
        (n == 0).then_some(())
    })
    .await;
}

/// A request as `who`, with an optional JSON body: the status and the JSON answer
/// (`Null` if there is none).
pub async fn call(
    app: &TestApp,
    who: &Account,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app
        .http
        .request(method, app.url(path))
        .bearer_auth(&who.token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Waits until the training service's access projection has `trainer` training `client`.
pub async fn trains_in_training(env: &TestEnv, trainer: Uuid, client: Uuid) {
    let training = env.training_db();
    eventually(60, "the relationship projected", || async {
        let n: i64 = sqlx::query_scalar(
            "select count(*) from access_grants where grantee = $1 and subject = $2 and active",
        )
        .bind(trainer)
        .bind(client)
        .fetch_one(&training)
        .await
        .ok()?;
        (n == 1).then_some(())
    })
    .await;
}

/// The migration imported the exercise library, and its events wait in the training
/// outbox: published once here, as a deployment's first start does, so that every test
/// begins with an empty outbox (relay tests count batches) and finds the library on its
/// topic (search and analytics tests need it).
async fn publish_library(settings: &Settings) {
    let pool =
        fitsync_platform::db::pool(&settings.database, &settings.database.names.training).unwrap();
    let relay = fitsync_ingest::Relay::new(
        "training",
        pool.clone(),
        &settings.kafka,
        settings.relay.clone(),
    )
    .expect("a relay");
    let shutdown = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(relay.run(shutdown.clone()));
    outbox_drained(&pool, 60, "the exercise library published").await;
    shutdown.cancel();
    running.await.unwrap().unwrap();
}

/// Epley's estimated one-rep max, written out here so that expected values do not come
/// from the code under test: `w · (1 + r/30)`, and a single rep is the weight itself.
pub fn epley(weight_kg: f64, reps: i32) -> f64 {
    if reps <= 1 {
        weight_kg
    } else {
        weight_kg * (1.0 + f64::from(reps) / 30.0)
    }
}

/// Brzycki's, likewise: `w · 36 / (37 − r)`.
pub fn brzycki(weight_kg: f64, reps: i32) -> f64 {
    weight_kg * 36.0 / (37.0 - f64::from(reps))
}

/// Polls `check` until it returns `Some`, or fails the test after `secs` seconds. This
/// waits for eventual consistency; it is not a performance assertion.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {secs}s waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Fails the whole run if one test outlives its limit. A watchdog thread, not a tokio
/// timer: when the runtime's workers are blocked (the bug a test is looking for), no
/// timer of that runtime fires, and a hung test would otherwise eat CI's time.
pub struct Deadline {
    done: Option<std::sync::mpsc::Sender<()>>,
}

/// Seconds one end-to-end test may take (`FITSYNC_TEST_TIMEOUT_SECS`, default 300).
pub fn test_limit() -> Duration {
    let secs = std::env::var("FITSYNC_TEST_TIMEOUT_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    Duration::from_secs(secs)
}

impl Deadline {
    pub fn start(limit: Duration) -> Self {
        let test = std::thread::current().name().unwrap_or("a test").to_owned();
        let (done, wait) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(limit) {
                // Straight to the process's stderr: `eprintln!` would go to the test's
                // captured output, which an abort never prints.
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "\n{test} did not finish within {}s: aborting the test run",
                    limit.as_secs()
                );
                std::process::abort();
            }
        });
        Self { done: Some(done) }
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            let _ = done.send(());
        }
    }
}

pub use fitsync::seed::decoded;

/// The token in an email's link (`…?token=<token>`).
pub fn token_in(email: &str, path: &str) -> String {
    fitsync::seed::token_in(email, path).expect("a link")
}

/// Every message in the Maildir addressed to `to`, as delivered.
pub fn emails_to_now(to: &str) -> Vec<String> {
    let needle = format!("To: {to}");
    std::fs::read_dir(TestEnv::maildir().join("new"))
        .map(|dir| {
            dir.flatten()
                .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
                .filter(|text| text.contains(&needle))
                .collect()
        })
        .unwrap_or_default()
}

/// Databases, topics and an index of one test, and the settings that point at them.
pub struct TestEnv {
    pub settings: Settings,
    _deadline: Deadline,
    _turn: Turn,
}

/// Tests share the machine: most run side by side, a test that measures latency runs
/// alone (`TestEnv::alone`). Its turn waits for the running tests to finish, and no
/// test starts while it runs. The guards are held, never read: dropping them ends the turn.
#[allow(dead_code)]
enum Turn {
    Shared(tokio::sync::OwnedRwLockReadGuard<()>),
    Alone(tokio::sync::OwnedRwLockWriteGuard<()>),
}

fn turns() -> std::sync::Arc<tokio::sync::RwLock<()>> {
    static TURNS: std::sync::OnceLock<std::sync::Arc<tokio::sync::RwLock<()>>> =
        std::sync::OnceLock::new();
    TURNS
        .get_or_init(|| std::sync::Arc::new(tokio::sync::RwLock::new(())))
        .clone()
}

impl TestEnv {
    pub async fn new() -> Self {
        Self::with_limit(test_limit()).await
    }

    /// A test that needs more than the usual time limit (the contract fuzzing: four
    /// schemathesis runs over every operation).
    pub async fn with_limit(limit: Duration) -> Self {
        let turn = Turn::Shared(turns().read_owned().await);
        Self::prepare(limit, turn).await
    }

    /// A test that measures latency: it runs with no other test beside it, so that what
    /// it measures is the platform, not its neighbours' load.
    pub async fn alone() -> Self {
        let turn = Turn::Alone(turns().write_owned().await);
        Self::prepare(test_limit(), turn).await
    }

    async fn prepare(limit: Duration, turn: Turn) -> Self {
        // The time limit counts from the test's turn, not from its wait for one.
        let deadline = Deadline::start(limit);
        let id = Uuid::new_v4().simple().to_string()[..10].to_owned();
        // FITSYNC__ variables (from scripts/stack.sh env) point at external servers.
        let mut settings = Settings::load(None).expect("settings");
        settings.server.bind = "127.0.0.1:0".parse().unwrap();
        // Broker outages are the point of some tests: librdkafka's reconnect chatter is not news.
        settings.telemetry.log_level = "warn,librdkafka=off,rdkafka::client=off".into();
        settings.database.max_connections = 5;
        settings.kafka.topic_prefix = format!("t{id}.");
        settings.kafka.partitions = 3;
        settings.opensearch.index_prefix = format!("t{id}-");
        settings.relay.poll_interval_ms = 200;
        settings.redis.key_prefix = format!("t{id}:");
        // Processes of one test share a signing key, as a deployment's do (only `all`
        // may run without one).
        settings.auth.signing_key_pem = Some(
            fitsync_platform::auth::generate_pem()
                .expect("a key")
                .into(),
        );
        settings.auth.email_token_key = Some(
            fitsync_platform::sealed::generate_key()
                .expect("a key")
                .into(),
        );
        settings.push.vapid_private_key = Some(
            fitsync_notifications::push::generate_private_key()
                .expect("a key")
                .into(),
        );
        let names = &mut settings.database.names;
        names.users = format!("t_{id}_users");
        names.training = format!("t_{id}_training");
        names.schedule = format!("t_{id}_schedule");
        names.progress = format!("t_{id}_progress");
        names.notifications = format!("t_{id}_notifications");
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(
                fitsync_platform::db::connect_options(&settings.database, "postgres").unwrap(),
            )
            .await
            .expect("PostgreSQL is up (scripts/stack.sh start)");
        let names = settings.database.names.clone();
        for db in [
            &names.users,
            &names.training,
            &names.schedule,
            &names.progress,
            &names.notifications,
        ] {
            sqlx::query(&format!("create database \"{db}\""))
                .execute(&admin)
                .await
                .unwrap();
        }
        fitsync_platform::telemetry::init(&settings.telemetry);
        app::migrate(&settings, Duration::from_secs(10))
            .await
            .expect("migrations apply");
        publish_library(&settings).await;
        Self {
            settings,
            _deadline: deadline,
            _turn: turn,
        }
    }

    pub fn pool(&self, database: &str) -> PgPool {
        fitsync_platform::db::pool(&self.settings.database, database).unwrap()
    }

    pub fn training_db(&self) -> PgPool {
        self.pool(&self.settings.database.names.training)
    }

    pub fn schedule_db(&self) -> PgPool {
        self.pool(&self.settings.database.names.schedule)
    }

    pub fn progress_db(&self) -> PgPool {
        self.pool(&self.settings.database.names.progress)
    }

    pub fn users_db(&self) -> PgPool {
        self.pool(&self.settings.database.names.users)
    }

    pub fn notifications_db(&self) -> PgPool {
        self.pool(&self.settings.database.names.notifications)
    }

    /// The Maildir the local SMTP server delivers into (`scripts/stack.sh`).
    pub fn maildir() -> PathBuf {
        std::env::var_os("FITSYNC_MAILDIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join(".fitsync/mail"))
    }

    /// Waits for a message to `to` whose text contains `marker`; returns its text.
    pub async fn email_to(to: &str, marker: &str) -> String {
        let dir = Self::maildir().join("new");
        let needle = format!("To: {to}");
        eventually(60, &format!("an email to {to}"), || {
            let dir = dir.clone();
            let needle = needle.clone();
            async move {
                std::fs::read_dir(&dir).ok()?.flatten().find_map(|entry| {
                    let text = std::fs::read_to_string(entry.path()).ok()?;
                    (text.contains(&needle) && text.contains(marker)).then_some(text)
                })
            }
        })
        .await
    }

    pub fn topic(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.settings.kafka.topic_prefix)
    }

    /// Starts `targets` in this process.
    pub async fn start(&self, targets: &[Target]) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        self.start_with(self.settings.clone(), targets, listener)
            .await
    }

    /// Starts `targets` in this process with `settings`, on `listener`.
    pub async fn start_with(
        &self,
        settings: Settings,
        targets: &[Target],
        listener: tokio::net::TcpListener,
    ) -> TestApp {
        let running = app::start(
            settings,
            Targets::new(targets.to_vec()),
            listener,
            tokio_util::sync::CancellationToken::new(),
        )
        .await
        .expect("app starts");
        let app = TestApp {
            base: format!("http://{}", running.addr),
            metrics_addr: running.metrics_addr,
            http: reqwest::Client::new(),
            users_db: self.users_db(),
            running: Some(running),
        };
        // With the projector in this process, tests begin once the services' access
        // projections are current (before that they fail closed for non-owners).
        if targets.contains(&Target::All) || targets.contains(&Target::Projector) {
            eventually(90, "the access projections to be current", || async {
                let body: Value = app
                    .http
                    .get(app.url("/readyz"))
                    .send()
                    .await
                    .ok()?
                    .json()
                    .await
                    .ok()?;
                body["checks"]
                    .as_object()?
                    .iter()
                    .filter(|(name, _)| name.starts_with("access_projection."))
                    .all(|(_, check)| check["status"] == "ok")
                    .then_some(())
            })
            .await;
        }
        app
    }

    /// The environment that makes a `fitsync` child process use this test's servers.
    pub fn child_env(&self) -> HashMap<String, String> {
        let s = &self.settings;
        let n = &s.database.names;
        [
            ("DATABASE__URL", s.database.url.expose_secret().to_owned()),
            ("DATABASE__NAMES__USERS", n.users.clone()),
            ("DATABASE__NAMES__TRAINING", n.training.clone()),
            ("DATABASE__NAMES__SCHEDULE", n.schedule.clone()),
            ("DATABASE__NAMES__PROGRESS", n.progress.clone()),
            ("DATABASE__NAMES__NOTIFICATIONS", n.notifications.clone()),
            ("KAFKA__BROKERS", s.kafka.brokers.clone()),
            ("KAFKA__TOPIC_PREFIX", s.kafka.topic_prefix.clone()),
            ("KAFKA__PARTITIONS", s.kafka.partitions.to_string()),
            ("OPENSEARCH__URL", s.opensearch.url.clone()),
            (
                "OPENSEARCH__INDEX_PREFIX",
                s.opensearch.index_prefix.clone(),
            ),
            ("REDIS__KEY_PREFIX", s.redis.key_prefix.clone()),
            (
                "AUTH__SIGNING_KEY_PEM",
                s.auth
                    .signing_key_pem
                    .as_ref()
                    .map(|k| k.expose_secret().to_owned())
                    .unwrap_or_default(),
            ),
            ("AUTH__JWKS_URL", s.auth.jwks_url.clone()),
            (
                "AUTH__EMAIL_TOKEN_KEY",
                s.auth
                    .email_token_key
                    .as_ref()
                    .map(|k| k.expose_secret().to_owned())
                    .unwrap_or_default(),
            ),
            (
                "PUSH__VAPID_PRIVATE_KEY",
                s.push
                    .vapid_private_key
                    .as_ref()
                    .map(|k| k.expose_secret().to_owned())
                    .unwrap_or_default(),
            ),
            ("SERVER__BIND", "127.0.0.1:0".into()),
            ("TELEMETRY__LOG_LEVEL", s.telemetry.log_level.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (format!("FITSYNC__{k}"), v))
        .collect()
    }

    /// Spawns `fitsync run --target <target>` as a separate process, killed when the
    /// returned handle drops (also when the test fails).
    pub fn spawn_process(&self, target: &str, extra_env: &[(&str, &str)]) -> Process {
        Process::new(
            Command::new(env!("CARGO_BIN_EXE_fitsync"))
                .args(["run", "--target", target])
                .envs(self.child_env())
                .envs(extra_env.iter().copied())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("spawn fitsync"),
        )
    }

    /// Spawns `fitsync run --target <target>` on a port of its own, and a client of it
    /// (ready once `/healthz` answers). For what must not share this test process's
    /// metrics, or must be killed.
    pub async fn spawn_app(&self, target: &str, extra_env: &[(&str, &str)]) -> (Process, TestApp) {
        let port = free_port();
        let bind = format!("127.0.0.1:{port}");
        let mut env: Vec<(&str, &str)> = vec![("FITSYNC__SERVER__BIND", &bind)];
        env.extend_from_slice(extra_env);
        let process = self.spawn_process(target, &env);
        let app = TestApp {
            base: format!("http://{bind}"),
            metrics_addr: None,
            http: reqwest::Client::new(),
            users_db: self.users_db(),
            running: None,
        };
        eventually(60, &format!("the {target} process to serve"), || async {
            let r = app.http.get(app.url("/healthz")).send().await.ok()?;
            (r.status() == 200).then_some(())
        })
        .await;
        (process, app)
    }

    /// Publishes `message` again, as it was (key and payload), to `topic`: a duplicate
    /// a re-publishing producer would make.
    pub async fn produce(&self, topic: &str, message: &OwnedMessage) {
        self.produce_raw(topic, message.key(), message.payload().unwrap())
            .await;
    }

    /// Publishes `payload` under `key` to `topic`.
    pub async fn produce_raw(&self, topic: &str, key: Option<&[u8]>, payload: &[u8]) {
        let producer: rdkafka::producer::FutureProducer =
            fitsync_platform::kafka::producer_config(&self.settings.kafka)
                .create()
                .unwrap();
        let mut record = rdkafka::producer::FutureRecord::<[u8], [u8]>::to(topic).payload(payload);
        if let Some(key) = key {
            record = record.key(key);
        }
        producer
            .send(record, Duration::from_secs(10))
            .await
            .map_err(|(e, _)| e)
            .unwrap();
    }

    /// Reads every message of `topic` from the beginning, until `expected` arrived.
    pub async fn read_topic(&self, topic: &str, expected: usize) -> Vec<OwnedMessage> {
        let brokers = self.settings.kafka.brokers.clone();
        let topic = topic.to_owned();
        tokio::task::spawn_blocking(move || {
            let consumer: BaseConsumer = ClientConfig::new()
                .set("bootstrap.servers", &brokers)
                .set("group.id", format!("reader-{}", Uuid::new_v4()))
                .set("enable.auto.commit", "false")
                .create()
                .unwrap();
            let metadata = consumer
                .fetch_metadata(Some(&topic), Duration::from_secs(10))
                .unwrap();
            let mut tpl = TopicPartitionList::new();
            for p in metadata.topics()[0].partitions() {
                tpl.add_partition_offset(&topic, p.id(), Offset::Beginning)
                    .unwrap();
            }
            consumer.assign(&tpl).unwrap();
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            let mut out = Vec::new();
            while out.len() < expected && std::time::Instant::now() < deadline {
                if let Some(m) = consumer.poll(Duration::from_millis(200)) {
                    out.push(m.unwrap().detach());
                }
            }
            // Anything beyond `expected` that is already there is also returned.
            while let Some(Ok(m)) = consumer.poll(Duration::from_millis(500)) {
                out.push(m.detach());
            }
            out
        })
        .await
        .unwrap()
    }
}

/// A child process of a test; `kill -9` when dropped, so that a failing test leaves
/// nothing running. Its pid is also listed in `.fitsync/test-pids/`, from where
/// `scripts/test.sh` kills what a test run that was aborted (no drop ran) left behind.
pub struct Process(pub Child);

impl Process {
    pub fn new(child: Child) -> Self {
        let dir = repo_root().join(".fitsync/test-pids");
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join(child.id().to_string()), "");
        Self(child)
    }
}

impl std::ops::Deref for Process {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Process {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
        let _ = std::fs::remove_file(
            repo_root()
                .join(".fitsync/test-pids")
                .join(self.0.id().to_string()),
        );
    }
}

pub struct TestApp {
    pub base: String,
    /// Where `/metrics` is served, when it has a port of its own.
    pub metrics_addr: Option<std::net::SocketAddr>,
    pub http: reqwest::Client,
    /// Where the harness marks the accounts it registers as verified.
    users_db: PgPool,
    running: Option<RunningApp>,
}

pub struct Account {
    pub id: Uuid,
    pub email: String,
    pub token: String,
    pub refresh: Option<String>,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Registers (always 202), marks the address verified (a shortcut through the
    /// database: the emailed verification itself is tested in `email.rs`), signs in.
    pub async fn register(&self, role: &str) -> Account {
        let account = self.register_unverified(role).await;
        sqlx::query("update users set email_verified_at = now() where id = $1")
            .bind(account.id)
            .execute(&self.users_db)
            .await
            .unwrap();
        account
    }

    /// Registers and verifies the address the way a person does: the emailed link's token
    /// posted back (the users service then tells the notifications service the address).
    pub async fn register_verified_by_email(&self, role: &str) -> Account {
        let account = self.register_unverified(role).await;
        let email = TestEnv::email_to(&account.email, "Confirm your FitSync email").await;
        let token = token_in(&email, "/verify-email");
        let r = self
            .http
            .post(self.url("/api/auth/verify-email"))
            .bearer_auth(&account.token)
            .json(&json!({ "token": token }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        account
    }

    /// Registers (always 202) and signs in, the address left unverified.
    pub async fn register_unverified(&self, role: &str) -> Account {
        let email = format!("{}-{}@example.com", role, Uuid::new_v4().simple());
        let response = self
            .http
            .post(self.url("/api/auth/register"))
            .json(&json!({"email": email, "password": PASSWORD, "display_name": "Test", "role": role}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        self.signed_in(email).await
    }

    async fn signed_in(&self, email: String) -> Account {
        let body: Value = self.sign_in(&email, PASSWORD).await.json().await.unwrap();
        let token = body["access_token"].as_str().expect("signed in").to_owned();
        let me: Value = self
            .http
            .get(self.url("/api/users/me"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Account {
            id: me["id"].as_str().unwrap().parse().unwrap(),
            email,
            token,
            refresh: body["refresh_token"].as_str().map(str::to_owned),
        }
    }

    /// An admin: registered as a client, promoted in the database, signed in again.
    pub async fn admin(&self, env: &TestEnv) -> Account {
        let client = self.register("client").await;
        sqlx::query("update users set role = 'admin' where id = $1")
            .bind(client.id)
            .execute(&env.users_db())
            .await
            .unwrap();
        self.signed_in(client.email).await
    }

    /// The `/metrics` text, once it contains `metric` (or the test fails after `secs`).
    pub async fn metrics_with(&self, metric: &str, secs: u64) -> String {
        eventually(secs, metric, || async {
            let text = self
                .http
                .get(self.url("/metrics"))
                .send()
                .await
                .ok()?
                .text()
                .await
                .ok()?;
            text.contains(metric).then_some(text)
        })
        .await
    }

    /// An anonymous GET, as JSON.
    pub async fn public_json(&self, path: &str) -> Value {
        self.http
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The OAuth2 password grant.
    pub async fn sign_in(&self, email: &str, password: &str) -> reqwest::Response {
        self.grant(&[
            ("grant_type", "password"),
            ("username", email),
            ("password", password),
        ])
        .await
    }

    /// Any grant at the token endpoint.
    pub async fn grant(&self, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.url("/api/auth/token"))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    pub async fn log_set(&self, who: &Account, body: Value) -> reqwest::Response {
        self.http
            .post(self.url("/api/workouts/sets"))
            .bearer_auth(&who.token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, who: &Account, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(&who.token)
            .send()
            .await
            .unwrap()
    }

    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await.expect("clean stop");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(running) = &self.running {
            running.shutdown.cancel();
        }
    }
}

/// A Kafka broker of the test's own, on free ports, that the test can kill and restart.
pub struct PrivateBroker {
    pub dir: PathBuf,
    pub port: u16,
    controller_port: u16,
    child: Option<Process>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

impl PrivateBroker {
    pub async fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("fitsync-kafka-{}", Uuid::new_v4().simple()));
        let mut broker = Self {
            dir,
            port: free_port(),
            controller_port: free_port(),
            child: None,
        };
        broker.resume().await;
        broker
    }

    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts (or restarts, on the same data) and waits until it accepts connections.
    pub async fn resume(&mut self) {
        let child = Command::new("bash")
            .arg(repo_root().join("scripts/stack.sh"))
            .args([
                "kafka-exec",
                self.dir.to_str().unwrap(),
                &self.port.to_string(),
                &self.controller_port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start a broker");
        self.child = Some(Process::new(child));
        let port = self.port;
        eventually(90, "the private broker", || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .ok()
                .map(|_| ())
        })
        .await;
    }

    /// `SIGSTOP`: the broker stops answering, connections stay open (a long pause).
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    /// `SIGCONT`: it goes on where it stopped.
    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("a running broker").id();
        let status = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill {signal} {pid}");
    }

    /// `kill -9`: no clean shutdown, as in a crash.
    pub fn kill(&mut self) {
        // Dropping the process kills it (`kill -9`, as in a crash).
        self.child.take();
    }
}

impl Drop for PrivateBroker {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Header value of a Kafka message, as text.
pub fn header(m: &OwnedMessage, name: &str) -> Option<String> {
    use rdkafka::message::Headers;
    let headers = m.headers()?;
    headers
        .iter()
        .find(|h| h.key == name)
        .and_then(|h| h.value)
        .map(|v| String::from_utf8_lossy(v).into_owned())
}
