// The audit trail (who did what, filtered by actor, target and time) and the security log.

import { h, page, table, fmt } from '../dom.js';
import { t } from '../i18n.js';
import { query, withParams } from '../api.js';

function filters(fields, search, navigate, path) {
  const element = h('form', { class: 'filters', role: 'search', 'aria-label': t('audit.filters') },
    fields.map(([name, label, type]) => [
      h('label', { for: `filter-${name}` }, label),
      h('input', { id: `filter-${name}`, name, type: type || 'text', value: search.get(name) || '' })]),
    h('button', { type: 'submit' }, t('action.filter')));
  element.addEventListener('submit', (event) => {
    event.preventDefault();
    const values = {};
    for (const [name, , type] of fields) {
      const value = element.elements[name].value.trim();
      values[name] = type === 'datetime-local' && value ? new Date(value).toISOString() : value;
    }
    navigate(withParams(path, values));
  });
  return element;
}

export async function trail({ search, navigate }) {
  const params = Object.fromEntries(['actor', 'target', 'from', 'to'].map((k) => [k, search.get(k)]));
  const entries = await query(withParams('/v1/audit', { ...params, limit: 100 }));
  return page(t('nav.audit'),
    filters([['actor', t('field.actor')], ['target', t('field.target')], ['from', t('field.from')], ['to', t('field.to')]], search, navigate, '/audit'),
    table([
      [t('field.at'), (e) => fmt.date(e.at)],
      [t('field.actor'), (e) => e.actor],
      [t('field.action'), (e) => e.action],
      [t('field.target'), (e) => `${e.target.type} ${e.target.id}`],
    ], entries.items, t('audit.none')));
}

export async function securityLog({ search, navigate }) {
  const params = Object.fromEntries(['kind', 'from', 'to'].map((k) => [k, search.get(k)]));
  const entries = await query(withParams('/v1/security-log', { ...params, limit: 100 }));
  return page(t('nav.security'),
    filters([['kind', t('field.kind')], ['from', t('field.from')], ['to', t('field.to')]], search, navigate, '/security'),
    table([
      [t('field.at'), (e) => fmt.date(e.at)],
      [t('field.kind'), (e) => e.kind],
      [t('field.actor'), (e) => e.actor],
      [t('field.address'), (e) => e.address || ''],
      [t('field.agent'), (e) => e.user_agent || ''],
    ], entries.items, t('audit.none')));
}
