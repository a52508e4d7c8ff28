// A tenant's sites: the list with status and type filters, and creating one.

import { h, form, page, table, badge, link, fmt } from '../dom.js';
import { t } from '../i18n.js';
import { command, query, withParams } from '../api.js';
import { may } from './roles.js';
import { redrawOn } from '../live.js';

const statuses = ['requested', 'provisioning', 'active', 'suspended', 'failed', 'lost', 'deleting', 'deleted'];
const types = ['wordpress', 'php', 'laravel', 'static'];

export async function list({ search, navigate, session, onEvent }) {
  const status = search.get('status') || '';
  const type = search.get('type') || '';
  const sites = await query(withParams('/v1/sites', { status, type, limit: 200 }));
  const filters = h('form', { class: 'filters', role: 'search', 'aria-label': t('sites.filters') },
    h('label', { for: 'filter-status' }, t('field.status')),
    h('select', { id: 'filter-status', onchange: (e) => navigate(withParams('/sites', { status: e.target.value, type })) },
      h('option', { value: '' }, t('filter.all')),
      statuses.map((s) => h('option', { value: s, selected: s === status }, t(`status.${s}`)))),
    h('label', { for: 'filter-type' }, t('field.type')),
    h('select', { id: 'filter-type', onchange: (e) => navigate(withParams('/sites', { status, type: e.target.value })) },
      h('option', { value: '' }, t('filter.all')),
      types.map((s) => h('option', { value: s, selected: s === type }, t(`type.${s}`)))));
  redrawOn(onEvent, (event) => event.aggregate_type === 'site', () => navigate(location.pathname + location.search, { replace: true }), 1000);
  return page(t('nav.sites'),
    may(session, 'sites') ? h('p', {}, link('/sites/new', t('sites.create'), { class: 'button primary' })) : null,
    filters,
    table([
      [t('field.domain'), (s) => link(`/sites/${s.id}`, s.domain)],
      [t('field.type'), (s) => t(`type.${s.type}`)],
      [t('field.status'), (s) => badge(s.status)],
      [t('field.created'), (s) => fmt.date(s.created_at)],
    ], sites.items, t('sites.none')));
}

export async function create({ navigate }) {
  const element = form([
    { name: 'domain', label: t('field.domain'), required: true, placeholder: 'shop.example.com' },
    { name: 'type', label: t('field.type'), type: 'select', options: types.map((s) => [s, t(`type.${s}`)]), value: 'wordpress' },
    { name: 'php_version', label: t('field.php'), type: 'select', value: '8.2',
      options: [['', t('sites.no_php')], ['8.1', '8.1'], ['8.2', '8.2'], ['8.3', '8.3'], ['8.4', '8.4']] },
  ], async (values) => {
    const accepted = await command('POST', '/v1/sites', {
      domain: values.domain, type: values.type, php_version: values.php_version || null,
    });
    navigate(`/sites/${accepted.id}?min_version=${accepted.version}`);
  }, { label: t('sites.create'), id: 'create-site' });
  // Static sites run no PHP; the others need a version.
  const kind = element.querySelector('[name=type]');
  const php = element.querySelector('[name=php_version]');
  kind.addEventListener('change', () => {
    if (kind.value === 'static') php.value = '';
    else if (!php.value) php.value = '8.2';
  });
  return page(t('sites.create'), element);
}
