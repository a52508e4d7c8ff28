// Building the page: elements made with the DOM (never from HTML strings, so a site's name
// can never become markup), tables, forms whose errors sit next to the field the API names,
// and the formatting of dates, money and sizes.

import { t, language } from './i18n.js';
import { Problem } from './api.js';

export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') element.className = value;
    else if (key === 'text') element.textContent = value;
    else if (key.startsWith('on')) element.addEventListener(key.slice(2), value);
    else if (value === true) element.setAttribute(key, '');
    else element.setAttribute(key, value);
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

export const link = (href, text, attrs = {}) => h('a', { href, 'data-link': true, ...attrs }, text);

/** A button that runs `action`, disabled while it runs; its failure is shown in `where`. */
export function button(label, action, attrs = {}) {
  const element = h('button', { type: 'button', ...attrs }, label);
  element.addEventListener('click', async () => {
    element.disabled = true;
    try { await action(); } catch (error) { report(error, attrs.where || element.parentElement); } finally { element.disabled = false; }
  });
  return element;
}

/** Shows an error in words: the API's own detail, in an alert region next to `near`. */
export function report(error, near) {
  const message = error instanceof Problem
    ? `${error.title ? `${error.title}: ` : ''}${error.detail}`
    : String(error && error.message ? error.message : error);
  let alert = near && near.querySelector(':scope > .alert');
  if (!alert) {
    alert = h('p', { class: 'alert', role: 'alert' });
    if (near) near.prepend(alert); else document.body.prepend(alert);
  }
  alert.textContent = message;
  return alert;
}

/**
 * A form of `fields` ({name, label, type, options, value, required, hint}); `submit(values)`
 * sends it. A problem naming a field is shown under that field, others at the top.
 */
export function form(fields, submit, { label = t('action.save'), id } = {}) {
  const element = h('form', { novalidate: true, id });
  const status = h('p', { class: 'alert', role: 'alert', hidden: true });
  element.append(status);
  const inputs = {};
  for (const field of fields) {
    const inputId = `f-${id || 'form'}-${field.name}`;
    const error = h('p', { class: 'field-error', id: `${inputId}-error`, hidden: true });
    let input;
    if (field.type === 'select') {
      input = h('select', { id: inputId, name: field.name },
        field.options.map(([value, text]) => h('option', { value, selected: String(field.value ?? '') === String(value) }, text)));
    } else if (field.type === 'textarea') {
      input = h('textarea', { id: inputId, name: field.name, rows: 4 }, field.value || '');
    } else if (field.type === 'checkbox') {
      input = h('input', { id: inputId, name: field.name, type: 'checkbox', checked: !!field.value });
    } else {
      input = h('input', {
        id: inputId, name: field.name, type: field.type || 'text', value: field.value ?? '',
        required: field.required, autocomplete: field.autocomplete || 'off', inputmode: field.inputmode,
        placeholder: field.placeholder,
      });
    }
    input.setAttribute('aria-describedby', `${inputId}-error`);
    inputs[field.name] = { input, error, field };
    element.append(h('div', { class: `field ${field.type === 'checkbox' ? 'check' : ''}` },
      h('label', { for: inputId }, field.label), input,
      field.hint ? h('small', {}, field.hint) : null, error));
  }
  const go = h('button', { type: 'submit', class: 'primary' }, label);
  element.append(h('div', { class: 'actions' }, go));
  element.addEventListener('submit', async (event) => {
    event.preventDefault();
    status.hidden = true;
    for (const { input, error } of Object.values(inputs)) { error.hidden = true; input.removeAttribute('aria-invalid'); }
    const values = {};
    for (const [name, { input, field }] of Object.entries(inputs)) {
      values[name] = field.type === 'checkbox' ? input.checked : input.value.trim();
    }
    go.disabled = true;
    try {
      await submit(values);
    } catch (error) {
      // The field a problem names, or the one its detail starts with (`code: …`).
      const prefix = error instanceof Problem && (error.detail.match(/^([a-z_]+): /) || [])[1];
      const named = error instanceof Problem && ((error.field && fieldFor(inputs, error.field)) || (prefix && inputs[prefix]));
      if (named) {
        named.error.textContent = error.detail || error.title;
        named.error.hidden = false;
        named.input.setAttribute('aria-invalid', 'true');
        named.input.focus();
      } else {
        status.textContent = error instanceof Problem ? `${error.title}: ${error.detail}` : String(error.message || error);
        status.hidden = false;
      }
    } finally {
      go.disabled = false;
    }
  });
  return element;
}

// The API names nested fields with dots or brackets (`capacity.vcpus`, `records[0]`).
function fieldFor(inputs, name) {
  if (inputs[name]) return inputs[name];
  const head = name.split(/[.[]/)[0];
  if (inputs[head]) return inputs[head];
  const flat = name.replace(/[.[\]]+/g, '_').replace(/_$/, '');
  const tail = name.split('.').pop().replace(/\[\d+\]$/, '');
  return inputs[flat] || inputs[tail] || null;
}

/** A table of `rows` with `columns` ([heading, row => cell]); `empty` when there are none. */
export function table(columns, rows, empty = t('empty')) {
  if (!rows || rows.length === 0) return h('p', { class: 'empty' }, empty);
  return h('div', { class: 'table' }, h('table', {},
    h('thead', {}, h('tr', {}, columns.map(([heading]) => h('th', { scope: 'col' }, heading)))),
    h('tbody', {}, rows.map((row) => h('tr', {}, columns.map(([heading, cell]) => h('td', { 'data-label': heading }, cell(row))))))));
}

export const badge = (status) => h('span', { class: `badge ${String(status).replace(/[^a-z_]/g, '')}` }, t(`status.${status}`, {}, status));

export function section(title, ...children) {
  return h('section', { class: 'card' }, h('h2', {}, title), ...children);
}

export function page(title, ...children) {
  document.title = `${title} · Berth`;
  return h('div', { class: 'page' }, h('h1', { tabindex: '-1' }, title), ...children);
}

export const fmt = {
  date(value) {
    if (!value) return '—';
    const date = new Date(value);
    return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString(language());
  },
  day(value) {
    if (!value) return '—';
    return new Date(value).toLocaleDateString(language());
  },
  money(minor, currency) {
    if (minor === undefined || minor === null) return '—';
    return new Intl.NumberFormat(language(), { style: 'currency', currency: currency || 'EUR' }).format(minor / 100);
  },
  bytes(value) {
    if (value === undefined || value === null) return '—';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let n = Number(value);
    let unit = 0;
    while (n >= 1024 && unit < units.length - 1) { n /= 1024; unit += 1; }
    return `${n.toFixed(unit ? 1 : 0)} ${units[unit]}`;
  },
  ms(value) { return value === undefined || value === null ? '—' : `${(value / 1000).toFixed(1)} s`; },
};

/** A bar for `used` of `total`, with the numbers in words for screen readers. */
export function bar(used, total, label) {
  const share = total > 0 ? Math.min(100, Math.round((used / total) * 100)) : 0;
  return h('div', { class: 'bar-wrap' },
    h('progress', { max: 100, value: share, 'aria-label': `${label}: ${share}%` }),
    h('span', {}, `${label}: ${used} / ${total} (${share}%)`));
}

export function confirmThen(message, action) {
  return async () => {
    if (window.confirm(message)) await action();
  };
}
