//! Charging orders of flow A: our user at a partner's pile.
//!
//! The order is written before the partner is asked (StartChargeSeq is its idempotency key), and
//! every answer, notification and query moves it through the one state machine in
//! `domain::order`. A partner that does not answer leaves the order in `unknown_outcome`, which
//! only a fact from the partner resolves. The charge-end record is checked, billed with our
//! pricing, paid from the wallet, and becomes a settlement line announced to the partner through
//! the outbox.

use chrono::{DateTime, Utc};
use domain::money::{Energy, Money};
use domain::order::{ChargeRecord, FailureReason, Order, OrderEvent, OrderState, Ownership, PendingCommand, RemoteState, StartChargeSeq, StopReason};
use domain::partner::FieldError;
use domain::settlement::{DisputeKind, LedgerEntry, SessionAmounts, SettlementLine, ShareRule, Tolerance, UserPricing, reconcile, user_fee};
use domain::tariff::{Discrepancy, PartnerDetail, PartnerTotals, validate_partner_totals};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use store::orders::{self, StoredOrder};
use store::users::UserRecord;
use uuid::Uuid;

use crate::catalog::gateway_error;
use crate::ports::{GatewayError, SessionReport, StartReply, StopReply};
use crate::{Error, Result, Services};

/// An order as the app shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OrderView {
    pub id: Uuid,
    pub seq: String,
    #[schema(value_type = String)]
    pub state: OrderState,
    pub state_label_zh: String,
    pub connector_id: Uuid,
    pub station_name: Option<String>,
    /// What to tell the user now, in both languages.
    pub message_zh: String,
    pub message_en: String,
    #[schema(value_type = Option<String>)]
    pub energy_kwh: Option<Decimal>,
    /// Cost so far while charging; the bill once finished.
    #[schema(value_type = Option<String>)]
    pub amount: Option<Decimal>,
    /// End of the hold while the order is a reservation.
    pub reserved_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// Commercial terms with a partner.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PartnerTerms {
    /// Our cut of a flow-A order (default: 10 % of the service fee).
    #[schema(value_type = Object)]
    pub commission: ShareRule,
    /// What our users pay relative to the partner's prices.
    #[schema(value_type = Object)]
    pub user_pricing: UserPricing,
    /// The platform's share of a flow-B order its user made on our piles (default: 10 % of
    /// the service fee); the rest of our fee is what it owes us.
    #[serde(default = "default_share")]
    #[schema(value_type = Object)]
    pub revenue_share: ShareRule,
    /// The prices the partner's users get at our stations (flow B).
    #[serde(default)]
    pub open: crate::open_network::OpenTerms,
}

fn default_share() -> ShareRule {
    ShareRule::ServicePercent(domain::money::Rate::fraction(Decimal::new(10, 2)).expect("0.10 is a fraction"))
}

impl Default for PartnerTerms {
    fn default() -> Self {
        Self { commission: default_share(), user_pricing: UserPricing::default(), revenue_share: default_share(), open: Default::default() }
    }
}

/// A partner's charge-end record, protocol-neutral.
#[derive(Debug, Clone)]
pub struct PartnerChargeOrder {
    pub seq: String,
    pub connector_external_id: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub totals: PartnerTotals,
    pub details: Vec<PartnerDetail>,
    pub stop_reason: StopReason,
}

/// What we tell the partner about its record.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordVerdict {
    Accepted,
    /// Its numbers do not add up; listed, kept for review, not billed.
    Disputed(Vec<Discrepancy>),
}

const SEQ_COUNTER_MOD: u16 = 10_000;
/// Draws of a StartChargeSeq before giving up on a run of duplicates.
const SEQ_ATTEMPTS: u32 = 5;

impl Services {
    pub(crate) fn view(&self, order: &Order) -> OrderView {
        let station_name = self.hub_station_of(order.connector_id).and_then(|s| self.station_summary(s)).map(|s| s.name);
        OrderView {
            id: order.id,
            seq: order.seq.as_str().to_owned(),
            state: order.state,
            state_label_zh: order.state.label_zh().to_owned(),
            connector_id: order.connector_id,
            station_name,
            message_zh: order.message_zh(),
            message_en: order.message_en(),
            energy_kwh: order.record.as_ref().map(|r| r.energy.value()).or(order.progress.and_then(|p| p.energy.map(Energy::value))),
            amount: order.billed_amount.or(order.progress.and_then(|p| p.money)).map(Money::yuan),
            reserved_until: order.reserved_until.filter(|_| order.state == OrderState::Reserved),
            created_at: order.created_at,
        }
    }

