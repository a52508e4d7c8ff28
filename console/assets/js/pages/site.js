// One site: its node, status and steps with timings, a progress bar that follows the live
// stream while work is under way, its actions, backups with restore, certificate and custom
// domains with the DNS records to set.

import { h, form, page, section, table, badge, button, link, fmt, confirmThen } from '../dom.js';
import { t } from '../i18n.js';
import { command, query } from '../api.js';
import { concerns, redrawOn } from '../live.js';
import { may } from './roles.js';

const provisioning = ['allocate', 'provision', 'verify'];
const busy = ['requested', 'provisioning', 'deleting'];

export async function detail({ params, search, session, onEvent, navigate }) {
  const id = params.id;
  const minimum = search.get('min_version');
  const root = h('div');
  const known = new Set();
  let version = minimum ? Number(minimum) : null;
  const draw = async () => {
    const [site, backups, domains, certificates, restores] = await Promise.all([
      query(`/v1/sites/${encodeURIComponent(id)}${version ? `?min_version=${version}` : ''}`),
      query(`/v1/sites/${encodeURIComponent(id)}/backups`).catch(() => ({ items: [] })),
      query(`/v1/sites/${encodeURIComponent(id)}/domains`).catch(() => []),
      query('/v1/certificates?limit=200').catch(() => ({ items: [] })),
      query('/v1/restores?limit=50').catch(() => ({ items: [] })),
    ]);
    version = null;
    for (const b of backups.items) known.add(b.backup_id);
    for (const r of restores.items) known.add(r.restore_id);
    root.replaceChildren(render(site, backups.items, domains, certificates.items.filter((c) => c.site_id === id),
      restores.items.filter((r) => r.target_site_id === id), session, refresh, navigate));
  };
  // One redraw at a time; a change that arrives during one gets another after it.
  let pending = null;
  let again = false;
  const refresh = (atVersion) => {
    if (atVersion) version = atVersion;
    if (pending) { again = true; return pending; }
    pending = draw().finally(() => {
      pending = null;
      if (again) { again = false; refresh(); }
    });
    return pending;
  };
  // Listening starts before the first read, so that nothing that happens meanwhile is missed.
  redrawOn(onEvent, (event) => concerns(event, id) || known.has(event.aggregate_id), () => refresh());
  await draw();
  return root;
}

function render(site, backups, domains, certificates, restores, session, refresh, navigate) {
  const acts = may(session, 'sites');
  const running = busy.includes(site.status) || site.pending;
  const done = provisioning.filter((step) => site.steps.some((s) => s.step === step && s.outcome === 'ok')).length;
  const progress = running ? h('div', { class: 'progress', role: 'status' },
    h('progress', { max: provisioning.length, value: site.status === 'active' ? provisioning.length : done,
      'aria-label': t('site.progress') }),
    h('span', {}, t('site.working', { step: t(`step.${lastStep(site)}`, {}, lastStep(site)) }))) : null;
  const actions = acts ? h('div', { class: 'actions' },
    site.status === 'active' ? button(t('action.suspend'), async () => refresh((await command('POST', `/v1/sites/${site.id}/suspend`)).version)) : null,
    site.status === 'suspended' && site.suspension_reason !== 'unpaid'
      ? button(t('action.resume'), async () => refresh((await command('POST', `/v1/sites/${site.id}/resume`)).version)) : null,
    site.status === 'failed' ? button(t('action.retry'), async () => refresh((await command('POST', `/v1/sites/${site.id}/retry`)).version)) : null,
    !['deleting', 'deleted'].includes(site.status) ? button(t('action.delete'), confirmThen(t('site.confirm_delete', { domain: site.domain }), async () => {
      await command('DELETE', `/v1/sites/${site.id}`);
      navigate('/sites');
    }), { class: 'danger' }) : null) : null;
  return page(site.domain,
    h('dl', { class: 'facts' },
      h('dt', {}, t('field.status')), h('dd', { id: 'site-status' }, badge(site.status)),
      h('dt', {}, t('field.type')), h('dd', {}, t(`type.${site.type}`)),
      h('dt', {}, t('field.node')), h('dd', {}, site.node ? `${site.node.name} (${site.node.address})` : '—'),
      h('dt', {}, t('field.open')), h('dd', {}, site.status === 'active'
        ? h('a', { href: `http://${site.domain}/`, target: '_blank', rel: 'noopener', id: 'open-site' }, `http://${site.domain}/`) : '—'),
      site.last_error ? [h('dt', {}, t('field.error')), h('dd', { class: 'error' }, site.last_error)] : null,
      site.suspension_reason ? [h('dt', {}, t('field.suspension')), h('dd', {}, site.suspension_reason)] : null),
    progress, actions,
    section(t('site.steps'), table([
      [t('field.step'), (s) => t(`step.${s.step}`, {}, s.step)],
      [t('field.outcome'), (s) => badge(s.outcome)],
      [t('field.at'), (s) => fmt.date(s.at)],
      [t('field.took'), (s) => fmt.ms(s.took_ms)],
      [t('field.detail'), (s) => s.detail || ''],
    ], site.steps)),
    stagingSection(site, acts, refresh),
    backupsSection(site, backups, restores, acts, refresh),
    certificateSection(site, certificates, acts, refresh),
    domainsSection(site, domains, acts, refresh));
}

