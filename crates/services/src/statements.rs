//! Settlement statements per partner and period: the settlement lines of both flows netted
//! into one amount, reconciled before anyone confirms them — flow-A lines against our payments,
//! flow-B lines against the partner's own records (its uploaded statement, else its check of our
//! list when its protocol lets us ask) — and moved by finance through draft → confirmed → paid.
//! A draft may be drawn up again; a confirmed statement is frozen.

use chrono::{DateTime, Duration, Utc};
use domain::money::Money;
use domain::order::Ownership;
use domain::settlement::{Difference, DisputeKind, Flow, LedgerEntry, PaymentEntry, SettlementLine, Statement, StatementState, Tolerance, reconcile};
use store::statements::{self as repo, StatementRecord};
use store::{Page, PageRequest};
use uuid::Uuid;

use crate::onboarding::{Actor, audit_entry};
use crate::ports::OrderDispute;
use crate::{Error, Result, Services};

/// Longest period one statement may cover.
const MAX_PERIOD_DAYS: i64 = 93;

/// What a statement's flow-B lines were compared with.
#[derive(Clone, Copy)]
enum Reconciled {
    PartnerStatement,
    CheckChargeOrders,
    Nothing,
}

impl Reconciled {
    fn as_str(self) -> &'static str {
        match self {
            Self::PartnerStatement => "partner_statement",
            Self::CheckChargeOrders => "check_charge_orders",
            Self::Nothing => "none",
        }
    }
}

