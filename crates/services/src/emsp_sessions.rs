//! Flow B over our REST API: what a platform partner needs beyond the T/CEC 102 calls — an order
//! number we make for it, its sessions by our id, and its sessions of a period page by page.
//!
//! REST partners address sessions by our session id (the order id) and never see the
//! StartChargeSeq; one is still made for every start, because the order, the pile session and
//! every notice are keyed by it (see `partner_sessions`).

use chrono::{DateTime, Utc};
use domain::order::{Order, Ownership, StartChargeSeq};
use uuid::Uuid;

use crate::partner_sessions::SessionNotice;
use crate::{Error, Result, Services};

impl Services {
    /// A fresh order number for a REST start: the partner's OperatorID (the creating side, as
    /// T/CEC 102 has it), `R` and 17 digits of the counter every instance shares. The letter
    /// keeps it apart from the partner's own all-digit T/CEC 102 numbers.
    pub async fn rest_start_seq(&self, partner_id: Uuid) -> Result<String> {
        let partner = self.partner(partner_id).await?;
        let number = {
            let mut conn = self.db.acquire().await?;
            store::seq_counters::next_start_charge_seq(&mut conn).await?
        };
        let unique = format!("R{:017}", number.rem_euclid(100_000_000_000_000_000));
        let seq = StartChargeSeq::new(&partner.operator_id, &unique).map_err(|e| Error::Internal(e.to_string()))?;
        Ok(seq.as_str().to_owned())
    }

    /// A session of `partner_id`'s users by our id, with its progress; `None` for any other
    /// partner's session or none at all (a partner cannot tell the two apart).
    pub async fn partner_session_by_id(&self, partner_id: Uuid, id: Uuid) -> Result<Option<(Order, SessionNotice)>> {
        self.require_platform(partner_id).await?;
        let stored = {
            let mut conn = self.db.acquire().await?;
            match store::orders::by_id(&mut conn, id).await? {
                // A reservation is an order too, but not a session.
                Some(s) if !self.is_reservation(&mut conn, s.order.id).await? => Some(s),
                _ => None,
            }
        };
        match stored {
            Some(s) if s.order.ownership == (Ownership::PartnerUser { platform_partner_id: partner_id }) => {
                self.partner_session(partner_id, s.order.seq.as_str()).await
            }
            _ => Ok(None),
        }
    }

    /// One page of `partner_id`'s sessions created in `[start, end)`, oldest first, after the
    /// `(created_at, id)` of the previous page's last one (reservations are not sessions).
    pub async fn partner_sessions_page(
        &self,
        partner_id: Uuid,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: i64,
    ) -> Result<Vec<Order>> {
        self.require_platform(partner_id).await?;
        let mut conn = self.db.acquire().await?;
        let page = store::orders::for_partner_page(&mut conn, "b", partner_id, start, end, after, limit).await?;
        Ok(page.into_iter().map(|s| s.order).collect())
    }

    /// Our connector's public id.
    pub fn own_connector_external(&self, connector_id: Uuid) -> Option<String> {
        self.connector_external(connector_id)
    }
}
