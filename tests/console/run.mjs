// The console in a real browser: headless Chromium driven by playwright-core against a
// running Berth with a namespaced node, clicking as its users do. Run by the e2e test
// `console::` (tests/e2e/console.rs), which starts Berth and the node and passes these:
//   CONSOLE_URL, COMMAND_URL, OPERATOR_TOKEN, NODE_NAME, NODE_ADDRESS, NODE_SSH_PORT,
//   NODE_HOST_KEY, SITE_DOMAIN, DEV_NODE (the deploy/dev-node script), SHOTS (a directory).
// It exits non-zero, saying which step failed, on the first failure.

import { createHmac } from 'node:crypto';
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const require = createRequire(join(process.env.CONSOLE_TOOLS, 'package.json'));
const { chromium } = require('playwright-core');
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const base = env('CONSOLE_URL');
const shots = env('SHOTS');
mkdirSync(shots, { recursive: true });
const unique = Date.now().toString(36);
const password = 'a long console password';
const violations = [];
const checked = { pages: 0, minor: 0 };
let lastPage = null;
const policyBreaks = [];
const pageErrors = [];

function step(text) { console.log(`-- ${text}`); }

// The current code of an authenticator holding `secret` (RFC 6238: SHA-1, 30 s, 6 digits).
function totp(secret) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '').toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30000)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1000000).padStart(6, '0');
}