    fn hub_station_of(&self, connector_id: Uuid) -> Option<Uuid> {
        let cache = self.catalog.read();
        cache.station_of(connector_id)
    }

    pub async fn partner_terms(&self, partner_id: Uuid) -> Result<PartnerTerms> {
        let mut conn = self.db.acquire().await?;
        Ok(match store::settlement::terms(&mut conn, partner_id).await? {
            Some(json) => serde_json::from_value(json).map_err(|e| Error::Internal(format!("partner terms: {e}")))?,
            None => PartnerTerms::default(),
        })
    }

    /// Sets the commercial terms with a partner; applies to orders from now on. Audited.
    pub async fn set_partner_terms(&self, partner_id: Uuid, terms: &PartnerTerms, actor: &crate::onboarding::Actor) -> Result<PartnerTerms> {
        self.partner(partner_id).await?;
        let mut invalid = Vec::new();
        if let Some(policy) = terms.open.price_policy
            && let Err(e) = domain::tariff::PricePolicy::new(policy.electricity, policy.service)
        {
            invalid.push(FieldError::new("open.price_policy", e.to_string(), e.message_zh()));
        }
        let most = crate::pile_reservations::MAX_MINUTES;
        if let Some(minutes) = terms.open.reservation_max_minutes
            && !(1..=most).contains(&minutes)
        {
            invalid.push(FieldError::new(
                "open.reservation_max_minutes",
                format!("must be 1–{most} minutes, got {minutes}"),
                format!("须为 1–{most} 分钟，当前为 {minutes}"),
            ));
        }
        if !invalid.is_empty() {
            return Err(Error::Invalid(invalid));
        }
        let now = self.now();
        let json = serde_json::to_value(terms).map_err(|e| Error::Internal(e.to_string()))?;
        let mut tx = self.db.begin().await?;
        store::settlement::set_terms(&mut tx, partner_id, &json, now).await?;
        let entry = crate::onboarding::audit_entry(actor, "set_terms", partner_id, None, None, Some(&json.to_string()), now);
        store::audit::record(&mut tx, &entry).await?;
        tx.commit().await.map_err(store::Error::from)?;
        self.partner_changes.changed();
        self.remember_user_pricing(partner_id, terms.user_pricing);
        Ok(terms.clone())
    }

    /// Applies `event` to the order with optimistic retries; harmless repeats (late or duplicate
    /// reports) return the order unchanged.
    pub(crate) async fn apply(&self, order_id: Uuid, event: OrderEvent, detail: Option<String>) -> Result<Order> {
        for _ in 0..8 {
            let now = self.now();
            let mut tx = self.db.begin().await?;
            let StoredOrder { mut order, version } = orders::by_id(&mut tx, order_id).await?.ok_or(Error::not_found("order"))?;
            match order.apply(event.clone(), now) {
                Ok(transition) => {
                    if !orders::update(&mut tx, &order, version).await? {
                        continue;
                    }
                    orders::record_transition(&mut tx, &transition, detail.as_deref()).await?;
                    tx.commit().await.map_err(store::Error::from)?;
                    return Ok(order);
                }
                Err(e) if e.is_harmless() => return Ok(order),
                Err(e) => {
                    return Err(Error::Conflict { code: "order_state", field: None, message: e.to_string(), message_zh: e.message_zh() });
                }
            }
        }
        Err(Error::Internal("order kept changing under us".into()))
    }

