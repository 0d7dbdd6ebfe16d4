#!/usr/bin/env node
/**
 * Run the pnpm pinned in package.json's `packageManager`, whatever pnpm (if any) is on PATH.
 *
 *   node scripts/pnpm.mjs <pnpm arguments>      e.g. node scripts/pnpm.mjs -r build
 *
 * The root package.json's scripts call pnpm through this, so they work when started by npm, by the pinned
 * pnpm, or with another pnpm 10.x first on PATH (which would try to switch to the pinned version and can
 * refuse: "its npm registry signature could not be verified"). Needs only Node and npm:
 *
 * - already inside the pinned pnpm (its user agent says so): run that same pnpm (`npm_execpath`), at no
 *   cost; its PATH, which the outer pnpm set up, is kept;
 * - otherwise: `npm exec --package=pnpm@<pin> -- pnpm …`, which fetches the pinned pnpm once into npm's
 *   cache and puts it first on PATH for everything it starts (nested scripts, tools that call `pnpm`).
 *
 * No corepack, no global install, no reliance on pnpm's own version switching.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/** "pnpm@10.34.8" from the root package.json next to this script's folder. */
export function pinnedPnpm(manifestUrl = new URL('../package.json', import.meta.url)) {
  const { packageManager } = JSON.parse(readFileSync(manifestUrl, 'utf8'));
  const m = /^pnpm@(\d+\.\d+\.\d+)(\+.*)?$/.exec(packageManager ?? '');
  if (!m) throw new Error(`package.json: "packageManager" must be "pnpm@<x.y.z>", got ${JSON.stringify(packageManager)}`);
  return { spec: `pnpm@${m[1]}`, version: m[1] };
}

/** The command that runs the pinned pnpm with `args` in this environment: [program, argv]. */
export function pnpmCommand(args, env = process.env, pin = pinnedPnpm()) {
  const insidePinned = (env.npm_config_user_agent ?? '').startsWith(`pnpm/${pin.version} `) && /pnpm\.c?js$/.test(env.npm_execpath ?? '');
  if (insidePinned) return [process.execPath, [env.npm_execpath, ...args]];
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  return [npm, ['exec', '--yes', `--package=${pin.spec}`, '--', 'pnpm', ...args]];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  let command;
  try {
    command = pnpmCommand(process.argv.slice(2));
  } catch (e) {
    console.error(`scripts/pnpm.mjs: ${e.message}`);
    process.exit(2);
  }
  const [program, argv] = command;
  const run = spawnSync(program, argv, { stdio: 'inherit', shell: process.platform === 'win32' });
  if (run.error) {
    console.error(`scripts/pnpm.mjs: could not start ${program}: ${run.error.message}`);
    process.exit(127);
  }
  process.exit(run.status ?? 1);
}
