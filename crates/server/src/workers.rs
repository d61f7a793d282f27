//! Background work of one instance: status write-behind, catalog sync, status repair and the
//! full price refresh for flow-A partners, resolving orders whose outcome is unknown, ending
//! reservations (both flows), flow-B starts past their deadline and flow-B sessions of piles
//! offline past their timeout, closing stale payments and the daily check of flow-A orders.
//! Each loop logs and carries on after an error; none of them holds a lock across an await on
//! the network. All run under the [`Supervisor`]: a panic is logged and the loop restarted, and
//! at shutdown each finishes its item in hand (the write-behind flushes once more) and ends.

use std::time::Duration;

use services::Services;

use crate::supervisor::{Supervisor, every};

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub status_flush: Duration,
    pub catalog_sync: Duration,
    pub status_repair: Duration,
    pub unknown_outcomes: Duration,
    /// Outbox polling when nothing wakes the dispatcher.
    pub outbox_poll: Duration,
    /// Charge-status notices to partners for flow-B sessions (T/CEC 102: about every 50 s).
    pub session_status: Duration,
    /// Closing stale gateway payments and asking again about unconfirmed refunds.
    pub payment_sweep: Duration,
    /// The daily flow-A check of yesterday's orders (run again each time; results replaced).
    pub daily_check: Duration,
    /// Asking every operator partner for all its stations' prices again: a partner that changes
    /// prices without touching its stations is noticed only this way. The first run comes one
    /// catalog-sync interval after start (not a day later: instances restart more often than
    /// daily), clear of the sync at start.
    pub price_refresh: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            status_flush: Duration::from_millis(200),
            catalog_sync: Duration::from_secs(600),
            status_repair: Duration::from_secs(300),
            unknown_outcomes: Duration::from_secs(30),
            outbox_poll: Duration::from_millis(500),
            session_status: Duration::from_secs(50),
            payment_sweep: Duration::from_secs(60),
            daily_check: Duration::from_secs(3600),
            price_refresh: Duration::from_secs(24 * 3600),
        }
    }
}

/// Starts the loops under `supervisor`: each stops at its next wait once the supervisor's
/// token is cancelled, and a loop that panics is logged and started again.
pub fn spawn(services: Services, config: WorkerConfig, supervisor: &Supervisor) {
    // Partners' endpoints, called through the client that refuses non-public addresses.
    let http = crate::partner_http::partner_client(services.settings.allow_private_endpoints).expect("the partner HTTP client builds");
    let deliverer = std::sync::Arc::new(crate::webhooks::PartnerDeliverer {
        services: services.clone(),
        webhooks: crate::webhooks::WebhookDeliverer { services: services.clone(), http: http.clone() },
        cec: crate::cec_adapter::CecNotifier { services: services.clone(), clients: crate::cec_adapter::PartnerClients::new(services.clone(), http) },
    });
    let dispatcher = std::sync::Arc::new(services::delivery::Dispatcher::new(
        services.clone(),
        deliverer,
        services::delivery::DispatcherConfig { poll: config.outbox_poll, ..Default::default() },
        services.waker.clone(),
    ));
    supervisor.supervise("outbox dispatcher", move |token| {
        let dispatcher = dispatcher.clone();
        async move { dispatcher.run_until(token.cancelled_owned()).await }
    });
    let s = services.clone();
    supervisor.supervise("status write-behind", move |token| {
        let s = s.clone();
        async move {
            every(&token, interval(config.status_flush), || flush_statuses(&s)).await;
            // What changed since the last tick reaches the store before the process ends.
            flush_statuses(&s).await;
        }
    });
    let s = services.clone();
    supervisor.supervise("catalog sync", move |token| {
        let s = s.clone();
        async move { every(&token, interval(config.catalog_sync), || sync_all(&s)).await }
    });
    let s = services.clone();
    supervisor.supervise("price refresh", move |token| {
        let s = s.clone();
        async move {
            let first = tokio::time::Instant::now() + config.catalog_sync.min(config.price_refresh);
            every(&token, tokio::time::interval_at(first, config.price_refresh), || refresh_all_prices(&s)).await
        }
    });
    let s = services.clone();
    supervisor.supervise("status repair", move |token| {
        let s = s.clone();
        async move { every(&token, after_one(config.status_repair), || repair_all_statuses(&s)).await }
    });
    let s = services.clone();
    supervisor.supervise("charge-status notices", move |token| {
        let s = s.clone();
        async move {
            every(&token, after_one(config.session_status), || async {
                if let Err(e) = s.push_session_statuses().await {
                    tracing::warn!(error = %e, "queueing charge-status notices failed");
                }
            })
            .await
        }
    });
    let s = services.clone();
    supervisor.supervise("daily check", move |token| {
        let s = s.clone();
        async move {
            every(&token, interval(config.daily_check), || async {
                if let Err(e) = s.run_daily_check(s.yesterday()).await {
                    tracing::warn!(error = %e, "daily check failed");
                }
            })
            .await
        }
    });
    let s = services.clone();
    supervisor.supervise("payment sweep", move |token| {
        let s = s.clone();
        async move {
            every(&token, interval(config.payment_sweep), || async {
                if let Err(e) = s.expire_stale_payments().await {
                    tracing::warn!(error = %e, "closing stale payments failed");
                }
                if let Err(e) = s.retry_refunds().await {
                    tracing::warn!(error = %e, "retrying refunds failed");
                }
            })
            .await
        }
    });
    supervisor.supervise("deadlines", move |token| {
        let s = services.clone();
        async move { every(&token, interval(config.unknown_outcomes), || past_deadlines(&s)).await }
    });
}