    /// Our user starts charging at a partner's connector; a reservation the user holds on it
    /// is used (the partner's reservation extension consumes it on start).
    pub async fn start_charging(&self, user: &UserRecord, connector_id: Uuid) -> Result<OrderView> {
        let gateway = self.operator_gateway.clone().ok_or_else(|| Error::Internal("no operator gateway configured".into()))?;
        let (connector, partner_id) = self.partner_connector(connector_id)?;
        let order = match self.users_reservation(user, connector_id).await? {
            Some(reserved) => self.apply(reserved.id, OrderEvent::StartRequested, Some("reservation used".into())).await?,
            None => {
                self.ensure_free(connector_id)?;
                self.new_partner_order(user, partner_id, connector_id, OrderEvent::StartRequested).await?
            }
        };
        let partner = self.partner(partner_id).await?;
        let seq = order.seq.clone();
        let order = match gateway.start(&partner, &seq, &connector.external_id).await {
            Ok(StartReply::Accepted) => self.apply(order.id, OrderEvent::StartAccepted, None).await?,
            Ok(StartReply::Refused(reason)) => self.apply(order.id, OrderEvent::StartRefused { reason }, None).await?,
            Err(GatewayError::NoAnswer(why)) => self.apply(order.id, OrderEvent::StartTimedOut, Some(why)).await?,
            Err(e) => {
                self.apply(order.id, OrderEvent::StartRefused { reason: FailureReason::Refused { code: -1, detail: Some(e.to_string()) } }, Some(e.to_string()))
                    .await?
            }
        };
        tracing::info!(order = %order.id, seq = %seq, state = %order.state, "start requested");
        Ok(self.view(&order))
    }

    /// A partner's connector the driver picked, and the partner operating it.
    pub(crate) fn partner_connector(&self, connector_id: Uuid) -> Result<(crate::catalog::ConnectorSummary, Uuid)> {
        let cache = self.catalog.read();
        let station = cache.station_of(connector_id).and_then(|s| cache.summary(s)).ok_or(Error::not_found("connector"))?;
        let connector = station.connectors.iter().find(|c| c.id == connector_id).cloned().ok_or(Error::not_found("connector"))?;
        let partner_id = station.partner_id.ok_or_else(|| Error::forbidden("our own piles are started through the pile API", "自营桩请通过桩控制接口启动"))?;
        Ok((connector, partner_id))
    }

    pub(crate) fn ensure_free(&self, connector_id: Uuid) -> Result<()> {
        let status = self.hub.effective(connector_id, self.now());
        if status.is_free() {
            return Ok(());
        }
        Err(Error::Conflict {
            code: "connector_not_free",
            field: Some("connector_id"),
            message: format!("the connector is {status:?}, not free; choose another one"),
            message_zh: format!("该充电枪当前为「{}」，请选择空闲的充电枪", status.label_zh()),
        })
    }

    /// Writes a new flow-A order of `user` at a partner's connector, moved by its first event,
    /// before the partner is asked anything: its StartChargeSeq is the idempotency key.
    pub(crate) async fn new_partner_order(&self, user: &UserRecord, partner_id: Uuid, connector_id: Uuid, first: OrderEvent) -> Result<Order> {
        let now = self.now();
        for attempt in 1..=SEQ_ATTEMPTS {
            let seq = self.next_start_charge_seq(now).await?;
            let mut order = Order::new(Uuid::now_v7(), seq, Ownership::PartnerPile { user_id: user.id, operator_partner_id: partner_id }, connector_id, now);
            let transition = order.apply(first.clone(), now).map_err(|e| Error::Internal(e.to_string()))?;
            let mut tx = self.db.begin().await?;
            match orders::insert(&mut tx, &order).await {
                // Taken already (a restored database, a clock set back): draw the next one.
                Err(store::Error::Duplicate { constraint }) if constraint.contains("seq") && attempt < SEQ_ATTEMPTS => {
                    tracing::warn!(seq = %order.seq, attempt, "StartChargeSeq already taken; drawing another");
                    continue;
                }
                other => other?,
            }
            orders::record_transition(&mut tx, &transition, None).await?;
            tx.commit().await.map_err(store::Error::from)?;
            return Ok(order);
        }
        Err(Error::Internal("no free StartChargeSeq after several attempts".into()))
    }

    /// Our OperatorID, the Beijing second, and the last four digits of a counter every instance
    /// shares: orders of one second differ unless more than 10,000 start in it.
    async fn next_start_charge_seq(&self, now: DateTime<Utc>) -> Result<StartChargeSeq> {
        let number = {
            let mut conn = self.db.acquire().await?;
            store::seq_counters::next_start_charge_seq(&mut conn).await?
        };
        let counter = u16::try_from(number.rem_euclid(i64::from(SEQ_COUNTER_MOD))).expect("below 10,000");
        StartChargeSeq::generate(&self.settings.our_operator_id, now, counter).map_err(|e| Error::Internal(e.to_string()))
    }

