//! Commission, revenue share, settlement lines, statements and three-way reconciliation.
//!
//! Whoever owns the user takes a cut for bringing the customer; the pile owner, who delivered
//! the energy, gets the rest:
//!
//! - **Flow A** (our user, partner's pile): our *commission* is the cut; the operator partner
//!   receives the rest of what it billed. The user pays the partner's amounts under our pricing
//!   rules ([`user_fee`]).
//! - **Flow B** (partner's user, our pile): the platform partner's *revenue share* is the cut;
//!   it owes us the rest of our fee.
//!
//! The agreed rule (per partner) is a percentage of the service fee, a percentage of the total,
//! or a fixed amount per kWh ([`ShareRule`]).
//!
//! **Where the rounding remainder goes:** the cut is computed exactly, then *truncated* to the
//! fen, and the pile owner's amount is `gross − cut` by subtraction. So `partner_amount +
//! our_amount == gross` holds exactly by construction, the cut never exceeds what the contract
//! says (the agreed rate is a ceiling both sides can check with a calculator), and the sub-fen
//! remainder always lands with the party that delivered the energy — one rule for both flows,
//! never "whoever computes keeps the fraction".

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::money::{AmountError, Energy, Money, Rate, UnitPrice};
use crate::tariff::{FeeBreakdown, TariffPeriod};

fn truncate_fen(m: Money) -> Money {
    Money::new(m.yuan().round_dp_with_strategy(2, RoundingStrategy::ToZero))
}

/// The money of one session, in fen: electricity + service = total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionAmounts {
    pub energy: Energy,
    pub elec: Money,
    pub service: Money,
    pub total: Money,
}

impl SessionAmounts {
    /// Amounts are rounded half-up to fen (they are what people see); negative amounts are
    /// refused; the total is the sum of the parts.
    pub fn new(energy: Energy, elec: Money, service: Money) -> Result<Self, AmountError> {
        let elec = Money::non_negative(elec.yuan())?.round_fen();
        let service = Money::non_negative(service.yuan())?.round_fen();
        Ok(Self { energy, elec, service, total: elec + service })
    }
}

impl From<&FeeBreakdown> for SessionAmounts {
    fn from(fee: &FeeBreakdown) -> Self {
        // A breakdown's lines are already rounded to fen and non-negative.
        Self { energy: fee.total_energy, elec: fee.total_elec, service: fee.total_service, total: fee.total }
    }
}

/// How the cut of the party that owns the user is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum ShareRule {
    /// A share of the service fee (the usual Chinese arrangement: electricity passes through).
    ServicePercent(Rate),
    /// A share of the whole amount.
    TotalPercent(Rate),
    /// A fixed amount per kWh delivered, capped at the total.
    PerKwh(UnitPrice),
}

impl ShareRule {
    /// The cut for a session: exact, truncated to fen, never more than the total.
    pub fn cut(&self, amounts: &SessionAmounts) -> Money {
        let raw = match self {
            Self::ServicePercent(rate) => amounts.service.times(*rate),
            Self::TotalPercent(rate) => amounts.total.times(*rate),
            Self::PerKwh(price) => amounts.energy.cost(*price),
        };
        truncate_fen(raw).min(amounts.total)
    }
}

/// Which flow a settlement line belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flow {
    /// Our user at the partner's pile.
    A,
    /// The partner's user at our pile.
    B,
}

/// Our pricing rules for what a user pays at a partner's pile (flow A): the partner's
/// electricity fee passes through; the service fee may be marked up or discounted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UserPricing {
    /// Percent added to (positive) or taken off (negative) the partner's service fee.
    #[serde(with = "rust_decimal::serde::str")]
    pub service_adjust_percent: Decimal,
}

impl UserPricing {
    /// The unit prices our user is shown for one of the partner's price periods: the same
    /// service-fee factor [`user_fee`] applies to the bill, per kWh and rounded to 4 decimals.
    pub fn period(&self, partner: &TariffPeriod) -> TariffPeriod {
        TariffPeriod { service_price: partner.service_price.adjusted(self.service_adjust_percent / Decimal::ONE_HUNDRED), ..*partner }
    }
}

