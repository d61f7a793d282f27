// The driver app: sign up or log in, find stations on a map or in a list, a station's live
// connectors and prices, reserve / start / stop, the live session, paying from the wallet (topped
// up through the payment gateway's page) and the order history. Everything goes through the
// documented /api/app/v1 API; the page's address (#/station/…, #/order/…, #/orders) says what
// is shown, so the back button and a reload work.

import { api, ApiError } from '/assets/api.js';
import { $, say, showView } from '/assets/dom.js';
import { busy, clearErrors, showErrors, values } from '/assets/forms.js';
import { mountLanguageSwitch, onLanguageChange, t, translate } from '/assets/i18n.js';
import { initFinder, applyStatus as applyFinderStatus, refreshFinder } from '/assets/app-map.js';
import { openStation, applyStatus as applyStationStatus, rerenderStation } from '/assets/app-station.js';
import { openOrders, openSession, leaveSession, rerenderSession } from '/assets/app-session.js';

export const API = '/api/app/v1';
const TOKEN_KEY = 'chargebridge.app_token';

export const session = {
  token: () => localStorage.getItem(TOKEN_KEY),
  /** Calls the API as the driver; a 401 (session over) goes back to the login. */
  async call(method, path, options = {}) {
    try {
      return await api(method, `${API}${path}`, { ...options, token: session.token() });
    } catch (error) {
      if (error instanceof ApiError && error.status === 401 && session.token()) {
        localStorage.removeItem(TOKEN_KEY);
        showAuth(t('app.expired'));
      }
      throw error;
    }
  },
};

let shownNotice = null; // [text producer, kind], said again in the other language

/** A notice at the top of the page (role="status"): a function giving its text; '' hides it. */
export function notice(text, kind = 'ok') {
  shownNotice = typeof text === 'function' ? [text, kind] : null;
  say($('#app-notice'), typeof text === 'function' ? text() : text, kind);
}

function signedIn(yes) {
  for (const id of ['#signout', '#nav-find', '#nav-orders']) $(id).hidden = !yes;
}

function showAuth(message) {
  leaveSession();
  signedIn(false);
  showView('view-auth');
  if (message) showErrors($('#login-form'), new ApiError(401, { code: 'unauthorized', message, message_zh: message }));
}

/** Shows what the address names. */
async function route() {
  $('#loading').hidden = true;
  if (!session.token()) return showAuth();
  signedIn(true);
  const [, kind, id] = location.hash.match(/^#\/(\w+)?\/?([\w-]+)?/) ?? [];
  if (kind !== 'order') leaveSession();
  for (const link of document.querySelectorAll('.topbar-actions a')) link.removeAttribute('aria-current');
  if (kind === 'station' && id) return openStation(id);
  if (kind === 'order' && id) return openSession(id);
  if (kind === 'orders') {
    $('#nav-orders').setAttribute('aria-current', 'page');
    return openOrders();
  }
  $('#nav-find').setAttribute('aria-current', 'page');
  showView('view-find');
  refreshFinder();
}

function wireAuth() {
  const login = $('#login-form');
  login.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(login, async () => {
      try {
        const signed = await api('POST', `${API}/sessions`, { json: values(login) });
        enter(login, signed);
      } catch (error) {
        showErrors(login, error);
      }
    });
  });
  const signup = $('#signup-form');
  signup.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(signup, async () => {
      const input = values(signup);
      if (!input.display_name) delete input.display_name;
      try {
        const signed = await api('POST', `${API}/users`, { json: input });
        enter(signup, signed);
      } catch (error) {
        showErrors(signup, error);
      }
    });
  });
  $('#signout').addEventListener('click', () => {
    localStorage.removeItem(TOKEN_KEY);
    notice('');
    location.hash = '#/';
    showAuth();
  });
}

function enter(form, signed) {
  localStorage.setItem(TOKEN_KEY, signed.token);
  clearErrors(form);
  form.reset();
  notice(() => t('app.welcome', { name: signed.user.display_name || signed.user.phone }));
  route();
}

/** Live connector status for the whole page: one stream, told to the map and the open station. */
function watchStatus() {
  if (!window.EventSource) return;
  const source = new EventSource(`${API}/status/stream`);
  source.addEventListener('status', (event) => {
    let change;
    try {
      change = JSON.parse(event.data);
    } catch {
      return;
    }
    applyFinderStatus(change);
    applyStationStatus(change);
  });
  source.addEventListener('open', () => document.body.classList.add('is-live'));
  source.addEventListener('error', () => document.body.classList.remove('is-live'));
}

mountLanguageSwitch($('#lang'));
onLanguageChange(() => {
  if (shownNotice) say($('#app-notice'), shownNotice[0](), shownNotice[1]);
  rerenderStation();
  rerenderSession();
  refreshFinder({ redrawOnly: true });
});
wireAuth();
translate();
initFinder();
watchStatus();
window.addEventListener('hashchange', route);
route();
