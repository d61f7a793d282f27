//! Orders as admins see them: every flow, filtered and paged (e.g. one platform partner's
//! flow-B orders), and one order's whole story (transitions, the partner's record, our bill).

use domain::order::{Order, Ownership};
use serde::Serialize;
use store::orders::{self, OrderFilter, TransitionRow};
use store::pile_reservations::PileReservation;
use store::{Page, PageRequest};
use uuid::Uuid;

use crate::{Error, Result, Services};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AdminOrderView {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub order: Order,
    /// `a` our driver at a partner's pile, `b` a partner's user at our pile, `own`.
    pub flow: &'static str,
    pub state_label_zh: String,
    pub message_zh: String,
    pub message_en: String,
}

impl From<Order> for AdminOrderView {
    fn from(order: Order) -> Self {
        let flow = match order.ownership {
            Ownership::PartnerPile { .. } => "a",
            Ownership::PartnerUser { .. } => "b",
            Ownership::Own { .. } => "own",
        };
        Self { flow, state_label_zh: order.state.label_zh().to_owned(), message_zh: order.message_zh(), message_en: order.message_en(), order }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AdminOrderDetail {
    #[serde(flatten)]
    pub view: AdminOrderView,
    /// Every state change, oldest first.
    pub transitions: Vec<TransitionRow>,
    /// The partner's charge record, what the user was billed and any numbers that did not add
    /// up (`null` before the session ended); for a disputed record also our figures computed
    /// from its detail lines and, once an admin settled it, the resolution.
    #[schema(value_type = Option<Object>)]
    pub bill: Option<serde_json::Value>,
    /// A partner's reservation on our pile: the hold the pile was asked for, until when, and
    /// the start that used it.
    pub reservation: Option<PileReservation>,
}

impl Services {
    pub async fn admin_orders(&self, filter: &OrderFilter, page: PageRequest) -> Result<Page<AdminOrderView>> {
        if let Some(flow) = filter.flow.as_deref()
            && !["a", "b", "own"].contains(&flow)
        {
            return Err(Error::invalid("flow", "must be a, b or own", "流程须为 a、b 或 own"));
        }
        if let Some(state) = filter.state.as_deref()
            && !domain::order::OrderState::ALL.iter().any(|s| s.as_str() == state)
        {
            return Err(Error::invalid("state", format!("unknown order state {state}"), "未知的订单状态"));
        }
        let mut conn = self.db.acquire().await?;
        let found = orders::list(&mut conn, filter, page).await?;
        Ok(Page { items: found.items.into_iter().map(|s| s.order.into()).collect(), page: found.page, per_page: found.per_page, total: found.total })
    }

    pub async fn admin_order(&self, id: Uuid) -> Result<AdminOrderDetail> {
        let mut conn = self.db.acquire().await?;
        let order = orders::by_id(&mut conn, id).await?.ok_or(Error::not_found("order"))?.order;
        let transitions = orders::transitions(&mut conn, id).await?;
        let bill = orders::bill(&mut conn, id).await?.map(|b| {
            serde_json::json!({"partner_record": b.partner_record, "user_amounts": b.user_amounts, "discrepancies": b.discrepancies,
                               "computed_from_detail": b.detail_amounts, "resolution": b.resolution})
        });
        let reservation = store::pile_reservations::by_order(&mut conn, id).await?;
        Ok(AdminOrderDetail { view: order.into(), transitions, bill, reservation })
    }
}
