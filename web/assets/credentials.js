// The portal's credentials section: the REST client (its secret only the one time the API
// returns it), the T/CEC 102 secrets we issued, the webhook signing key, rotation and the test
// webhook.

import { h, secretBox } from '/assets/dom.js';
import { formatTime, pick, t } from '/assets/i18n.js';

const row = (label, value) => [h('dt', {}, label), h('dd', {}, value)];

function apiClients(list) {
  return list.map((c) =>
    h(
      'div',
      { class: 'credential' },
      h('dl', { class: 'pairs' }, row(t('creds.client_id'), h('code', {}, c.client_id)), row(t('creds.created'), formatTime(c.created_at)),
        row(t('creds.valid_until'), c.expires_at ? formatTime(c.expires_at) : t('creds.current'))),
      c.client_secret
        ? h('div', { class: 'once', role: 'alert' }, h('p', { class: 'once-title' }, t('creds.secret_once')), h('p', {}, t('creds.client_secret')),
            secretBox(c.client_secret, t('common.copy'), t('common.copied')))
        : !c.expires_at && h('p', { class: 'muted secret-hidden' }, t('creds.secret_hidden')),
    ),
  );
}

function cecIssued(creds) {
  const items = creds.cec_issued.map((c) =>
    h('dl', { class: 'pairs credential' },
      row('OperatorID', h('code', {}, c.operator_id)),
      row('OperatorSecret', h('code', {}, c.operator_secret)),
      row('DataSecret', h('code', {}, c.data_secret)),
      row('DataSecretIV', h('code', {}, c.data_secret_iv)),
      row('SigSecret', h('code', {}, c.sig_secret)),
      row(t('creds.valid_until'), c.expires_at ? formatTime(c.expires_at) : t('creds.current'))),
  );
  return [
    h('dl', { class: 'pairs' }, row(t('creds.cec.endpoint'), h('code', {}, creds.cec_endpoint_path))),
    ...(items.length ? items : [h('p', { class: 'muted' }, t('creds.cec.none'))]),
  ];
}

function pingResult(result) {
  if (!result) return null;
  if (result.error) return h('p', { class: 'notice notice-error', role: 'status' }, result.error.text());
  return h('div', { class: `notice ${result.delivered ? 'notice-ok' : 'notice-error'}`, role: 'status' },
    h('p', {}, h('strong', {}, t(result.delivered ? 'webhook.delivered' : 'webhook.failed')), ' ', pick(result, 'detail')),
    result.url && h('p', {}, `${t('webhook.url')}: `, h('code', {}, result.url)));
}

/** Draw the section into `box`; `onRotate(kind, button)` and `onPing(button)` do the work. */
export function renderCredentials(box, creds, { notice, ping, onRotate, onPing }) {
  const rotateButton = (kind) => h('button', { type: 'button', onclick: (e) => onRotate(kind, e.currentTarget) }, t(`creds.rotate.${kind}`));
  const [what, kind] = notice ?? [];
  box.replaceChildren(
    h('div', { class: 'card' }, h('h2', {}, t('creds.title')), h('h3', {}, t('creds.api')), apiClients(creds.api)),
    h('div', { class: 'card' }, h('h3', {}, t('creds.cec')), cecIssued(creds)),
    h('div', { class: 'card' }, h('h3', {}, t('creds.webhook')), secretBox(creds.webhook_secret, t('common.copy'), t('common.copied')),
      creds.webhook_secret_previous_valid_until && h('p', { class: 'hint' }, t('creds.webhook.previous', { at: formatTime(creds.webhook_secret_previous_valid_until) }))),
    h('div', { class: 'card' }, h('h3', {}, t('creds.rotate.title')), h('p', { class: 'hint' }, t('creds.rotate.intro')),
      what && h('p', { class: `notice notice-${kind}`, role: 'status' }, typeof what === 'string' ? t(what) : what.text()),
      h('div', { class: 'button-row' }, rotateButton('api'), rotateButton('cec'), rotateButton('webhook'))),
    h('div', { class: 'card' }, h('h3', {}, t('webhook.title')), h('p', { class: 'hint' }, t('webhook.intro')),
      h('div', { class: 'button-row' }, h('button', { type: 'button', onclick: (e) => onPing(e.currentTarget) }, t('webhook.send'))), pingResult(ping)),
  );
}