    pub(crate) async fn users_order(&self, user: &UserRecord, order_id: Uuid) -> Result<Order> {
        let mut conn = self.db.acquire().await?;
        let stored = orders::by_id(&mut conn, order_id).await?.ok_or(Error::not_found("order"))?;
        match stored.order.ownership {
            Ownership::PartnerPile { user_id, .. } | Ownership::Own { user_id } if user_id == user.id => Ok(stored.order),
            _ => Err(Error::not_found("order")),
        }
    }

    pub async fn order_for_user(&self, user: &UserRecord, order_id: Uuid) -> Result<OrderView> {
        Ok(self.view(&self.users_order(user, order_id).await?))
    }

    pub async fn orders_for_user(&self, user: &UserRecord, limit: i64, offset: i64) -> Result<Vec<OrderView>> {
        let mut conn = self.db.acquire().await?;
        Ok(orders::for_user(&mut conn, user.id, limit, offset).await?.iter().map(|s| self.view(&s.order)).collect())
    }

    pub async fn stop_charging(&self, user: &UserRecord, order_id: Uuid) -> Result<OrderView> {
        let gateway = self.operator_gateway.clone().ok_or_else(|| Error::Internal("no operator gateway configured".into()))?;
        let order = self.users_order(user, order_id).await?;
        let Ownership::PartnerPile { operator_partner_id, .. } = order.ownership else {
            return Err(Error::forbidden("not a partner order", "非第三方桩订单"));
        };
        let order = self.apply(order.id, OrderEvent::StopRequested, None).await?;
        let partner = self.partner(operator_partner_id).await?;
        let connector = self.connector_external(order.connector_id).ok_or(Error::not_found("connector"))?;
        let order = match gateway.stop(&partner, &order.seq, &connector).await {
            Ok(StopReply::Accepted) => self.apply(order.id, OrderEvent::StopAccepted, None).await?,
            Ok(StopReply::AlreadyStopped) => self.apply(order.id, OrderEvent::StopRefused { already_stopped: true }, None).await?,
            Ok(StopReply::Refused(why)) => self.apply(order.id, OrderEvent::StopRefused { already_stopped: false }, Some(why)).await?,
            Err(GatewayError::NoAnswer(why)) => self.apply(order.id, OrderEvent::StopTimedOut, Some(why)).await?,
            Err(e) => return Err(gateway_error(e)),
        };
        Ok(self.view(&order))
    }

    pub(crate) fn connector_external(&self, connector_id: Uuid) -> Option<String> {
        let cache = self.catalog.read();
        let station = cache.summary(cache.station_of(connector_id)?)?;
        station.connectors.iter().find(|c| c.id == connector_id).map(|c| c.external_id.clone())
    }

    /// Refuses a partner that is not an approved operator: only the operator of a pile reports
    /// what happens on it (session results, status, the charge-end record, reconciliation).
    pub async fn require_operator(&self, partner_id: Uuid) -> Result<()> {
        let partner = self.partner(partner_id).await?;
        if partner.state != domain::partner::ReviewState::Approved || !partner.application.roles.is_operator() {
            return Err(Error::forbidden(
                "only an approved operator partner may report on charging sessions at its piles",
                "仅已审核通过的运营商合作方可上报其充电桩上的充电信息",
            ));
        }
        Ok(())
    }

    /// A flow-A order by our StartChargeSeq, for the operator of its connector only: an order
    /// of another operator, a partner platform's own session on our pile (flow B, billed only
    /// from our meter) or one of our own users at our pile is unknown to the caller.
    pub(crate) async fn partner_order(&self, partner_id: Uuid, seq: &str) -> Result<Order> {
        self.require_operator(partner_id).await?;
        let mut conn = self.db.acquire().await?;
        let stored = orders::by_seq(&mut conn, seq).await?.ok_or(Error::not_found("order"))?;
        match stored.order.ownership {
            Ownership::PartnerPile { operator_partner_id, .. } if operator_partner_id == partner_id => Ok(stored.order),
            _ => Err(Error::not_found("order")),
        }
    }

