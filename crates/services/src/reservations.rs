//! Reservations in flow A: our driver holds a partner's connector for a while (the T/CEC 102
//! reservation extension, docs/cec-reservation-extension.md), then starts on it, cancels it or
//! lets it run out.
//!
//! A reservation is an order that begins with `ReserveRequested`; its seq is the ReserveSeq.
//! Starting on the held connector moves the same order on (the partner consumes the hold when
//! the same platform starts there), so one order tells the whole story.

use chrono::{DateTime, Utc};
use domain::order::{Order, OrderEvent, OrderState, Ownership, PendingCommand};
use store::orders::{self, StoredOrder};
use store::users::UserRecord;
use uuid::Uuid;

use crate::catalog::gateway_error;
use crate::charging::OrderView;
use crate::ports::{GatewayError, ReserveReply};
use crate::{Error, Result, Services};

/// The extension's range for `Minutes`.
pub const MINUTES: std::ops::RangeInclusive<u32> = 1..=60;

/// How a partner says a reservation ended (`notification_reserve_result`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReservationEnd {
    Expired,
    /// A start consumed it.
    Used,
    /// Cancelled at the pile or by the operator.
    Cancelled,
    Failed,
}

impl Services {
    /// Holds a partner's free connector for `minutes` for our driver. One reservation per
    /// driver at a time.
    pub async fn reserve(&self, user: &UserRecord, connector_id: Uuid, minutes: u32) -> Result<OrderView> {
        if !MINUTES.contains(&minutes) {
            return Err(Error::invalid("minutes", "must be 1 to 60", "预约时长须为 1 至 60 分钟"));
        }
        let gateway = self.operator_gateway.clone().ok_or_else(|| Error::Internal("no operator gateway configured".into()))?;
        let (connector, partner_id) = self.partner_connector(connector_id)?;
        if let Some(held) = self.active_reservation(user).await? {
            return Err(Error::Conflict {
                code: "reservation_exists",
                field: None,
                message: format!("you already hold a reservation (order {}); cancel it or start charging there first", held.id),
                message_zh: "您已有一个预约，请先取消或使用该预约".into(),
            });
        }
        self.ensure_free(connector_id)?;
        let order = self.new_partner_order(user, partner_id, connector_id, OrderEvent::ReserveRequested).await?;
        let partner = self.partner(partner_id).await?;
        let order = match gateway.reserve(&partner, &order.seq, &connector.external_id, minutes).await {
            Ok(ReserveReply::Reserved { until }) => self.apply(order.id, OrderEvent::ReservationConfirmed { until }, None).await?,
            Ok(ReserveReply::Refused(reason)) => self.apply(order.id, OrderEvent::ReservationRefused { reason }, None).await?,
            Err(GatewayError::NoAnswer(why)) => self.apply(order.id, OrderEvent::ReserveTimedOut, Some(why)).await?,
            Err(e) => {
                let reason = domain::order::FailureReason::Refused { code: -1, detail: Some(e.to_string()) };
                self.apply(order.id, OrderEvent::ReservationRefused { reason }, Some(e.to_string())).await?
            }
        };
        tracing::info!(order = %order.id, seq = %order.seq, state = %order.state, "reservation requested");
        Ok(self.view(&order))
    }

    /// Gives a held connector back. If the partner cannot be reached the reservation stays and
    /// the driver is told to try again: we never release what the partner may still hold.
    pub async fn cancel_reservation(&self, user: &UserRecord, order_id: Uuid) -> Result<OrderView> {
        let gateway = self.operator_gateway.clone().ok_or_else(|| Error::Internal("no operator gateway configured".into()))?;
        let order = self.users_order(user, order_id).await?;
        let Ownership::PartnerPile { operator_partner_id, .. } = order.ownership else {
            return Err(Error::forbidden("not a partner order", "非第三方桩订单"));
        };
        if order.state != OrderState::Reserved {
            return Err(Error::Conflict {
                code: "order_state",
                field: None,
                message: format!("only a held reservation can be cancelled; the order is {}", order.state),
                message_zh: format!("订单当前为「{}」，只有已预约的订单可以取消", order.state.label_zh()),
            });
        }
        let partner = self.partner(operator_partner_id).await?;
        let connector = self.connector_external(order.connector_id).ok_or(Error::not_found("connector"))?;
        let reply = gateway.cancel_reserve(&partner, &order.seq, &connector).await.map_err(gateway_error)?;
        let detail = format!("partner answered {reply:?}");
        let order = self.apply(order.id, OrderEvent::CancelRequested, Some(detail)).await?;
        Ok(self.view(&order))
    }

