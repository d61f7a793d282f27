use clap::Parser;
use server::cli::{Cli, Command};
use server::config::Config;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let mut config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    if matches!(cli.command, Command::Demo { .. }) && config.log.level == "info" {
        // The demo narrates on stdout; keep the log to warnings unless asked otherwise.
        config.log.level = "warn".into();
    }
    if matches!(cli.command, Command::Bench(_)) && config.log.level == "info" {
        // Benchmarks print their numbers on stdout; per-request info lines would cost the
        // process being measured (ten thousand "pile booted" lines).
        config.log.level = "warn".into();
    }
    server::telemetry::init(&config.log);
    let result = match cli.command {
        Command::Serve => server::commands::serve(config).await,
        Command::Migrate => server::commands::migrate(config).await,
        Command::Demo { exit } => server::demo::run(config, exit).await,
        Command::Partner(command) => server::commands::partner(config, command).await,
        Command::Admin(command) => server::commands::admin(config, command).await,
        Command::Bench(command) => server::commands::bench(command).await,
        Command::Sim(command) => server::sim_cmd::run(command).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
