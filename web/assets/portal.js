// The partner portal: register, keep the portal token, upload documents, follow the review,
// fix and resubmit, and once approved see credentials (the API secret once), rotate them and
// send a test webhook. Everything goes through the documented /api/portal/v1 API.

import { api, ApiError } from '/assets/api.js';
import { buildApplicationForm, fillApplicationForm } from '/assets/application-form.js';
import { renderCredentials } from '/assets/credentials.js';
import { $, h, say, secretBox, showView } from '/assets/dom.js';
import { busy, clearErrors, showErrors, values } from '/assets/forms.js';
import { formatTime, mountLanguageSwitch, onLanguageChange, t, translate } from '/assets/i18n.js';

const API = '/api/portal/v1';
const TOKEN_KEY = 'chargebridge.portal_token';

const page = {
  partner: null, // GET /partners/me
  credentials: null, // GET /partners/me/credentials, kept for this page view: a new secret is in it once
  credentialsNotice: null, // [text key or ApiError, kind]
  ping: null, // the last test webhook's answer
  filledFor: null, // the partner version the resubmit form was filled from
};

const token = () => localStorage.getItem(TOKEN_KEY);

async function load() {
  try {
    page.partner = await api('GET', `${API}/partners/me`, { token: token() });
    if (page.partner.state === 'approved' && !page.credentials) {
      page.credentials = await api('GET', `${API}/partners/me/credentials`, { token: token() });
    }
    renderHome();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      localStorage.removeItem(TOKEN_KEY);
      start();
      const form = $('#token-form');
      showErrors(form, new ApiError(401, { code: 'unauthorized', message: t('portal.expired'), message_zh: t('portal.expired') }));
    } else {
      start();
      showErrors($('#token-form'), error);
    }
  } finally {
    $('#loading').hidden = true;
  }
}

function start() {
  $('#signout').hidden = true;
  page.partner = page.credentials = page.ping = page.credentialsNotice = page.filledFor = null;
  showView('view-start');
}

function renderHome() {
  const p = page.partner;
  if ($('#view-home').hidden) showView('view-home');
  $('#signout').hidden = false;
  $('#company').textContent = p.company_name;
  const badge = $('#state-badge');
  badge.textContent = t(`state.${p.state}`);
  badge.className = `badge badge-${p.state}`;
  $('#state-text').textContent = t(`portal.status.${p.state}`);
  $('#reason-box').hidden = !p.state_reason;
  $('#reason').textContent = p.state_reason ?? '';

  const rejected = p.state === 'rejected';
  $('#resubmit-card').hidden = !rejected;
  if (rejected && page.filledFor !== p.updated_at) {
    fillApplicationForm($('#resubmit-form'), p);
    page.filledFor = p.updated_at;
  }

  $('#documents').replaceChildren(
    ...(p.documents.length
      ? p.documents.map((d) =>
          h('li', {}, h('strong', {}, t(`doc.${d.kind}`)), ' ', h('span', {}, d.file_name), ' ', h('span', { class: 'muted' }, `${Math.ceil(d.size_bytes / 1024)} KB · ${formatTime(d.uploaded_at)}`)),
        )
      : [h('li', { class: 'muted' }, t('portal.docs.none'))]),
  );

  const box = $('#credentials');
  box.hidden = !page.credentials;
  if (page.credentials) {
    renderCredentials(box, page.credentials, { notice: page.credentialsNotice, ping: page.ping, onRotate: rotate, onPing: ping });
  }
}

async function rotate(kind, button) {
  button.disabled = true;
  try {
    page.credentials = await api('POST', `${API}/partners/me/credentials/rotate`, { token: token(), json: { kind } });
    page.credentialsNotice = ['creds.rotated', 'ok'];
  } catch (error) {
    page.credentialsNotice = [error, 'error'];
  }
  renderHome();
}

async function ping(button) {
  button.disabled = true;
  try {
    page.ping = await api('POST', `${API}/partners/me/webhooks/ping`, { token: token() });
  } catch (error) {
    page.ping = { error };
  }
  renderHome();
}

function wire() {
  const register = $('#register-form');
  register.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(register, async () => {
      try {
        const registered = await api('POST', `${API}/partners`, { json: values(register) });
        localStorage.setItem(TOKEN_KEY, registered.portal_token);
        clearErrors(register);
        register.reset();
        $('#new-token').replaceChildren(secretBox(registered.portal_token, t('common.copy'), t('common.copied')));
        showView('view-token');
      } catch (error) {
        showErrors(register, error);
      }
    });
  });
  $('#token-continue').addEventListener('click', () => {
    $('#new-token').replaceChildren();
    load();
  });

  const tokenForm = $('#token-form');
  tokenForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const value = values(tokenForm).token;
    if (!value) return showErrors(tokenForm, new ApiError(422, { fields: [{ field: 'token', message: t('common.required'), message_zh: t('common.required') }] }));
    clearErrors(tokenForm);
    localStorage.setItem(TOKEN_KEY, value);
    tokenForm.reset();
    load();
  });

  const upload = $('#upload-form');
  upload.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(upload, async () => {
      try {
        const record = await api('POST', `${API}/partners/me/documents`, { token: token(), form: new FormData(upload) });
        clearErrors(upload);
        upload.reset();
        say($('#home-notice'), t('portal.docs.uploaded', { name: record.file_name }));
        await load();
      } catch (error) {
        showErrors(upload, error);
      }
    });
  });

  const resubmit = $('#resubmit-form');
  resubmit.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(resubmit, async () => {
      try {
        await api('PUT', `${API}/partners/me`, { token: token(), json: values(resubmit) });
        clearErrors(resubmit);
        say($('#home-notice'), t('portal.resubmit.done'));
        await load();
      } catch (error) {
        showErrors(resubmit, error);
      }
    });
  });

  $('#refresh').addEventListener('click', () => {
    say($('#home-notice'), '');
    load();
  });
  $('#signout').addEventListener('click', () => {
    if (!confirm(t('portal.signout.confirm'))) return;
    localStorage.removeItem(TOKEN_KEY);
    say($('#home-notice'), '');
    start();
  });
}

buildApplicationForm($('#register-form'), 'reg');
buildApplicationForm($('#resubmit-form'), 'fix');
mountLanguageSwitch($('#lang'));
onLanguageChange(() => page.partner && !$('#view-home').hidden && renderHome());
wire();
translate();
if (token()) {
  load();
} else {
  $('#loading').hidden = true;
  start();
}
