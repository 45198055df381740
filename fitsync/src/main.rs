use clap::Parser;
use fitsync::{
    app::{self, Target, Targets},
    cli::{Cli, Command},
    seed,
};
use fitsync_platform::{server, shutdown, telemetry, Settings};
use tracing::Instrument;

fn main() -> anyhow::Result<()> {
    // Polars sizes its pool to the machine; leave cores to the async runtime.
    if std::env::var_os("POLARS_MAX_THREADS").is_none() {
        std::env::set_var("POLARS_MAX_THREADS", "2");
    }
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref())?;
    telemetry::init(&settings.telemetry);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(cli, settings))
}

async fn run(cli: Cli, settings: Settings) -> anyhow::Result<()> {
    let default = Command::Run {
        target: vec![Target::All],
    };
    match cli.command.unwrap_or(default) {
        Command::Run { target } => {
            let span = tracing::info_span!("fitsync", target = ?target);
            async move {
                let listener = server::bind(settings.server.bind).await?;
                let targets = Targets::new(target);
                let running =
                    app::start(settings, targets, listener, shutdown::on_signal()).await?;
                running.wait().await
            }
            .instrument(span)
            .await
        }
        Command::Migrate { wait } => app::migrate(&settings, wait).await,
        Command::Seed {
            api,
            clients,
            weeks,
        } => seed::run(&api, clients, weeks).await,
        Command::Keygen {
            token_key: true, ..
        } => {
            println!("{}", fitsync_platform::sealed::generate_key()?);
            Ok(())
        }
        Command::Keygen { vapid: true, .. } => {
            println!("{}", fitsync_notifications::push::generate_private_key()?);
            Ok(())
        }
        Command::Keygen { .. } => {
            print!("{}", fitsync_platform::auth::generate_pem()?);
            Ok(())
        }
        Command::Backfill { database, batch } => {
            let database = database
                .unwrap_or_else(|| format!("{}_backfill", settings.database.names.progress));
            fitsync::backfill::run(&settings, &database, batch.max(1))
                .await
                .map(|_| ())
        }
        Command::Config => {
            println!("{settings:#?}");
            Ok(())
        }
    }
}
