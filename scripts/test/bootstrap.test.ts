/**
 * The README's two commands need only Node and npm: they run the pinned pnpm through npx, the root
 * scripts call pnpm through scripts/pnpm.mjs, and CI reads the commands out of the README.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
// @ts-ignore plain .mjs script without declarations
import { readmeCommands } from '../readme-commands.mjs';
// @ts-ignore plain .mjs script without declarations
import { pinnedPnpm, pnpmCommand } from '../pnpm.mjs';

const root = new URL('../../', import.meta.url);
const manifest = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
const pinned = /^pnpm@(.+)$/.exec(manifest.packageManager)![1];

describe("README's two commands", () => {
  test('are found in README.md and run the pinned pnpm through npx, nothing from PATH', () => {
    const { demo, test: tests } = readmeCommands(readFileSync(new URL('README.md', root), 'utf8'));
    for (const line of [demo, tests]) {
      // every step is `npx -y pnpm@<the packageManager version> …`: no bare pnpm, no other version
      for (const step of line.split('&&')) expect(step.trim()).toMatch(new RegExp(`^npx -y pnpm@${pinned.replace(/\./g, '\\.')} \\S`));
    }
    expect(demo).toMatch(/ install && .* demo$/);
    expect(tests).toMatch(/ install && .* test$/);
  });

  test('the extractor drops trailing comments and names the file when the section is missing or ambiguous', () => {
    const md = (block: string) => `# x\n\n## The two commands\n\n\`\`\`sh\n${block}\n\`\`\`\n\n## Next\n`;
    expect(readmeCommands(md('a install && a demo   # run it\na install && a test  # tests'))).toEqual({ demo: 'a install && a demo', test: 'a install && a test' });
    expect(() => readmeCommands('# nothing here\n', 'R.md')).toThrow('R.md: no "## The two commands" heading');
    expect(() => readmeCommands('## The two commands\n\ntext\n\n## Next\n\n```sh\na demo\n```\n', 'R.md')).toThrow('R.md: no ```sh block under');
    expect(() => readmeCommands(md('a demo\nb demo\na test'), 'R.md')).toThrow('R.md: expected one command ending in "demo" under "## The two commands", found 2');
  });
});

describe('scripts/pnpm.mjs', () => {
  const pin = { spec: `pnpm@${pinned}`, version: pinned };

  test('reads the pin from packageManager and rejects anything else with the file named', () => {
    expect(pinnedPnpm()).toEqual(pin);
    const dir = mkdtempSync(join(tmpdir(), 'pin-'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ packageManager: 'yarn@4.0.0' }));
    expect(() => pinnedPnpm(new URL(`file://${dir}/package.json`))).toThrow(/^package.json: "packageManager" must be "pnpm@<x.y.z>", got "yarn@4.0.0"/);
  });

  test('inside the pinned pnpm it reruns that pnpm; under npm or another pnpm it goes through npm exec', () => {
    const execpath = '/cache/_npx/1/node_modules/pnpm/bin/pnpm.cjs';
    const inside = pnpmCommand(['build'], { npm_config_user_agent: `pnpm/${pinned} npm/? node/v20.20.2 linux x64`, npm_execpath: execpath }, pin);
    expect(inside).toEqual([process.execPath, [execpath, 'build']]);
    const viaNpx = ['npm', ['exec', '--yes', `--package=pnpm@${pinned}`, '--', 'pnpm', 'build']];
    const other = pnpmCommand(['build'], { npm_config_user_agent: 'pnpm/10.0.0 npm/? node/v20.20.2 linux x64', npm_execpath: execpath }, pin);
    expect(other).toEqual(viaNpx);
    const npm = pnpmCommand(['build'], { npm_config_user_agent: 'npm/11.1.0 node/v20.20.2 linux x64', npm_execpath: '/usr/lib/node_modules/npm/bin/npm-cli.js' }, pin);
    expect(npm).toEqual(viaNpx);
    expect(pnpmCommand(['build'], {}, pin)).toEqual(viaNpx);
  });

  test("the root package.json's scripts never call a pnpm from PATH", () => {
    for (const [name, script] of Object.entries(manifest.scripts as Record<string, string>)) {
      expect({ name, usesBarePnpm: /(^|&&|;|\|\|)\s*pnpm\s/.test(script) }).toEqual({ name, usesBarePnpm: false });
    }
  });
});