/// A settlement period: ends after it starts, at most [`MAX_PERIOD_DAYS`] long.
pub(crate) fn check_period(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<()> {
    if end <= start || end - start > Duration::days(MAX_PERIOD_DAYS) {
        return Err(Error::invalid(
            "end",
            format!("the period must end after it starts and span at most {MAX_PERIOD_DAYS} days"),
            format!("结算周期须晚于开始时间且不超过 {MAX_PERIOD_DAYS} 天"),
        ));
    }
    Ok(())
}

/// What a partner's dispute of one of our flow-B lines puts on the statement: its own figures
/// against ours. Both figures are compared whatever reason it gave (a wrong amount often comes
/// with a wrong energy); a dispute whose figures agree with ours is still listed, under the
/// reason it gave, so nothing the partner raised is hidden.
fn differences_for(dispute: OrderDispute, line: &SettlementLine) -> Vec<Difference> {
    let OrderDispute { seq, kind, energy, amount } = dispute;
    if kind == DisputeKind::NoSuchOrder {
        return vec![Difference::MissingTheirs { order: seq }];
    }
    let ours = LedgerEntry { order: seq.clone(), energy: line.energy, amount: line.gross };
    let theirs = LedgerEntry { order: seq.clone(), energy, amount };
    let found = reconcile(&[ours], Some(&[theirs]), None, Tolerance::default());
    if !found.is_empty() {
        return found;
    }
    vec![match kind {
        DisputeKind::EnergyDiffers => Difference::EnergyMismatch { order: seq, ours: line.energy, theirs: energy },
        _ => Difference::AmountMismatch { order: seq, ours: line.gross, theirs: amount },
    }]
}

impl Services {
    /// Draws up (or, while still a draft, draws up again) the statement for `[start, end)`.
    pub async fn draw_up_statement(&self, partner_id: Uuid, start: DateTime<Utc>, end: DateTime<Utc>, actor: &Actor) -> Result<StatementRecord> {
        check_period(start, end)?;
        let partner = self.partner(partner_id).await?;
        // Our ledger of the flow-A orders our users paid us for, and the payment ledger of
        // those orders: what succeeded, and what was paid back.
        let (lines, seqs, collected, payments) = {
            let mut conn = self.db.acquire().await?;
            let lines = store::settlement::lines(&mut conn, partner_id, start, end).await?;
            let mut seqs = Vec::with_capacity(lines.len());
            let mut collected = Vec::new();
            let mut payments = Vec::new();
            for line in &lines {
                let order = store::orders::by_id(&mut conn, line.order_id).await?.ok_or(Error::not_found("order"))?.order;
                let seq = order.seq.as_str().to_owned();
                if line.flow == Flow::A && matches!(order.ownership, Ownership::PartnerPile { .. }) {
                    collected.push(LedgerEntry { order: seq.clone(), energy: line.energy, amount: line.gross });
                    for p in store::payments::for_order(&mut conn, line.order_id).await? {
                        let amount = Money::from_ten_thousandths(p.amount);
                        match p.status.as_str() {
                            "succeeded" => payments.push(PaymentEntry::paid(seq.clone(), amount)),
                            "refunded" => payments.push(PaymentEntry::refund(seq.clone(), amount)),
                            _ => {}
                        }
                    }
                }
                seqs.push(seq);
            }
            (lines, seqs, collected, payments)
        };
        let statement = Statement::for_period(partner_id, start, end, &lines);

        // Flow A: every line was paid by our user, exactly (to the fen, not within a tolerance).
        let exact = Tolerance { money: rust_decimal::Decimal::ZERO, ..Tolerance::default() };
        let mut differences = reconcile(&collected, None, Some(&payments), exact);
        // Flow B: compared with the partner's uploaded statement for the period if there is one,
        // else the partner checks our list, where its protocol can (`PartnerLedger`).
        let flow_b: Vec<(LedgerEntry, &SettlementLine)> = lines
            .iter()
            .zip(&seqs)
            .filter(|(l, _)| l.flow == Flow::B)
            .map(|(l, seq)| (LedgerEntry { order: seq.clone(), energy: l.energy, amount: l.gross }, l))
            .collect();
        let ours: Vec<LedgerEntry> = flow_b.iter().map(|(e, _)| e.clone()).collect();
        let uploaded = {
            let mut conn = self.db.acquire().await?;
            store::partner_statements::entries_for(&mut conn, partner_id, start, end).await?
        };
        let mut reconciled_with = Reconciled::Nothing;
        if let Some(theirs) = uploaded {
            differences.extend(reconcile(&ours, Some(&theirs), None, Tolerance::default()));
            reconciled_with = Reconciled::PartnerStatement;
        } else if let (false, Some(ledger)) = (flow_b.is_empty(), self.partner_ledger.as_ref().filter(|l| l.checks_orders(&partner))) {
            let disputes = ledger.check_orders(&partner, start, end, &ours).await.map_err(|e| Error::Unavailable {
                message: format!("the partner could not check our orders: {e}; try again later, or upload the partner's statement for this period"),
                message_zh: "合作方对账接口暂不可用，请稍后重试，或上传合作方该周期的对账单".into(),
            })?;
            for d in disputes {
                let line = flow_b.iter().find(|(e, _)| e.order == d.seq).map(|(_, l)| *l);
                match line {
                    Some(line) => differences.extend(differences_for(d, line)),
                    None => differences.push(Difference::MissingOurs { order: d.seq }),
                }
            }
            reconciled_with = Reconciled::CheckChargeOrders;
        }

        let now = self.now();
        let record = StatementRecord {
            id: Uuid::now_v7(),
            partner_id,
            period_start: start,
            period_end: end,
            state: StatementState::Draft.as_str().into(),
            body: serde_json::to_value(&statement).map_err(|e| Error::Internal(e.to_string()))?,
            differences: serde_json::to_value(&differences).map_err(|e| Error::Internal(e.to_string()))?,
            reconciled_with: reconciled_with.as_str().into(),
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.db.begin().await?;
        // A draft for the same period is replaced; anything further along is not.
        let replaced = store::statements::delete_draft(&mut tx, partner_id, start, end).await?;
        match repo::insert(&mut tx, &record).await {
            Err(store::Error::Duplicate { .. }) => {
                return Err(Error::Conflict {
                    code: "statement_confirmed",
                    field: None,
                    message: "a statement for this period is already confirmed".into(),
                    message_zh: "该结算周期的结算单已确认，不能重新生成".into(),
                });
            }
            other => other?,
        }
        let action = if replaced { "redraw_statement" } else { "draw_up_statement" };
        store::audit::record(&mut tx, &audit_entry(actor, action, partner_id, None, None, Some(&record.id.to_string()), now)).await?;
        tx.commit().await.map_err(store::Error::from)?;
        tracing::info!(partner = %partner_id, lines = statement.order_count, differences = differences.len(), "statement drawn up");
        Ok(record)
    }

    pub async fn statement(&self, id: Uuid) -> Result<StatementRecord> {
        let mut conn = self.db.acquire().await?;
        repo::by_id(&mut conn, id).await?.ok_or(Error::not_found("statement"))
    }

    pub async fn statements(&self, partner_id: Uuid, page: PageRequest) -> Result<Page<StatementRecord>> {
        let mut conn = self.db.acquire().await?;
        Ok(repo::for_partner(&mut conn, partner_id, page).await?)
    }

    /// Finance moves a statement forward (confirmed, then paid); audited.
    pub async fn advance_statement(&self, id: Uuid, to: StatementState, actor: &Actor) -> Result<StatementRecord> {
        let current = self.statement(id).await?;
        let from = StatementState::parse(&current.state).ok_or_else(|| Error::Internal(format!("statement state {}", current.state)))?;
        from.advance(to).map_err(|e| Error::Conflict {
            code: "statement_state",
            field: None,
            message: e.to_string(),
            message_zh: format!("结算单当前为「{}」，不能变为「{}」", from.label_zh(), to.label_zh()),
        })?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        if !repo::set_state(&mut tx, id, from.as_str(), to.as_str(), now).await? {
            return Err(Error::Conflict {
                code: "statement_state",
                field: None,
                message: "the statement changed meanwhile; reload it".into(),
                message_zh: "结算单已被修改，请刷新".into(),
            });
        }
        store::audit::record(&mut tx, &audit_entry(actor, &format!("statement_{}", to.as_str()), current.partner_id, None, None, Some(&id.to_string()), now))
            .await?;
        tx.commit().await.map_err(store::Error::from)?;
        self.statement(id).await
    }

    /// The statement as CSV for finance: one row per order, then the totals.
    pub async fn statement_csv(&self, id: Uuid) -> Result<String> {
        let record = self.statement(id).await?;
        let statement: Statement = serde_json::from_value(record.body).map_err(|e| Error::Internal(format!("statement body: {e}")))?;
        let mut conn = self.db.acquire().await?;
        let mut out = String::from("order_seq,flow,energy_kwh,gross,partner_amount,our_amount,at\n");
        for line in &statement.lines {
            let seq = store::orders::by_id(&mut conn, line.order_id).await?.map(|o| o.order.seq.as_str().to_owned()).unwrap_or_default();
            let flow = if line.flow == Flow::A { "A" } else { "B" };
            out.push_str(&format!(
                "{seq},{flow},{},{},{},{},{}\n",
                line.energy.value(),
                line.gross,
                line.partner_amount,
                line.our_amount,
                line.at.to_rfc3339()
            ));
        }
        out.push_str(&format!(
            "TOTAL,,{},{},{},{},net_to_partner={}\n",
            statement.total_energy.value(),
            statement.gross,
            statement.partner_amount,
            statement.our_amount,
            statement.net_to_partner
        ));
        Ok(out)
    }
}
