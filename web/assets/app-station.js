// A station: its connectors with their live status (kept current by the status stream), the
// price now and through the day, and per connector: start charging or reserve. A refused start
// or reservation is said next to the connector it concerns.

import { $, h, showView } from '/assets/dom.js';
import { lang, t } from '/assets/i18n.js';
import { notice, session } from '/assets/app.js';
import { hhmm, money, perKwh, statusGroup, statusText } from '/assets/app-format.js';

const shown = {
  station: null, // GET /stations/{id}
  statuses: new Map(), // connector id -> status
  errors: new Map(), // connector id -> ApiError of its last refused action
};

export async function openStation(id) {
  if (shown.station?.id !== id) {
    shown.station = null;
    shown.errors.clear();
  }
  try {
    const station = await session.call('GET', `/stations/${encodeURIComponent(id)}`);
    shown.station = station;
    shown.statuses = new Map(station.connectors_live.map((c) => [c.id, c.status]));
    showView('view-station');
    render();
  } catch (error) {
    notice(() => error.text(), 'error');
    location.hash = '#/';
  }
}

/** A time of day in Beijing time, as the operator's price periods are given. */
function timeOfDay(iso) {
  return new Date(iso).toLocaleTimeString(lang() === 'zh' ? 'zh-CN' : 'en-GB', { hour: '2-digit', minute: '2-digit', timeZone: 'Asia/Shanghai' });
}

function render() {
  const s = shown.station;
  if (!s) return;
  $('#station-name').textContent = s.name;
  $('#station-address').textContent = s.address;
  const now = s.price;
  $('#price-now').replaceChildren(
    ...(now
      ? [
          h('strong', {}, perKwh(money(now.total_price))),
          ' ',
          h('span', { class: 'muted' }, t('app.price.split', { elec: money(now.elec_price), service: money(now.service_price), until: timeOfDay(now.until) })),
        ]
      : [h('span', { class: 'muted' }, t('app.price.none'))]),
  );
  $('#price-day').hidden = !s.prices.length;
  $('#price-day tbody').replaceChildren(
    ...s.prices.map((p) =>
      h(
        'tr',
        { class: now && p.start === now.start ? 'current' : null, 'aria-current': now && p.start === now.start ? 'true' : null },
        h('td', {}, hhmm(p.start), now && p.start === now.start ? h('span', { class: 'badge badge-now' }, t('app.price.now')) : null),
        h('td', {}, money(p.total_price)),
        h('td', {}, money(p.elec_price)),
        h('td', {}, money(p.service_price)),
      ),
    ),
  );
  $('#connectors').replaceChildren(...s.connectors.map(connectorRow));
}

function connectorRow(c) {
  const status = shown.statuses.get(c.id) ?? 'unknown';
  const error = shown.errors.get(c.id);
  const errorId = `connector-${c.id}-error`;
  return h(
    'li',
    { class: 'connector', 'data-connector': c.id },
    h(
      'div',
      { class: 'connector-head' },
      h('strong', {}, t('app.connector.name', { id: c.external_id })),
      h('span', { class: `badge status status-${statusGroup(status)}`, 'data-status': status }, statusText(status)),
    ),
    h('p', { class: 'muted small' }, `${t(`app.type.${c.connector_type}`)} · ${c.power_kw} kW · ${c.dc ? 'DC' : 'AC'}`),
    h(
      'div',
      { class: 'button-row' },
      h('button', { type: 'button', class: 'button-primary', 'data-action': 'start', 'aria-describedby': errorId, onclick: (e) => act(c, 'start', e.currentTarget) }, t('app.connector.start')),
      h('button', { type: 'button', 'data-action': 'reserve', 'aria-describedby': errorId, onclick: (e) => act(c, 'reserve', e.currentTarget) }, t('app.connector.reserve')),
    ),
    h('p', { class: 'field-error', id: errorId, role: 'alert', hidden: !error }, error ? error.text() : ''),
  );
}

async function act(connector, what, button) {
  button.disabled = true;
  shown.errors.delete(connector.id);
  try {
    const order =
      what === 'start'
        ? await session.call('POST', '/charging/start', { json: { connector_id: connector.id } })
        : await session.call('POST', '/reservations', { json: { connector_id: connector.id, minutes: 15 } });
    notice(() => t(what === 'start' ? 'app.started' : 'app.reserved', { seq: order.seq }));
    location.hash = `#/order/${order.id}`;
  } catch (error) {
    shown.errors.set(connector.id, error);
    render();
    // The row was drawn again: focus stays on the button pressed, which the message describes.
    document.querySelector(`[data-connector="${connector.id}"] [data-action="${what}"]`)?.focus();
  }
}

/** A status change from the live stream. */
export function applyStatus(change) {
  if (!shown.station || change.station_id !== shown.station.id || !shown.statuses.has(change.connector_id)) return;
  shown.statuses.set(change.connector_id, change.status);
  const badge = document.querySelector(`[data-connector="${change.connector_id}"] .status`);
  if (badge) {
    badge.className = `badge status status-${statusGroup(change.status)}`;
    badge.dataset.status = change.status;
    badge.textContent = statusText(change.status);
  }
}

export function rerenderStation() {
  if (!$('#view-station').hidden) render();
}