/// What our user pays for a session the partner billed with `partner` (flow A). The adjusted
/// service fee is rounded half-up to fen, since it is shown to the user; never negative.
pub fn user_fee(partner: &SessionAmounts, pricing: &UserPricing) -> SessionAmounts {
    let factor = Decimal::ONE.saturating_add(pricing.service_adjust_percent / Decimal::ONE_HUNDRED);
    let service = Money::new(partner.service.yuan().saturating_mul(factor).max(Decimal::ZERO)).round_fen();
    SessionAmounts { energy: partner.energy, elec: partner.elec, service, total: partner.elec + service }
}

/// The split of one paid (flow A) or billed (flow B) order.
///
/// `partner_amount + our_amount == gross`, exactly. Flow A: `gross` is what the user paid us,
/// `partner_amount` what we owe the operator, `our_amount` our commission (plus any user-price
/// markup, minus any discount we funded — it can be negative if we subsidise). Flow B: `gross`
/// is our fee, `partner_amount` the platform's revenue share it keeps, `our_amount` what it
/// owes us.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettlementLine {
    pub order_id: Uuid,
    pub flow: Flow,
    pub energy: Energy,
    pub gross: Money,
    pub partner_amount: Money,
    pub our_amount: Money,
    /// When the order was paid (flow A) or billed (flow B): decides the statement period.
    pub at: DateTime<Utc>,
}

impl SettlementLine {
    /// Flow A: the partner billed `partner`; our user paid `paid` (see [`user_fee`]).
    pub fn flow_a(order_id: Uuid, partner: &SessionAmounts, paid: &SessionAmounts, commission: &ShareRule, at: DateTime<Utc>) -> Self {
        let cut = commission.cut(partner);
        let partner_amount = partner.total - cut;
        Self { order_id, flow: Flow::A, energy: partner.energy, gross: paid.total, partner_amount, our_amount: paid.total - partner_amount, at }
    }

    /// Flow B: we billed `ours` (our tariff under the partner's price policy).
    pub fn flow_b(order_id: Uuid, ours: &SessionAmounts, revenue_share: &ShareRule, at: DateTime<Utc>) -> Self {
        let cut = revenue_share.cut(ours);
        Self { order_id, flow: Flow::B, energy: ours.energy, gross: ours.total, partner_amount: cut, our_amount: ours.total - cut, at }
    }

    /// Flow A: our commission.
    pub fn commission(&self) -> Money {
        self.our_amount
    }
}

/// A partner's statement for `[start, end)`. One partner may play both roles, so the statement
/// nets both flows into a single amount to transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    pub partner_id: Uuid,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub lines: Vec<SettlementLine>,
    pub order_count: usize,
    pub total_energy: Energy,
    pub gross: Money,
    pub partner_amount: Money,
    pub our_amount: Money,
    /// Positive: we pay the partner; negative: the partner pays us.
    pub net_to_partner: Money,
}

impl Statement {
    /// Takes the lines whose `at` falls in `[start, end)` — half-open so consecutive periods
    /// never count an order twice — sorted by time then order id.
    pub fn for_period(partner_id: Uuid, start: DateTime<Utc>, end: DateTime<Utc>, lines: &[SettlementLine]) -> Self {
        let mut lines: Vec<_> = lines.iter().filter(|l| start <= l.at && l.at < end).cloned().collect();
        lines.sort_by_key(|l| (l.at, l.order_id));
        let sum = |f: fn(&SettlementLine) -> Money| -> Money { lines.iter().map(f).sum() };
        let owed_to_partner: Money = lines.iter().filter(|l| l.flow == Flow::A).map(|l| l.partner_amount).sum();
        let owed_to_us: Money = lines.iter().filter(|l| l.flow == Flow::B).map(|l| l.our_amount).sum();
        Self {
            partner_id,
            start,
            end,
            order_count: lines.len(),
            total_energy: lines.iter().map(|l| l.energy).sum(),
            gross: sum(|l| l.gross),
            partner_amount: sum(|l| l.partner_amount),
            our_amount: sum(|l| l.our_amount),
            net_to_partner: owed_to_partner - owed_to_us,
            lines,
        }
    }

