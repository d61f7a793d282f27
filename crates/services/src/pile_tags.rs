//! The id tags we issue to our piles — one per flow-B session or reservation, made by
//! [`crate::partner_sessions::id_tag`] — as piles present them back in Authorize,
//! StartTransaction and StopTransaction, and the transaction ids of starts we refuse.
//!
//! OCPP compares idTags case-insensitively (CiString20): a pile may send our tag upper-cased.
//! Our tags are `CB` and lower-case hex, so a presented tag is turned into that one casing and
//! looked up exactly (the unique index serves it); anything else was never issued by us.

use store::orders;
use store::pile_reservations;
use store::pile_sessions;
use uuid::Uuid;

use crate::partner_sessions::transaction_id;
use crate::{Result, Services};

/// What a tag presented by a pile is to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssuedTag {
    /// We never issued it (a foreign RFID card, a typo).
    NotIssued,
    /// Its session or reservation is under way: it may charge.
    Usable,
    /// Its session or reservation is over.
    Spent,
}

/// A presented tag in the casing we issue tags in; `None` when it cannot be one of ours.
pub(crate) fn issued_form(tag: &str) -> Option<String> {
    let (prefix, rest) = (tag.get(..2)?, tag.get(2..)?);
    let ours = tag.len() == 20 && prefix.eq_ignore_ascii_case("CB") && rest.bytes().all(|b| b.is_ascii_hexdigit());
    ours.then(|| format!("CB{}", rest.to_ascii_lowercase()))
}

impl Services {
    /// Looks a tag presented by one of our piles up among the sessions and reservations we
    /// issued tags for. A session that took over a reservation carries the reservation's tag,
    /// so sessions are looked at first.
    pub async fn pile_id_tag(&self, tag: &str) -> Result<IssuedTag> {
        let Some(tag) = issued_form(tag) else { return Ok(IssuedTag::NotIssued) };
        let mut conn = self.db.acquire().await?;
        let order_id = match pile_sessions::by_id_tag(&mut conn, &tag).await? {
            Some(session) => session.order_id,
            None => match pile_reservations::by_id_tag(&mut conn, &tag).await? {
                Some(reservation) => reservation.order_id,
                None => return Ok(IssuedTag::NotIssued),
            },
        };
        let state = orders::by_id(&mut conn, order_id).await?.map(|stored| stored.order.state);
        Ok(match state {
            Some(state) if !state.is_terminal() && !state.charge_has_ended() => IssuedTag::Usable,
            Some(_) => IssuedTag::Spent,
            None => IssuedTag::NotIssued,
        })
    }

    /// A transaction id for a StartTransaction we refuse. OCPP wants one in every answer, and
    /// the pile will send it back in the StopTransaction that ends what it started anyway, so
    /// it must not name one of that pile's real transactions. Drawn like theirs (31 bits of a
    /// fresh UUIDv7), skipping ids the pile already has.
    pub async fn refused_transaction_id(&self, ocpp_id: &str) -> Result<i64> {
        let mut conn = self.db.acquire().await?;
        loop {
            let candidate = transaction_id(Uuid::now_v7());
            if pile_sessions::by_transaction(&mut conn, ocpp_id, candidate).await?.is_none() {
                return Ok(candidate);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presented_tags_are_read_in_the_casing_we_issue() {
        let issued = crate::partner_sessions::id_tag(Uuid::now_v7());
        assert_eq!(issued_form(&issued).as_deref(), Some(issued.as_str()));
        assert_eq!(issued_form(&issued.to_ascii_uppercase()).as_deref(), Some(issued.as_str()));
        assert_eq!(issued_form(&issued.to_ascii_lowercase()).as_deref(), Some(issued.as_str()));
        // An RFID card whose UID merely begins like ours, and other shapes, are not ours.
        for foreign in ["CB", "CB04A2B3C4D5E6F7", "CBzz000000000000000000", "CB00000000000000000g", "XB000000000000000000"] {
            assert_eq!(issued_form(foreign), None, "{foreign}");
        }
    }
}
