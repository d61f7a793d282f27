//! The chargebridge server: configuration, wiring (`startup`), HTTP, CLI commands and the demo.

pub mod bench;
mod bench_piles;
mod bench_push;
mod bench_rest;
mod bench_settlement;
pub mod cec_adapter;
pub mod cli;
pub mod commands;
pub mod config;
pub mod demo;
mod demo_flow_b;
mod demo_rest;
mod file_modes;
pub mod http;
pub mod ocpp_adapter;
mod operator_gateways;
pub mod partner_http;
pub(crate) mod rest_adapter;
pub mod sandbox_pay;
pub mod serve;
pub mod sim_cmd;
pub mod startup;
pub mod supervisor;
pub mod telemetry;
pub mod webhooks;
pub mod workers;
