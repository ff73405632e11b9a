// DSR ARP tuning: arp_ignore=1 (answer only for addresses on the receiving interface) and
// arp_announce=2 (best local source) on the interfaces that face clients, so a VIP on lo is
// never answered for by ARP. /proc/sys/net is per network namespace (the process's own).
import { readFileSync, writeFileSync } from 'node:fs';

export const ARP_TUNE = { arp_ignore: '1', arp_announce: '2' } as const;

/** Sets the two sysctls where they differ; returns the keys it changed. Throws naming the file. */
export function applyArpTune(ifname: string, root = '/proc/sys/net/ipv4/conf'): string[] {
  const changed: string[] = [];
  for (const [name, value] of Object.entries(ARP_TUNE)) {
    const path = `${root}/${ifname}/${name}`;
    let current: string;
    try {
      current = readFileSync(path, 'utf8').trim();
    } catch (err) {
      throw new Error(
        `arpTune: cannot read ${path} (interface ${ifname} missing?): ${(err as Error).message}`,
      );
    }
    if (current === value) continue;
    writeFileSync(path, value);
    changed.push(`${ifname}/${name}=${value}`);
  }
  return changed;
}