    /// Our StartChargeSeq of the flow-A order `order_id`, for the operator of its connector only:
    /// partners of our REST API name sessions by our order id. Whether the partner is still an
    /// approved operator is checked once, by the `on_*` report that follows
    /// ([`Self::partner_order`]).
    pub async fn operator_session_seq(&self, partner_id: Uuid, order_id: Uuid) -> Result<String> {
        let mut conn = self.db.acquire().await?;
        let stored = orders::by_id(&mut conn, order_id).await?.ok_or(Error::not_found("session"))?;
        match stored.order.ownership {
            Ownership::PartnerPile { operator_partner_id, .. } if operator_partner_id == partner_id => Ok(stored.order.seq.as_str().to_owned()),
            _ => Err(Error::not_found("session")),
        }
    }

    /// Our order id of the order numbered `seq` (the id REST partners know it by).
    pub async fn order_id_of_seq(&self, seq: &str) -> Result<Uuid> {
        let mut conn = self.db.acquire().await?;
        Ok(orders::by_seq(&mut conn, seq).await?.ok_or(Error::not_found("order"))?.order.id)
    }

    /// The partner's report of how a start went: `None` when the session is charging, else why
    /// it did not start.
    pub async fn on_start_result(&self, partner_id: Uuid, seq: &str, failure: Option<FailureReason>) -> Result<OrderView> {
        let order = self.partner_order(partner_id, seq).await?;
        let (success, fail_reason) = (failure.is_none(), failure);
        let order = self.apply(order.id, OrderEvent::StartResultNotified { success, fail_reason }, None).await?;
        Ok(self.view(&order))
    }

    pub async fn on_charge_status(
        &self,
        partner_id: Uuid,
        seq: &str,
        remote: RemoteState,
        energy: Option<Decimal>,
        money: Option<Decimal>,
        soc: Option<Decimal>,
    ) -> Result<OrderView> {
        let order = self.partner_order(partner_id, seq).await?;
        let event = OrderEvent::ChargeStatusReported {
            remote,
            // Progress beyond one session's bounds is not believed (the adapter refuses it first).
            energy: energy.and_then(|e| Energy::session(e).ok()),
            money: money.and_then(|m| Money::session(m).ok()),
            soc_percent: soc.and_then(|s| u8::try_from(s.round().mantissa()).ok()).filter(|s| *s <= 100),
        };
        let order = self.apply(order.id, event, None).await?;
        Ok(self.view(&order))
    }

    pub async fn on_stop_result(&self, partner_id: Uuid, seq: &str, success: bool) -> Result<OrderView> {
        let order = self.partner_order(partner_id, seq).await?;
        let event = if success { OrderEvent::StopConfirmed } else { OrderEvent::StopRefused { already_stopped: false } };
        let order = self.apply(order.id, event, None).await?;
        Ok(self.view(&order))
    }

