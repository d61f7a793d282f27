// An order as it happens: reserved (start or cancel), starting, charging with the energy and
// cost so far (refreshed every few seconds), stop, the bill and paying it from the wallet; a
// wallet short of the bill is topped up on the payment gateway's page first. Also the order
// history and the wallet.

import { $, h, showView } from '/assets/dom.js';
import { busy, clearErrors, showErrors, values } from '/assets/forms.js';
import { formatTime, t } from '/assets/i18n.js';
import { notice, session } from '/assets/app.js';
import { kwh, money, orderMessage, orderState, shortfallYuan, units } from '/assets/app-format.js';

const REFRESH_MS = 1500;
// States that change without the driver: the view keeps asking.
const MOVING = ['reserving', 'starting', 'charging', 'stopping', 'interrupted', 'finished', 'unknown_outcome'];

const current = {
  id: null,
  order: null,
  wallet: null,
  timer: null,
};

const history = { orders: [], page: 0, more: false };

export function leaveSession() {
  clearTimeout(current.timer);
  current.timer = null;
  current.id = null;
}

export async function openSession(id) {
  if (current.id !== id) {
    leaveSession();
    current.id = id;
    current.order = null;
    current.wallet = null;
    clearErrors($('#session-actions'));
  }
  await refresh();
  if (current.order) showView('view-session');
}

async function refresh() {
  clearTimeout(current.timer);
  const id = current.id;
  if (!id) return;
  try {
    const order = await session.call('GET', `/orders/${encodeURIComponent(id)}`);
    if (current.id !== id) return;
    current.order = order;
    if (order.state === 'billed' && !current.wallet) current.wallet = await session.call('GET', '/wallet');
    render();
  } catch (error) {
    if (current.id !== id) return;
    if (!current.order) {
      notice(() => error.text(), 'error');
      location.hash = '#/orders';
      return;
    }
    // A missed refresh is tried again; what is shown stays.
  }
  if (current.id === id && (MOVING.includes(current.order?.state) || current.order?.state === 'reserved')) {
    current.timer = setTimeout(refresh, current.order.state === 'reserved' ? 5_000 : REFRESH_MS);
  }
}

function render() {
  const o = current.order;
  if (!o) return;
  $('#session-title').textContent = o.station_name || t('app.session.title');
  const state = $('#session-state');
  state.textContent = orderState(o);
  state.className = `badge order-${o.state}`;
  state.dataset.state = o.state;
  $('#session-seq').textContent = t('app.order.seq', { seq: o.seq });
  $('#session-message').textContent = orderMessage(o);
  $('#session-energy').textContent = kwh(o.energy_kwh);
  $('#session-amount-label').textContent = t(MOVING.includes(o.state) ? 'app.session.cost_so_far' : 'app.session.amount');
  $('#session-amount').textContent = money(o.amount);
  $('#session-times').textContent = [
    t('app.session.created', { at: formatTime(o.created_at) }),
    o.state === 'reserved' && o.reserved_until ? t('app.session.held_until', { at: formatTime(o.reserved_until) }) : null,
  ]
    .filter(Boolean)
    .join(' · ');
  $('#stop').hidden = o.state !== 'charging';
  $('#start-reserved').hidden = o.state !== 'reserved';
  $('#cancel-reservation').hidden = o.state !== 'reserved';
  $('#pay').hidden = o.state !== 'billed';

  const card = $('#pay-card');
  card.hidden = o.state !== 'billed' || !current.wallet;
  if (!card.hidden) {
    card.querySelector('.balance').textContent = money(current.wallet.balance);
    const short = o.amount != null ? shortfallYuan(o.amount, current.wallet.balance) : null;
    const slot = card.querySelector('.topup-slot');
    if (short && !slot.firstChild) slot.replaceChildren(h('p', { class: 'notice notice-error', 'data-i18n': 'app.pay.short' }, t('app.pay.short')), topUpForm('pay', short));
    if (!short) slot.replaceChildren();
  }
}

/** One button of the session view: the order's answer replaces what is shown, a refusal is said under the buttons. */
async function sessionAction(button, method, path, options = {}, after) {
  const form = $('#session-actions');
  clearErrors(form);
  await busy(form, async () => {
    try {
      const order = await session.call(method, path, options);
      if (order?.id && order.id !== current.id) {
        location.hash = `#/order/${order.id}`;
        return;
      }
      if (order?.state) current.order = order;
      after?.(order);
      await refresh();
    } catch (error) {
      showErrors(form, error);
      if (error.status === 409 && button.id === 'pay') {
        current.wallet = await session.call('GET', '/wallet').catch(() => current.wallet);
        render();
      }
    }
  });
}

