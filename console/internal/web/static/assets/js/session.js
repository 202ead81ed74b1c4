// The signed-in user, as GET /api/v1/session reports it, and what their role may do. The
// server enforces every permission; this only hides what the role cannot use.

const RANK = {viewer: 1, analyst: 2, admin: 3};

let current = null;

// normaliseRole accepts "admin", "ADMIN" or "ROLE_ADMIN".
function normaliseRole(role) {
  return String(role || '').toLowerCase().replace(/^role_/, '');
}

// setSession records the session answer; null signs out.
export function setSession(s) {
  current = s ? {name: s.name, role: normaliseRole(s.role), expiresAt: s.expires_at} : null;
}

// session returns {name, role, expiresAt} or null.
export function session() {
  return current;
}

// can reports whether the signed-in user has at least role min.
export function can(min) {
  return Boolean(current) && (RANK[current.role] || 0) >= RANK[min];
}