    /// The charge-end record: checked, recorded, billed with our pricing when it adds up, and
    /// held as disputed for an admin when it does not (`crate::disputes`).
    pub async fn on_charge_order(&self, partner_id: Uuid, record: PartnerChargeOrder) -> Result<RecordVerdict> {
        let order = self.partner_order(partner_id, &record.seq).await?;
        let discrepancies = validate_partner_totals(&record.details, &record.totals);
        if !discrepancies.is_empty() && order.record.is_some() {
            // Held (or already settled by an admin): the same answer again, nothing changes.
            return Ok(RecordVerdict::Disputed(discrepancies));
        }
        let charge = ChargeRecord {
            start: record.start,
            end: record.end,
            energy: record.totals.total_energy,
            elec_money: record.totals.total_elec,
            service_money: record.totals.total_service,
            total_money: record.totals.total,
            stop_reason: record.stop_reason,
        };
        let order = self.apply(order.id, OrderEvent::ChargeEnded { record: charge }, None).await?;
        let partner_amounts = SessionAmounts::new(record.totals.total_energy, record.totals.total_elec, record.totals.total_service)
            .map_err(|e| Error::invalid("TotalMoney", e.to_string(), "金额不合法"))?;
        let terms = self.partner_terms(partner_id).await?;
        let user_amounts = user_fee(&partner_amounts, &terms.user_pricing);
        let detail_amounts = (!discrepancies.is_empty()).then(|| crate::disputes::computed_from_detail(&record.details)).flatten();
        {
            let mut conn = self.db.acquire().await?;
            let as_json = |v: &dyn erased::Json| v.json();
            let detail_json = detail_amounts.as_ref().map(|d| as_json(d));
            orders::save_bill(
                &mut conn,
                order.id,
                &as_json(&partner_amounts),
                &as_json(&user_amounts),
                &as_json(&discrepancies),
                detail_json.as_ref(),
                self.now(),
            )
            .await?;
        }
        if !discrepancies.is_empty() {
            tracing::warn!(order = %order.id, partner = %partner_id, count = discrepancies.len(), "charge record does not add up; held as disputed");
            if order.state == OrderState::Finished {
                self.apply(order.id, OrderEvent::RecordDisputed, None).await?;
            }
            return Ok(RecordVerdict::Disputed(discrepancies));
        }
        if order.state == OrderState::Finished {
            self.apply(order.id, OrderEvent::Billed { amount: user_amounts.total }, None).await?;
        }
        Ok(RecordVerdict::Accepted)
    }

    /// Pays a billed order from the wallet: the wallet movement, the payment, the `Paid`
    /// transition, the settlement line and its announcement to the partner commit together.
    pub async fn pay_with_wallet(&self, user: &UserRecord, order_id: Uuid) -> Result<OrderView> {
        let order = self.users_order(user, order_id).await?;
        let amount = match (order.state, order.billed_amount) {
            (OrderState::Billed, Some(amount)) => amount,
            (OrderState::Paid, _) => return Ok(self.view(&order)),
            _ => {
                return Err(Error::Conflict {
                    code: "not_payable",
                    field: None,
                    message: format!("the order is {} and cannot be paid now", order.state),
                    message_zh: format!("订单当前为「{}」，暂不能支付", order.state.label_zh()),
                });
            }
        };
        let Ownership::PartnerPile { operator_partner_id, .. } = order.ownership else {
            return Err(Error::forbidden("not a partner order", "非第三方桩订单"));
        };
        let terms = self.partner_terms(operator_partner_id).await?;
        for _ in 0..8 {
            match self.commit_payment(order_id, amount, &Funding::Wallet { user_id: user.id }, operator_partner_id, &terms).await? {
                PaidAttempt::Paid(current) | PaidAttempt::AlreadyPaid(current) => return Ok(self.view(&current)),
                PaidAttempt::NotPayable(_, e) => {
                    return Err(Error::Conflict { code: "order_state", field: None, message: e.to_string(), message_zh: e.message_zh() });
                }
                PaidAttempt::Changed => continue,
            }
        }
        Err(Error::Internal("order kept changing under us".into()))
    }

