// Users for exec checks: uid/gid through the system's NSS (agent/lib/nss.ts), so LDAP/SSSD users work.
import { lookupUserIds } from '../../lib/nss.js';

/** uid/gid of a user name or a numeric uid. Throws naming the user. */
export function lookupUser(user: string): { uid: number; gid: number } {
  const ids = lookupUserIds(user);
  if (!ids) throw new Error(`user "${user}" not found (NSS: getent passwd ${user})`);
  return ids;
}
