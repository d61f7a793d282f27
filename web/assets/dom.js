// Small DOM helpers: build elements without HTML strings (so API data is never parsed as markup).

/** h('p', {class: 'x', 'data-i18n': 'k'}, 'text', child) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value == null) continue;
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export const $ = (selector, root = document) => root.querySelector(selector);

/** Show one of the page's views (sections with class "view") and move focus to its heading. */
export function showView(id) {
  for (const view of document.querySelectorAll('.view')) view.hidden = view.id !== id;
  const heading = document.querySelector(`#${id} h1`);
  if (heading) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }
}

/** A status line (role="status") that says what just happened. */
export function say(el, text, kind = 'ok') {
  el.textContent = text;
  el.className = `notice notice-${kind}`;
  el.hidden = !text;
}

/** A read-only value with a copy button. */
export function secretBox(value, copyLabel, copiedLabel) {
  const code = h('code', { class: 'secret' }, value);
  const button = h('button', { type: 'button', class: 'button-small' }, copyLabel);
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(value);
      button.textContent = copiedLabel;
    } catch {
      const range = document.createRange();
      range.selectNodeContents(code);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
    }
  });
  return h('div', { class: 'secret-row' }, code, button);
}