    /// One attempt at paying a billed order, shared by every way of paying: the money (taken
    /// from the wallet, or already collected by a gateway), the `Paid` transition, the payment
    /// row, the settlement line and its announcement to the partner commit in one transaction
    /// or not at all, so no path can pay an order without settling it or settle it twice.
    pub(crate) async fn commit_payment(
        &self,
        order_id: Uuid,
        amount: Money,
        funding: &Funding,
        operator_partner_id: Uuid,
        terms: &PartnerTerms,
    ) -> Result<PaidAttempt> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let StoredOrder { order: mut current, version } = orders::by_id(&mut tx, order_id).await?.ok_or(Error::not_found("order"))?;
        if current.state == OrderState::Paid {
            return Ok(PaidAttempt::AlreadyPaid(current));
        }
        let payment_id = match funding {
            Funding::Wallet { .. } => Uuid::now_v7(),
            Funding::Gateway { payment_id, .. } => *payment_id,
        };
        let transition = match current.apply(OrderEvent::Paid { payment_id: payment_id.to_string(), amount }, now) {
            Ok(transition) => transition,
            Err(e) => return Ok(PaidAttempt::NotPayable(current, e)),
        };
        if let Funding::Wallet { user_id } = funding
            && store::users::move_wallet(&mut tx, *user_id, -storable(amount)?, "order_payment", Some(&order_id.to_string()), now).await?.is_none()
        {
            return Err(Error::Conflict {
                code: "insufficient_balance",
                field: None,
                message: format!("the wallet holds less than {amount}; top up first"),
                message_zh: format!("钱包余额不足 {amount}，请先充值"),
            });
        }
        if !orders::update(&mut tx, &current, version).await? {
            return Ok(PaidAttempt::Changed);
        }
        // After the order's compare-and-set, so a racing payment of the same order loses on
        // the order's version rather than on the one-success index.
        if let Funding::Gateway { payment_id, settled_at } = funding
            && !store::payments::settle(&mut tx, *payment_id, "pending", "succeeded", *settled_at, now).await?
        {
            return Ok(PaidAttempt::Changed);
        }
        orders::record_transition(&mut tx, &transition, None).await?;
        if let Funding::Wallet { user_id } = funding {
            let mut payment = store::payments::PaymentRecord::new(payment_id, order_id, *user_id, "wallet", storable(amount)?, "succeeded", now);
            payment.settled_at = Some(now);
            store::payments::insert(&mut tx, &payment).await?;
        }
        let record = current.record.clone().ok_or_else(|| Error::Internal("paid order without a record".into()))?;
        let partner_amounts = SessionAmounts::new(record.energy, record.elec_money, record.service_money).map_err(|e| Error::Internal(e.to_string()))?;
        let paid = user_fee(&partner_amounts, &terms.user_pricing);
        let line = SettlementLine::flow_a(order_id, &partner_amounts, &paid, &terms.commission, now);
        store::settlement::insert_line(&mut tx, operator_partner_id, &line).await?;
        let notice = serde_json::json!({
            "seq": current.seq.as_str(),
            "partner_amount": line.partner_amount,
            "commission": line.our_amount,
            "gross": line.gross,
            "energy": line.energy,
            "paid_at": now,
        });
        // Told by webhook where the partner has one (see `webhook_targets`); the line is recorded either way.
        let partner = store::partners::get(&mut tx, operator_partner_id).await?.ok_or(Error::not_found("partner"))?;
        if crate::webhook_targets::webhook_target(&mut tx, &partner).await?.is_some() {
            store::outbox::enqueue(&mut tx, operator_partner_id, "settlement.order_paid", current.seq.as_str(), &notice, now).await?;
        }
        tx.commit().await.map_err(store::Error::from)?;
        self.waker.wake();
        tracing::info!(order = %order_id, amount = %amount, partner_amount = %line.partner_amount, commission = %line.our_amount, "order paid");
        Ok(PaidAttempt::Paid(current))
    }

    /// Orders whose outcome we do not know (no answer, or no result in time): ask the partner,
    /// and move them only on what it says.
    pub async fn resolve_unknown_outcomes(&self) -> Result<usize> {
        let Some(gateway) = self.operator_gateway.clone() else { return Ok(0) };
        let deadline = self.now() - self.settings.start_result_deadline;
        let mut stuck = Vec::new();
        {
            let mut conn = self.db.acquire().await?;
            for state in [OrderState::UnknownOutcome, OrderState::Starting] {
                stuck.extend(orders::stale(&mut conn, state.as_str(), deadline, 100).await?);
            }
        }
        let mut resolved = 0;
        for StoredOrder { order, .. } in stuck {
            // Flow A only: the partner is the operator we can ask about the session.
            let Ownership::PartnerPile { operator_partner_id: partner_id, .. } = order.ownership else { continue };
            if order.pending == Some(PendingCommand::Reserve) {
                resolved += usize::from(self.resolve_unknown_reservation(&order).await?);
                continue;
            }
            let partner = self.partner(partner_id).await?;
            let event = match gateway.session(&partner, &order.seq).await {
                Ok(SessionReport::NotFound) => OrderEvent::QueryFoundNoSession,
                Ok(SessionReport::Starting) => continue,
                Ok(SessionReport::Charging { energy_kwh, money, soc, .. }) => OrderEvent::ChargeStatusReported {
                    remote: RemoteState::Charging,
                    energy: Energy::session(energy_kwh).ok(),
                    money: money.and_then(|m| Money::session(m).ok()),
                    soc_percent: soc.and_then(|s| u8::try_from(s.round().mantissa()).ok()),
                },
                Ok(SessionReport::Stopping) => OrderEvent::ChargeStatusReported { remote: RemoteState::Stopping, energy: None, money: None, soc_percent: None },
                Ok(SessionReport::Ended) => OrderEvent::ChargeStatusReported { remote: RemoteState::Ended, energy: None, money: None, soc_percent: None },
                Err(e) => {
                    tracing::info!(order = %order.id, error = %e, "outcome still unknown; will ask again");
                    continue;
                }
            };
            if self.apply(order.id, event, Some("resolved by query".into())).await.is_ok() {
                resolved += 1;
            }
        }
        Ok(resolved)
    }
}

