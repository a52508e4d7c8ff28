// Operators' business pages: plans and coupons, every invoice and payment, past-due tenants,
// revenue and VAT, cost, margin and capacity with its forecast, and what is failing (backups,
// certificates).

import { h, form, page, section, table, badge, button, fmt, bar } from '../dom.js';
import { t } from '../i18n.js';
import { command, query, withParams, download as fetchFile } from '../api.js';

export async function plans({ navigate }) {
  const list = await query('/v1/plans?limit=200');
  return page(t('nav.plans'),
    table([
      [t('field.name'), (p) => `${p.name} (${p.code})`],
      [t('billing.price'), (p) => p.prices.map((x) => `${fmt.money(x.amount_minor, x.currency)}/${t(`period.${x.period}`)}`).join(', ')],
      [t('plans.sites'), (p) => p.limits.sites ?? '∞'],
      [t('plans.storage'), (p) => (p.limits.storage_gb ? `${p.limits.storage_gb} GB` : '∞')],
      [t('plans.backups'), (p) => `${t(`frequency.${p.limits.backup_frequency}`)}, ${p.limits.backup_retention_days} d`],
      [t('field.status'), (p) => (p.retired ? badge('retired') : badge('active'))],
      [t('field.actions'), (p) => (p.retired ? '' : button(t('plans.retire'), async () => {
        await command('POST', `/v1/plans/${p.id}/retire`); navigate('/ops/plans', { replace: true });
      }))],
    ], list.items),
    section(t('plans.create'), form([
      { name: 'code', label: t('plans.code'), required: true },
      { name: 'name', label: t('field.name'), required: true },
      { name: 'price', label: t('plans.monthly_price'), type: 'number', required: true },
      { name: 'currency', label: t('billing.currency'), type: 'select', options: [['EUR', 'EUR'], ['RON', 'RON'], ['USD', 'USD']] },
      { name: 'sites', label: t('plans.sites'), type: 'number', value: '5' },
      { name: 'storage_gb', label: t('plans.storage'), type: 'number', value: '10' },
      { name: 'retention_days', label: t('plans.retention'), type: 'number', value: '14' },
    ], async (v) => {
      await command('POST', '/v1/plans', {
        code: v.code, name: v.name,
        prices: [{ period: 'month', price: { amount_minor: Math.round(Number(v.price) * 100), currency: v.currency } }],
        limits: { sites: v.sites ? Number(v.sites) : null, storage_gb: v.storage_gb ? Number(v.storage_gb) : null,
          support: 'standard', backups: { frequency: 'daily', retention_days: Number(v.retention_days) } },
      });
      navigate('/ops/plans', { replace: true });
    }, { label: t('plans.create'), id: 'create-plan' })));
}

export async function coupons({ navigate }) {
  const list = await query('/v1/ops/coupons?limit=200');
  return page(t('nav.coupons'),
    table([
      [t('coupons.code'), (c) => c.code],
      [t('coupons.discount'), (c) => JSON.stringify(c.discount)],
      [t('coupons.duration'), (c) => c.duration],
      [t('coupons.redemptions'), (c) => `${c.redemptions}${c.max_redemptions ? ` / ${c.max_redemptions}` : ''}`],
      [t('field.expires'), (c) => fmt.date(c.expires_at)],
      [t('field.actions'), (c) => (c.withdrawn ? badge('withdrawn') : button(t('coupons.withdraw'), async () => {
        await command('POST', `/v1/coupons/${c.id}/withdraw`); navigate('/ops/coupons', { replace: true });
      }))],
    ], list.items, t('coupons.none')),
    section(t('coupons.create'), form([
      { name: 'code', label: t('coupons.code'), required: true },
      { name: 'percent_off', label: t('coupons.percent'), inputmode: 'decimal', required: true },
      { name: 'duration', label: t('coupons.duration'), type: 'select', options: [['once', t('coupons.once')], ['forever', t('coupons.forever')]] },
    ], async (v) => {
      await command('POST', '/v1/coupons', { code: v.code, percent_off: v.percent_off, duration: v.duration });
      navigate('/ops/coupons', { replace: true });
    }, { label: t('coupons.create'), id: 'create-coupon' })));
}

