//! Background work of one instance: status write-behind, catalog sync, status repair and the
//! full price refresh for flow-A partners, resolving orders whose outcome is unknown, ending
//! reservations (both flows), flow-B starts past their deadline and flow-B sessions of piles
//! offline past their timeout, closing stale payments and the daily check of flow-A orders.
//! Each loop logs and carries on after an error; none of them holds a lock across an await on
//! the network.

use std::time::Duration;

use services::Services;

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

/// Starts the loops; they end when the runtime does.
pub fn spawn(services: Services, config: WorkerConfig) {
    // Partners' endpoints, called through the client that refuses non-public addresses.
    let http = crate::partner_http::partner_client(services.settings.allow_private_endpoints).expect("the partner HTTP client builds");
    let deliverer = std::sync::Arc::new(crate::webhooks::PartnerDeliverer {
        services: services.clone(),
        webhooks: crate::webhooks::WebhookDeliverer { services: services.clone(), http: http.clone() },
        cec: crate::cec_adapter::CecNotifier { services: services.clone(), clients: crate::cec_adapter::PartnerClients::new(services.clone(), http) },
    });
    let dispatcher = services::delivery::Dispatcher::new(
        services.clone(),
        deliverer,
        services::delivery::DispatcherConfig { poll: config.outbox_poll, ..Default::default() },
        services.waker.clone(),
    );
    tokio::spawn(dispatcher.run());
    let s = services.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(config.status_flush);
        loop {
            tick.tick().await;
            if let Err(e) = s.flush_statuses().await {
                tracing::warn!(error = %e, "status write-behind failed; will retry");
            }
        }
    });
    let s = services.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(config.catalog_sync);
        loop {
            tick.tick().await;
            sync_all(&s).await;
        }
    });
    let s = services.clone();
    tokio::spawn(async move {
        let first = tokio::time::Instant::now() + config.catalog_sync.min(config.price_refresh);
        let mut tick = tokio::time::interval_at(first, config.price_refresh);
        loop {
            tick.tick().await;
            refresh_all_prices(&s).await;
        }
    });
    let s = services.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(config.status_repair);
        tick.tick().await;
        loop {
            tick.tick().await;
            match s.reachable_operators().await {
                Ok(partners) => {
                    for partner in partners {
                        let ids = s.partner_station_ids(partner);
                        if let Err(e) = s.repair_status(partner, &ids).await {
                            tracing::warn!(%partner, error = %e, "status repair failed");
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "listing partners for status repair failed"),
            }
        }
    });
    let s = services.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(config.session_status);
        tick.tick().await;
        loop {
            tick.tick().await;
            if let Err(e) = s.push_session_statuses().await {
                tracing::warn!(error = %e, "queueing charge-status notices failed");
            }
        }
    });
    let s = services.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(config.daily_check);
        loop {
            tick.tick().await;
            if let Err(e) = s.run_daily_check(s.yesterday()).await {
                tracing::warn!(error = %e, "daily check failed");
            }
        }
    });
    let s = services.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(config.payment_sweep);
        loop {
            tick.tick().await;
            if let Err(e) = s.expire_stale_payments().await {
                tracing::warn!(error = %e, "closing stale payments failed");
            }
            if let Err(e) = s.retry_refunds().await {
                tracing::warn!(error = %e, "retrying refunds failed");
            }
        }
    });
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(config.unknown_outcomes);
        loop {
            tick.tick().await;
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
    });
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
