// Shared helpers for benchmarks: timing (best of N after a warm-up) and output (table or --json).

export const args = process.argv.slice(2);
export const flag = (name) => args.includes(`--${name}`);
export const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};

/** Best wall time in ms of `fn` over `reps` runs (after one warm-up run), stopping early past `budgetMs`. */
export async function bestOf(fn, { reps = 5, budgetMs = 4000 } = {}) {
  await fn();
  let best = Infinity;
  const start = performance.now();
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await fn();
    best = Math.min(best, performance.now() - t0);
    if (performance.now() - start > budgetMs) break;
  }
  return best;
}

/** Print rows as an aligned table, or as one JSON object on the last line with --json. */
export function report(title, rows, extra = {}) {
  if (flag('json')) {
    console.log(JSON.stringify({ benchmark: title, ...extra, rows }));
    return;
  }
  const cols = Object.keys(rows[0] ?? {});
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (vals) => vals.map((v, i) => String(v).padStart(width[i])).join('  ');
  console.log(`\n${title}`);
  for (const [k, v] of Object.entries(extra)) console.log(`${k}: ${v}`);
  console.log(line(cols));
  console.log(line(width.map((w) => '-'.repeat(w))));
  for (const r of rows) console.log(line(cols.map((c) => r[c])));
}