/// An amount in the integer ten-thousandths we store, or a specific error (never a panic).
pub(crate) fn storable(amount: Money) -> Result<i64> {
    amount.to_ten_thousandths().map_err(|e| Error::invalid("amount", e.to_string(), e.message_zh()))
}

/// Where the money of a payment comes from.
pub(crate) enum Funding {
    /// Taken from the user's wallet in the payment's transaction; the payment row is written then.
    Wallet { user_id: Uuid },
    /// Already collected by a gateway: its pending payment row becomes `succeeded`.
    Gateway { payment_id: Uuid, settled_at: DateTime<Utc> },
}

/// How one attempt at paying an order ended.
pub(crate) enum PaidAttempt {
    Paid(Order),
    /// The order was paid already (by this request before, or by another payment); nothing written.
    AlreadyPaid(Order),
    /// The order cannot take this payment (not billed, refunded, another amount); nothing written.
    NotPayable(Order, domain::order::OrderError),
    /// The order or the payment changed under us: read again and retry.
    Changed,
}

/// JSON of the different bill parts without a trait object per type.
mod erased {
    pub trait Json {
        fn json(&self) -> serde_json::Value;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> serde_json::Value {
            serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
        }
    }
}

/// What we dispute about one order a partner listed for us to check: why, and our figures for
/// it (zero when we have no such order).
#[derive(Debug, Clone, PartialEq)]
pub struct Dispute {
    pub seq: String,
    pub kind: DisputeKind,
    pub energy: Energy,
    pub money: Money,
}

impl Services {
    /// Compares the orders a partner lists with our records of them, each by
    /// [`domain::settlement::reconcile`]: a missing order, or energy / money that differ by more
    /// than the default tolerance, is disputed — one dispute per listed order, the most serious
    /// difference (no such order, then money, then energy), in the partner's order.
    pub async fn reconcile_listed_orders(&self, partner_id: Uuid, listed: &[LedgerEntry]) -> Result<Vec<Dispute>> {
        self.require_operator(partner_id).await?;
        let mut disputes = Vec::new();
        let mut conn = self.db.acquire().await?;
        for item in listed {
            // Only flow-A orders at this operator's piles: anything else is "no such transaction".
            let at_its_piles =
                |s: &StoredOrder| matches!(s.order.ownership, Ownership::PartnerPile { operator_partner_id, .. } if operator_partner_id == partner_id);
            // Our figures: the record as billed (an admin's resolution of a disputed record
            // included), nothing for a record written off. That is how the partner learns the
            // outcome of a dispute (docs/disputed-charge-records.md).
            let ours: Option<LedgerEntry> = orders::by_seq(&mut conn, &item.order).await?.filter(at_its_piles).and_then(|s| {
                let written_off = s.order.state == OrderState::WrittenOff;
                s.order.record.map(|r| LedgerEntry {
                    order: item.order.clone(),
                    energy: r.energy,
                    amount: if written_off { Money::ZERO } else { r.total_money },
                })
            });
            // Each listed order on its own: a partner listing one order twice gets two answers.
            let differences = reconcile(ours.as_slice(), Some(std::slice::from_ref(item)), None, Tolerance::default());
            if let Some(kind) = DisputeKind::most_serious(differences.iter().filter_map(|d| d.dispute_kind())) {
                let (energy, money) = ours.map_or((Energy::ZERO, Money::ZERO), |o| (o.energy, o.amount));
                disputes.push(Dispute { seq: item.order.clone(), kind, energy, money });
            }
        }
        Ok(disputes)
    }
}