    /// Adds the totals of `page` (a statement of the same partner and period drawn up from
    /// further lines) without keeping its lines: a long period is totalled page by page.
    pub fn add_totals(&mut self, page: &Statement) {
        self.order_count += page.order_count;
        self.total_energy = self.total_energy + page.total_energy;
        self.gross = self.gross + page.gross;
        self.partner_amount = self.partner_amount + page.partner_amount;
        self.our_amount = self.our_amount + page.our_amount;
        self.net_to_partner = self.net_to_partner + page.net_to_partner;
    }
}

// ---------------------------------------------------------------------------------------------
// Reconciliation
// ---------------------------------------------------------------------------------------------

/// One order as a ledger (ours or the partner's) records it. `order` is the StartChargeSeq or
/// whatever key both sides share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub order: String,
    pub energy: Energy,
    pub amount: Money,
}

/// One payment received for an order (several may add up to one order), and what of it was
/// paid back to the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentEntry {
    pub order: String,
    pub amount: Money,
    pub refunded: Money,
}

impl PaymentEntry {
    pub fn paid(order: impl Into<String>, amount: Money) -> Self {
        Self { order: order.into(), amount, refunded: Money::ZERO }
    }

    pub fn refund(order: impl Into<String>, refunded: Money) -> Self {
        Self { order: order.into(), amount: Money::ZERO, refunded }
    }
}

/// Tolerances of a comparison; differences strictly larger are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tolerance {
    pub energy_kwh: Decimal,
    pub money: Decimal,
}

impl Default for Tolerance {
    /// 0.01 kWh and 0.01 yuan: one unit of the precision partners exchange figures in.
    fn default() -> Self {
        Self { energy_kwh: Decimal::new(1, 2), money: Decimal::new(1, 2) }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ledger {
    Ours,
    Theirs,
    Payments,
}

/// A difference between the ledgers, listed, never hidden.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Difference {
    /// The partner has an order we do not.
    MissingOurs {
        order: String,
    },
    /// We have an order the partner does not.
    MissingTheirs {
        order: String,
    },
    /// We have a non-zero order with no payment.
    MissingPayment {
        order: String,
    },
    EnergyMismatch {
        order: String,
        ours: Energy,
        theirs: Energy,
    },
    AmountMismatch {
        order: String,
        ours: Money,
        theirs: Money,
    },
    /// Payments for the order do not add up to our amount.
    PaymentMismatch {
        order: String,
        ours: Money,
        paid: Money,
    },
    /// We refunded our user after the order was settled: the partner's share still stands and
    /// we bear the amount; listed so finance sees it, not a dispute with the partner.
    RefundedToUser {
        order: String,
        refunded: Money,
    },
    /// A payment for an order in neither our ledger.
    UnexpectedPayment {
        order: String,
        paid: Money,
    },
    /// The same order appears more than once in one ledger.
    Duplicate {
        order: String,
        ledger: Ledger,
    },
}

impl Difference {
    pub fn order(&self) -> &str {
        match self {
            Self::MissingOurs { order }
            | Self::MissingTheirs { order }
            | Self::MissingPayment { order }
            | Self::EnergyMismatch { order, .. }
            | Self::AmountMismatch { order, .. }
            | Self::PaymentMismatch { order, .. }
            | Self::RefundedToUser { order, .. }
            | Self::UnexpectedPayment { order, .. }
            | Self::Duplicate { order, .. } => order,
        }
    }

