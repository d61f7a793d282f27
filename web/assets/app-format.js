// What the driver app shows about statuses, prices and money. Money and prices stay the decimal
// strings the API gives; they are compared (never computed) as whole ten-thousandths with BigInt,
// so no float ever touches an amount.

import { lang, t } from '/assets/i18n.js';

/** A connector status's group: what a marker's colour and the list say. */
export function statusGroup(status) {
  if (status === 'available') return 'free';
  if (status === 'occupied' || status === 'charging' || status === 'reserved') return 'busy';
  return 'offline'; // offline, faulted, unknown: not usable now
}

/** A station's group from its connectors' statuses: free if one is free, busy if one is in use. */
export function stationGroup(statuses) {
  const groups = statuses.map(statusGroup);
  if (groups.includes('free')) return 'free';
  if (groups.includes('busy')) return 'busy';
  return 'offline';
}

export function statusText(status) {
  return t(`app.status.${status}`);
}

/** A decimal string ("12.5", "-0.3000") as whole ten-thousandths (BigInt); null if it is not one. */
export function units(text) {
  const m = /^(-?)(\d+)(?:\.(\d{1,4})\d*)?$/.exec(String(text ?? '').trim());
  if (!m) return null;
  const value = BigInt(m[2]) * 10000n + BigInt((m[3] ?? '').padEnd(4, '0'));
  return m[1] ? -value : value;
}

/** Ten-thousandths (a number or BigInt, as wallet entries give them) as yuan with two decimals. */
export function fromUnits(value) {
  const v = BigInt(value);
  const sign = v < 0n ? '-' : '';
  const abs = v < 0n ? -v : v;
  const fen = (abs + 50n) / 100n; // rounded to the fen, half up
  return `${sign}${fen / 100n}.${String(fen % 100n).padStart(2, '0')}`;
}

/** The smallest whole number of yuan that covers `need` minus `have` (both decimal strings), at least `min`. */
export function shortfallYuan(need, have, min = 10n) {
  const gap = units(need) - units(have);
  if (gap <= 0n) return null;
  const yuan = (gap + 9999n) / 10000n;
  return `${yuan > min ? yuan : min}.00`;
}

/** ¥ and the amount as the API gave it. */
export function money(amount) {
  return amount == null ? '—' : `¥${amount}`;
}

/** A price per kWh as the API gave it. */
export function perKwh(price) {
  return t('app.per_kwh', { price });
}

export function kwh(value) {
  return value == null ? '—' : `${value} kWh`;
}

/** "083000" (Beijing time of day) as "08:30". */
export function hhmm(hhmmss) {
  return `${hhmmss.slice(0, 2)}:${hhmmss.slice(2, 4)}`;
}

export function distance(metres) {
  return metres < 1000 ? `${Math.round(metres)} m` : `${(metres / 1000).toFixed(1)} km`;
}

/** The order's own message in the chosen language. */
export function orderMessage(order) {
  return (lang() === 'zh' ? order.message_zh : order.message_en) || order.message_en || '';
}

/** The order's state: the server's own Chinese label, else ours. */
export function orderState(order) {
  return (lang() === 'zh' && order.state_label_zh) || t(`app.order.${order.state}`);
}
