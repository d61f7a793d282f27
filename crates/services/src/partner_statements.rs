//! A platform partner's own statement of its users' sessions on our piles (对方对账单), uploaded
//! as CSV through the portal — or by finance on its behalf — for one settlement period. A
//! flow-B statement drawn up for exactly that period is reconciled against it instead of
//! asking the partner over T/CEC 102, so partners without `check_charge_orders` (and any
//! protocol) can settle too.
//!
//! The CSV has a header row naming at least `order_seq`, `energy_kwh` and `amount` (or
//! `订单号`, `充电量`, `金额`), in any order; other columns are ignored. Energy in kWh and amounts
//! in yuan, at most two decimals, never negative, each within one session's maxima
//! (`domain::money`); each order once. Every bad row is reported
//! with its line number and nothing is stored.

use chrono::{DateTime, Utc};
use domain::money::{Energy, Money};
use domain::partner::{FieldError, ReviewState};
use domain::settlement::LedgerEntry;
use rust_decimal::Decimal;
use store::partner_statements::{self as repo, PartnerStatementSummary};
use store::{Page, PageRequest};
use uuid::Uuid;

use crate::onboarding::{Actor, audit_entry};
use crate::statements::check_period;
use crate::{Error, Result, Services};

/// Rows one statement may hold; a platform settling more per period splits the period.
pub const MAX_ROWS: usize = 200_000;
/// Problems listed for one upload before the rest are summarised.
const MAX_LISTED: usize = 20;

const COLUMNS: [(&str, &str); 3] = [("order_seq", "订单号"), ("energy_kwh", "充电量"), ("amount", "金额")];

/// Reads the CSV into ledger entries, or lists what is wrong with it (line numbers are the
/// file's, header = line 1).
pub fn parse_statement(csv_text: &str) -> Result<Vec<LedgerEntry>, Vec<FieldError>> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).flexible(true).from_reader(csv_text.trim_start_matches('\u{feff}').as_bytes());
    let header = reader.headers().map_err(|e| vec![row_error(1, format!("the header cannot be read: {e}"), format!("表头无法读取：{e}"))])?.clone();
    let mut index = [0usize; 3];
    for (slot, (en, zh)) in index.iter_mut().zip(COLUMNS) {
        *slot = header.iter().position(|h| h.eq_ignore_ascii_case(en) || h == zh).ok_or_else(|| {
            vec![FieldError::new(
                "csv",
                format!("line 1: the header has no `{en}` column (columns: order_seq, energy_kwh, amount)"),
                format!("第 1 行：表头缺少「{zh}」列（需要：订单号、充电量、金额）"),
            )]
        })?;
    }
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for (n, record) in reader.records().enumerate() {
        let line = n + 2;
        if entries.len() >= MAX_ROWS {
            errors.push(row_error(line, format!("more than {MAX_ROWS} rows; split the period"), format!("超过 {MAX_ROWS} 行，请拆分结算周期")));
            break;
        }
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push(row_error(line, format!("unreadable: {e}"), format!("无法读取：{e}")));
                continue;
            }
        };
        if record.iter().all(str::is_empty) {
            continue;
        }
        let field = |i: usize| record.get(index[i]).unwrap_or("");
        let seq = field(0);
        if seq.is_empty() {
            errors.push(row_error(line, "order_seq is empty", "订单号为空"));
            continue;
        }
        if let Some(first) = seen.insert(seq.to_owned(), line) {
            errors.push(row_error(line, format!("order {seq} is listed twice (first on line {first})"), format!("订单 {seq} 重复（首次出现在第 {first} 行）")));
            continue;
        }
        let energy = quantity(field(1), "energy_kwh", "充电量").and_then(|v| Energy::session(v).map_err(|e| bounded(e, "energy_kwh", "充电量")));
        let amount = quantity(field(2), "amount", "金额").and_then(|v| Money::session(v).map_err(|e| bounded(e, "amount", "金额")));
        match (energy, amount) {
            (Ok(energy), Ok(amount)) => entries.push(LedgerEntry { order: seq.to_owned(), energy, amount }),
            (e, a) => errors.extend([e.err(), a.err()].into_iter().flatten().map(|(en, zh)| row_error(line, en, zh))),
        }
    }
    if errors.is_empty() {
        return Ok(entries);
    }
    let more = errors.len().saturating_sub(MAX_LISTED);
    errors.truncate(MAX_LISTED);
    if more > 0 {
        errors.push(FieldError::new("csv", format!("… and {more} more problems"), format!("……另有 {more} 处错误")));
    }
    Err(errors)
}

fn row_error(line: usize, message: impl Into<String>, message_zh: impl Into<String>) -> FieldError {
    FieldError::new("csv", format!("line {line}: {}", message.into()), format!("第 {line} 行：{}", message_zh.into()))
}

/// A row is one session: its figures are bounded like a partner's charge record.
fn bounded(e: domain::money::AmountError, en: &str, zh: &str) -> (String, String) {
    (format!("{en}: {e}"), format!("{zh}：{}", e.message_zh()))
}

