// The console's shell: the router (paths of the app are real URLs; the server answers every
// one with this app), the navigation of each side, the language switch, sign-out, the live
// panel and the command palette.

import { h, clear, link, report } from './dom.js';
import { t, languages, language, setLanguage } from './i18n.js';
import { side, signOut, whenSignedOut, query, Problem } from './api.js';
import * as live from './live.js';
import * as palette from './palette.js';
import * as auth from './pages/auth.js';
import * as sites from './pages/sites.js';
import * as site from './pages/site.js';
import * as dns from './pages/dns.js';
import * as team from './pages/team.js';
import * as billing from './pages/billing.js';
import * as audit from './pages/audit.js';
import * as ops from './pages/ops.js';
import * as business from './pages/ops_business.js';

const publicRoutes = [
  ['/sign-in', auth.signIn],
  ['/register', auth.register],
  ['/operator/sign-in', auth.operatorSignIn],
  ['/invitations/accept', auth.acceptInvitation],
];

const tenantRoutes = [
  ['/', sites.list],
  ['/sites', sites.list],
  ['/sites/new', sites.create],
  ['/sites/:id', site.detail],
  ['/dns', dns.zones],
  ['/dns/:id', dns.zone],
  ['/team', team.page],
  ['/billing', billing.page],
  ['/audit', audit.trail],
  ['/security', audit.securityLog],
  ['/account', auth.account],
];

const operatorRoutes = [
  ['/', ops.nodes],
  ['/ops/nodes', ops.nodes],
  ['/ops/nodes/new', ops.register],
  ['/ops/nodes/:id', ops.node],
  ['/ops/plans', business.plans],
  ['/ops/coupons', business.coupons],
  ['/ops/invoices', business.invoices],
  ['/ops/payments', business.payments],
  ['/ops/past-due', business.pastDue],
  ['/ops/reports', business.reports],
  ['/ops/costs', business.costs],
  ['/ops/failures', business.failures],
];

export const nav = {
  tenant: [['/sites', 'nav.sites'], ['/dns', 'nav.dns'], ['/team', 'nav.team'], ['/billing', 'nav.billing'],
    ['/audit', 'nav.audit'], ['/security', 'nav.security'], ['/account', 'nav.account']],
  operator: [['/ops/nodes', 'nav.nodes'], ['/ops/plans', 'nav.plans'], ['/ops/coupons', 'nav.coupons'],
    ['/ops/invoices', 'nav.invoices'], ['/ops/payments', 'nav.payments'], ['/ops/past-due', 'nav.past_due'],
    ['/ops/reports', 'nav.reports'], ['/ops/costs', 'nav.costs'], ['/ops/failures', 'nav.failures']],
};

/** What every page gets: where it draws, its path parameters, and the session. */
export const session = { side: null, role: null, tenant: null };

function match(routes, path) {
  for (const [pattern, render] of routes) {
    const names = [];
    const regex = new RegExp(`^${pattern.replace(/:(\w+)/g, (_, name) => { names.push(name); return '([^/]+)'; })}/?$`);
    const found = path.match(regex);
    if (found) return { render, params: Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(found[i + 1])])) };
  }
  return null;
}

export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState({}, '', path); else history.pushState({}, '', path);
  route();
}

let cleanup = [];

async function route() {
  for (const undo of cleanup) undo();
  cleanup = [];
  const path = location.pathname;
  const current = side();
  const app = document.getElementById('app');
  if (!current || current !== session.side) await enter(current);
  const routes = current === 'tenant' ? tenantRoutes : current === 'operator' ? operatorRoutes : [];
  const found = match(publicRoutes, path) || match(routes, path);
  if (!found) {
    if (!current) { navigate(path.startsWith('/ops') ? '/operator/sign-in' : '/sign-in', { replace: true }); return; }
    draw(app, h('div', { class: 'page' }, h('h1', { tabindex: '-1' }, t('not_found.title')), h('p', {}, t('not_found.text'))));
    return;
  }
  const main = draw(app, h('p', { class: 'loading', role: 'status' }, t('loading')));
  const context = {
    params: found.params,
    search: new URLSearchParams(location.search),
    session,
    onEvent: (listener) => cleanup.push(live.subscribe(listener)),
    navigate,
  };
  try {
    const content = await found.render(context);
    clear(main, content);
  } catch (error) {
    if (error instanceof Problem && error.status === 404) {
      clear(main, h('div', { class: 'page' }, h('h1', { tabindex: '-1' }, t('not_found.title')), h('p', {}, t('not_found.text'))));
    } else {
      clear(main, h('div', { class: 'page' }, h('h1', { tabindex: '-1' }, t('error.title'))));
      report(error, main.firstChild);
    }
  }
  const heading = main.querySelector('h1');
  if (heading && document.activeElement === document.body) heading.focus({ preventScroll: true });
}

async function enter(current) {
  session.side = current;
  session.role = null;
  session.tenant = null;
  live.stop();
  if (current === 'tenant') {
    try {
      // A tenant just registered may not be in the view yet: wait for its first version.
      const tenant = await query('/v1/tenant?min_version=1');
      session.tenant = tenant;
      session.role = tenant.role || 'viewer';
    } catch (_) { /* a dead session: the page's own request sends it to sign in */ }
  }
}

function draw(app, content) {
  const current = session.side;
  const shell = h('div', { class: 'shell' });
  const header = h('header', { class: 'top' },
    h('a', { class: 'brand', href: '/', 'data-link': true }, 'Berth'),
    current ? h('nav', { 'aria-label': t('nav.label') },
      h('ul', {}, nav[current].map(([href, key]) => h('li', {},
        link(href, t(key), { 'aria-current': location.pathname.startsWith(href) ? 'page' : null }))))) : null,
    h('div', { class: 'tools' },
      current ? h('button', { type: 'button', class: 'ghost', onclick: () => palette.open(), title: 'Ctrl+K' }, t('palette.open')) : null,
      h('label', { class: 'sr-only', for: 'language' }, t('language')),
      h('select', { id: 'language', onchange: (e) => { setLanguage(e.target.value); route(); } },
        languages.map(([code, name]) => h('option', { value: code, selected: code === language() }, name))),
      current ? h('button', { type: 'button', class: 'ghost', id: 'sign-out', onclick: async () => {
        await signOut();
        live.stop();
        session.side = null;
        navigate(current === 'operator' ? '/operator/sign-in' : '/sign-in');
      } }, t('action.sign_out')) : null));
  const main = h('main', { id: 'main', tabindex: '-1' }, content);
  shell.append(header, h('div', { class: 'body' }, main,
    // It scrolls when long: focusable, so that it scrolls from the keyboard too.
    current ? h('aside', { class: 'live', id: 'live', tabindex: '0', 'aria-live': 'polite', 'aria-label': t('live.title') }) : null));
  clear(app, h('a', { class: 'skip', href: '#main' }, t('skip')), shell);
  if (current) live.start(document.getElementById('live'));
  palette.install(current, navigate);
  return main;
}

document.addEventListener('click', (event) => {
  const anchor = event.target.closest('a[data-link]');
  if (!anchor || event.ctrlKey || event.metaKey || event.shiftKey || anchor.target) return;
  event.preventDefault();
  navigate(anchor.getAttribute('href'));
});

window.addEventListener('popstate', route);
whenSignedOut(async () => {
  await signOut();
  live.stop();
  session.side = null;
  navigate('/sign-in', { replace: true });
});
route();
