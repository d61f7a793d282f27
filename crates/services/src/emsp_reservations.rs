//! Flow B reservations over our REST API: the same holds as the T/CEC 102 extension
//! (`pile_reservations`), addressed by our id instead of the partner's ReserveSeq.

use uuid::Uuid;

use domain::order::Ownership;

use crate::pile_reservations::{CancelAnswer, ReserveAnswer};
use crate::{Result, Services};

impl Services {
    /// Reserves `connector_external` for `minutes` under the order number `seq` (made by
    /// `rest_start_seq`); the answer, and our id of the reservation when one was recorded.
    pub async fn rest_reserve(&self, partner_id: Uuid, seq: &str, connector_external: &str, minutes: i64) -> Result<(ReserveAnswer, Option<Uuid>)> {
        self.require_platform(partner_id).await?;
        let answer = self.partner_reserve(partner_id, seq, connector_external, minutes).await?;
        let mut conn = self.db.acquire().await?;
        let id = store::orders::by_seq(&mut conn, seq).await?.map(|s| s.order.id);
        Ok((answer, id))
    }

    /// Cancels `partner_id`'s reservation `id`; `None` when it has none by that id (another
    /// partner's reads the same).
    pub async fn rest_cancel_reservation(&self, partner_id: Uuid, id: Uuid) -> Result<Option<CancelAnswer>> {
        self.require_platform(partner_id).await?;
        let stored = {
            let mut conn = self.db.acquire().await?;
            store::orders::by_id(&mut conn, id).await?
        };
        let Some(stored) = stored.filter(|s| s.order.ownership == (Ownership::PartnerUser { platform_partner_id: partner_id })) else { return Ok(None) };
        let connector = self.connector_external(stored.order.connector_id).unwrap_or_default();
        match self.partner_cancel_reserve(partner_id, stored.order.seq.as_str(), &connector).await? {
            CancelAnswer::NoSuchReservation => Ok(None),
            answer => Ok(Some(answer)),
        }
    }
}