    /// What to tell a partner that listed its orders for us to check, when the difference is
    /// one a partner can be told about (an order it has and we do not is "no such order").
    pub fn dispute_kind(&self) -> Option<DisputeKind> {
        match self {
            Self::MissingOurs { .. } => Some(DisputeKind::NoSuchOrder),
            Self::AmountMismatch { .. } => Some(DisputeKind::AmountDiffers),
            Self::EnergyMismatch { .. } => Some(DisputeKind::EnergyDiffers),
            _ => None,
        }
    }
}

/// Why one side disputes an order of the other's list; each protocol adapter maps its own
/// reason codes onto these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisputeKind {
    /// The disputing side has no such order.
    NoSuchOrder,
    AmountDiffers,
    EnergyDiffers,
    /// A reason of the partner's own.
    Other,
}

impl DisputeKind {
    /// Of several kinds found for one order, the one to answer with: a missing order first,
    /// then the money, then the energy.
    pub fn most_serious(kinds: impl IntoIterator<Item = DisputeKind>) -> Option<DisputeKind> {
        let rank = |k: &DisputeKind| match k {
            Self::NoSuchOrder => 0,
            Self::AmountDiffers => 1,
            Self::EnergyDiffers => 2,
            Self::Other => 3,
        };
        kinds.into_iter().min_by_key(rank)
    }
}