fn interval(period: Duration) -> tokio::time::Interval {
    tokio::time::interval(period)
}

/// Ticks after one period, not at once (for work that has nothing to do at start).
fn after_one(period: Duration) -> tokio::time::Interval {
    tokio::time::interval_at(tokio::time::Instant::now() + period, period)
}

async fn flush_statuses(services: &Services) {
    if let Err(e) = services.flush_statuses().await {
        tracing::warn!(error = %e, "status write-behind failed; will retry");
    }
}

/// Asks every reachable operator partner for the status of its stations (repairs missed pushes).
async fn repair_all_statuses(services: &Services) {
    match services.reachable_operators().await {
        Ok(partners) => {
            for partner in partners {
                let ids = services.partner_station_ids(partner);
                if let Err(e) = services.repair_status(partner, &ids).await {
                    tracing::warn!(%partner, error = %e, "status repair failed");
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "listing partners for status repair failed"),
    }
}

/// Orders whose outcome is unknown, pile starts without an answer, sessions of offline piles and
/// reservations past their hold: each moved to its defined end.
async fn past_deadlines(services: &Services) {
    if let Err(e) = services.resolve_unknown_outcomes().await {
        tracing::warn!(error = %e, "resolving unknown outcomes failed");
    }
    if let Err(e) = services.expire_pile_starts().await {
        tracing::warn!(error = %e, "closing pile starts without an answer failed");
    }
    if let Err(e) = services.end_offline_sessions().await {
        tracing::warn!(error = %e, "ending sessions of offline piles failed");
    }
    if let Err(e) = services.expire_reservations().await {
        tracing::warn!(error = %e, "expiring flow-A reservations past their hold failed");
    }
    if let Err(e) = services.expire_pile_reservations().await {
        tracing::warn!(error = %e, "ending pile reservations past their deadline failed");
    }
}

/// Syncs every reachable operator partner's catalog.
pub async fn sync_all(services: &Services) {
    match services.reachable_operators().await {
        Ok(partners) => {
            for partner in partners {
                if let Err(e) = services.sync_catalog(partner).await {
                    tracing::warn!(%partner, error = %e, "catalog sync failed; will retry on schedule");
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "listing partners for catalog sync failed"),
    }
}

/// Refreshes the prices of every reachable operator partner's stations (each partner's counts
/// are logged by the refresh).
pub async fn refresh_all_prices(services: &Services) {
    match services.reachable_operators().await {
        Ok(partners) => {
            for partner in partners {
                if let Err(e) = services.refresh_prices(partner).await {
                    tracing::warn!(%partner, error = %e, "price refresh failed; will retry on schedule");
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "listing partners for the price refresh failed"),
    }
}
