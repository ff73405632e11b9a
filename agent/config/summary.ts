// A short human summary of a validated config, printed by `lbagent check-config`.
import type { Config } from './schema.js';

export function configSummary(cfg: Config): string[] {
  const backends = cfg.ipvs.services.reduce((n, s) => n + s.backends.length, 0);
  const nexthops = cfg.routes.reduce((n, r) => n + r.nexthops.length, 0);
  return [
    `node:          ${cfg.node.name ?? '(hostname)'}`,
    `vips:          ${cfg.vips.length}`,
    `routes:        ${cfg.routes.length} (${nexthops} nexthops, ${cfg.routes.filter((r) => r.resilient).length} resilient)`,
    `ipvs services: ${cfg.ipvs.services.length} (${backends} backends)`,
    `checks:        ${Object.keys(cfg.checks).length} named, ${cfg.host.checks.length} host`,
    `vrrp:          ${cfg.vrrp.instances.length} instances, ${cfg.vrrp.syncGroups.length} sync groups`,
    `bgp:           ${cfg.bgp.announcements.length} announcements`,
    `disable file:  ${cfg.maintenance.disableFile}`,
    `control:       ${cfg.control.socket}`,
    `metrics:       ${cfg.metrics.enabled ? cfg.metrics.listen : 'off'}`,
  ];
}