/// Compares our orders, the partner's and the payments, by order key. Output is sorted by order
/// key, and within an order in the order of the enum, so two runs over the same data produce
/// the same report. Duplicates are reported and their values summed.
///
/// A ledger that is `None` is not part of the comparison, and no difference against it is
/// reported: `theirs` is `None` for orders our users paid us for (flow A: the partner's record
/// was checked when it came, what is left is whether our users paid), `payments` is `None` when
/// the partner pays per statement, not per order (flow B). An order with a refund is listed as
/// refunded to the user rather than compared with what was paid.
pub fn reconcile(ours: &[LedgerEntry], theirs: Option<&[LedgerEntry]>, payments: Option<&[PaymentEntry]>, tolerance: Tolerance) -> Vec<Difference> {
    let mut out = Vec::new();
    let index = |entries: &[LedgerEntry], ledger: Ledger, out: &mut Vec<Difference>| {
        let mut map: BTreeMap<String, (Energy, Money)> = BTreeMap::new();
        for e in entries {
            if let Some((energy, amount)) = map.get_mut(&e.order) {
                *energy = *energy + e.energy;
                *amount = *amount + e.amount;
                out.push(Difference::Duplicate { order: e.order.clone(), ledger });
            } else {
                map.insert(e.order.clone(), (e.energy, e.amount));
            }
        }
        map
    };
    let ours = index(ours, Ledger::Ours, &mut out);
    let theirs = theirs.map(|t| index(t, Ledger::Theirs, &mut out));
    let mut paid: BTreeMap<String, Money> = BTreeMap::new();
    let mut refunded: BTreeMap<String, Money> = BTreeMap::new();
    for p in payments.unwrap_or_default() {
        let total = paid.entry(p.order.clone()).or_default();
        *total = *total + p.amount;
        if !p.refunded.is_zero() {
            let total = refunded.entry(p.order.clone()).or_default();
            *total = *total + p.refunded;
        }
    }

    let no_ledger = BTreeMap::new();
    let their_keys = theirs.as_ref().unwrap_or(&no_ledger).keys();
    let keys: std::collections::BTreeSet<&String> = ours.keys().chain(their_keys).chain(paid.keys()).collect();
    for order in keys {
        let (o, p) = (ours.get(order), paid.get(order));
        let order = order.clone();
        match (o, theirs.as_ref().map(|t| t.get(&order))) {
            (_, None) => {}
            (None, Some(Some(_))) => out.push(Difference::MissingOurs { order: order.clone() }),
            (Some(_), Some(None)) => out.push(Difference::MissingTheirs { order: order.clone() }),
            (Some((oe, om)), Some(Some((te, tm)))) => {
                if !oe.approx_eq(*te, tolerance.energy_kwh) {
                    out.push(Difference::EnergyMismatch { order: order.clone(), ours: *oe, theirs: *te });
                }
                if !om.approx_eq(*tm, Money::new(tolerance.money)) {
                    out.push(Difference::AmountMismatch { order: order.clone(), ours: *om, theirs: *tm });
                }
            }
            (None, Some(None)) => {}
        }
        if payments.is_none() {
            continue;
        }
        if let (Some(_), Some(refunded)) = (o, refunded.get(&order)) {
            out.push(Difference::RefundedToUser { order, refunded: *refunded });
            continue;
        }
        match (o, p) {
            (Some((_, om)), None) if !om.is_zero() => out.push(Difference::MissingPayment { order }),
            (Some((_, om)), Some(paid)) if !om.approx_eq(*paid, Money::new(tolerance.money)) => {
                out.push(Difference::PaymentMismatch { order, ours: *om, paid: *paid })
            }
            (None, Some(paid)) => out.push(Difference::UnexpectedPayment { order, paid: *paid }),
            _ => {}
        }
    }
    out.sort_by(|a, b| a.order().cmp(b.order()));
    out
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    use super::*;

    fn amounts(energy: Decimal, elec: Decimal, service: Decimal) -> SessionAmounts {
        SessionAmounts::new(Energy::kwh(energy).unwrap(), Money::new(elec), Money::new(service)).unwrap()
    }

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 1, day, 4, 0, 0).unwrap()
    }

    fn pct(p: Decimal) -> Rate {
        Rate::percent(p).unwrap()
    }

    #[test]
    fn cut_rules() {
        let a = amounts(dec!(24.60), dec!(19.68), dec!(9.84));
        assert_eq!(ShareRule::ServicePercent(pct(dec!(10))).cut(&a).yuan(), dec!(0.98)); // 0.984
        assert_eq!(ShareRule::TotalPercent(pct(dec!(5))).cut(&a).yuan(), dec!(1.47)); // 1.476, not 1.48
        assert_eq!(ShareRule::PerKwh(UnitPrice::per_kwh(dec!(0.05)).unwrap()).cut(&a).yuan(), dec!(1.23));
        // A per-kWh cut never exceeds what was paid.
        let free = amounts(dec!(10), dec!(0), dec!(0.5));
        assert_eq!(ShareRule::PerKwh(UnitPrice::per_kwh(dec!(0.1)).unwrap()).cut(&free).yuan(), dec!(0.5));
    }

    #[test]
    fn flow_a_line() {
        let partner = amounts(dec!(24.60), dec!(19.68), dec!(9.84));
        let paid = user_fee(&partner, &UserPricing::default());
        assert_eq!(paid, partner);
        let line = SettlementLine::flow_a(Uuid::nil(), &partner, &paid, &ShareRule::ServicePercent(pct(dec!(15))), at(1));
        // 15 % of 9.84 = 1.476 → commission 1.47, the remaining 0.006 stays with the operator.
        assert_eq!(line.commission().yuan(), dec!(1.47));
        assert_eq!(line.partner_amount.yuan(), dec!(28.05));
        assert_eq!(line.partner_amount + line.our_amount, line.gross);
    }

    #[test]
    fn user_unit_prices_follow_the_bill_factor() {
        let partner = crate::tariff::TariffPeriod::parse(0, "000000", dec!(0.8), dec!(0.4567)).unwrap();
        let shown = UserPricing { service_adjust_percent: dec!(10) }.period(&partner);
        assert_eq!((shown.elec_price, shown.service_price.value()), (partner.elec_price, dec!(0.5024)));
        let free = UserPricing { service_adjust_percent: dec!(-150) }.period(&partner);
        assert_eq!(free.service_price, UnitPrice::ZERO);
        assert_eq!(UserPricing::default().period(&partner), partner);
    }

    #[test]
    fn flow_a_with_markup_and_discount() {
        let partner = amounts(dec!(10), dec!(8), dec!(4));
        let marked = user_fee(&partner, &UserPricing { service_adjust_percent: dec!(10) });
        assert_eq!(marked.total.yuan(), dec!(12.40));
        let line = SettlementLine::flow_a(Uuid::nil(), &partner, &marked, &ShareRule::ServicePercent(pct(dec!(10))), at(1));
        assert_eq!((line.partner_amount.yuan(), line.our_amount.yuan()), (dec!(11.60), dec!(0.80)));
        // A 50 % service discount we fund: our side goes negative, the partner is still paid.
        let discounted = user_fee(&partner, &UserPricing { service_adjust_percent: dec!(-50) });
        let line = SettlementLine::flow_a(Uuid::nil(), &partner, &discounted, &ShareRule::ServicePercent(pct(dec!(0))), at(1));
        assert_eq!((line.gross.yuan(), line.partner_amount.yuan(), line.our_amount.yuan()), (dec!(10), dec!(12), dec!(-2)));
        assert_eq!(user_fee(&partner, &UserPricing { service_adjust_percent: dec!(-150) }).service, Money::ZERO);
    }

    #[test]
    fn flow_b_line() {
        let ours = amounts(dec!(20), dec!(16), dec!(8));
        let line = SettlementLine::flow_b(Uuid::nil(), &ours, &ShareRule::TotalPercent(pct(dec!(7))), at(1));
        // 7 % of 24.00 = 1.68 kept by the platform; it owes us 22.32.
        assert_eq!((line.partner_amount.yuan(), line.our_amount.yuan()), (dec!(1.68), dec!(22.32)));
    }

    #[test]
    fn amounts_are_validated() {
        assert!(SessionAmounts::new(Energy::ZERO, Money::new(dec!(-1)), Money::ZERO).is_err());
        assert_eq!(amounts(dec!(1), dec!(0.125), dec!(0)).elec.yuan(), dec!(0.13));
    }

    #[test]
    fn statement_nets_both_flows_in_a_half_open_period() {
        let a = amounts(dec!(10), dec!(8), dec!(4));
        let rule = ShareRule::ServicePercent(pct(dec!(10)));
        let lines = vec![
            SettlementLine::flow_a(Uuid::from_u128(1), &a, &a, &rule, at(1)),
            SettlementLine::flow_a(Uuid::from_u128(2), &a, &a, &rule, at(2)),
            SettlementLine::flow_b(Uuid::from_u128(3), &a, &rule, at(2)),
            SettlementLine::flow_a(Uuid::from_u128(4), &a, &a, &rule, at(8)), // next period
        ];
        let s = Statement::for_period(Uuid::nil(), at(1), at(8), &lines);
        assert_eq!(s.order_count, 3);
        assert_eq!(s.total_energy, Energy::kwh(dec!(30)).unwrap());
        assert_eq!(s.gross.yuan(), dec!(36));
        assert_eq!(s.partner_amount + s.our_amount, s.gross);
        // We owe 2 × 11.60, the platform owes us 11.60.
        assert_eq!(s.net_to_partner.yuan(), dec!(11.60));
        let next = Statement::for_period(Uuid::nil(), at(8), at(15), &lines);
        assert_eq!(next.order_count, 1);
    }

    fn entry(order: &str, energy: Decimal, amount: Decimal) -> LedgerEntry {
        LedgerEntry { order: order.into(), energy: Energy::kwh(energy).unwrap(), amount: Money::new(amount) }
    }

    fn pay(order: &str, amount: Decimal) -> PaymentEntry {
        PaymentEntry::paid(order, Money::new(amount))
    }

    #[test]
    fn reconciliation_lists_every_difference() {
        let ours = vec![
            entry("A", dec!(24.60), dec!(29.52)),
            entry("B", dec!(10), dec!(12)),
            entry("C", dec!(5), dec!(6)),
            entry("D", dec!(5), dec!(6)),
            entry("F", dec!(0), dec!(0)),
        ];
        let theirs = vec![
            entry("A", dec!(24.60), dec!(29.50)),
            entry("B", dec!(10.5), dec!(12)),
            entry("C", dec!(5.01), dec!(6.01)),
            entry("E", dec!(1), dec!(1)),
            entry("F", dec!(0), dec!(0)),
        ];
        let payments = vec![pay("A", dec!(20)), pay("A", dec!(9.52)), pay("B", dec!(11)), pay("C", dec!(6)), pay("G", dec!(3))];
        let diffs = reconcile(&ours, Some(&theirs), Some(&payments), Tolerance::default());
        assert_eq!(
            diffs,
            vec![
                Difference::AmountMismatch { order: "A".into(), ours: Money::new(dec!(29.52)), theirs: Money::new(dec!(29.50)) },
                Difference::EnergyMismatch { order: "B".into(), ours: Energy::kwh(dec!(10)).unwrap(), theirs: Energy::kwh(dec!(10.5)).unwrap() },
                Difference::PaymentMismatch { order: "B".into(), ours: Money::new(dec!(12)), paid: Money::new(dec!(11)) },
                Difference::MissingTheirs { order: "D".into() },
                Difference::MissingPayment { order: "D".into() },
                Difference::MissingOurs { order: "E".into() },
                Difference::UnexpectedPayment { order: "G".into(), paid: Money::new(dec!(3)) },
            ]
        );
        assert_eq!(diffs[0].dispute_kind(), Some(DisputeKind::AmountDiffers));
        assert_eq!(diffs[1].dispute_kind(), Some(DisputeKind::EnergyDiffers));
        assert_eq!(diffs[5].dispute_kind(), Some(DisputeKind::NoSuchOrder));
        assert_eq!(diffs[2].dispute_kind(), None);
        assert_eq!(DisputeKind::most_serious([DisputeKind::EnergyDiffers, DisputeKind::AmountDiffers]), Some(DisputeKind::AmountDiffers));
        // Zero tolerance catches C too.
        let strict = Tolerance { energy_kwh: Decimal::ZERO, money: Decimal::ZERO };
        assert!(reconcile(&ours, Some(&theirs), Some(&payments), strict).iter().any(|d| d.order() == "C"));
    }

    #[test]
    fn duplicates_are_reported() {
        let ours = vec![entry("A", dec!(1), dec!(1)), entry("A", dec!(1), dec!(1))];
        let theirs = vec![entry("A", dec!(2), dec!(2))];
        let diffs = reconcile(&ours, Some(&theirs), Some(&[pay("A", dec!(2))]), Tolerance::default());
        assert_eq!(diffs, vec![Difference::Duplicate { order: "A".into(), ledger: Ledger::Ours }]);
    }

    #[test]
    fn without_a_payment_ledger_only_the_two_ledgers_are_compared() {
        let ours = vec![entry("A", dec!(1), dec!(1)), entry("B", dec!(2), dec!(2))];
        let theirs = vec![entry("A", dec!(1), dec!(1.5))];
        let diffs = reconcile(&ours, Some(&theirs), None, Tolerance::default());
        assert_eq!(
            diffs,
            vec![
                Difference::AmountMismatch { order: "A".into(), ours: Money::new(dec!(1)), theirs: Money::new(dec!(1.5)) },
                Difference::MissingTheirs { order: "B".into() },
            ]
        );
    }

    #[test]
    fn without_their_ledger_our_orders_are_compared_with_the_payments() {
        let ours = vec![entry("A", dec!(1), dec!(10)), entry("B", dec!(1), dec!(10)), entry("C", dec!(1), dec!(10)), entry("D", dec!(1), dec!(10))];
        let payments =
            vec![pay("A", dec!(10)), pay("B", dec!(9.99)), PaymentEntry::refund("C", Money::new(dec!(10))), PaymentEntry::refund("C", Money::new(dec!(0.5)))];
        let exact = Tolerance { energy_kwh: Decimal::new(1, 2), money: Decimal::ZERO };
        assert_eq!(
            reconcile(&ours, None, Some(&payments), exact),
            vec![
                Difference::PaymentMismatch { order: "B".into(), ours: Money::new(dec!(10)), paid: Money::new(dec!(9.99)) },
                Difference::RefundedToUser { order: "C".into(), refunded: Money::new(dec!(10.5)) },
                Difference::MissingPayment { order: "D".into() },
            ]
        );
    }

    proptest! {
        #[test]
        fn partner_plus_ours_is_gross(
            energy in 0i64..100_000, elec in 0i64..1_000_000, service in 0i64..1_000_000,
            rate_bp in 0i64..=10_000, per_kwh in 0i64..50_000, markup in -100i64..100, rule in 0u8..3,
        ) {
            let a = SessionAmounts::new(
                Energy::kwh(Decimal::new(energy, 2)).unwrap(),
                Money::from_fen(elec),
                Money::from_fen(service),
            ).unwrap();
            let rate = Rate::fraction(Decimal::new(rate_bp, 4)).unwrap();
            let rule = match rule {
                0 => ShareRule::ServicePercent(rate),
                1 => ShareRule::TotalPercent(rate),
                _ => ShareRule::PerKwh(UnitPrice::per_kwh(Decimal::new(per_kwh, 4)).unwrap()),
            };
            let cut = rule.cut(&a);
            prop_assert!(cut >= Money::ZERO && cut <= a.total);
            prop_assert_eq!(cut.yuan(), cut.round_fen().yuan());
            // The cut never exceeds the agreed rate, and misses it by less than a fen.
            let exact = match rule {
                ShareRule::ServicePercent(r) => a.service.times(r),
                ShareRule::TotalPercent(r) => a.total.times(r),
                ShareRule::PerKwh(p) => a.energy.cost(p).min(a.total),
            };
            prop_assert!(cut <= exact && (exact - cut).yuan() < dec!(0.01));

            let paid = user_fee(&a, &UserPricing { service_adjust_percent: Decimal::from(markup) });
            let line_a = SettlementLine::flow_a(Uuid::nil(), &a, &paid, &rule, at(1));
            prop_assert_eq!(line_a.partner_amount + line_a.our_amount, line_a.gross);
            prop_assert_eq!(line_a.gross, paid.total);
            let line_b = SettlementLine::flow_b(Uuid::nil(), &a, &rule, at(1));
            prop_assert_eq!(line_b.partner_amount + line_b.our_amount, line_b.gross);
            prop_assert!(line_b.our_amount >= Money::ZERO);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Statement lifecycle
// ---------------------------------------------------------------------------------------------

/// Where a settlement statement is: drafted (may be recomputed), confirmed by finance (frozen),
/// paid (the net amount was transferred).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum StatementState {
    Draft,
    Confirmed,
    Paid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a {from:?} statement cannot become {to:?}")]
pub struct StatementTransitionError {
    pub from: StatementState,
    pub to: StatementState,
}

impl StatementState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Confirmed => "confirmed",
            Self::Paid => "paid",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Draft, Self::Confirmed, Self::Paid].into_iter().find(|v| v.as_str() == s)
    }

    /// Only forward, one step at a time.
    pub fn advance(self, to: Self) -> Result<Self, StatementTransitionError> {
        match (self, to) {
            (Self::Draft, Self::Confirmed) | (Self::Confirmed, Self::Paid) => Ok(to),
            _ => Err(StatementTransitionError { from: self, to }),
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Draft => "草稿",
            Self::Confirmed => "已确认",
            Self::Paid => "已付款",
        }
    }
}

#[cfg(test)]
mod statement_state_tests {
    use super::StatementState::*;

    #[test]
    fn statements_only_move_forward_one_step() {
        assert_eq!(Draft.advance(Confirmed), Ok(Confirmed));
        assert_eq!(Confirmed.advance(Paid), Ok(Paid));
        assert!(Draft.advance(Paid).is_err());
        assert!(Paid.advance(Confirmed).is_err());
        assert!(Confirmed.advance(Confirmed).is_err());
        assert_eq!(super::StatementState::parse("confirmed"), Some(Confirmed));
    }
}
