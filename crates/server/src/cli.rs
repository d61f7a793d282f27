//! Command line: `serve`, `migrate`, `demo`, admin commands operators script against
//! (`--json` prints machine-readable output), simulators and benchmarks.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "chargebridge", version, about = "EV-charging interconnection platform (充电互联互通平台)")]
pub struct Cli {
    /// TOML configuration file (default: ./chargebridge.toml if present). Environment variables
    /// CHARGEBRIDGE_SECTION__KEY override it, e.g. CHARGEBRIDGE_HTTP__BIND=0.0.0.0:8080.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the platform (HTTP APIs, protocol endpoints, background workers).
    Serve,
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Start the platform and walk a partner through onboarding with a narrated log.
    Demo {
        /// Exit when the walk-through is done instead of serving on.
        #[arg(long)]
        exit: bool,
    },
    /// Partner review and credentials.
    #[command(subcommand)]
    Partner(PartnerCommand),
    /// Admin users.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Measure throughput (numbers for docs/benchmarks.md, not pass/fail).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Run a simulated partner against a running platform until Ctrl-C (模拟器).
    #[command(subcommand)]
    Sim(crate::sim_cmd::SimCommand),
}

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// T/CEC 102 envelopes (notification_stationStatus) encoded + decoded per second on one core.
    CecCodec {
        #[arg(long, default_value_t = 200_000)]
        iterations: u64,
    },
    /// notification_stationStatus pushes ingested per second through real HTTP + T/CEC 102
    /// crypto + status hub + write-behind to a SQLite file.
    StatusIngest {
        #[arg(long, default_value_t = 2_000)]
        connectors: usize,
        #[arg(long, default_value_t = 100_000)]
        pushes: usize,
        /// Concurrent partner connections.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
    },
    /// Flow B: latency from a status change of our connector to its arrival at each of N
    /// subscribed partner platforms (simulated, over real T/CEC 102 on loopback).
    StatusPush {
        #[arg(long, default_value_t = 50)]
        partners: usize,
        #[arg(long, default_value_t = 400)]
        changes: usize,
        /// Status changes made per second.
        #[arg(long, default_value_t = 20)]
        per_second: u64,
    },
    /// OCPP piles held by one instance: N piles registered in our network connect from a
    /// separate simulator process; time to connect, this process's memory, status throughput.
    Piles {
        #[arg(long, default_value_t = 10_000)]
        count: usize,
        /// Seconds to keep them connected (heartbeats, status changes) after all are online.
        #[arg(long, default_value_t = 30)]
        hold_secs: u64,
        /// Piles the simulator starts per second.
        #[arg(long, default_value_t = 1_000)]
        connect_rate: u32,
        /// Each pile's connector 1 faults and recovers once per this many seconds; 0 = never.
        #[arg(long, default_value_t = 30)]
        flap_every: u64,
    },
    /// Partner REST API, operator side: N stations upserted through `POST /stations:batch`
    /// (created, then replaced), then connector status changes through
    /// `POST /connectors/status:batch`, over real HTTP into the status hub and a SQLite file.
    RestCpo {
        #[arg(long, default_value_t = 10_000)]
        stations: usize,
        #[arg(long, default_value_t = 500_000)]
        changes: usize,
        /// Status changes per call (at most 1,000).
        #[arg(long, default_value_t = 500)]
        batch: usize,
        /// Concurrent partner connections.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
    },
    /// Settlement: N paid flow-A orders of one operator in a month, then its statement drawn up
    /// and reconciled, and written as CSV (time and this process's memory).
    Settlement {
        #[arg(long, default_value_t = 100_000)]
        orders: usize,
        /// An empty PostgreSQL database to use instead of a SQLite file in a temp directory.
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Nearby-station search latency over an in-memory catalog of N stations (p50/p99).
    Nearby {
        #[arg(long, default_value_t = 100_000)]
        stations: usize,
        #[arg(long, default_value_t = 20_000)]
        queries: usize,
    },
}

#[derive(Args, Debug)]
pub struct Output {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum PartnerCommand {
    /// List partners, newest first.
    List {
        /// submitted, approved, rejected or suspended
        #[arg(long)]
        state: Option<String>,
        /// cec102, ocpi221 or rest_api
        #[arg(long)]
        protocol: Option<String>,
        /// Part of the name, credit code or OperatorID.
        #[arg(long)]
        q: Option<String>,
        #[arg(long, default_value_t = 1)]
        page: u32,
        #[arg(long, default_value_t = 20)]
        per_page: u32,
        #[command(flatten)]
        out: Output,
    },
    /// Show a partner with documents and review history. ID is the partner id or OperatorID.
    Show {
        id: String,
        #[command(flatten)]
        out: Output,
    },
    /// Approve a partner in review; credentials are issued.
    Approve {
        id: String,
        #[command(flatten)]
        out: Output,
    },
    /// Reject a partner in review with a reason it will read.
    Reject {
        id: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        out: Output,
    },
    /// Suspend an approved partner; its tokens stop working at once.
    Suspend {
        id: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        out: Output,
    },
    /// Reinstate a suspended partner.
    Reinstate {
        id: String,
        #[command(flatten)]
        out: Output,
    },
    /// Show a partner's credentials (identifiers and validity; secrets are never printed).
    Credentials {
        id: String,
        #[command(flatten)]
        out: Output,
    },
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Create an admin user. The password is read from CHARGEBRIDGE_ADMIN_PASSWORD or stdin.
    CreateUser {
        #[arg(long)]
        username: String,
    },
}
