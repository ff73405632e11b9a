// Users and groups by name through the system's NSS (getgrnam_r/getpwnam_r), so names from LDAP,
// SSSD or systemd-userdb resolve exactly as they do for `id` and `ls -l`. Parsing /etc/group and
// /etc/passwd finds only local names. Through koffi (agent/lib/libc.ts); where koffi cannot load,
// `getent` (glibc's NSS front end) answers the same question. Numeric ids are taken as they are.
import { execFileSync } from 'node:child_process';
import { loadLibc } from './libc.js';

const ERANGE = 34;

/** The gid of a group name (or a numeric gid), undefined when NSS does not know it. */
export function lookupGroupId(group: string): number | undefined {
  if (/^\d+$/.test(group)) return Number(group);
  const libc = loadLibc();
  if (!(libc instanceof Error)) {
    // struct group { char *gr_name; char *gr_passwd; gid_t gr_gid; char **gr_mem; }
    const grp = nssCall((g, b, r) => libc.getgrnam_r(group, g, b, b.length, r));
    if (grp !== 'error') return grp ? grp.readUInt32LE(2 * libc.pointerSize) : undefined;
  }
  const line = getent('group', group);
  const gid = line?.split(':')[2];
  return gid && /^\d+$/.test(gid) ? Number(gid) : undefined;
}

/** uid and primary gid of a user name (or a numeric uid, whose gid is taken as the same number). */
export function lookupUserIds(user: string): { uid: number; gid: number } | undefined {
  if (/^\d+$/.test(user)) return { uid: Number(user), gid: Number(user) };
  const libc = loadLibc();
  if (!(libc instanceof Error)) {
    // struct passwd { char *pw_name; char *pw_passwd; uid_t pw_uid; gid_t pw_gid; ... }
    const pw = nssCall((p, b, r) => libc.getpwnam_r(user, p, b, b.length, r));
    if (pw !== 'error') {
      if (!pw) return undefined;
      const at = 2 * libc.pointerSize;
      return { uid: pw.readUInt32LE(at), gid: pw.readUInt32LE(at + 4) };
    }
  }
  const f = getent('passwd', user)?.split(':');
  return f && f.length >= 4 && /^\d+$/.test(f[2]) && /^\d+$/.test(f[3])
    ? { uid: Number(f[2]), gid: Number(f[3]) }
    : undefined;
}

/** Runs a *_r lookup, growing the string buffer on ERANGE; the struct, null (not found) or 'error'. */
function nssCall(call: (struct: Buffer, buf: Buffer, result: Buffer) => number): Buffer | null | 'error' {
  for (let size = 16 * 1024; size <= 4 * 1024 * 1024; size *= 4) {
    const struct = Buffer.alloc(128);
    const buf = Buffer.alloc(size);
    const result = Buffer.alloc(8);
    const rc = call(struct, buf, result);
    if (rc === ERANGE) continue;
    if (rc !== 0) return 'error';
    return result.readBigUInt64LE(0) === 0n ? null : struct;
  }
  return 'error';
}

function getent(db: 'group' | 'passwd', key: string): string | undefined {
  try {
    return execFileSync('getent', [db, key], { encoding: 'utf8', timeout: 10_000 }).split('\n')[0];
  } catch {
    return undefined; // exit 2: not found; no getent: nothing more we can ask
  }
}
