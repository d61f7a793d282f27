// The admin console: sign in (POST /api/admin/v1/login; the session token lives in this tab's
// sessionStorage), the partners by review state with counts and pages, and a partner's page
// (admin-partner.js). Routes are in the URL fragment: #/partners?state=submitted&page=2,
// #/partners/<id>.

import { api, ApiError } from '/assets/api.js';
import { renderPartner } from '/assets/admin-partner.js';
import { $, h, say, showView } from '/assets/dom.js';
import { busy, showErrors, values } from '/assets/forms.js';
import { formatTime, mountLanguageSwitch, onLanguageChange, t, translate } from '/assets/i18n.js';

const API = '/api/admin/v1';
const SESSION_KEY = 'chargebridge.admin_session';
const STATES = ['submitted', 'rejected', 'approved', 'suspended'];
const PER_PAGE = 20;

const session = () => JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null');

/** Every admin request: a 401 (session ended) sends the admin back to the sign-in form. */
export async function adminApi(method, path, options = {}) {
  try {
    return await api(method, `${API}${path}`, { ...options, token: session()?.token });
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      signOut();
      showErrors($('#login-form'), new ApiError(401, { code: 'unauthorized', message: t('admin.expired'), message_zh: t('admin.expired') }));
    }
    throw error;
  }
}

export const adminToken = () => session()?.token;

function signOut() {
  sessionStorage.removeItem(SESSION_KEY);
  $('#signout').hidden = true;
  $('#who').textContent = '';
  showView('view-login');
}

function route() {
  const [path, query] = location.hash.replace(/^#/, '').split('?');
  const params = new URLSearchParams(query);
  const id = path.match(/^\/partners\/([0-9a-f-]{36})$/)?.[1];
  return { id, state: params.get('state') ?? 'submitted', page: Math.max(1, Number(params.get('page')) || 1) };
}

async function render() {
  if (!session()) return signOut();
  $('#signout').hidden = false;
  $('#who').textContent = session().username;
  const r = route();
  if (r.id) return renderPartner(r.id);
  return renderQueue(r.state, r.page);
}

async function renderQueue(state, pageNo) {
  if ($('#view-queue').hidden) showView('view-queue');
  say($('#queue-error'), '');
  try {
    const filter = state === 'all' ? '' : `&state=${state}`;
    const [page, ...counts] = await Promise.all([
      adminApi('GET', `/partners?page=${pageNo}&per_page=${PER_PAGE}${filter}`),
      ...STATES.map((s) => adminApi('GET', `/partners?per_page=1&state=${s}`).then((p) => p.total)),
    ]);
    const tabs = [...STATES.map((s, i) => [s, t(`state.${s}`), counts[i]]), ['all', t('admin.queue.all'), counts.reduce((a, b) => a + b, 0)]];
    $('#state-tabs').replaceChildren(
      ...tabs.map(([s, label, n]) =>
        h('a', { href: `#/partners?state=${s}`, class: 'tab', 'aria-current': s === state ? 'page' : false }, label, ' ', h('span', { class: 'count' }, n)),
      ),
    );
    $('#queue').replaceChildren(queueTable(page), pager(page, state));
  } catch (error) {
    if (error.status !== 401) say($('#queue-error'), error.text(), 'error');
  }
}

function queueTable(page) {
  if (!page.items.length) return h('p', { class: 'muted card' }, t('admin.queue.empty'));
  const head = ['admin.queue.company', 'admin.queue.credit', 'admin.queue.protocol', 'admin.queue.state', 'admin.queue.updated'];
  return h(
    'div',
    { class: 'table-wrap card' },
    h(
      'table',
      {},
      h('thead', {}, h('tr', {}, head.map((k) => h('th', { scope: 'col' }, t(k))))),
      h(
        'tbody',
        {},
        page.items.map((p) =>
          h(
            'tr',
            {},
            h('td', {}, h('a', { href: `#/partners/${p.id}` }, p.company_name)),
            h('td', {}, h('code', {}, p.credit_code)),
            h('td', {}, t(`protocol.${p.protocol}`)),
            h('td', {}, h('span', { class: `badge badge-${p.state}` }, t(`state.${p.state}`))),
            h('td', {}, formatTime(p.updated_at)),
          ),
        ),
      ),
    ),
  );
}

function pager(page, state) {
  const pages = Math.max(1, Math.ceil(page.total / page.per_page));
  const link = (n, key) => h('a', { href: `#/partners?state=${state}&page=${n}`, class: 'button button-small' }, t(key));
  return h(
    'nav',
    { class: 'pager' },
    page.page > 1 && link(page.page - 1, 'admin.queue.prev'),
    h('span', {}, t('admin.queue.page', { page: page.page, pages, total: page.total })),
    page.page < pages && link(page.page + 1, 'admin.queue.next'),
  );
}

function wire() {
  const login = $('#login-form');
  login.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(login, async () => {
      try {
        const s = await api('POST', `${API}/login`, { json: values(login) });
        sessionStorage.setItem(SESSION_KEY, JSON.stringify(s));
        login.elements.password.value = '';
        await render();
      } catch (error) {
        showErrors(login, error);
      }
    });
  });
  $('#signout').addEventListener('click', () => {
    signOut();
    location.hash = '';
  });
  addEventListener('hashchange', render);
}

mountLanguageSwitch($('#lang'));
onLanguageChange(() => session() && render());
wire();
translate();
render();