function lastStep(site) {
  const last = site.steps[site.steps.length - 1];
  return site.pending || (last ? last.step : 'allocate');
}

// A staging copy: made from a fresh backup, served at its own name with noindex, promoted into
// production behind a safety backup, or deleted.
function stagingSection(site, acts, refresh) {
  if (site.staging_of) {
    return section(t('site.staging'), h('p', {}, t('staging.copy_of'), ' ', link(`/sites/${site.staging_of}`, t('staging.production'))));
  }
  const copy = site.staging;
  const working = copy && ['copying', 'promoting'].includes(copy.status);
  return section(t('site.staging'),
    copy ? h('dl', { class: 'facts' },
      h('dt', {}, t('field.domain')), h('dd', {}, link(`/sites/${copy.site_id}`, copy.domain)),
      h('dt', {}, t('field.status')), h('dd', { id: 'staging-status' }, badge(copy.status)),
      copy.last_error ? [h('dt', {}, t('field.error')), h('dd', { class: 'error' }, copy.last_error)] : null)
      : h('p', { class: 'empty' }, t('staging.none')),
    working ? h('p', { class: 'progress', role: 'status' }, h('progress', { 'aria-label': t(`staging.${copy.status}`) }), ' ', t(`staging.${copy.status}`)) : null,
    acts ? h('div', { class: 'actions' },
      !copy && site.status === 'active' ? button(t('staging.create'), async () => {
        await command('POST', `/v1/sites/${site.id}/staging`);
        await refresh();
      }) : null,
      copy && copy.status === 'ready' ? button(t('staging.promote'), confirmThen(t('staging.confirm_promote'), async () => {
        await command('POST', `/v1/sites/${site.id}/staging/promote`);
        await refresh();
      })) : null,
      copy && !working ? button(t('staging.delete'), confirmThen(t('staging.confirm_delete'), async () => {
        await command('DELETE', `/v1/sites/${site.id}/staging`);
        await refresh();
      }), { class: 'danger' }) : null) : null);
}