    /// The driver's held reservation on `connector_id`, if any; one that has run out is
    /// expired on the way.
    pub(crate) async fn users_reservation(&self, user: &UserRecord, connector_id: Uuid) -> Result<Option<Order>> {
        match self.active_reservation(user).await? {
            Some(order) if order.connector_id == connector_id => Ok(Some(order)),
            _ => Ok(None),
        }
    }

    async fn active_reservation(&self, user: &UserRecord) -> Result<Option<Order>> {
        let held = {
            let mut conn = self.db.acquire().await?;
            orders::users_latest_in_state(&mut conn, user.id, OrderState::Reserved.as_str()).await?
        };
        let Some(StoredOrder { order, .. }) = held else { return Ok(None) };
        if order.reserved_until.is_some_and(|until| until <= self.now()) {
            self.apply(order.id, OrderEvent::ReservationExpired, Some("ran out".into())).await?;
            return Ok(None);
        }
        Ok(Some(order))
    }

    /// `notification_reserve_result`: how the partner says a reservation ended. Acknowledged
    /// whatever our order says; an "expired" that arrives before our own clock agrees is left
    /// to [`Services::expire_reservations`].
    pub async fn on_reserve_result(&self, partner_id: Uuid, seq: &str, end: ReservationEnd, at: DateTime<Utc>) -> Result<OrderView> {
        let order = self.partner_order(partner_id, seq).await?;
        let detail = Some(format!("partner: reservation {end:?} at {at}"));
        let order = match (order.state, end) {
            (OrderState::Reserved, ReservationEnd::Expired) if order.reserved_until.is_none_or(|until| until <= self.now()) => {
                self.apply(order.id, OrderEvent::ReservationExpired, detail).await?
            }
            (OrderState::Reserved | OrderState::Reserving, ReservationEnd::Cancelled | ReservationEnd::Failed) => {
                self.apply(order.id, OrderEvent::CancelRequested, detail).await?
            }
            _ => order,
        };
        Ok(self.view(&order))
    }

    /// Ends flow-A reservations whose hold has run out (the backstop when the partner's
    /// notice is late or lost).
    pub async fn expire_reservations(&self) -> Result<usize> {
        let held = {
            let mut conn = self.db.acquire().await?;
            orders::in_state(&mut conn, "a", OrderState::Reserved.as_str(), 500).await?
        };
        let now = self.now();
        let mut expired = 0;
        for StoredOrder { order, .. } in held {
            // An order that moved on meanwhile (started, cancelled) refuses the event: skip it.
            if order.reserved_until.is_some_and(|until| until <= now)
                && self.apply(order.id, OrderEvent::ReservationExpired, Some("hold ran out".into())).await.is_ok()
            {
                expired += 1;
            }
        }
        Ok(expired)
    }

    /// An unanswered reservation is settled by cancelling it with the partner: whatever it
    /// says (cancelled, no such reservation, already over), nothing is held for the driver any
    /// more, so the order fails as "not reserved". No answer: ask again next round.
    pub(crate) async fn resolve_unknown_reservation(&self, order: &Order) -> Result<bool> {
        let (Some(gateway), Some(partner_id)) = (self.operator_gateway.clone(), order.ownership.partner_id()) else { return Ok(false) };
        debug_assert_eq!(order.pending, Some(PendingCommand::Reserve));
        let partner = self.partner(partner_id).await?;
        let connector = self.connector_external(order.connector_id).ok_or(Error::not_found("connector"))?;
        match gateway.cancel_reserve(&partner, &order.seq, &connector).await {
            Ok(reply) => {
                self.apply(order.id, OrderEvent::QueryFoundNoSession, Some(format!("reservation released: {reply:?}"))).await?;
                Ok(true)
            }
            Err(e) => {
                tracing::info!(order = %order.id, error = %e, "reservation outcome still unknown; will ask again");
                Ok(false)
            }
        }
    }
}
