// DNS zones and their record sets.

import { h, form, page, section, table, badge, link, button, fmt, confirmThen } from '../dom.js';
import { t } from '../i18n.js';
import { command, query } from '../api.js';
import { may } from './roles.js';

const types = ['A', 'AAAA', 'CNAME', 'MX', 'TXT', 'SRV', 'CAA'];

export async function zones({ session, navigate }) {
  const list = await query('/v1/zones?limit=200');
  return page(t('nav.dns'),
    table([
      [t('field.zone'), (z) => link(`/dns/${z.id}`, z.name)],
      [t('field.status'), (z) => badge(z.status)],
      [t('field.revision'), (z) => `${z.published_revision} / ${z.revision}`],
      [t('field.error'), (z) => z.last_error || ''],
    ], list.items, t('dns.none')),
    may(session, 'sites') ? section(t('dns.create'), form([
      { name: 'name', label: t('field.zone'), required: true, placeholder: 'example.com' },
    ], async (values) => {
      const accepted = await command('POST', '/v1/zones', values);
      navigate(`/dns/${accepted.id}?min_version=${accepted.version}`);
    }, { label: t('dns.create'), id: 'create-zone' })) : null);
}

export async function zone({ params, search, session, navigate }) {
  const minimum = search.get('min_version');
  const z = await query(`/v1/zones/${encodeURIComponent(params.id)}${minimum ? `?min_version=${minimum}` : ''}`);
  const acts = may(session, 'sites');
  const reload = (accepted) => navigate(`/dns/${z.id}?min_version=${accepted.version}`, { replace: true });
  return page(z.name,
    h('p', {}, badge(z.status), ' ', t('dns.revision', { published: z.published_revision, revision: z.revision })),
    section(t('dns.records'), table([
      [t('field.name'), (r) => r.name],
      [t('field.type'), (r) => r.type],
      [t('field.ttl'), (r) => r.ttl],
      [t('field.values'), (r) => r.records.join('\n')],
      [t('field.actions'), (r) => (acts ? button(t('action.remove'), async () => {
        reload(await command('DELETE', `/v1/zones/${z.id}/records/${encodeURIComponent(r.name)}/${r.type}`));
      }) : '')],
    ], z.records || [], t('dns.no_records'))),
    acts ? section(t('dns.set'), form([
      { name: 'name', label: t('field.name'), required: true, placeholder: 'www', hint: t('dns.name_hint') },
      { name: 'type', label: t('field.type'), type: 'select', options: types.map((x) => [x, x]) },
      { name: 'ttl', label: t('field.ttl'), type: 'number', value: '3600' },
      { name: 'records', label: t('field.values'), type: 'textarea', hint: t('dns.values_hint') },
    ], async (values) => {
      reload(await command('POST', `/v1/zones/${z.id}/records`, {
        name: values.name, type: values.type, ttl: Number(values.ttl),
        records: values.records.split('\n').map((v) => v.trim()).filter(Boolean),
      }));
    }, { label: t('dns.set'), id: 'set-records' })) : null,
    acts ? h('div', { class: 'actions' }, button(t('dns.delete'), confirmThen(t('dns.confirm_delete', { name: z.name }), async () => {
      await command('DELETE', `/v1/zones/${z.id}`);
      navigate('/dns');
    }), { class: 'danger' })) : null,
    h('p', { class: 'muted' }, t('field.updated'), ' ', fmt.date(z.updated_at)));
}
