// Field errors next to the field they name. Each field's error element is found by
// [data-error-for="<field>"]; errors for fields the form does not have go to its .form-error.
// The last error of each form is kept and shown again when the language changes.

import { onLanguageChange, pick } from '/assets/i18n.js';

const shown = new Map(); // form -> ApiError

export function clearErrors(form) {
  shown.delete(form);
  for (const el of form.querySelectorAll('[data-error-for], .form-error')) {
    el.textContent = '';
    el.hidden = true;
  }
  for (const input of form.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
}

export function showErrors(form, error) {
  clearErrors(form);
  shown.set(form, error);
  const general = form.querySelector('.form-error');
  let first = null;
  let unplaced = false;
  for (const f of error.fields) {
    const slot = form.querySelector(`[data-error-for="${CSS.escape(f.field)}"]`);
    if (!slot) {
      unplaced = true;
      continue;
    }
    setFieldError(form, f.field, pick(f, 'message'));
    first ??= form.elements[f.field];
  }
  if (!error.fields.length || unplaced) {
    general.textContent = error.text();
    general.hidden = false;
  }
  (first ?? general).focus?.();
}

/** Put (or with an empty text, take away) one field's message. */
export function setFieldError(form, field, text) {
  const slot = form.querySelector(`[data-error-for="${CSS.escape(field)}"]`);
  const input = form.elements[field];
  slot.textContent = text || '';
  slot.hidden = !text;
  if (input && input.setAttribute) {
    if (text) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  }
}

/** The form's named inputs as an object of trimmed strings. */
export function values(form) {
  const out = {};
  for (const [name, value] of new FormData(form)) if (typeof value === 'string') out[name] = value.trim();
  return out;
}

/** Disable the submit button while a request runs. */
export async function busy(form, work) {
  const buttons = form.querySelectorAll('button');
  for (const b of buttons) b.disabled = true;
  try {
    return await work();
  } finally {
    for (const b of buttons) b.disabled = false;
  }
}

onLanguageChange(() => {
  for (const [form, error] of [...shown]) showErrors(form, error);
});