export async function invoices({ search, navigate }) {
  const status = search.get('status') || '';
  const list = await query(withParams('/v1/ops/invoices', { status, limit: 200 }));
  return page(t('nav.invoices'),
    h('div', { class: 'filters' }, h('label', { for: 'invoice-status' }, t('field.status')),
      h('select', { id: 'invoice-status', onchange: (e) => navigate(withParams('/ops/invoices', { status: e.target.value })) },
        ['', 'draft', 'issued', 'discarded'].map((s) => h('option', { value: s, selected: s === status }, s ? t(`status.${s}`) : t('filter.all'))))),
    table([
      [t('field.number'), (i) => i.number || t('status.draft')],
      [t('field.tenant'), (i) => i.tenant_id || ''],
      [t('field.kind'), (i) => t(`document.${i.kind}`, {}, i.kind)],
      [t('field.issued'), (i) => fmt.day(i.issue_date)],
      [t('field.total'), (i) => fmt.money(i.total_minor, i.currency)],
      [t('field.paid'), (i) => fmt.money(i.paid_minor, i.currency)],
      [t('field.files'), (i) => (i.status === 'issued'
        ? button(t('billing.pdf'), () => fetchFile(`/v1/invoices/${i.id}/pdf`, `${i.number}.pdf`)) : '')],
    ], list.items, t('billing.no_invoices')));
}

export async function payments() {
  const [cash, webhooks] = await Promise.all([query('/v1/ops/payments'), query('/v1/ops/webhooks?limit=50')]);
  return page(t('nav.payments'),
    section(t('payments.cash'), table([
      [t('billing.method'), (r) => r.method],
      [t('billing.currency'), (r) => r.currency],
      [t('payments.count'), (r) => r.payments],
      [t('payments.received'), (r) => fmt.money(r.received_minor, r.currency)],
      [t('payments.credit'), (r) => fmt.money(r.credit_minor, r.currency)],
    ], cash.items)),
    section(t('payments.webhooks'), table([
      [t('field.received'), (w) => fmt.date(w.received_at)],
      [t('field.kind'), (w) => w.event_type],
      [t('field.outcome'), (w) => badge(w.outcome)],
      [t('field.detail'), (w) => w.detail],
    ], webhooks.items)));
}

export async function pastDue() {
  const list = await query('/v1/ops/dunning?limit=200');
  return page(t('nav.past_due'), table([
    [t('field.tenant'), (d) => d.tenant_id || ''],
    [t('field.status'), (d) => badge(d.status)],
    [t('field.amount'), (d) => fmt.money(d.amount_minor, d.currency)],
    [t('dunning.attempts'), (d) => `${d.failures} / ${d.attempts}`],
    [t('dunning.next'), (d) => fmt.date(d.next_retry_at)],
    [t('dunning.grace'), (d) => fmt.date(d.grace_ends_at)],
    [t('dunning.held'), (d) => d.held_sites],
    [t('field.error'), (d) => d.last_error || ''],
  ], list.items, t('dunning.none')));
}

export async function reports({ search, navigate }) {
  const from = search.get('from') || '';
  const to = search.get('to') || '';
  const [revenue, vat] = await Promise.all([query('/v1/ops/revenue'), query(withParams('/v1/ops/vat-report', { from, to }))]);
  const filter = form([
    { name: 'from', label: t('field.from'), type: 'date', value: from },
    { name: 'to', label: t('field.to'), type: 'date', value: to },
  ], async (v) => navigate(withParams('/ops/reports', v)), { label: t('action.filter'), id: 'vat-filter' });
  return page(t('nav.reports'),
    section(t('reports.revenue'), table([
      [t('billing.plan'), (r) => r.plan_code],
      [t('billing.currency'), (r) => r.currency],
      [t('reports.subscriptions'), (r) => r.subscriptions],
      [t('reports.mrr'), (r) => fmt.money(r.mrr_minor, r.currency)],
      [t('reports.arr'), (r) => fmt.money(r.arr_minor, r.currency)],
    ], revenue.items)),
    section(t('reports.vat'), filter, table([
      [t('reports.month'), (r) => r.month],
      [t('reports.country'), (r) => r.buyer_country],
      [t('reports.treatment'), (r) => `${r.treatment} ${r.category} ${(r.rate_bp / 100).toFixed(2)}%`],
      [t('reports.documents'), (r) => r.documents],
      [t('reports.taxable'), (r) => fmt.money(r.taxable_minor, r.currency)],
      [t('reports.vat_amount'), (r) => fmt.money(r.vat_minor, r.currency)],
    ], vat.items)));
}

