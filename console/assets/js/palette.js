// The command palette (Ctrl+K): every page of the side, and the frequent actions, found by
// typing; arrows choose, Enter goes, Escape closes.

import { h, clear } from './dom.js';
import { t } from './i18n.js';

let commands = [];
let dialog = null;

export function install(side, navigate) {
  const pages = {
    tenant: [['/sites', 'nav.sites'], ['/sites/new', 'sites.create'], ['/dns', 'nav.dns'], ['/team', 'nav.team'],
      ['/billing', 'nav.billing'], ['/audit', 'nav.audit'], ['/security', 'nav.security'], ['/account', 'nav.account']],
    operator: [['/ops/nodes', 'nav.nodes'], ['/ops/nodes/new', 'nodes.register'], ['/ops/plans', 'nav.plans'],
      ['/ops/coupons', 'nav.coupons'], ['/ops/invoices', 'nav.invoices'], ['/ops/payments', 'nav.payments'],
      ['/ops/past-due', 'nav.past_due'], ['/ops/reports', 'nav.reports'], ['/ops/costs', 'nav.costs'],
      ['/ops/failures', 'nav.failures']],
  }[side] || [];
  commands = pages.map(([path, key]) => ({ label: t(key), run: () => navigate(path) }));
  if (side) {
    commands.push({ label: t('palette.language'), run: () => document.getElementById('language').focus() });
    commands.push({ label: t('action.sign_out'), run: () => document.getElementById('sign-out').click() });
  }
}

// The page's own frequent actions (a site's suspend or backup, a node's bootstrap), as its
// buttons do them.
function pageActions() {
  const page = document.title.split(' · ')[0];
  return [...document.querySelectorAll('main .actions button')]
    .map((button) => ({ label: `${page}: ${button.textContent}`, run: () => button.click() }));
}

export function open() {
  if (commands.length === 0) return;
  const all = [...commands, ...pageActions()];
  if (!dialog) {
    dialog = h('dialog', { class: 'palette', 'aria-label': t('palette.title') });
    document.body.append(dialog);
  }
  const input = h('input', { type: 'search', 'aria-label': t('palette.search'), placeholder: t('palette.search'),
    role: 'combobox', 'aria-controls': 'palette-list', 'aria-expanded': 'true', autocomplete: 'off' });
  const list = h('ul', { id: 'palette-list', role: 'listbox' });
  let shown = all;
  let chosen = 0;
  const render = () => {
    clear(list, shown.map((command, index) => h('li', {
      role: 'option', id: `palette-${index}`, 'aria-selected': String(index === chosen),
      onclick: () => { close(); command.run(); },
    }, command.label)));
    input.setAttribute('aria-activedescendant', shown.length ? `palette-${chosen}` : '');
  };
  input.addEventListener('input', () => {
    const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    shown = all.filter((c) => words.every((w) => c.label.toLowerCase().includes(w)));
    chosen = 0;
    render();
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'ArrowDown') { chosen = Math.min(chosen + 1, shown.length - 1); render(); event.preventDefault(); }
    if (event.key === 'ArrowUp') { chosen = Math.max(chosen - 1, 0); render(); event.preventDefault(); }
    if (event.key === 'Enter' && shown[chosen]) { event.preventDefault(); const run = shown[chosen].run; close(); run(); }
  });
  clear(dialog, h('h2', { class: 'sr-only' }, t('palette.title')), input, list);
  render();
  dialog.showModal();
  input.focus();
}

function close() {
  if (dialog && dialog.open) dialog.close();
}

document.addEventListener('keydown', (event) => {
  if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === 'k') {
    event.preventDefault();
    if (dialog && dialog.open) close(); else open();
  }
});
