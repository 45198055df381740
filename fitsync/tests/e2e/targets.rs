//! Every target runs by itself, as it does in its own Deployment: it starts, serves,
//! and is ready; only the users service holds the signing key, the others verify with
//! its JWKS; `/readyz` names what each needs and no database; a stream job outlives a
//! dependency that is down at boot; `/metrics` can have a port of its own.

use std::{process::Stdio, time::Duration};

use fitsync::Target;
use serde_json::Value;
use tokio::{
    io::copy_bidirectional,
    net::{TcpListener, TcpStream},
};

use crate::harness::{eventually, TestApp, TestEnv};

/// The readiness document of `app`, once it says ready (or the test fails).
async fn ready(app: &TestApp, what: &str) -> Value {
    eventually(60, &format!("{what} to be ready"), || async {
        let response = app.http.get(app.url("/readyz")).send().await.ok()?;
        let ok = response.status() == 200;
        let body: Value = response.json().await.ok()?;
        ok.then_some(body)
    })
    .await
}

fn check_names(body: &Value) -> Vec<String> {
    let mut names: Vec<String> = body["checks"]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_target_runs_alone_serves_and_is_ready() {
    let mut env = TestEnv::new().await;
    // The issuer first: every other API target fetches its keys from it.
    let users = env.start(&[Target::Users]).await;
    env.settings.auth.jwks_url = users.url("/.well-known/jwks.json");
    let client = users.register("client").await;
    let body = ready(&users, "users").await;
    assert_eq!(check_names(&body), ["postgres.users", "redis"]);

    let names = env.settings.database.names.clone();
    // Outside `all`, the schedule service needs the payment gateway's webhook key.
    env.settings.schedule.webhook_secret =
        Some(fitsync_platform::sealed::generate_key().unwrap().into());
    let expected: [(Target, &[&str], Option<String>); 9] = [
        (
            Target::Training,
            &[
                "access_projection.training",
                "opensearch",
                "postgres.training",
                "redis",
                "token_keys",
            ],
            Some("/api/workouts/sets".into()),
        ),
        (
            Target::Progress,
            &[
                "access_projection.progress",
                "postgres.progress",
                "redis",
                "token_keys",
            ],
            Some(format!("/api/progress/{}/e1rm", client.id)),
        ),
        (
            Target::Notifications,
            &[
                "kafka",
                "postgres.notifications",
                "redis",
                "smtp",
                "token_keys",
            ],
            Some("/api/notifications/deliveries".into()),
        ),
        (
            Target::Schedule,
            &[
                "access_projection.schedule",
                "postgres.schedule",
                "redis",
                "token_keys",
            ],
            Some("/api/bookings".into()),
        ),
        (
            Target::Relay,
            &[
                "kafka",
                "postgres.notifications",
                "postgres.progress",
                "postgres.schedule",
                "postgres.training",
                "postgres.users",
            ],
            None,
        ),
        (Target::Analytics, &["kafka", "postgres.progress"], None),
        (Target::Alerts, &["kafka", "postgres.notifications"], None),
        (
            Target::Projector,
            &[
                "kafka",
                "postgres.progress",
                "postgres.schedule",
                "postgres.training",
            ],
            None,
        ),
        (Target::Indexer, &["kafka", "opensearch"], None),
    ];
    for (target, checks, read) in expected {
        let app = env.start(&[target]).await;
        let what = format!("{target:?}");
        let health = app.http.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(health.status(), 200, "{what} is alive");
        let body = ready(&app, &what).await;
        assert_eq!(check_names(&body), checks, "{what}: {body}");
        let text = body.to_string();
        for db in [
            &names.users,
            &names.training,
            &names.schedule,
            &names.progress,
            &names.notifications,
        ] {
            assert!(
                !text.contains(db.as_str()),
                "{what} names a database: {text}"
            );
        }
        if let Some(path) = read {
            // A token the users process signed, verified here with its published keys.
            let response = app.get(&client, &path).await;
            assert_eq!(response.status(), 200, "{what} GET {path}");
            let anonymous = app.http.get(app.url(&path)).send().await.unwrap();
            assert_eq!(anonymous.status(), 401, "{what} GET {path} anonymously");
        }
        app.stop().await;
    }
    users.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_is_fetched_and_unknown_keys_are_refused() {
    let mut env = TestEnv::new().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer_addr = listener.local_addr().unwrap();
    let users = env
        .start_with(env.settings.clone(), &[Target::Users], listener)
        .await;
    env.settings.auth.jwks_url = users.url("/.well-known/jwks.json");
    let training = env.start(&[Target::Training]).await;
    let client = users.register("client").await;
    assert_eq!(
        training.get(&client, "/api/workouts/sets").await.status(),
        200
    );

    // The users service rotates its key (the old one retired) and comes back at the
    // same address; the training process, which cached the old key set, learns the new
    // key when a token names it.
    let mut rotated = env.settings.clone();
    rotated.auth.retired_keys_pem = vec![env.settings.auth.signing_key_pem.clone().unwrap()];
    rotated.auth.signing_key_pem = Some(fitsync_platform::auth::generate_pem().unwrap().into());
    users.stop().await;
    let listener = TcpListener::bind(issuer_addr).await.unwrap();
    let users = env
        .start_with(rotated.clone(), &[Target::Users], listener)
        .await;
    let fresh = users.register("client").await;
    eventually(30, "a token of the new key to verify", || async {
        (training.get(&fresh, "/api/workouts/sets").await.status() == 200).then_some(())
    })
    .await;
    assert_eq!(
        training.get(&client, "/api/workouts/sets").await.status(),
        200,
        "a token of the retired key still verifies"
    );

    // Signed by a key the issuer never published: refused, however often it is tried.
    let mut stranger = rotated.auth.clone();
    stranger.signing_key_pem = Some(fitsync_platform::auth::generate_pem().unwrap().into());
    stranger.retired_keys_pem = vec![];
    let stranger = fitsync_platform::KeySet::from_settings(&stranger, false).unwrap();
    let (token, _) = stranger
        .issue(fresh.id, fitsync_platform::Role::Admin, None)
        .unwrap();
    for _ in 0..3 {
        let response = training
            .http
            .get(training.url("/api/workouts/sets"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "an unknown key id is refused");
    }
    training.stop().await;
    users.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_users_service_outside_all_refuses_to_start_without_a_signing_key() {
    let env = TestEnv::new().await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_fitsync"))
        .args(["run", "--target", "users"])
        .envs(env.child_env())
        .env_remove("FITSYNC__AUTH__SIGNING_KEY_PEM")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("the process exits instead of serving")
        .unwrap();
    assert!(!status.success(), "it refused to start: {status:?}");
    let mut stderr = String::new();
    tokio::io::AsyncReadExt::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr)
        .await
        .unwrap();
    assert!(stderr.contains("signing_key_pem"), "it says why: {stderr}");

    // Positive control: the same command with the key starts and serves.
    let mut env_with_key = env.child_env();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    env_with_key.insert("FITSYNC__SERVER__BIND".into(), format!("127.0.0.1:{port}"));
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_fitsync"))
        .args(["run", "--target", "users"])
        .envs(env_with_key)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    eventually(60, "the users process to serve", || async {
        let r = http
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            .ok()?;
        (r.status() == 200).then_some(())
    })
    .await;
    child.kill().await.unwrap();
}

/// Forwards connections from a port of its own to `upstream`, once started.
async fn forward(listener: TcpListener, upstream: String) {
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else {
            return;
        };
        let upstream = upstream.clone();
        tokio::spawn(async move {
            if let Ok(mut outbound) = TcpStream::connect(&upstream).await {
                let _ = copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_job_outlives_opensearch_down_at_boot_and_metrics_get_their_own_port() {
    let mut env = TestEnv::new().await;
    // OpenSearch "comes up" later: a port nobody listens on yet, forwarded later.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let real = env
        .settings
        .opensearch
        .url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    env.settings.opensearch.url = format!("http://127.0.0.1:{port}");
    env.settings.server.metrics_bind = Some("127.0.0.1:0".parse().unwrap());
    let app = env
        .start(&[Target::Users, Target::Relay, Target::Indexer])
        .await;

    // Not ready, yet serving: the indexer retries instead of stopping the process.
    let readyz = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(
        readyz.status(),
        200,
        "OpenSearch is not required with an API"
    );
    let body: Value = readyz.json().await.unwrap();
    assert_eq!(body["checks"]["opensearch"]["status"], "down", "{body}");
    let client = app.register("client").await;
    assert_eq!(app.get(&client, "/api/users/me").await.status(), 200);

    // /metrics on its own port, and not with the API.
    let metrics_addr = app.metrics_addr.expect("a metrics port");
    let metrics = app
        .http
        .get(format!("http://{metrics_addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(metrics.text().await.unwrap().contains("fitsync_"));
    let on_api = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(on_api.status(), 404);

    // OpenSearch comes up: the indexer creates its index and indexes the registration.
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let forwarding = tokio::spawn(forward(listener, real));
    let http = reqwest::Client::new();
    let index = format!("{}events", env.settings.opensearch.index_prefix);
    let url = format!(
        "{}/{index}/_search?q=type:fitsync.user.registered.v1",
        env.settings.opensearch.url
    );
    eventually(
        120,
        "the registration indexed after OpenSearch came up",
        || async {
            let body: Value = http.get(&url).send().await.ok()?.json().await.ok()?;
            (body["hits"]["total"]["value"].as_u64()? >= 1).then_some(())
        },
    )
    .await;
    ready(&app, "the indexer").await;
    forwarding.abort();
    app.stop().await;
}
