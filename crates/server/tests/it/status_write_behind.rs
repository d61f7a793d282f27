//! The status write-behind: what the hub holds reaches the connectors table in set-based
//! statements, and a reading older than the stored one never overwrites it — also across the
//! statements one large flush is split into.

use crate::common;

use chrono::{Duration, Utc};
use common::{Backend, TestApp};
use domain::station::ConnectorStatus;
use sqlx::Row;
use uuid::Uuid;

async fn stored(app: &TestApp, id: Uuid) -> (String, i64) {
    let mut conn = app.services.db.acquire().await.unwrap();
    let row = sqlx::query("SELECT status, status_at FROM connectors WHERE id = $1").bind(id.to_string()).fetch_one(&mut *conn).await.unwrap();
    (row.get("status"), row.get("status_at"))
}

async fn flushed_in_sets_and_never_older(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin_token().await;
    let created = common::station_with_one_pile(&app, &admin).await;
    let ids: Vec<Uuid> = created["piles"][0]["connector_ids"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().parse().unwrap()).collect();
    let (first, second) = (ids[0], ids[1]);

    let t0 = Utc::now() - Duration::minutes(10);
    assert!(app.services.hub.apply(first, ConnectorStatus::Charging, t0));
    assert!(app.services.hub.apply(second, ConnectorStatus::Faulted, t0));
    assert_eq!(app.services.flush_statuses().await.unwrap(), 2);
    assert_eq!(stored(&app, first).await, ("charging".into(), t0.timestamp_millis()));
    assert_eq!(stored(&app, second).await, ("faulted".into(), t0.timestamp_millis()));

    // One write of 2,500 rows (three statements): our two connectors in different statements,
    // the first with a newer reading, the second with an older one; the rest name no connector.
    let later = t0 + Duration::minutes(1);
    let mut rows: Vec<(Uuid, ConnectorStatus, chrono::DateTime<Utc>)> = (0..2_500).map(|_| (Uuid::now_v7(), ConnectorStatus::Available, later)).collect();
    rows[3] = (first, ConnectorStatus::Available, later);
    rows[2_400] = (second, ConnectorStatus::Available, t0 - Duration::minutes(1));
    {
        let mut tx = app.services.db.begin().await.unwrap();
        store::catalog::save_statuses(&mut tx, &rows).await.unwrap();
        tx.commit().await.unwrap();
    }
    assert_eq!(stored(&app, first).await, ("available".into(), later.timestamp_millis()), "the newer reading is written");
    assert_eq!(stored(&app, second).await, ("faulted".into(), t0.timestamp_millis()), "the older one is not");
    app.cleanup().await;
}

on_both_backends!(flushed_in_sets_and_never_older);
