// One partner in the admin console: the application, its documents shown inline (fetched with
// the admin token, shown through blob: URLs), the review actions that apply to its state (a
// reason is required to reject or suspend; the API says so next to the field) and the review
// history.

import { adminApi, adminToken } from '/assets/admin.js';
import { blobUrl } from '/assets/api.js';
import { $, h, showView } from '/assets/dom.js';
import { busy, showErrors } from '/assets/forms.js';
import { formatTime, t, tOr } from '/assets/i18n.js';

const objectUrls = [];
let notice = null; // [key, vars] after an action, shown above the review card

export async function renderPartner(id) {
  if ($('#view-partner').hidden) {
    notice = null;
    showView('view-partner');
  }
  const box = $('#partner');
  let p;
  try {
    p = await adminApi('GET', `/partners/${id}`);
  } catch (error) {
    if (error.status !== 401) box.replaceChildren(h('p', { class: 'notice notice-error', role: 'alert' }, error.text()));
    return;
  }
  while (objectUrls.length) URL.revokeObjectURL(objectUrls.pop());
  $('#partner-name').textContent = p.company_name;
  box.replaceChildren(
    ...[
      h('p', {}, h('span', { class: `badge badge-${p.state}` }, t(`state.${p.state}`)), p.state_reason && h('span', { class: 'reason-inline' }, ` ${p.state_reason}`)),
      notice && h('p', { class: 'notice notice-ok', role: 'status' }, t(...notice)),
      reviewCard(p),
      application(p),
      documents(p),
      history(p),
    ].filter(Boolean),
  );
}

const pair = (label, value) => [h('dt', {}, label), h('dd', {}, value)];

function application(p) {
  return h(
    'div',
    { class: 'card' },
    h('h2', {}, t('admin.partner.application')),
    h(
      'dl',
      { class: 'pairs' },
      pair(t('field.company_name'), p.company_name),
      pair(t('field.credit_code'), h('code', {}, p.credit_code)),
      pair(t('admin.partner.operator_id'), h('code', {}, p.operator_id)),
      pair(t('field.contact_name'), p.contact.name),
      pair(t('field.contact_phone'), p.contact.phone),
      pair(t('field.contact_email'), p.contact.email),
      pair(t('field.roles'), t(`roles.${p.roles}`)),
      pair(t('field.protocol'), t(`protocol.${p.protocol}`)),
      pair(t('field.callback_base_url'), h('code', {}, p.callback_base_url)),
      pair(t('admin.partner.registered'), formatTime(p.created_at)),
    ),
  );
}

function documents(p) {
  const card = h('div', { class: 'card' }, h('h2', {}, t('admin.partner.documents')));
  if (!p.documents.length) card.append(h('p', { class: 'muted' }, t('admin.partner.nodocs')));
  for (const d of p.documents) {
    const figure = h('figure', { class: 'document' }, h('figcaption', {}, h('strong', {}, t(`doc.${d.kind}`)), ` ${d.file_name} · ${Math.ceil(d.size_bytes / 1024)} KB`));
    card.append(figure);
    showDocument(figure, p.id, d);
  }
  return card;
}

async function showDocument(figure, partnerId, d) {
  try {
    const url = await blobUrl(`/api/admin/v1/partners/${partnerId}/documents/${d.id}`, adminToken());
    objectUrls.push(url);
    const download = h('a', { href: url, download: d.file_name, class: 'button button-small' }, t('admin.partner.open'));
    if (d.content_type.startsWith('image/')) {
      figure.prepend(h('img', { src: url, alt: `${t(`doc.${d.kind}`)}: ${d.file_name}` }));
    } else {
      figure.prepend(h('object', { data: url, type: d.content_type, 'aria-label': d.file_name }, h('p', {}, t('admin.partner.pdf_fallback'))));
    }
    figure.append(download);
  } catch (error) {
    figure.append(h('p', { class: 'notice notice-error' }, error.text()));
  }
}

function reviewCard(p) {
  const card = h('div', { class: 'card' }, h('h2', {}, t('admin.partner.review')));
  const act = (action, form, body) =>
    busy(form, async () => {
      try {
        const updated = await adminApi('POST', `/partners/${p.id}/${action}`, body === undefined ? {} : { json: body });
        notice = ['admin.partner.done', { state: t(`state.${updated.state}`) }];
        await renderPartner(p.id);
      } catch (error) {
        if (error.status !== 401) showErrors(form, error);
      }
    });
  const withReason = (action) => {
    const form = h(
      'form',
      { class: 'review-form', novalidate: true },
      h('p', { class: 'form-error', role: 'alert', hidden: true }),
      h(
        'div',
        { class: 'field' },
        h('label', { for: `reason-${action}` }, t('admin.partner.reason')),
        h('textarea', { id: `reason-${action}`, name: 'reason', rows: 3, maxlength: 500, 'aria-describedby': `reason-${action}-error` }),
        h('p', { class: 'field-error', id: `reason-${action}-error`, 'data-error-for': 'reason', role: 'alert', hidden: true }),
      ),
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: action === 'reject' ? 'button-danger' : '' }, t(`admin.partner.${action}`))),
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      act(action, form, { reason: form.elements.reason.value });
    });
    return form;
  };
  const plain = (action) => {
    const form = h('form', { novalidate: true }, h('p', { class: 'form-error', role: 'alert', hidden: true }),
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'button-primary' }, t(`admin.partner.${action}`))));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      act(action, form);
    });
    return form;
  };
  if (p.state === 'submitted') card.append(plain('approve'), withReason('reject'));
  else if (p.state === 'approved') card.append(withReason('suspend'));
  else if (p.state === 'suspended') card.append(plain('reinstate'));
  else card.append(h('p', { class: 'muted' }, t('admin.partner.no_action')));
  return card;
}

function history(p) {
  const head = ['admin.partner.at', 'admin.partner.actor', 'admin.partner.action', 'admin.partner.to', 'portal.status.reason'];
  return h(
    'div',
    { class: 'card table-wrap' },
    h('h2', {}, t('admin.partner.history')),
    h(
      'table',
      {},
      h('thead', {}, h('tr', {}, head.map((k) => h('th', { scope: 'col' }, t(k))))),
      h(
        'tbody',
        {},
        p.history.map((e) =>
          h('tr', {}, h('td', {}, formatTime(e.at)), h('td', {}, e.actor), h('td', {}, tOr(`action.${e.action}`, e.action)), h('td', {}, e.to_state ? t(`state.${e.to_state}`) : ''), h('td', {}, e.reason ?? '')),
        ),
      ),
    ),
  );
}
