//! Settlement statements per partner and period: the settlement lines of both flows netted
//! into one amount, reconciled before anyone confirms them — flow-A lines against our payments,
//! flow-B lines against the partner's own records (its uploaded statement, else its check of our
//! list when its protocol lets us ask) — and moved by finance through draft → confirmed → paid.
//! A draft may be drawn up again; a confirmed statement is frozen.

use chrono::{DateTime, Duration, Utc};
use domain::money::Money;
use domain::settlement::{Difference, DisputeKind, Flow, LedgerEntry, PaymentEntry, SettlementLine, Statement, StatementState, Tolerance, reconcile};
use store::settlement::StatementLine;
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
        // Page by page through the period's lines: totals added up, flow-A lines reconciled
        // with the payments of their orders — every difference is about one order, so a page
        // holds all of each order's entries — and only flow B's lines kept, for the partner's
        // side of the comparison. A million orders need a page of memory, not a million lines.
        let mut statement = Statement::for_period(partner_id, start, end, &[]);
        // Flow A: every line was paid by our user, exactly (to the fen, not within a tolerance).
        let exact = Tolerance { money: rust_decimal::Decimal::ZERO, ..Tolerance::default() };
        let mut differences = Vec::new();
        let mut flow_b_lines: Vec<(LedgerEntry, SettlementLine)> = Vec::new();
        let mut after = None;
        loop {
            let mut conn = self.db.acquire().await?;
            let page = store::settlement::statement_lines_page(&mut conn, partner_id, (start, end), after, LINES_PER_PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some((last.line.at, last.line.order_id));
            let paid_orders: Vec<&StatementLine> = page.iter().filter(|r| r.line.flow == Flow::A && r.at_partner_pile).collect();
            let ids: Vec<Uuid> = paid_orders.iter().map(|r| r.line.order_id).collect();
            let payments: Vec<PaymentEntry> = store::settlement::payments_of_orders(&mut conn, &ids)
                .await?
                .into_iter()
                .map(|(seq, status, amount)| {
                    let amount = Money::from_ten_thousandths(amount);
                    if status == "refunded" { PaymentEntry::refund(seq, amount) } else { PaymentEntry::paid(seq, amount) }
                })
                .collect();
            drop(conn);
            let collected: Vec<LedgerEntry> =
                paid_orders.iter().map(|r| LedgerEntry { order: r.seq.clone(), energy: r.line.energy, amount: r.line.gross }).collect();
            differences.extend(reconcile(&collected, None, Some(&payments), exact));
            let lines: Vec<SettlementLine> = page.iter().map(|r| r.line.clone()).collect();
            statement.add_totals(&Statement::for_period(partner_id, start, end, &lines));
            let full = page.len() as i64 == LINES_PER_PAGE;
            flow_b_lines.extend(
                page.into_iter()
                    .filter(|r| r.line.flow == Flow::B)
                    .map(|r| (LedgerEntry { order: r.seq, energy: r.line.energy, amount: r.line.gross }, r.line)),
            );
            if !full {
                break;
            }
        }
        differences.sort_by(|a, b| a.order().cmp(b.order()));
        // Flow B: compared with the partner's uploaded statement for the period if there is one,
        // else the partner checks our list, where its protocol can (`PartnerLedger`).
        let flow_b: Vec<(LedgerEntry, &SettlementLine)> = flow_b_lines.iter().map(|(e, l)| (e.clone(), l)).collect();
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
            body: summary_of(&statement)?,
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
        Ok(repo::for_partner(&mut conn, partner_id, true, page).await?)
    }

    /// The statements issued to a partner (confirmed or paid), newest period first: drafts are
    /// finance's work in progress.
    pub async fn issued_statements(&self, partner_id: Uuid, page: PageRequest) -> Result<Page<StatementRecord>> {
        let mut conn = self.db.acquire().await?;
        Ok(repo::for_partner(&mut conn, partner_id, false, page).await?)
    }

    /// One statement issued to `partner_id`; anyone else's, or a draft, is unknown to it.
    pub async fn issued_statement(&self, partner_id: Uuid, id: Uuid) -> Result<StatementRecord> {
        let statement = self.statement(id).await?;
        if statement.partner_id != partner_id || statement.state == StatementState::Draft.as_str() {
            return Err(Error::not_found("statement"));
        }
        Ok(statement)
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
        self.announce_statement(&mut tx, &current, to, now).await?;
        tx.commit().await.map_err(store::Error::from)?;
        self.waker.wake();
        self.statement(id).await
    }

    /// Tells the partner, by webhook where it has one, that a statement is ready to check
    /// (`statement.ready`, on confirmation) or settled (`statement.paid`); written with the
    /// state change, so neither can happen without the other.
    async fn announce_statement(&self, tx: &mut store::Conn, statement: &StatementRecord, to: StatementState, now: DateTime<Utc>) -> Result<()> {
        let kind = match to {
            StatementState::Confirmed => "statement.ready",
            StatementState::Paid => "statement.paid",
            StatementState::Draft => return Ok(()),
        };
        let partner = store::partners::get(tx, statement.partner_id).await?.ok_or(Error::not_found("partner"))?;
        if crate::webhook_targets::webhook_target(tx, &partner).await?.is_none() {
            return Ok(());
        }
        let body = &statement.body;
        let notice = serde_json::json!({
            "statement_id": statement.id,
            "period_start": statement.period_start,
            "period_end": statement.period_end,
            "orders": body["order_count"],
            "energy_kwh": body["total_energy"],
            "gross": body["gross"],
            "commission": body["our_amount"],
            "partner_amount": body["partner_amount"],
            "net_to_partner": body["net_to_partner"],
        });
        store::outbox::enqueue(tx, statement.partner_id, kind, &statement.id.to_string(), &notice, now).await?;
        Ok(())
    }

    /// One page of a statement's lines, in statement order, after the line `after` (its time
    /// and order id: the `next` of the previous page).
    pub async fn statement_lines(&self, statement: &StatementRecord, after: Option<(DateTime<Utc>, Uuid)>, limit: i64) -> Result<Vec<StatementLine>> {
        let mut conn = self.db.acquire().await?;
        Ok(store::settlement::statement_lines_page(&mut conn, statement.partner_id, (statement.period_start, statement.period_end), after, limit).await?)
    }

    /// The statement as CSV for finance — a header, one row per order, then the totals — as a
    /// stream of chunks of [`LINES_PER_PAGE`] rows, so neither side holds the whole period.
    pub async fn statement_csv(&self, id: Uuid) -> Result<impl futures::Stream<Item = Result<Vec<u8>>> + Send + 'static> {
        enum Step {
            Header,
            Lines(Option<(DateTime<Utc>, Uuid)>),
            Totals,
            Done,
        }
        let record = self.statement(id).await?;
        let services = self.clone();
        Ok(futures::stream::unfold(Step::Header, move |step| {
            let (services, record) = (services.clone(), record.clone());
            async move {
                let (chunk, next) = match step {
                    Step::Header => {
                        (csv_rows([["order_seq", "flow", "energy_kwh", "gross", "partner_amount", "our_amount", "at"].map(String::from)]), Step::Lines(None))
                    }
                    Step::Lines(after) => match services.statement_lines(&record, after, LINES_PER_PAGE).await {
                        Ok(page) if page.is_empty() => (csv_rows([totals_row(&record)]), Step::Done),
                        Ok(page) => {
                            let last = page.last().map(|l| (l.line.at, l.line.order_id));
                            (csv_rows(page.iter().map(csv_line)), if page.len() < LINES_PER_PAGE as usize { Step::Totals } else { Step::Lines(last) })
                        }
                        Err(e) => (Err(e), Step::Done),
                    },
                    Step::Totals => (csv_rows([totals_row(&record)]), Step::Done),
                    Step::Done => return None,
                };
                Some((chunk, next))
            }
        }))
    }
}

