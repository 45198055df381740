//! `fitsync backfill`: rebuilds the analytics tables in a database of their own from the
//! start of the topics (`fitsync_stream_jobs::analytics::backfill`), showing a progress
//! bar with the rate and time left on a terminal, and log lines otherwise.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use fitsync_platform::{db, Settings};
use fitsync_stream_jobs::analytics::backfill::{self, Progress};

/// Creates `database` if it does not exist, migrates it as progressdb, and backfills it.
pub async fn run(settings: &Settings, database: &str, batch: usize) -> anyhow::Result<Progress> {
    let admin = db::pool(&settings.database, "postgres")?;
    let exists: bool =
        sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
            .bind(database)
            .fetch_one(&admin)
            .await?;
    if !exists {
        sqlx::query(&format!(
            "create database \"{}\"",
            database.replace('"', "\"\"")
        ))
        .execute(&admin)
        .await?;
    }
    admin.close().await;
    let pool = db::pool(&settings.database, database)?;
    db::migrate(
        &pool,
        &fitsync_progress::MIGRATIONS,
        Duration::from_secs(30),
    )
    .await?;
    let terminal = std::io::stderr().is_terminal();
    let mut last = Instant::now() - Duration::from_secs(60);
    let done = backfill::run(
        pool,
        settings.kafka.clone(),
        settings.jobs.clone(),
        batch,
        |p| {
            if terminal {
                let _ = write!(std::io::stderr(), "\r{}", bar(p, 30));
            } else if last.elapsed() >= Duration::from_secs(5) || p.done == p.total {
                last = Instant::now();
                tracing::info!(
                    done = p.done,
                    total = p.total,
                    rate = format!("{:.0}/s", p.rate()),
                    eta_secs = p.eta().map(|e| e.as_secs()),
                    "backfilling"
                );
            }
        },
    )
    .await?;
    if terminal {
        let _ = writeln!(std::io::stderr());
    }
    tracing::info!(
        database,
        messages = done.total,
        secs = done.elapsed.as_secs_f64(),
        "backfill complete"
    );
    Ok(done)
}

/// `[#######.......]  45%  12345/27000  5200/s  ETA 3s`
pub fn bar(p: &Progress, width: usize) -> String {
    let fraction = if p.total == 0 {
        1.0
    } else {
        p.done as f64 / p.total as f64
    };
    let filled = ((fraction * width as f64).round() as usize).min(width);
    let eta = p
        .eta()
        .map_or_else(|| "--".to_owned(), |e| format!("{}s", e.as_secs()));
    format!(
        "[{}{}] {:>3.0}%  {}/{}  {:.0}/s  ETA {eta}",
        "#".repeat(filled),
        ".".repeat(width - filled),
        100.0 * fraction,
        p.done,
        p.total,
        p.rate()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_shows_the_share_done_the_rate_and_the_time_left() {
        let p = Progress {
            done: 250,
            total: 1000,
            elapsed: Duration::from_secs(5),
        };
        // 50/s, 750 left: 15 s.
        assert_eq!(bar(&p, 8), "[##......]  25%  250/1000  50/s  ETA 15s");
        let empty = Progress {
            done: 0,
            total: 0,
            elapsed: Duration::from_secs(1),
        };
        assert_eq!(bar(&empty, 4), "[####] 100%  0/0  0/s  ETA --");
    }
}
