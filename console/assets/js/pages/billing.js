// Billing: the plan and its usage against the limits, changing plan with the proration shown
// before it is confirmed, payment methods, the billing profile, invoices with their PDF and
// e-Factura XML, and payments.

import { h, form, page, section, table, badge, button, fmt, bar, report } from '../dom.js';
import { t } from '../i18n.js';
import { command, query, download } from '../api.js';
import { may } from './roles.js';

export async function page_({ session, navigate }) {
  const [tenant, subscription, plans, cards, invoices, payments, profile] = await Promise.all([
    query('/v1/tenant'),
    query('/v1/subscription').catch(() => null),
    query('/v1/plans?limit=200').catch(() => ({ items: [] })),
    query('/v1/billing/payment-methods').catch(() => ({ items: [] })),
    query('/v1/invoices?limit=100').catch(() => ({ items: [] })),
    query('/v1/payments?limit=100').catch(() => ({ items: [] })),
    query('/v1/billing-profile').catch(() => null),
  ]);
  const usage = subscription ? await query(`/v1/subscriptions/${subscription.id}/usage`).catch(() => null) : null;
  const manage = may(session, 'billing');
  const again = () => navigate('/billing', { replace: true });
  const plan = subscription && plans.items.find((p) => p.id === subscription.plan_id);
  return page(t('nav.billing'),
    section(t('billing.plan'), subscription ? [
      h('dl', { class: 'facts' },
        h('dt', {}, t('billing.plan')), h('dd', {}, `${subscription.plan_name} (${subscription.plan_code})`),
        h('dt', {}, t('field.status')), h('dd', {}, badge(subscription.past_due ? 'past_due' : subscription.status)),
        h('dt', {}, t('billing.period')), h('dd', {}, `${fmt.day(subscription.period_start)} – ${fmt.day(subscription.period_end)}`),
        h('dt', {}, t('billing.price')), h('dd', {}, `${fmt.money(subscription.price_minor, subscription.currency)} / ${t(`period.${subscription.period}`)}`)),
      plan ? limits(plan, tenant, usage) : null,
      manage ? change(subscription, plans.items, again) : null,
    ] : h('p', {}, t('billing.no_subscription'))),
    section(t('billing.methods'),
      table([
        [t('billing.card'), (c) => `${c.brand} •••• ${c.last4}`],
        [t('billing.expires'), (c) => `${String(c.exp_month).padStart(2, '0')}/${c.exp_year}`],
        [t('billing.default'), (c) => (c.default ? t('yes') : '')],
        [t('field.actions'), (c) => (manage ? button(t('action.remove'), async () => {
          await command('DELETE', `/v1/billing/payment-methods/${encodeURIComponent(c.payment_method)}`); again();
        }) : '')],
      ], cards.items, t('billing.no_methods')),
      manage ? form([{ name: 'payment_method', label: t('billing.payment_method'), required: true, hint: t('billing.payment_method_hint') }],
        async (values) => { await command('POST', '/v1/billing/payment-methods', values); again(); },
        { label: t('billing.add_method'), id: 'add-card' }) : null),
    section(t('billing.invoices'), table([
      [t('field.number'), (i) => i.number || t('status.draft')],
      [t('field.kind'), (i) => t(`document.${i.kind}`, {}, i.kind)],
      [t('field.issued'), (i) => fmt.day(i.issue_date)],
      [t('field.total'), (i) => fmt.money(i.total_minor, i.currency)],
      [t('field.paid'), (i) => fmt.money(i.paid_minor, i.currency)],
      [t('field.status'), (i) => badge(i.settled_on ? 'paid' : i.status)],
      [t('field.files'), (i) => (i.status === 'issued' ? h('span', { class: 'actions' },
        button(t('billing.pdf'), () => download(`/v1/invoices/${i.id}/pdf`, `${i.number || i.id}.pdf`), { 'aria-label': t('billing.pdf_of', { number: i.number }) }),
        button(t('billing.xml'), () => download(`/v1/invoices/${i.id}/efactura.xml`, `${i.number || i.id}.xml`), { 'aria-label': t('billing.xml_of', { number: i.number }) })) : '')],
    ], invoices.items, t('billing.no_invoices'))),
    section(t('billing.payments'), table([
      [t('field.received'), (p) => fmt.day(p.received_on)],
      [t('field.amount'), (p) => fmt.money(p.amount_minor, p.currency)],
      [t('billing.method'), (p) => p.method],
      [t('field.reference'), (p) => p.reference || ''],
    ], payments.items, t('billing.no_payments'))),
    manage ? section(t('billing.profile'), profileForm(profile, again)) : null);
}

