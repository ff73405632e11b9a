// Users for exec checks: uid/gid without an NSS lookup (Node has none).
import { readFileSync } from 'node:fs';

/** uid/gid of a user from /etc/passwd (no NSS lookup in Node). Throws naming the user. */
export function lookupUser(user: string, passwd = '/etc/passwd'): { uid: number; gid: number } {
  if (/^\d+$/.test(user)) return { uid: Number(user), gid: Number(user) };
  for (const line of readFileSync(passwd, 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === user && f.length >= 4) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  throw new Error(`user "${user}" not found in ${passwd}`);
}
