//! `chargebridge sim …`: the simulators of `crates/sim` as standalone processes, so an operator
//! can put piles and partner platforms in front of a running platform (ours or anyone's) and
//! watch what happens, and a benchmark can measure the platform without the simulator's memory.
//! Each runs until Ctrl-C and narrates at info level; what another program needs (the endpoint
//! and secrets to register) goes to stdout as one JSON line.

mod cpo;
mod emsp;
mod peer;
pub mod piles;
mod rest_cpo;
mod rest_emsp;

use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum SimCommand {
    /// OCPP 1.6J piles connecting to a central system (ours at /ocpp), with their passwords.
    Piles(piles::PilesArgs),
    /// A charge-point operator platform (flow A partner) with a generated catalog, over
    /// T/CEC 102 or (`--protocol rest`) our partner REST API.
    Cpo(cpo::CpoArgs),
    /// A partner platform (flow B) that pulls our stations and follows their status, over
    /// T/CEC 102 or (`--protocol rest`) our partner REST API.
    Emsp(emsp::EmspArgs),
}

pub async fn run(command: SimCommand) -> anyhow::Result<()> {
    // The simulators call HTTPS peers with rustls on the ring provider, as the platform does.
    let _ = rustls::crypto::ring::default_provider().install_default();
    match command {
        SimCommand::Piles(args) => piles::run(args).await,
        SimCommand::Cpo(args) => cpo::run(args).await,
        SimCommand::Emsp(args) => emsp::run(args).await,
    }
}