/// Lines per page of a statement's CSV.
pub const LINES_PER_PAGE: i64 = 5_000;

/// The stored body of a statement: its totals. The lines are not copied into it: they are read
/// by page from the settlement lines of the period (`statement_lines`), so a statement of a
/// million orders is a few hundred bytes.
fn summary_of(statement: &Statement) -> Result<serde_json::Value> {
    let mut body = serde_json::to_value(statement).map_err(|e| Error::Internal(e.to_string()))?;
    if let Some(fields) = body.as_object_mut() {
        fields.remove("lines");
    }
    Ok(body)
}

fn csv_line(l: &StatementLine) -> [String; 7] {
    let flow = if l.line.flow == Flow::A { "A" } else { "B" };
    [
        l.seq.clone(),
        flow.into(),
        l.line.energy.value().to_string(),
        l.line.gross.yuan().to_string(),
        l.line.partner_amount.yuan().to_string(),
        l.line.our_amount.yuan().to_string(),
        l.line.at.to_rfc3339(),
    ]
}

fn totals_row(record: &StatementRecord) -> [String; 7] {
    let text = |k: &str| record.body[k].as_str().unwrap_or_default().to_owned();
    [
        "TOTAL".into(),
        String::new(),
        text("total_energy"),
        text("gross"),
        text("partner_amount"),
        text("our_amount"),
        format!("net_to_partner={}", text("net_to_partner")),
    ]
}

/// Rows written as CSV (quoted where needed).
fn csv_rows(rows: impl IntoIterator<Item = [String; 7]>) -> Result<Vec<u8>> {
    let mut out = csv::Writer::from_writer(Vec::new());
    for row in rows {
        out.write_record(&row).map_err(|e| Error::Internal(format!("writing the CSV: {e}")))?;
    }
    out.into_inner().map_err(|e| Error::Internal(format!("writing the CSV: {e}")))
}
