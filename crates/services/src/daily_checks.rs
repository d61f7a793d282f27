//! The daily flow-A check (每日对账) run by a worker and on an admin's request: every operator
//! partner's orders of one Beijing day, each followed to its record, bill, payment and
//! settlement line (`domain::daily_check`). Findings are stored for admins to work through.

use chrono::{Duration, NaiveDate, TimeZone};
use domain::daily_check::{OrderFacts, check};
use domain::money::Money;
use domain::tariff::beijing;
use store::daily_checks::{self as repo, DailyCheckFilter, DailyCheckRecord};
use store::{Page, PageRequest};
use uuid::Uuid;

use crate::{Error, Result, Services};

/// Time a record or a payment may take before its absence is a finding.
pub const GRACE_HOURS: i64 = 6;

impl Services {
    /// Checks `day` (Beijing) for every operator partner that had flow-A orders that day;
    /// returns the stored results.
    pub async fn run_daily_check(&self, day: NaiveDate) -> Result<Vec<DailyCheckRecord>> {
        let midnight = day.and_hms_opt(0, 0, 0).expect("midnight exists");
        let start = beijing().from_local_datetime(&midnight).single().expect("fixed offset").to_utc();
        let end = start + Duration::days(1);
        if start >= self.now() {
            return Err(Error::invalid("day", "cannot check a day that has not begun", "不能核对尚未开始的日期"));
        }
        let page = PageRequest { page: 1, per_page: 10_000 };
        let filter = store::partners::PartnerFilter { state: Some(domain::partner::ReviewState::Approved), ..Default::default() };
        let operators: Vec<Uuid> =
            self.list_partners(&filter, page).await?.items.into_iter().filter(|p| p.application.roles.is_operator()).map(|p| p.id).collect();
        let mut results = Vec::new();
        for partner_id in operators {
            let mut conn = self.db.acquire().await?;
            let orders = store::orders::for_partner_between(&mut conn, "a", partner_id, start, end).await?;
            if orders.is_empty() {
                continue;
            }
            let follow_ups = store::orders::follow_ups_between(&mut conn, "a", partner_id, start, end).await?;
            let facts: Vec<OrderFacts> = orders
                .iter()
                .map(|stored| {
                    let order = &stored.order;
                    let follow_up = follow_ups.get(&order.id).copied().unwrap_or_default();
                    OrderFacts {
                        seq: order.seq.as_str().to_owned(),
                        state: order.state,
                        updated_at: order.updated_at,
                        billed: order.billed_amount,
                        disputed: follow_up.disputed,
                        paid: Money::from_ten_thousandths(follow_up.paid),
                        has_settlement_line: follow_up.has_settlement_line,
                    }
                })
                .collect();
            let findings = check(&facts, self.now(), Duration::hours(GRACE_HOURS));
            let record = DailyCheckRecord {
                id: Uuid::now_v7(),
                partner_id,
                day,
                orders: facts.len() as i64,
                finding_count: findings.len() as i64,
                findings: serde_json::to_value(&findings).map_err(|e| Error::Internal(e.to_string()))?,
                checked_at: self.now(),
            };
            let mut tx = self.db.begin().await?;
            repo::save(&mut tx, &record).await?;
            tx.commit().await.map_err(store::Error::from)?;
            if !findings.is_empty() {
                tracing::warn!(partner = %partner_id, %day, findings = findings.len(), "daily check found differences");
            }
            results.push(record);
        }
        Ok(results)
    }

    /// Yesterday in Beijing, the day the worker checks.
    pub fn yesterday(&self) -> NaiveDate {
        (self.now().with_timezone(&beijing()) - Duration::days(1)).date_naive()
    }

    pub async fn daily_checks(&self, filter: &DailyCheckFilter, page: PageRequest) -> Result<Page<DailyCheckRecord>> {
        let mut conn = self.db.acquire().await?;
        Ok(repo::list(&mut conn, filter, page).await?)
    }
}