function backupsSection(site, backups, restores, acts, refresh) {
  const taking = backups.some((b) => !['verified', 'failed', 'pruned', 'expired'].includes(b.status));
  const restoring = restores.some((r) => !['completed', 'failed'].includes(r.status));
  return section(t('site.backups'),
    acts && site.status === 'active' ? h('div', { class: 'actions' },
      button(t('backup.take'), async () => { await command('POST', `/v1/sites/${site.id}/backups`, { kind: 'full' }); await refresh(); })) : null,
    taking ? h('p', { class: 'progress', role: 'status' }, h('progress', { 'aria-label': t('backup.running') }), ' ', t('backup.running')) : null,
    restoring ? h('p', { class: 'progress', role: 'status' }, h('progress', { 'aria-label': t('restore.running') }), ' ', t('restore.running')) : null,
    table([
      [t('field.requested'), (b) => fmt.date(b.requested_at)],
      [t('field.kind'), (b) => t(`kind.${b.kind}`, {}, b.kind)],
      [t('field.status'), (b) => badge(b.status)],
      [t('field.size'), (b) => fmt.bytes(b.size_bytes)],
      [t('field.verified'), (b) => fmt.date(b.verified_at)],
      [t('field.actions'), (b) => (acts && b.status === 'verified'
        ? button(t('backup.restore'), confirmThen(t('backup.confirm_restore'), async () => {
          await command('POST', `/v1/backups/${b.backup_id}/restore`, { what: 'full' });
          await refresh();
        }), { 'aria-label': t('backup.restore_named', { at: fmt.date(b.requested_at) }) })
        : (b.last_error || ''))],
    ], backups, t('backup.none')),
    restores.length ? h('h3', {}, t('site.restores')) : null,
    restores.length ? table([
      [t('field.requested'), (r) => fmt.date(r.requested_at)],
      [t('field.status'), (r) => badge(r.status)],
      [t('field.steps'), (r) => r.steps.map((s) => `${s.step} ${fmt.ms(s.took_ms)}`).join(' → ')],
      [t('field.error'), (r) => r.last_error || r.failure_reason || ''],
    ], restores) : null);
}

function certificateSection(site, certificates, acts, refresh) {
  const issuing = certificates.some((c) => c.status === 'pending');
  return section(t('site.certificate'),
    issuing ? h('p', { class: 'progress', role: 'status' }, h('progress', { 'aria-label': t('certificate.issuing') }), ' ', t('certificate.issuing')) : null,
    table([
      [t('field.names'), (c) => c.names.join(', ')],
      [t('field.status'), (c) => badge(c.status)],
      [t('field.not_after'), (c) => fmt.date(c.not_after)],
      [t('field.renew_at'), (c) => fmt.date(c.renew_at)],
      [t('field.error'), (c) => c.last_error || ''],
    ], certificates, t('certificate.none')),
    acts && site.status === 'active' ? h('div', { class: 'actions' },
      button(t('certificate.issue'), async () => { await command('POST', `/v1/sites/${site.id}/certificate`, {}); await refresh(); })) : null);
}

function domainsSection(site, domains, acts, refresh) {
  return section(t('site.domains'),
    table([
      [t('field.domain'), (d) => d.domain],
      [t('field.status'), (d) => badge(d.status)],
      [t('domain.records'), (d) => (d.status === 'pending'
        ? h('ul', { class: 'records' },
          h('li', {}, h('code', {}, `_berth-challenge.${d.domain}. TXT "berth-verification=${d.token}"`)),
          site.node ? h('li', {}, h('code', {}, `${d.domain}. ${site.node.address.includes(':') ? 'AAAA' : 'A'} ${site.node.address}`)) : null)
        : '')],
      [t('field.error'), (d) => d.last_error || ''],
      [t('field.actions'), (d) => (acts ? button(t('action.remove'), async () => {
        await command('DELETE', `/v1/sites/${site.id}/domains/${encodeURIComponent(d.domain)}`);
        await refresh();
      }) : '')],
    ], domains, t('domain.none')),
    acts ? form([{ name: 'domain', label: t('domain.add'), required: true, placeholder: 'www.example.com' }], async (values) => {
      await command('POST', `/v1/sites/${site.id}/domains`, values);
      await refresh();
    }, { label: t('domain.add'), id: 'add-domain' }) : null);
}
