// The team: members and their roles, invitations, API tokens (a new token is shown once), and
// whether every member must log in with a second factor.

import { h, form, page, section, table, button, fmt, confirmThen } from '../dom.js';
import { t } from '../i18n.js';
import { command, query } from '../api.js';
import { may } from './roles.js';

const roles = ['owner', 'admin', 'member', 'viewer'];

export async function page_({ session, navigate }) {
  const [members, invitations, tokens, tenant] = await Promise.all([
    query('/v1/members?limit=200'), query('/v1/invitations?limit=200'), query('/v1/tokens?limit=200'), query('/v1/tenant'),
  ]);
  const manage = may(session, 'members');
  const again = () => navigate('/team', { replace: true });
  const shown = h('div', { 'aria-live': 'polite' });
  const roleOptions = roles.map((r) => [r, t(`role.${r}`)]);
  return page(t('nav.team'),
    section(t('team.members'), table([
      [t('field.email'), (m) => m.email],
      [t('field.role'), (m) => (manage ? h('select', {
        'aria-label': t('team.role_of', { email: m.email }),
        onchange: async (e) => { await command('PATCH', `/v1/members/${m.user_id}`, { role: e.target.value }); again(); },
      }, roles.map((r) => h('option', { value: r, selected: r === m.role }, t(`role.${r}`)))) : t(`role.${m.role}`))],
      [t('field.joined'), (m) => fmt.date(m.joined_at)],
      [t('field.actions'), (m) => (manage ? button(t('action.remove'), confirmThen(t('team.confirm_remove', { email: m.email }), async () => {
        await command('DELETE', `/v1/members/${m.user_id}`); again();
      })) : '')],
    ], members.items)),
    section(t('team.invitations'), table([
      [t('field.email'), (i) => i.email],
      [t('field.role'), (i) => t(`role.${i.role}`)],
      [t('field.status'), (i) => t(`status.${i.status}`, {}, i.status)],
      [t('field.expires'), (i) => fmt.date(i.expires_at)],
      [t('field.actions'), (i) => (manage && i.status === 'pending' ? button(t('action.revoke'), async () => {
        await command('DELETE', `/v1/invitations/${i.id}`); again();
      }) : '')],
    ], invitations.items, t('team.no_invitations')),
    manage ? form([
      { name: 'email', label: t('field.email'), type: 'email', required: true },
      { name: 'role', label: t('field.role'), type: 'select', options: roleOptions, value: 'member' },
    ], async (values) => {
      const invited = await command('POST', '/v1/invitations', values);
      shown.replaceChildren(h('p', { class: 'secret', role: 'status' }, t('team.invitation_link'), ' ',
        h('code', {}, `${location.origin}/invitations/accept?token=${encodeURIComponent(invited.token)}`)));
    }, { label: t('team.invite'), id: 'invite' }) : null, shown),
    section(t('team.tokens'), table([
      [t('field.name'), (k) => k.name],
      [t('field.role'), (k) => t(`role.${k.role}`)],
      [t('field.created'), (k) => fmt.date(k.created_at)],
      [t('field.expires'), (k) => fmt.date(k.expires_at)],
      [t('field.status'), (k) => (k.revoked_at ? t('status.revoked') : t('status.active'))],
      [t('field.actions'), (k) => (may(session, 'tokens') && !k.revoked_at ? button(t('action.revoke'), async () => {
        await command('DELETE', `/v1/tokens/${k.id}`); again();
      }) : '')],
    ], tokens.items, t('team.no_tokens')),
    may(session, 'tokens') ? form([
      { name: 'name', label: t('field.name'), required: true },
      { name: 'role', label: t('field.role'), type: 'select', options: roleOptions, value: 'member' },
    ], async (values) => {
      const issued = await command('POST', '/v1/tokens', values);
      shown.replaceChildren(h('p', { class: 'secret', role: 'status' }, t('team.token_once'), ' ', h('code', { id: 'new-token' }, issued.token)));
    }, { label: t('team.issue_token'), id: 'issue-token' }) : null),
    section(t('team.two_factor'),
      h('p', {}, tenant.two_factor_required ? t('team.two_factor_on') : t('team.two_factor_off')),
      manage ? button(tenant.two_factor_required ? t('team.two_factor_drop') : t('team.two_factor_require'), async () => {
        await command('PUT', '/v1/tenant/two-factor', { required: !tenant.two_factor_required }); again();
      }) : null));
}

export { page_ as page };