async function check(page, name) {
  for (const [width, height, label] of [[1280, 900, 'desktop'], [390, 844, 'phone']]) {
    await page.setViewportSize({ width, height });
    await page.screenshot({ path: join(shots, `${name}-${label}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  checked.pages += 1;
  for (const v of result.violations) {
    if (v.impact !== 'serious' && v.impact !== 'critical') checked.minor += 1;
    if (v.impact === 'serious' || v.impact === 'critical') {
      violations.push(`${name}: ${v.id} (${v.impact}) ${v.help}: ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join('; ')}`);
    }
  }
}

async function newPage(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  lastPage = page;
  page.setDefaultTimeout(20000);
  page.on('dialog', (dialog) => dialog.accept());
  page.on('pageerror', (error) => { pageErrors.push(String(error.stack || error)); console.error(`page error: ${error.stack || error}`); });
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/.test(message.text())) policyBreaks.push(message.text());
  });
  return { context, page };
}

async function heading(page, text) {
  await page.locator('main h1', { hasText: text }).first().waitFor();
}

async function operator(browser) {
  const { context, page } = await newPage(browser);
  step('an operator signs in with a token');
  await page.goto(`${base}/operator/sign-in`);
  await page.getByLabel('Operator token').fill(env('OPERATOR_TOKEN'));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await heading(page, 'Nodes');
  step('registers a node: a bad host key is refused next to its field');
  await page.getByRole('link', { name: 'Register a node' }).first().click();
  const fill = async (hostKey) => {
    await page.getByLabel('Name', { exact: true }).fill(env('NODE_NAME'));
    await page.getByLabel('Address', { exact: true }).fill(env('NODE_ADDRESS'));
    await page.getByLabel('SSH port').fill(env('NODE_SSH_PORT'));
    await page.getByLabel('Host key').fill(hostKey);
    await page.getByLabel('vCPUs').fill('2');
    await page.getByLabel('Memory (MB)').fill('4096');
    await page.getByLabel('Disk (GB)').fill('40');
    await page.getByLabel('Provider').fill('local');
    await page.getByLabel('Region', { exact: true }).fill('test');
    await page.getByLabel('Monthly cost').fill('15');
    await page.locator('#register-node button[type=submit]').click();
  };
  await fill('not a key');
  await page.locator('#f-register-node-host_key-error:not([hidden])').waitFor();
  await fill(env('NODE_HOST_KEY'));
  const key = (await page.locator('#node-public-key').textContent()).trim();
  const authorized = spawnSync(env('DEV_NODE'), ['authorize', env('NODE_NAME'), key], { encoding: 'utf8' });
  if (authorized.status !== 0) throw new Error(`deploy/dev-node authorize failed: ${authorized.stderr}`);
  await page.locator('#node-continue').click();
  step('bootstraps it, and the page follows it to ready');
  await page.getByRole('button', { name: 'Bootstrap' }).click();
  await page.locator('#node-state', { hasText: 'ready' }).waitFor({ timeout: 120000 });
  await check(page, 'operator-node');
  await page.getByRole('link', { name: 'Nodes' }).click();
  await heading(page, 'Nodes');
  await check(page, 'operator-nodes');
  for (const [link, title, name] of [['Costs and capacity', 'Costs and capacity', 'operator-costs'],
    ['Failures', 'Failures', 'operator-failures'], ['Revenue and VAT', 'Revenue and VAT', 'operator-reports'],
    ['Plans', 'Plans', 'operator-plans'], ['Past due', 'Past due', 'operator-past-due']]) {
    await page.getByRole('link', { name: link, exact: true }).click();
    await heading(page, title);
    await check(page, name);
  }
  await page.locator('#sign-out').click();
  await heading(page, 'Operator sign-in');
  await context.close();
}

async function register(page, organization, email) {
  await page.goto(`${base}/register`);
  await page.getByLabel('Organization name').fill(organization);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.locator('#register button[type=submit]').click();
  await heading(page, 'Sites');
}

async function tenant(browser) {
  const { context, page } = await newPage(browser);
  step('a new user registers an organization');
  await register(page, `Console ${unique}`, `owner-${unique}@console.test`);
  const stored = await page.evaluate(() => ({ local: localStorage.length, session: sessionStorage.length, cookies: document.cookie }));
  if (stored.local || stored.session || stored.cookies.includes('berth_session')) {
    throw new Error(`the session is visible to scripts: ${JSON.stringify(stored)}`);
  }
  await check(page, 'tenant-sites-empty');

  step('creates a WordPress site and watches it go to active');
  await page.getByRole('link', { name: 'Create a site' }).first().click();
  await page.getByLabel('Domain').fill('Not a domain!');
  await page.locator('#create-site button[type=submit]').click();
  await page.locator('#f-create-site-domain-error:not([hidden])').waitFor();
  await page.getByLabel('Domain').fill(env('SITE_DOMAIN'));
  await page.getByLabel('Type').selectOption('wordpress');
  await page.locator('#create-site button[type=submit]').click();
  await page.locator('main h1', { hasText: env('SITE_DOMAIN') }).waitFor();
  const siteId = page.url().split('/sites/')[1].split('?')[0];
  await page.locator('.progress progress').first().waitFor({ timeout: 10000 }).catch(() => {});
  await page.locator('#site-status .badge.active, #site-status .badge.failed').waitFor({ timeout: 180000 });
  const status = (await page.locator('#site-status').textContent()).trim();
  if (status !== 'active') throw new Error(`the site ended ${status}`);
  await check(page, 'tenant-site');

  step('opens it: the node serves it');
  const [opened] = await Promise.all([context.waitForEvent('page'), page.locator('#open-site').click()]);
  await opened.waitForLoadState();
  const served = await opened.content();
  if (!/WordPress/.test(served)) throw new Error(`the site's page is not WordPress: ${served.slice(0, 300)}`);
  await opened.close();

  step('backs it up, from the command palette');
  await page.keyboard.press('Control+k');
  await page.getByRole('combobox', { name: 'Type a command or a page' }).fill('back up');
  await page.keyboard.press('Enter');
  await page.locator('section', { hasText: 'Backups' }).locator('td .badge', { hasText: 'verified' }).first().waitFor({ timeout: 180000 });

  step('restores it');
  await page.getByRole('button', { name: /^Restore the backup of/ }).first().click();
  await page.locator('section', { hasText: 'Restores' }).locator('.badge', { hasText: 'completed' }).first().waitFor({ timeout: 180000 });

  step('makes a staging copy and promotes it into production');
  await page.getByRole('button', { name: 'Make a staging copy' }).click();
  await page.locator('#staging-status .badge.ready, #staging-status .badge.failed').waitFor({ timeout: 180000 });
  const copy = (await page.locator('#staging-status').textContent()).trim();
  if (copy !== 'ready') throw new Error(`the staging copy ended ${copy}`);
  await page.getByRole('button', { name: 'Promote into production' }).click();
  await page.locator('section', { hasText: 'Steps' }).locator('td', { hasText: /^promoted$/ }).first().waitFor({ timeout: 180000 });
  await check(page, 'tenant-site-staging');

  step('fills in billing details, then downloads the invoice the provider issued');
  await page.getByRole('link', { name: 'Billing' }).click();
  await heading(page, 'Billing');
  const profile = page.locator('#profile');
  await profile.getByLabel('Legal name').fill('Țesătoria Ștefănescu SRL');
  await profile.getByLabel('VAT id').fill('RO14399840');
  await profile.getByLabel('Registration number').fill('J40/1234/2015');
  await profile.getByLabel('Address').fill('Bd. Unirii 10');
  await profile.getByLabel('City').fill('SECTOR3');
  await profile.getByLabel('Postal code').fill('030167');
  await profile.getByLabel('County (ISO 3166-2)').fill('RO-B');
  await profile.getByLabel('Country (ISO code)').fill('RO');
  await profile.getByLabel('Currency').selectOption('RON');
  await profile.locator('button[type=submit]').click();
  await heading(page, 'Billing');
  const tenant = await page.evaluate(async () => {
    const answer = await fetch('/api/query/v1/tenant', { headers: { Accept: 'application/json' } });
    return { status: answer.status, body: await answer.json() };
  });
  if (tenant.status !== 200) throw new Error(`reading the tenant: ${tenant.status} ${JSON.stringify(tenant.body)}`);
  const tenantId = tenant.body.id;
  const number = await issueInvoice(tenantId);
  await page.reload();
  await heading(page, 'Billing');
  const pdfButton = page.getByRole('button', { name: `Download invoice ${number} as PDF` });
  await pdfButton.waitFor({ timeout: 30000 }).catch(async () => { await page.reload(); await pdfButton.waitFor(); });
  const [download] = await Promise.all([page.waitForEvent('download'), pdfButton.click()]);
  const pdf = readFileSync(await download.path());
  if (pdf.subarray(0, 4).toString() !== '%PDF') throw new Error('the invoice download is not a PDF');
  await check(page, 'tenant-billing');

  step('the command palette goes to a page from the keyboard');
  await page.keyboard.press('Control+k');
  await page.getByRole('combobox', { name: 'Type a command or a page' }).fill('DNS');
  await page.keyboard.press('Enter');
  await heading(page, 'DNS');
  await check(page, 'tenant-dns');

  step('Romanian has every string English has');
  const missing = await page.evaluate(async () => (await import('/assets/js/i18n.js')).missing());
  if (missing.length) throw new Error(`strings missing in a language: ${missing.join(', ')}`);
  await page.locator('#language').selectOption('ro');
  await page.getByRole('link', { name: 'Site-uri' }).waitFor();
  await check(page, 'tenant-dns-ro');
  await page.locator('#language').selectOption('en');

  for (const [link, title, name] of [['Team', 'Team', 'tenant-team'], ['Audit trail', 'Audit trail', 'tenant-audit'],
    ['Security log', 'Security log', 'tenant-security'], ['Account', 'Account', 'tenant-account']]) {
    await page.getByRole('link', { name: link, exact: true }).click();
    await heading(page, title);
    await check(page, name);
  }

  step('turns on two-factor login, signs out, and signs in again with a recovery code');
  await page.getByRole('link', { name: 'Account', exact: true }).click();
  const enrol = page.locator('#enrol-2fa');
  await enrol.getByLabel('Email').fill(`owner-${unique}@console.test`);
  await enrol.getByLabel('Password').fill(password);
  await enrol.locator('button[type=submit]').click();
  const secret = (await page.getByText('Add this secret to your authenticator app:').textContent()).split(': ').pop().trim();
  await page.locator('#confirm-2fa').getByLabel('Two-factor code').fill(totp(secret));
  await page.locator('#confirm-2fa button[type=submit]').click();
  const recovery = (await page.locator('li.mono').first().textContent()).trim();
  await page.locator('#sign-out').click();
  await heading(page, 'Sign in');
  const signIn = page.locator('#sign-in');
  await signIn.getByLabel('Email').fill(`owner-${unique}@console.test`);
  await signIn.getByLabel('Password').fill(password);
  await signIn.locator('button[type=submit]').click();
  await page.locator('#f-sign-in-code-error:not([hidden])', { hasText: 'two-factor login is on' }).waitFor();
  await signIn.getByLabel('Two-factor code').fill(recovery);
  await signIn.locator('button[type=submit]').click();
  await heading(page, 'Sites');

  step('invites a viewer');
  await page.getByRole('link', { name: 'Team', exact: true }).click();
  const invite = page.locator('#invite');
  await invite.getByLabel('Email').fill(`viewer-${unique}@console.test`);
  await invite.getByLabel('Role').selectOption('viewer');
  await invite.locator('button[type=submit]').click();
  const invitation = (await page.locator('.secret code').textContent()).trim();
  await context.close();
  return { siteId, invitation };
}

async function issueInvoice(tenantId) {
  const headers = { Authorization: `Bearer ${env('OPERATOR_TOKEN')}`, 'Content-Type': 'application/json' };
  const draft = await fetch(`${env('COMMAND_URL')}/v1/invoices`, {
    method: 'POST', headers, body: JSON.stringify({ tenant_id: tenantId, kind: 'invoice', currency: 'RON',
      lines: [{ description: 'Găzduire WordPress', quantity: '1', unit: 'month', unit_price: { amount_minor: 4900, currency: 'RON' }, rate: 'standard' }] }),
  });
  if (draft.status !== 202) throw new Error(`drafting the invoice: ${draft.status} ${await draft.text()}`);
  const { id } = await draft.json();
  const issued = await fetch(`${env('COMMAND_URL')}/v1/invoices/${id}/issue`, { method: 'POST', headers, body: '{}' });
  if (issued.status !== 202) throw new Error(`issuing the invoice: ${issued.status} ${await issued.text()}`);
  return (await issued.json()).number;
}

async function stranger(browser, siteId) {
  const { context, page } = await newPage(browser);
  step("another tenant types the first one's site id into the address bar");
  await register(page, `Stranger ${unique}`, `stranger-${unique}@console.test`);
  await page.goto(`${base}/sites/${siteId}`);
  await heading(page, 'Not found');
  await context.close();
}

async function viewer(browser, siteId, invitation) {
  const { context, page } = await newPage(browser);
  step('a viewer joins and sees no action buttons');
  await page.goto(invitation);
  await page.getByLabel('Email').fill(`viewer-${unique}@console.test`);
  await page.getByLabel('Password').fill(password);
  await page.locator('#accept button[type=submit]').click();
  await heading(page, 'Sites');
  if (await page.getByRole('link', { name: 'Create a site' }).count()) throw new Error('a viewer sees "Create a site"');
  await page.goto(`${base}/sites/${siteId}`);
  await page.locator('#site-status').waitFor();
  const buttons = await page.locator('main button').allTextContents();
  if (buttons.length) throw new Error(`a viewer sees action buttons: ${buttons.join(', ')}`);
  await check(page, 'viewer-site');
  step("a viewer's forced request is refused with the API's message");
  await page.goto(`${base}/sites/new`);
  await page.getByLabel('Domain').fill(`forced-${unique}.console.test`);
  await page.locator('#create-site button[type=submit]').click();
  await page.locator('#create-site .alert:not([hidden])', { hasText: 'the viewer role may not do this' }).waitFor();
  step('signing out ends the session at the API');
  await page.locator('#sign-out').click();
  await heading(page, 'Sign in');
  const after = await page.evaluate(async () => (await fetch('/api/query/v1/tenant')).status);
  if (after !== 401) throw new Error(`after signing out the API answered ${after}`);
  await context.close();
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', `--host-resolver-rules=MAP ${env('SITE_DOMAIN')} ${env('NODE_ADDRESS')}`],
});
try {
  if (!process.env.SKIP_OPERATOR) await operator(browser);
  const { siteId, invitation } = await tenant(browser);
  await stranger(browser, siteId);
  await viewer(browser, siteId, invitation);
} catch (error) {
  console.error(`FAILED: ${error.stack || error}`);
  if (lastPage && !lastPage.isClosed()) {
    await lastPage.screenshot({ path: join(shots, 'failure.png'), fullPage: true }).catch(() => {});
    console.error(`the page (${lastPage.url()}) showed:\n${(await lastPage.locator('body').innerText().catch(() => '')).slice(0, 2000)}`);
  }
  await browser.close();
  process.exit(1);
}
await browser.close();
if (pageErrors.length) { console.error(`the app threw:\n${pageErrors.join('\n')}`); process.exit(1); }
if (policyBreaks.length) { console.error(`Content-Security-Policy broke the app:\n${policyBreaks.join('\n')}`); process.exit(1); }
if (violations.length) { console.error(`accessibility violations:\n${violations.join('\n')}`); process.exit(1); }
console.log(`axe-core: ${checked.pages} pages checked, no serious or critical violation (${checked.minor} moderate or minor)`);
console.log(`console: every step passed; screenshots in ${shots}`);