function limits(plan, tenant, usage) {
  const sites = tenant.counts.sites;
  const storage = usage ? usage.meters.find((m) => m.metric === 'storage_gb') : null;
  return h('div', { class: 'limits' },
    plan.limits.sites ? bar(sites, plan.limits.sites, t('billing.sites_used')) : h('p', {}, t('billing.sites_unlimited', { sites })),
    plan.limits.storage_gb ? bar(storage ? Math.round(storage.thousandths / 1000) : 0, plan.limits.storage_gb, t('billing.storage_used')) : null,
    h('p', { class: 'muted' }, t('billing.backups', { frequency: t(`frequency.${plan.limits.backup_frequency}`), days: plan.limits.backup_retention_days })));
}

// The proration, as the billing saga computes it (`billing::proration`): the old price's
// unused days credited and the new price charged for the same days, each `price × remaining
// days / days in the period`, rounded half-up to the minor unit. A downgrade waits for the
// period's end and is not prorated.
function proration(subscription, target) {
  const price = target.prices.filter((p) => p.currency === subscription.currency && p.period === subscription.period)
    .sort((a, b) => a.effective_from.localeCompare(b.effective_from)).pop();
  if (!price) return null;
  const day = (s) => Date.UTC(...s.slice(0, 10).split('-').map((n, i) => Number(n) - (i === 1 ? 1 : 0)));
  const start = day(subscription.period_start);
  const end = day(subscription.period_end);
  const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
  const total = Math.round((end - start) / 86400000) + 1;
  const remaining = Math.max(0, Math.min(total, Math.round((end - today) / 86400000) + 1));
  const share = (minor) => Math.floor((minor * remaining * 2 + total) / (total * 2));
  const upgrade = price.amount_minor > subscription.price_minor;
  return { upgrade, credit: share(subscription.price_minor), charge: share(price.amount_minor), remaining, total, price };
}

function change(subscription, plans, again) {
  const others = plans.filter((p) => !p.retired && p.id !== subscription.plan_id);
  if (others.length === 0) return null;
  const preview = h('div', { 'aria-live': 'polite' });
  const select = h('select', { id: 'change-plan' }, h('option', { value: '' }, t('billing.choose_plan')),
    others.map((p) => h('option', { value: p.code }, p.name)));
  select.addEventListener('change', () => {
    const target = others.find((p) => p.code === select.value);
    if (!target) { preview.replaceChildren(); return; }
    const shown = proration(subscription, target);
    if (!shown) { preview.replaceChildren(h('p', { class: 'alert' }, t('billing.no_price', { currency: subscription.currency }))); return; }
    const go = async () => {
      try {
        await command('POST', `/v1/subscriptions/${subscription.id}/${shown.upgrade ? 'upgrade' : 'downgrade'}`, { plan: target.code });
        again();
      } catch (error) { report(error, preview); }
    };
    preview.replaceChildren(
      shown.upgrade && !subscription.trial
        ? h('p', {}, t('billing.proration', {
          days: shown.remaining, total: shown.total,
          credit: fmt.money(shown.credit, subscription.currency), charge: fmt.money(shown.charge, subscription.currency),
        }))
        : h('p', {}, shown.upgrade ? t('billing.trial_change') : t('billing.downgrade_at_end', { end: fmt.day(subscription.period_end) })),
      h('button', { type: 'button', class: 'primary', onclick: go }, t('billing.confirm_change', { plan: target.name })));
  });
  return h('div', { class: 'change' }, h('label', { for: 'change-plan' }, t('billing.change_plan')), select, preview);
}

function profileForm(profile, again) {
  const p = profile || { address: {} };
  return form([
    { name: 'kind', label: t('billing.party'), type: 'select', options: [['company', t('billing.company')], ['person', t('billing.person')]], value: p.kind },
    { name: 'legal_name', label: t('billing.legal_name'), value: p.legal_name, required: true },
    { name: 'vat_id', label: t('billing.vat_id'), value: p.vat_id },
    { name: 'registration', label: t('billing.registration'), value: p.registration },
    { name: 'email', label: t('field.email'), type: 'email', value: p.email },
    { name: 'lines', label: t('billing.address'), value: (p.address.lines || []).join(', '), required: true },
    { name: 'city', label: t('billing.city'), value: p.address.city, required: true },
    { name: 'postal_code', label: t('billing.postal_code'), value: p.address.postal_code },
    { name: 'subdivision', label: t('billing.subdivision'), value: p.address.subdivision, hint: 'RO-CJ' },
    { name: 'country', label: t('billing.country'), value: p.address.country || 'RO', required: true },
    { name: 'currency', label: t('billing.currency'), type: 'select', options: [['EUR', 'EUR'], ['RON', 'RON'], ['USD', 'USD']], value: p.currency || 'EUR' },
  ], async (v) => {
    await command('PUT', '/v1/billing-profile', {
      kind: v.kind, legal_name: v.legal_name, vat_id: v.vat_id || null, registration: v.registration || null,
      email: v.email || null, currency: v.currency,
      address: { lines: v.lines.split(',').map((l) => l.trim()).filter(Boolean), city: v.city,
        postal_code: v.postal_code || null, subdivision: v.subdivision || null, country: v.country },
    });
    again();
  }, { id: 'profile' });
}

export { page_ as page };