/// A non-negative decimal with at most two places, or why not.
fn quantity(text: &str, en: &str, zh: &str) -> Result<Decimal, (String, String)> {
    let value = Decimal::from_str_exact(text).map_err(|_| (format!("{en} {text:?} is not a number"), format!("{zh}「{text}」不是数字")))?;
    if value.is_sign_negative() && !value.is_zero() {
        return Err((format!("{en} {text} is negative"), format!("{zh} {text} 为负数")));
    }
    if value.normalize().scale() > 2 {
        return Err((format!("{en} {text} has more than two decimals"), format!("{zh} {text} 超过两位小数")));
    }
    Ok(value)
}

impl Services {
    /// Stores a partner's statement for `[start, end)`, replacing its earlier upload for the same
    /// period — unless our statement for that period is already confirmed (then it is frozen).
    pub async fn upload_partner_statement(
        &self,
        partner_id: Uuid,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        csv_text: &str,
        actor: &Actor,
    ) -> Result<PartnerStatementSummary> {
        check_period(start, end)?;
        let partner = self.partner(partner_id).await?;
        // A suspended partner still settles the periods it charged in.
        let settles = matches!(partner.state, ReviewState::Approved | ReviewState::Suspended);
        if !settles || !partner.application.roles.is_platform() {
            return Err(Error::forbidden(
                "only approved platform partners (whose users charge on our piles) upload statements",
                "仅审核通过的平台类合作方（其用户使用我方充电桩）可以上传对账单",
            ));
        }
        let entries = parse_statement(csv_text).map_err(Error::Invalid)?;
        let now = self.now();
        let summary = PartnerStatementSummary {
            id: Uuid::now_v7(),
            partner_id,
            period_start: start,
            period_end: end,
            entry_count: entries.len() as i64,
            total_energy: entries.iter().map(|e| e.energy).sum(),
            total_amount: entries.iter().map(|e| e.amount).sum(),
            uploaded_by: actor.label(),
            uploaded_at: now,
        };
        let mut tx = self.db.begin().await?;
        if let Some(ours) = store::statements::for_period(&mut tx, partner_id, start, end).await?
            && ours.state != "draft"
        {
            return Err(Error::Conflict {
                code: "statement_confirmed",
                field: None,
                message: format!("the statement for this period is already {}; it can no longer be reconciled again", ours.state),
                message_zh: "该结算周期的结算单已确认，不能再上传对账单".into(),
            });
        }
        repo::replace(&mut tx, &summary, &entries).await?;
        store::audit::record(&mut tx, &audit_entry(actor, "upload_partner_statement", partner_id, None, None, Some(&summary.id.to_string()), now)).await?;
        tx.commit().await.map_err(store::Error::from)?;
        tracing::info!(partner = %partner_id, rows = summary.entry_count, "partner statement uploaded");
        Ok(summary)
    }

    pub async fn partner_statements(&self, partner_id: Uuid, page: PageRequest) -> Result<Page<PartnerStatementSummary>> {
        let mut conn = self.db.acquire().await?;
        Ok(repo::for_partner(&mut conn, partner_id, page).await?)
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn reads_columns_in_any_order_in_either_language() {
        let en = parse_statement("amount,order_seq,note,energy_kwh\n12.50, A1 ,x,10\n0,A2,,0.00\n\n").unwrap();
        assert_eq!(en.len(), 2);
        assert_eq!((en[0].order.as_str(), en[0].energy.value(), en[0].amount.yuan()), ("A1", dec!(10), dec!(12.50)));
        let zh = parse_statement("\u{feff}订单号,充电量,金额\nA1,10,12.5\n").unwrap();
        assert_eq!(zh[0].amount.yuan(), dec!(12.5));
    }

    #[test]
    fn lists_every_bad_row_with_its_line() {
        let errors = parse_statement("order_seq,energy_kwh,amount\nA1,10,12.5\nA2,-1,3\nA1,1,1\n,1,1\nA3,1.234,x\n").unwrap_err();
        let messages: Vec<_> = errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "line 3: energy_kwh -1 is negative",
                "line 4: order A1 is listed twice (first on line 2)",
                "line 5: order_seq is empty",
                "line 6: energy_kwh 1.234 has more than two decimals",
                "line 6: amount \"x\" is not a number",
            ]
        );
        assert!(errors[0].message_zh.starts_with("第 3 行"));
    }

    #[test]
    fn a_header_without_a_needed_column_is_refused() {
        let errors = parse_statement("order,energy_kwh,amount\nA1,1,1\n").unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].message.contains("`order_seq`"), "{:?}", errors[0]);
    }

    #[test]
    fn long_error_lists_are_cut() {
        let body: String = (0..50).map(|i| format!("A{i},x,1\n")).collect();
        let errors = parse_statement(&format!("order_seq,energy_kwh,amount\n{body}")).unwrap_err();
        assert_eq!(errors.len(), MAX_LISTED + 1);
        assert_eq!(errors.last().unwrap().message, "… and 30 more problems");
    }
}
