#!/usr/bin/env node
// The npm registry reachable here lacks Biome's non-linux-glibc binary packages, so `npm install`
// leaves them out of package-lock.json and `npm ci` then refuses the lock. This adds lock entries
// for them (optional, os/cpu-gated: npm ci skips them on Linux without fetching anything).
// Run after any `npm install` that rewrites the lock: node scripts/lock-optional-platforms.mjs
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
const pk = lock.packages;
const biome = pk['node_modules/@biomejs/biome'];
for (const [name, spec] of Object.entries(biome.optionalDependencies ?? {})) {
  const key = `node_modules/${name}`;
  if (pk[key]) continue;
  const m = /cli-(android|darwin|linux|win32)-(arm64|x64)(-musl)?$/.exec(name);
  if (!m) continue;
  pk[key] = {
    version: spec,
    cpu: [m[2]],
    dev: true,
    license: 'MIT OR Apache-2.0',
    optional: true,
    os: [m[1]],
    ...(m[3] ? { libc: ['musl'] } : {}),
    engines: { node: '>=14.21.3' },
  };
}
lock.packages = Object.fromEntries(Object.entries(pk).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : 1)));
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
