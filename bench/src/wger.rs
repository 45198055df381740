//! FitSync against wger, the open-source peer (issue 13): the same authenticated read
//! and write on both, loaded by the same closed loops (`api::closed_loop`: the same
//! client, connections and duration), one side after the other in one run.
//!
//! - read: one client's logged sets, newest first, a page of 100 — FitSync's
//!   `GET /api/workouts/sets`, wger's `GET /api/v2/workoutlog/?ordering=-date,-id&limit=100`;
//!   each side holds the same 200 logged sets of that client before the run;
//! - write: logging one set — FitSync's `POST /api/workouts/sets` (the set and its outbox
//!   row written by one statement), wger's `POST /api/v2/workoutlog/`.
//!
//! FitSync runs as it ships: the users and training services in one release process.
//! wger 2.1 runs as `scripts/wger.sh` sets it up: under gunicorn with the recommended
//! (2 × cores) + 1 sync workers, on the same PostgreSQL. gunicorn's sync workers close
//! each connection after its answer, so wger's side connects once per request; that is
//! how it is deployed by default, and it is part of what is measured.

use std::{collections::HashMap, path::PathBuf, process::Command, sync::Arc};

use anyhow::Context;
use serde_json::{json, Value};

use crate::{
    api::{closed_loop, Measured, WARMUP},
    Platform,
};
use fitsync_platform::Settings;

/// Sets the client holds on each side before the run (wger's side: `--logs`).
const LOGS: u64 = 200;

/// wger under gunicorn, stopped when dropped.
struct Wger {
    vars: HashMap<String, String>,
    script: PathBuf,
}

impl Wger {
    fn start(id: &str) -> anyhow::Result<Self> {
        let script = std::env::current_dir()?.join("scripts/wger.sh");
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let out = Command::new("bash")
            .arg(&script)
            .args(["start", "--db", &format!("bench_{id}_wger")])
            .args(["--port", &port.to_string(), "--logs", &LOGS.to_string()])
            .stderr(std::process::Stdio::inherit())
            .output()
            .context("scripts/wger.sh")?;
        anyhow::ensure!(out.status.success(), "scripts/wger.sh start failed");
        let vars = String::from_utf8(out.stdout)?
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Ok(Self { vars, script })
    }

    fn var(&self, key: &str) -> anyhow::Result<&str> {
        self.vars
            .get(key)
            .map(String::as_str)
            .with_context(|| format!("scripts/wger.sh printed no {key}"))
    }
}

impl Drop for Wger {
    fn drop(&mut self) {
        if let Some(port) = self.vars.get("WGER_PORT") {
            let _ = Command::new("bash")
                .arg(&self.script)
                .args(["stop", "--port", port])
                .status();
        }
    }
}

fn row(side: &str, what: &str, m: &Measured) -> String {
    format!(
        "| {side} | {what} | {:.0} | {:.1} | {:.1} |",
        m.rate,
        m.ms(0.5),
        m.ms(0.99)
    )
}

pub async fn run(
    settings: &Settings,
    id: &str,
    binary: &PathBuf,
    seconds: u64,
    connections: usize,
) -> anyhow::Result<()> {
    println!(
        "FitSync against wger: closed loops of {connections} connections, {seconds} s each after {} s of warm-up",
        WARMUP.as_secs()
    );
    let platform = Platform::start_targets(
        settings,
        id,
        "g",
        binary,
        "users,training",
        &[(
            "FITSYNC__DATABASE__MAX_CONNECTIONS",
            connections.to_string(),
        )],
    )
    .await?;
    let (_, token) = platform.account("peer@example.com", "client").await?;
    for n in 0..LOGS {
        platform
            .http
            .post(format!("{}/api/workouts/sets", platform.api))
            .bearer_auth(&token)
            .json(&json!({"exercise": "back-squat", "reps": 1 + n % 8,
                          "weight_kg": 60.0 + (n % 20) as f64 * 2.5, "rir": 2,
                          "performed_at": chrono::Utc::now() - chrono::Duration::hours(i64::try_from(n)? * 12)}))
            .send()
            .await?
            .error_for_status()?;
    }
    let wger = Wger::start(id)?;
    let wger_url = wger.var("WGER_URL")?.to_owned();
    let wger_auth = format!("Token {}", wger.var("WGER_TOKEN")?);
    let wger_read = format!("{wger_url}{}", wger.var("WGER_READ_PATH")?);
    let wger_write = format!("{wger_url}{}", wger.var("WGER_WRITE_PATH")?);
    let wger_body: Value = serde_json::from_str(wger.var("WGER_WRITE_BODY")?)?;
    let page: usize = wger.var("WGER_PAGE_SIZE")?.parse()?;
    println!("wger: {} gunicorn workers", wger.var("WGER_WORKERS")?);

    // Both pages hold as many rows before the load starts: the same work to serialise.
    let fitsync_read = format!("{}/api/workouts/sets?limit={page}", platform.api);
    let http = platform.http.clone();
    let ours: Value = http
        .get(&fitsync_read)
        .bearer_auth(&token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let theirs: Value = http
        .get(&wger_read)
        .header("Authorization", &wger_auth)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let rows = |v: &Value| {
        v.as_array()
            .or_else(|| v["items"].as_array())
            .or_else(|| v["results"].as_array())
            .map_or(0, Vec::len)
    };
    anyhow::ensure!(
        rows(&ours) == page && rows(&theirs) == page,
        "both reads return a full page ({} and {} rows)",
        rows(&ours),
        rows(&theirs)
    );

    let token = Arc::new(token);
    let (url, t, h) = (fitsync_read.clone(), token.clone(), http.clone());
    let our_read = closed_loop(connections, WARMUP, seconds, 200, move |_, _| {
        h.get(&url).bearer_auth(t.as_str()).send()
    })
    .await?;
    let (url, a, h) = (wger_read.clone(), wger_auth.clone(), http.clone());
    let their_read = closed_loop(connections, WARMUP, seconds, 200, move |_, _| {
        h.get(&url).header("Authorization", &a).send()
    })
    .await?;
    let (url, t, h) = (
        format!("{}/api/workouts/sets", platform.api),
        token.clone(),
        http.clone(),
    );
    let our_write = closed_loop(connections, WARMUP, seconds, 201, move |_, n| {
        h.post(&url)
            .bearer_auth(t.as_str())
            .json(&json!({"exercise": "back-squat", "reps": 1 + n % 8,
                          "weight_kg": 100.0 + (n % 20) as f64 * 2.5, "rir": 2}))
            .send()
    })
    .await?;
    let (url, a, h) = (wger_write.clone(), wger_auth.clone(), http.clone());
    let their_write = closed_loop(connections, WARMUP, seconds, 201, move |_, _| {
        h.post(&url)
            .header("Authorization", &a)
            .json(&wger_body)
            .send()
    })
    .await?;
    drop(wger);

    println!("| side | request | req/s | p50 ms | p99 ms |");
    println!("|---|---|---|---|---|");
    println!("{}", row("FitSync", "read a page of 100 sets", &our_read));
    println!("{}", row("wger", "read a page of 100 logs", &their_read));
    println!("{}", row("FitSync", "log a set", &our_write));
    println!("{}", row("wger", "log a set", &their_write));
    println!(
        "FitSync / wger   read {:.1}×  (p99 {:.1} vs {:.1} ms)   write {:.1}×  (p99 {:.1} vs {:.1} ms)",
        our_read.rate / their_read.rate,
        our_read.ms(0.99),
        their_read.ms(0.99),
        our_write.rate / their_write.rate,
        our_write.ms(0.99),
        their_write.ms(0.99)
    );
    Ok(())
}
