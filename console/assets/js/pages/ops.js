// Operators' nodes: the fleet with health and capacity bars, registering a node with its host
// key, bootstrapping, draining, evacuating and decommissioning it.

import { h, form, page, section, table, badge, link, button, fmt, bar, confirmThen } from '../dom.js';
import { t } from '../i18n.js';
import { command, query } from '../api.js';
import { concerns, redrawOn } from '../live.js';

export async function nodes() {
  const list = await query('/v1/nodes?limit=200');
  return page(t('nav.nodes'),
    h('p', {}, link('/ops/nodes/new', t('nodes.register'), { class: 'button primary' })),
    table([
      [t('field.name'), (n) => link(`/ops/nodes/${n.id}`, n.name)],
      [t('field.region'), (n) => `${n.provider} · ${n.region}`],
      [t('field.state'), (n) => badge(n.state)],
      [t('field.health'), (n) => [badge(n.health), n.health_reason ? ` ${n.health_reason}` : '']],
      [t('field.sites'), (n) => n.sites],
      [t('nodes.capacity'), (n) => capacity(n)],
    ], list.items, t('nodes.none')));
}

function capacity(n) {
  return h('div', { class: 'bars' },
    bar(n.allocated.millicores / 1000, n.capacity.millicores / 1000, t('nodes.cpu')),
    bar(n.allocated.memory_mb, n.capacity.memory_mb, t('nodes.memory')),
    bar(n.allocated.disk_gb, n.capacity.disk_gb, t('nodes.disk')));
}

export async function register() {
  const key = h('div', { 'aria-live': 'polite' });
  return page(t('nodes.register'),
    form([
      { name: 'name', label: t('field.name'), required: true },
      { name: 'address', label: t('nodes.address'), required: true, placeholder: '203.0.113.10' },
      { name: 'ssh_port', label: t('nodes.ssh_port'), type: 'number', value: '22' },
      { name: 'ssh_user', label: t('nodes.ssh_user'), value: 'root' },
      { name: 'host_key', label: t('nodes.host_key'), type: 'textarea', required: true, hint: t('nodes.host_key_hint') },
      { name: 'vcpus', label: t('nodes.vcpus'), type: 'number', value: '2' },
      { name: 'memory_mb', label: t('nodes.memory_mb'), type: 'number', value: '4096' },
      { name: 'disk_gb', label: t('nodes.disk_gb'), type: 'number', value: '80' },
      { name: 'provider', label: t('nodes.provider'), required: true },
      { name: 'region', label: t('field.region'), required: true },
      { name: 'monthly_cost', label: t('nodes.monthly_cost'), type: 'number', value: '0', hint: t('nodes.cost_hint') },
      { name: 'currency', label: t('billing.currency'), type: 'select', options: [['EUR', 'EUR'], ['RON', 'RON'], ['USD', 'USD']] },
    ], async (v) => {
      const registered = await command('POST', '/v1/nodes', {
        name: v.name, address: v.address, ssh_port: Number(v.ssh_port) || null, ssh_user: v.ssh_user || null,
        host_key: v.host_key,
        capacity: { vcpus: Number(v.vcpus), memory_mb: Number(v.memory_mb), disk_gb: Number(v.disk_gb) },
        provider: v.provider, region: v.region,
        monthly_cost: { amount_minor: Math.round(Number(v.monthly_cost) * 100), currency: v.currency },
      });
      key.replaceChildren(
        h('p', { role: 'status' }, t('nodes.authorize')),
        h('pre', { class: 'mono', id: 'node-public-key' }, registered.ssh_public_key),
        link(`/ops/nodes/${registered.id}?min_version=${registered.version}`, t('nodes.continue'), { class: 'button primary', id: 'node-continue' }));
    }, { label: t('nodes.register'), id: 'register-node' }),
    key);
}

export async function node({ params, search, onEvent, navigate }) {
  const minimum = search.get('min_version');
  const n = await query(`/v1/nodes/${encodeURIComponent(params.id)}${minimum ? `?min_version=${minimum}` : ''}`);
  const again = (accepted) => navigate(`/ops/nodes/${n.id}?min_version=${accepted.version}`, { replace: true });
  redrawOn(onEvent, (event) => concerns(event, n.id), () => navigate(`/ops/nodes/${n.id}`, { replace: true }));
  const working = n.state === 'registered' && n.scripts_version === null;
  return page(n.name,
    h('dl', { class: 'facts' },
      h('dt', {}, t('field.state')), h('dd', { id: 'node-state' }, badge(n.state)),
      h('dt', {}, t('field.health')), h('dd', {}, badge(n.health), n.health_reason ? ` ${n.health_reason}` : ''),
      h('dt', {}, t('nodes.address')), h('dd', {}, `${n.ssh_user}@${n.address}:${n.ssh_port}`),
      h('dt', {}, t('nodes.host_key')), h('dd', { class: 'mono' }, n.host_key),
      h('dt', {}, t('nodes.scripts')), h('dd', {}, n.scripts_version || '—'),
      h('dt', {}, t('nodes.monthly_cost')), h('dd', {}, fmt.money(n.monthly_cost_minor, n.currency)),
      n.last_error ? [h('dt', {}, t('field.error')), h('dd', { class: 'error' }, n.last_error)] : null),
    capacity(n),
    working ? h('p', { class: 'muted' }, t('nodes.bootstrap_hint')) : null,
    h('div', { class: 'actions' },
      n.state === 'registered' ? button(t('nodes.bootstrap'), async () => again(await command('POST', `/v1/nodes/${n.id}/bootstrap`))) : null,
      n.state === 'ready' ? button(t('nodes.drain'), async () => again(await command('POST', `/v1/nodes/${n.id}/drain`))) : null,
      ['ready', 'draining'].includes(n.state) ? button(t('nodes.evacuate'), confirmThen(t('nodes.confirm_evacuate'), async () => {
        again(await command('POST', `/v1/nodes/${n.id}/evacuate`, { mode: 'live' }));
      })) : null,
      n.state === 'draining' ? button(t('nodes.decommission'), confirmThen(t('nodes.confirm_decommission', { name: n.name }), async () => {
        again(await command('POST', `/v1/nodes/${n.id}/decommission`));
      }), { class: 'danger' }) : null),
    section(t('nav.sites'), table([
      [t('field.domain'), (s) => s.domain || s.id],
      [t('field.type'), (s) => (s.type ? t(`type.${s.type}`) : '')],
      [t('nodes.cpu'), (s) => `${s.millicores / 1000}`],
      [t('nodes.memory'), (s) => `${s.memory_mb} MB`],
      [t('nodes.disk'), (s) => `${s.disk_gb} GB`],
    ], n.site_list, t('sites.none'))));
}
