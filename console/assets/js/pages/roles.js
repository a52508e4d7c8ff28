// What a role may do, as the API decides it (`Role::allows`): used only to leave out buttons a
// caller cannot use. The API refuses whatever is sent anyway.

const grants = {
  owner: ['sites', 'members', 'billing', 'tokens'],
  admin: ['sites', 'members', 'billing', 'tokens'],
  member: ['sites'],
  viewer: [],
};

export function may(session, what) {
  return (grants[session.role] || []).includes(what);
}