export async function costs() {
  const [report, capacity] = await Promise.all([query('/v1/ops/costs'), query('/v1/ops/capacity')]);
  const c = report.currency;
  return page(t('nav.costs'),
    section(t('costs.month', { month: report.month }),
      report.model_set ? null : h('p', { class: 'alert' }, t('costs.no_model')),
      h('dl', { class: 'facts' },
        h('dt', {}, t('costs.revenue')), h('dd', {}, fmt.money(report.revenue_minor, c)),
        h('dt', {}, t('costs.cost')), h('dd', {}, fmt.money(report.total_cost_minor, c)),
        h('dt', {}, t('costs.margin')), h('dd', {}, fmt.money(report.margin_minor, c)),
        h('dt', {}, t('costs.idle')), h('dd', {}, fmt.money(report.idle_compute_minor, c))),
      table([
        [t('costs.category'), (x) => x.category],
        [t('costs.cost'), (x) => fmt.money(x.cost_minor, c)],
        [t('costs.budget'), (x) => (x.budget_minor ? bar(x.cost_minor / 100, x.budget_minor / 100, t('costs.of_budget')) : '—')],
      ], report.categories),
      h('h3', {}, t('costs.plans')),
      table([
        [t('billing.plan'), (p) => p.plan],
        [t('costs.tenants'), (p) => p.tenants],
        [t('costs.revenue'), (p) => fmt.money(p.revenue_minor, c)],
        [t('costs.cost'), (p) => fmt.money(p.cost_minor, c)],
        [t('costs.margin'), (p) => fmt.money(p.margin_minor, c)],
      ], report.plans)),
    section(t('costs.capacity'), capacity.regions.map((region) => h('div', { class: 'region' },
      h('h3', {}, `${region.region} (${region.nodes})`),
      region.recommendation ? h('p', { class: 'alert' }, region.recommendation) : null,
      table([
        [t('costs.resource'), (r) => r.resource],
        [t('costs.use'), (r) => bar(r.allocated, r.capacity, `${r.resource} (${r.unit})`)],
        [t('costs.growth'), (r) => `${r.growth_per_day_7d.toFixed(2)} / ${r.growth_per_day_30d.toFixed(2)}`],
        [t('costs.exhausted'), (r) => (r.exhausted_on ? fmt.day(r.exhausted_on) : t('costs.not_in_sight'))],
      ], region.resources)))));
}

export async function failures() {
  const [backups, failing, expiring] = await Promise.all([
    query('/v1/ops/backups/failures?limit=100'), query('/v1/ops/certificates/failing?limit=100'),
    query('/v1/ops/certificates/expiring?limit=100'),
  ]);
  const certificates = [
    [t('field.domain'), (c) => c.domain],
    [t('field.tenant'), (c) => c.tenant],
    [t('field.not_after'), (c) => fmt.date(c.not_after)],
    [t('certificate.failures'), (c) => c.failures],
    [t('field.error'), (c) => c.last_error || ''],
  ];
  return page(t('nav.failures'),
    section(t('failures.backups'), table([
      [t('field.at'), (f) => fmt.date(f.failed_at)],
      [t('field.site'), (f) => f.site_id],
      [t('field.kind'), (f) => f.kind],
      [t('field.reason'), (f) => f.reason],
      [t('field.detail'), (f) => f.detail],
      [t('failures.final'), (f) => (f.final ? t('yes') : t('no'))],
    ], backups.items, t('failures.none'))),
    section(t('failures.certificates'), table(certificates, failing.items, t('failures.none'))),
    section(t('failures.expiring'), table(certificates, expiring.items, t('failures.none'))));
}
