//! Where a partner hears our signed webhooks, if anywhere.
//!
//! Partners of our REST API (and OCPI ones, until OCPI pushes exist) registered a callback base
//! for exactly this: webhooks go to `{callback_base_url}/chargebridge/webhook`. A T/CEC 102
//! partner's callback base is its T/CEC 102 server, which cannot take them; it hears webhooks
//! only at a URL it registered with its endpoint (`PUT /partners/me/cec-peer`). Messages only
//! a webhook can carry are not queued for a partner without one: they would retry against an
//! address that cannot serve them.

use domain::partner::Partner;
use domain::partner::Protocol;
use store::Conn;

use crate::{Result, Services};

pub(crate) async fn webhook_target(conn: &mut Conn, partner: &Partner) -> Result<Option<String>> {
    Ok(match partner.application.protocol {
        Protocol::Cec102 => store::partner_webhooks::url(conn, partner.id).await?,
        Protocol::RestApi | Protocol::Ocpi221 => Some(format!("{}/chargebridge/webhook", partner.application.callback_base_url.trim_end_matches('/'))),
    })
}

impl Services {
    /// The URL our webhooks to `partner` go to; `None` if it registered none.
    pub async fn webhook_target(&self, partner: &Partner) -> Result<Option<String>> {
        let mut conn = self.db.acquire().await?;
        webhook_target(&mut conn, partner).await
    }
}
