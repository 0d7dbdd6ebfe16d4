#!/usr/bin/env node
/**
 * Print one of the README's two commands, so CI runs exactly what the README says (and cannot drift).
 *
 *   node scripts/readme-commands.mjs demo|test [README.md]
 *
 * The commands are the lines of the first ```sh block under the "## The two commands" heading, without
 * their trailing `# comment`: the one whose last step is `… demo` and the one whose last step is `… test`.
 * A README without them is an error naming the file and what is missing.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const HEADING = '## The two commands';

/**
 * The demo and test lines of a README's "## The two commands" section.
 * @example
 * readmeCommands('## The two commands\n\n```sh\nnpx -y pnpm@10.34.8 install && npx -y pnpm@10.34.8 demo   # run it\nnpx -y pnpm@10.34.8 install && npx -y pnpm@10.34.8 test\n```\n')
 * // → { demo: 'npx -y pnpm@10.34.8 install && npx -y pnpm@10.34.8 demo', test: 'npx -y pnpm@10.34.8 install && npx -y pnpm@10.34.8 test' }
 */
export function readmeCommands(markdown, file = 'README.md') {
  const lines = markdown.split(/\r?\n/);
  const at = lines.findIndex((l) => l.trim() === HEADING);
  if (at < 0) throw new Error(`${file}: no "${HEADING}" heading`);
  const open = lines.findIndex((l, i) => i > at && /^```(sh|bash|shell)\s*$/.test(l.trim()));
  const nextHeading = lines.findIndex((l, i) => i > at && /^#{1,2} /.test(l));
  if (open < 0 || (nextHeading >= 0 && open > nextHeading)) throw new Error(`${file}: no \`\`\`sh block under "${HEADING}"`);
  const close = lines.findIndex((l, i) => i > open && l.trim() === '```');
  if (close < 0) throw new Error(`${file}: the \`\`\`sh block under "${HEADING}" is not closed`);
  const commands = lines
    .slice(open + 1, close)
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter((l) => l && !l.startsWith('#'));
  const ending = (word) => commands.filter((c) => new RegExp(`\\s${word}$`).test(c));
  const found = {};
  for (const word of ['demo', 'test']) {
    const matches = ending(word);
    if (matches.length !== 1) throw new Error(`${file}: expected one command ending in "${word}" under "${HEADING}", found ${matches.length}`);
    found[word] = matches[0];
  }
  return found;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [which, file = new URL('../README.md', import.meta.url).pathname] = process.argv.slice(2);
  try {
    if (which !== 'demo' && which !== 'test') throw new Error(`usage: node scripts/readme-commands.mjs demo|test [README.md]`);
    console.log(readmeCommands(readFileSync(file, 'utf8'), file)[which]);
  } catch (e) {
    console.error(`readme-commands: ${e.message}`);
    process.exit(2);
  }
}