function wireSession() {
  $('#stop').addEventListener('click', (e) => sessionAction(e.currentTarget, 'POST', `/orders/${current.id}/stop`, {}, () => notice(() => t('app.stopping'))));
  $('#cancel-reservation').addEventListener('click', (e) => sessionAction(e.currentTarget, 'POST', `/orders/${current.id}/cancel`, {}, () => notice(() => t('app.cancelled'))));
  $('#start-reserved').addEventListener('click', (e) =>
    sessionAction(e.currentTarget, 'POST', '/charging/start', { json: { connector_id: current.order.connector_id } }, (order) => notice(() => t('app.started', { seq: order.seq }))),
  );
  $('#pay').addEventListener('click', (e) =>
    sessionAction(e.currentTarget, 'POST', `/orders/${current.id}/pay`, { json: { method: 'wallet' } }, (order) => {
      current.wallet = null;
      notice(() => t('app.paid', { amount: money(order.amount) }));
    }),
  );
}

/** The top-up form: opens the gateway's payment page and waits for the wallet to be credited. */
function topUpForm(prefix, amount = '') {
  const id = `${prefix}-topup-amount`;
  const form = h(
    'form',
    { class: 'topup', novalidate: true },
    h('p', { class: 'form-error', role: 'alert', hidden: true }),
    h(
      'div',
      { class: 'field' },
      h('label', { for: id, 'data-i18n': 'app.topup.amount' }, t('app.topup.amount')),
      h('input', { id, name: 'amount', inputmode: 'decimal', autocomplete: 'off', value: amount, 'aria-describedby': `${id}-error` }),
      h('p', { class: 'field-error', id: `${id}-error`, 'data-error-for': 'amount', role: 'alert', hidden: true }),
    ),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', 'data-i18n': 'app.topup.submit' }, t('app.topup.submit'))),
    h('div', { class: 'topup-status', role: 'status' }),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(form, async () => {
      const input = values(form);
      try {
        const before = (await session.call('GET', '/wallet')).balance;
        const started = await session.call('POST', '/wallet/top-up', { json: { amount: input.amount } });
        clearErrors(form);
        window.open(started.pay_url, '_blank', 'noopener');
        form.querySelector('.topup-status').replaceChildren(
          h(
            'p',
            { class: 'notice notice-ok' },
            h('span', { 'data-i18n': 'app.topup.waiting' }, t('app.topup.waiting')),
            ' ',
            h('a', { href: started.pay_url, target: '_blank', rel: 'noopener', 'data-i18n': 'app.topup.open' }, t('app.topup.open')),
          ),
        );
        waitForCredit(form, before);
      } catch (error) {
        showErrors(form, error);
      }
    });
  });
  return form;
}

/** Asks for the wallet until its balance moves (the gateway has settled), for up to ten minutes. */
async function waitForCredit(form, before) {
  const deadline = Date.now() + 10 * 60_000;
  while (Date.now() < deadline && form.isConnected) {
    await new Promise((r) => setTimeout(r, REFRESH_MS));
    const wallet = await session.call('GET', '/wallet').catch(() => null);
    if (wallet && units(wallet.balance) !== units(before)) {
      notice(() => t('app.topup.done', { balance: money(wallet.balance) }));
      current.wallet = wallet;
      if (!$('#view-session').hidden) render();
      if (!$('#view-orders').hidden) renderWallet(wallet);
      form.querySelector('.topup-status')?.replaceChildren();
      return;
    }
  }
}

export async function openOrders() {
  showView('view-orders');
  history.orders = [];
  history.page = 0;
  await Promise.all([loadWallet(), moreOrders()]);
}

async function loadWallet() {
  try {
    renderWallet(await session.call('GET', '/wallet'));
  } catch (error) {
    $('#wallet-card .balance').textContent = error.text();
  }
}

function renderWallet(wallet) {
  const card = $('#wallet-card');
  card.querySelector('.balance').textContent = money(wallet.balance);
  const slot = card.querySelector('.topup-slot');
  if (!slot.firstChild) slot.replaceChildren(topUpForm('wallet'));
}

const PER_PAGE = 20;

async function moreOrders() {
  try {
    const page = await session.call('GET', `/orders?page=${history.page + 1}&per_page=${PER_PAGE}`);
    history.page += 1;
    history.orders.push(...page);
    history.more = page.length === PER_PAGE;
    renderOrders();
  } catch (error) {
    $('#orders').replaceChildren(h('li', { class: 'field-error' }, error.text()));
  }
}

function renderOrders() {
  $('#orders').replaceChildren(
    ...(history.orders.length
      ? history.orders.map((o) =>
          h(
            'li',
            { class: 'order-row' },
            h('a', { href: `#/order/${o.id}` }, o.station_name || t('app.order.seq', { seq: o.seq })),
            ' ',
            h('span', { class: `badge order-${o.state}` }, orderState(o)),
            h('p', { class: 'muted small' }, [formatTime(o.created_at), kwh(o.energy_kwh), money(o.amount)].join(' · ')),
          ),
        )
      : [h('li', { class: 'muted' }, t('app.orders.none'))]),
  );
  $('#more-orders').hidden = !history.more;
}

export function rerenderSession() {
  if (!$('#view-session').hidden) render();
  if (!$('#view-orders').hidden) renderOrders();
}

wireSession();
$('#more-orders').addEventListener('click', moreOrders);
