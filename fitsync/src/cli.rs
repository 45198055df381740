use std::{path::PathBuf, time::Duration};

use clap::{Parser, Subcommand};

use crate::app::Target;

#[derive(Debug, Parser)]
#[command(
    name = "fitsync",
    version,
    about = "FitSync: every component in one binary"
)]
pub struct Cli {
    /// TOML file layered over the defaults (environment FITSYNC__… wins over both).
    #[arg(long, global = true, env = "FITSYNC_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run targets (default: all), e.g. `--target users,training,relay`.
    Run {
        #[arg(long, short, value_enum, value_delimiter = ',', default_value = "all")]
        target: Vec<Target>,
    },
    /// Apply every service's database migrations, waiting for the databases to answer.
    Migrate {
        #[arg(long, default_value = "60", value_parser = parse_secs)]
        wait: Duration,
    },
    /// Load demo data through the running API: trainers, clients, weeks of training.
    Seed {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        api: String,
        #[arg(long, default_value_t = 6)]
        clients: usize,
        #[arg(long, default_value_t = 8)]
        weeks: u32,
    },
    /// Rebuild every analytics table from the start of the topics into a database of its
    /// own (created and migrated if missing; an interrupted backfill goes on), with a
    /// progress bar on a terminal.
    Backfill {
        /// The database to rebuild into (default: the progress database's name with
        /// `_backfill`).
        #[arg(long)]
        database: Option<String>,
        /// Messages per batch.
        #[arg(long, default_value_t = 20_000)]
        batch: usize,
    },
    /// Print the effective configuration (secrets redacted).
    Config,
    /// Print a new ES256 signing key (PKCS#8 PEM) for `auth.signing_key_pem`; with
    /// `--token-key` a key for `auth.email_token_key` (or `sms.webhook_secret`); with
    /// `--vapid` a key for `push.vapid_private_key`.
    Keygen {
        #[arg(long, conflicts_with = "vapid")]
        token_key: bool,
        #[arg(long)]
        vapid: bool,
    },
}

fn parse_secs(s: &str) -> Result<Duration, std::num::ParseIntError> {
    s.parse().map(Duration::from_secs)
}
