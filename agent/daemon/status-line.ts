// The one line systemd shows as "Status:" (sd_notify STATUS=) and that `systemctl status lbagent`
// prints: what an operator must see first comes first. A rejected last reload (until a reload
// succeeds), a drained host and a degraded subsystem (IPVS missing from the kernel, ...) lead; the
// per-subsystem summaries follow.

interface SubsystemView {
  summary?: string;
  degraded?: string;
}

/** Builds the status line from the subsystems' status objects (in start order). */
export function statusLine(
  subsystems: Record<string, unknown>,
  drain?: { up: boolean; reason?: string },
  lastReload?: { ok: boolean; message: string },
): string {
  const lead: string[] = [];
  if (lastReload && !lastReload.ok) lead.push(`reload failed: ${lastReload.message}`);
  if (drain && !drain.up) lead.push(`DRAINED${drain.reason ? ` (${drain.reason})` : ''}`);
  const rest: string[] = [];
  for (const [name, raw] of Object.entries(subsystems)) {
    const st = (raw ?? {}) as SubsystemView;
    if (typeof st.degraded === 'string' && st.degraded) lead.push(`DEGRADED: ${st.degraded}`);
    if (name === 'drain') continue; // said first when drained; "not drained" is no news
    rest.push(st.summary ? `${name}: ${st.summary}` : name);
  }
  const line = [...lead, ...rest].join('; ');
  return line || 'running';
}
