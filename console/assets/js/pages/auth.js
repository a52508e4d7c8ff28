// Signing in and out, registering an organization, joining by invitation, and the account's
// own settings (two-factor login, the personal data export).

import { h, form, page, section, link, button } from '../dom.js';
import { t } from '../i18n.js';
import { command, operatorSignIn as operatorSession, download } from '../api.js';

export async function signIn({ navigate }) {
  return page(t('auth.sign_in'),
    form([
      { name: 'email', label: t('field.email'), type: 'email', autocomplete: 'username', required: true },
      { name: 'password', label: t('field.password'), type: 'password', autocomplete: 'current-password', required: true },
      { name: 'code', label: t('field.code'), inputmode: 'numeric', autocomplete: 'one-time-code', hint: t('auth.code_hint') },
    ], async (values) => {
      await command('POST', '/v1/auth/login', { email: values.email, password: values.password, code: values.code || null });
      navigate('/sites', { replace: true });
    }, { label: t('auth.sign_in'), id: 'sign-in' }),
    h('p', {}, link('/register', t('auth.register_link'))),
    h('p', {}, link('/operator/sign-in', t('auth.operator_link'))));
}

export async function register({ navigate }) {
  return page(t('auth.register'),
    form([
      { name: 'name', label: t('field.organization'), required: true },
      { name: 'email', label: t('field.email'), type: 'email', autocomplete: 'username', required: true },
      { name: 'password', label: t('field.password'), type: 'password', autocomplete: 'new-password', required: true, hint: t('auth.password_hint') },
    ], async (values) => {
      await command('POST', '/v1/auth/register', values);
      navigate('/sites', { replace: true });
    }, { label: t('auth.register'), id: 'register' }),
    h('p', {}, link('/sign-in', t('auth.sign_in_link'))));
}

export async function operatorSignIn({ navigate }) {
  return page(t('auth.operator_sign_in'),
    h('p', {}, t('auth.operator_text')),
    form([
      { name: 'token', label: t('field.operator_token'), type: 'password', autocomplete: 'off', required: true },
    ], async (values) => {
      await operatorSession(values.token);
      navigate('/ops/nodes', { replace: true });
    }, { label: t('auth.sign_in'), id: 'operator-sign-in' }),
    h('p', {}, link('/sign-in', t('auth.tenant_link'))));
}

export async function acceptInvitation({ navigate, search }) {
  return page(t('auth.accept'),
    form([
      { name: 'token', label: t('field.invitation_token'), value: search.get('token') || '', required: true },
      { name: 'email', label: t('field.email'), type: 'email', autocomplete: 'username', required: true },
      { name: 'password', label: t('field.password'), type: 'password', autocomplete: 'new-password', required: true },
    ], async (values) => {
      await command('POST', '/v1/invitations/accept', values);
      navigate('/sites', { replace: true });
    }, { label: t('auth.accept'), id: 'accept' }));
}

export async function account({ session }) {
  const enrolment = h('div');
  const enrol = form([
    { name: 'email', label: t('field.email'), type: 'email', autocomplete: 'username', required: true },
    { name: 'password', label: t('field.password'), type: 'password', autocomplete: 'current-password', required: true },
  ], async (values) => {
    const answer = await command('POST', '/v1/auth/two-factor/enrol', values);
    enrolment.replaceChildren(
      h('p', {}, t('account.secret', { secret: answer.secret })),
      h('p', { class: 'muted' }, answer.otpauth_uri),
      form([{ name: 'code', label: t('field.code'), inputmode: 'numeric', required: true }], async ({ code }) => {
        const confirmed = await command('POST', '/v1/auth/two-factor/confirm', { ...values, code });
        enrolment.replaceChildren(h('p', { role: 'status' }, t('account.enabled')),
          h('p', {}, t('account.recovery')), h('ul', {}, confirmed.recovery_codes.map((c) => h('li', { class: 'mono' }, c))));
      }, { label: t('account.confirm'), id: 'confirm-2fa' }));
  }, { label: t('account.enrol'), id: 'enrol-2fa' });
  const disable = form([
    { name: 'email', label: t('field.email'), type: 'email', autocomplete: 'username', required: true },
    { name: 'password', label: t('field.password'), type: 'password', autocomplete: 'current-password', required: true },
    { name: 'code', label: t('field.code'), inputmode: 'numeric', required: true },
  ], async (values) => {
    await command('POST', '/v1/auth/two-factor/disable', values);
    disable.replaceWith(h('p', { role: 'status' }, t('account.disabled')));
  }, { label: t('account.disable'), id: 'disable-2fa' });
  const exporting = h('div', {}, button(t('account.export'), () => download('/v1/me/export', 'berth-personal-data.json')));
  return page(t('nav.account'),
    h('p', {}, t('account.role', { role: t(`role.${session.role}`, {}, session.role || '') })),
    section(t('account.two_factor'), enrol, enrolment),
    section(t('account.two_factor_off'), disable),
    section(t('account.personal'), exporting));
}
