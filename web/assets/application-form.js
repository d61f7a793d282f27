// The partner application's fields (register and resubmit use the same form), with the credit
// code checked as it is typed.

import { checkCreditCode } from '/assets/credit-code.js';
import { h } from '/assets/dom.js';
import { onLanguageChange, t } from '/assets/i18n.js';
import { setFieldError } from '/assets/forms.js';

const FIELDS = [
  { name: 'company_name', autocomplete: 'organization' },
  { name: 'credit_code', hint: true, autocomplete: 'off', spellcheck: 'false', maxlength: 24 },
  { name: 'contact_name', autocomplete: 'name' },
  { name: 'contact_phone', type: 'tel', autocomplete: 'tel' },
  { name: 'contact_email', type: 'email', autocomplete: 'email' },
  { name: 'roles', options: ['operator', 'platform', 'both'] },
  { name: 'protocol', options: ['cec102', 'ocpi221', 'rest_api'] },
  { name: 'callback_base_url', type: 'url', hint: true, placeholder: 'https://' },
];

/** Fill `form` (which already holds a .form-error and a submit button) with the fields. */
export function buildApplicationForm(form, prefix) {
  const submit = form.querySelector('.form-actions');
  for (const f of FIELDS) {
    const id = `${prefix}-${f.name}`;
    const describedBy = [f.hint && `${id}-hint`, `${id}-error`].filter(Boolean).join(' ');
    const control = f.options
      ? h('select', { id, name: f.name, 'aria-describedby': describedBy }, f.options.map((o) => h('option', { value: o, 'data-i18n': `${f.name}.${o}` })))
      : h('input', {
          id,
          name: f.name,
          type: f.type ?? 'text',
          autocomplete: f.autocomplete,
          spellcheck: f.spellcheck,
          maxlength: f.maxlength,
          placeholder: f.placeholder,
          'aria-describedby': describedBy,
        });
    form.insertBefore(
      h(
        'div',
        { class: 'field' },
        h('label', { for: id, 'data-i18n': `field.${f.name}` }),
        control,
        f.hint && h('p', { class: 'hint', id: `${id}-hint`, 'data-i18n': `field.${f.name}.hint` }),
        h('p', { class: 'field-error', id: `${id}-error`, 'data-error-for': f.name, role: 'alert', hidden: true }),
      ),
      submit,
    );
  }
  watchCreditCode(form);
}

export function fillApplicationForm(form, partner) {
  const value = {
    company_name: partner.company_name,
    credit_code: partner.credit_code,
    contact_name: partner.contact?.name,
    contact_phone: partner.contact?.phone,
    contact_email: partner.contact?.email,
    roles: partner.roles,
    protocol: partner.protocol,
    callback_base_url: partner.callback_base_url,
  };
  for (const [name, v] of Object.entries(value)) if (form.elements[name]) form.elements[name].value = v ?? '';
}

/** While typing: a count until 18 characters, a bad character at once, the check digit at 18. */
function watchCreditCode(form) {
  const input = form.elements.credit_code;
  const hint = form.querySelector(`#${input.id}-hint`);
  const update = (leaving) => {
    const value = input.value.trim();
    const result = checkCreditCode(value);
    hint.dataset.i18n = 'field.credit_code.hint';
    let problem = '';
    if (result.ok) {
      hint.textContent = t('credit.ok');
      delete hint.dataset.i18n;
    } else if (result.problem === 'character') {
      problem = t('credit.character', { c: result.character, p: result.position });
    } else if (result.problem === 'check') {
      problem = t('credit.check', { found: result.found, expected: result.expected });
    } else if (value && (leaving || result.length > 18)) {
      problem = t('credit.length', { n: result.length });
    } else {
      hint.textContent = value ? t('credit.count', { n: result.length }) : t('field.credit_code.hint');
      if (value) delete hint.dataset.i18n;
    }
    setFieldError(form, 'credit_code', problem);
  };
  input.addEventListener('input', () => update(false));
  input.addEventListener('blur', () => update(true));
  onLanguageChange(() => input.value && update(false));
}
