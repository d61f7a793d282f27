//! The integration tests, one binary: each module is one surface (a protocol, a flow, an API),
//! driven through real HTTP, WebSocket, SQLite and PostgreSQL. One binary links once, where a
//! binary per file linked the whole platform thirty times.

#[macro_use]
mod common;

mod app;
mod auth_limits;
mod cec_conformance;
mod cec_endpoint;
mod cec_ownership;
mod cec_tokens;
mod cli;
mod file_modes;
mod flow_a;
mod flow_b;
mod lifecycle;
mod messages;
mod onboarding;
mod open_network;
mod openapi_contract;
mod outbox_claims;
mod own_piles;
mod partner_endpoints;
mod partner_rate_limits;
mod partner_rest_cpo;
mod partner_rest_cpo_commands;
mod partner_rest_cpo_flow;
mod partner_rest_emsp;
mod payments;
mod pile_conformance;
mod readme_walkthrough;
mod resilience;
mod settlement_notices;
mod start_charge_seq;
mod status_write_behind;
mod wallet;
mod webhooks;
