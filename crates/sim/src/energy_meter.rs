//! The energy register of a simulated connector: the charging power integrated over the time
//! it flows, read in whole Wh as real meters report it. A session's energy therefore follows
//! its length (30 s at 60 kW is 500 Wh), however often the pile samples it.

use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
pub(crate) struct EnergyMeter {
    /// Delivered while earlier flows ran, in mWh, so the whole-Wh readings lose no fractions.
    stored_mwh: i64,
    /// Since when energy flows at `power_w`, if it does.
    flowing_since: Option<Instant>,
    power_w: i64,
}

impl EnergyMeter {
    pub(crate) fn new(power_w: u32) -> Self {
        Self { stored_mwh: 0, flowing_since: None, power_w: i64::from(power_w) }
    }

    /// The register at `now`, in Wh (rounded down, so it never runs ahead or backwards).
    pub(crate) fn wh(&self, now: Instant) -> i64 {
        (self.stored_mwh + self.flowing_mwh(now)) / 1000
    }

    /// Energy starts flowing (a transaction began); a running flow goes on.
    pub(crate) fn start(&mut self, now: Instant) {
        self.flowing_since.get_or_insert(now);
    }

    /// Energy stops flowing (the transaction ended).
    pub(crate) fn stop(&mut self, now: Instant) {
        self.stored_mwh += self.flowing_mwh(now);
        self.flowing_since = None;
    }

    /// W × ms / 3600 = mWh.
    fn flowing_mwh(&self, now: Instant) -> i64 {
        let Some(since) = self.flowing_since else { return 0 };
        let ms = i64::try_from(now.saturating_duration_since(since).as_millis()).unwrap_or(i64::MAX / 1_000_000);
        self.power_w * ms / 3600
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn thirty_seconds_at_sixty_kilowatts_is_half_a_kilowatt_hour() {
        let t0 = Instant::now();
        let mut meter = EnergyMeter::new(60_000);
        assert_eq!(meter.wh(t0 + Duration::from_secs(30)), 0, "nothing flows before a transaction");
        meter.start(t0);
        assert_eq!(meter.wh(t0 + Duration::from_millis(59)), 0);
        assert_eq!(meter.wh(t0 + Duration::from_millis(60)), 1, "one Wh every 60 ms at 60 kW");
        assert_eq!(meter.wh(t0 + Duration::from_secs(30)), 500);
        meter.stop(t0 + Duration::from_secs(30));
        assert_eq!(meter.wh(t0 + Duration::from_secs(90)), 500, "the register holds between sessions");
        // The next session adds to it, fractions included: 7 kW for 1 s is 1.94 Wh.
        let mut ac = EnergyMeter::new(7_000);
        for second in 0..9 {
            ac.start(t0 + Duration::from_secs(second));
            ac.stop(t0 + Duration::from_secs(second + 1));
        }
        assert_eq!(ac.wh(t0 + Duration::from_secs(9)), 17, "9 s at 7 kW is 17.5 Wh, not 9 × 1 Wh");
    }
}
