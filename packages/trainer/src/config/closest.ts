/** "Did you mean" for mistyped names in configs (bridge variants and options) and on the command line. */

/**
 * The closest of `known` to a mistyped `word` (edits, swaps of neighbours included, at most a third of its length),
 * for "did you mean".
 * @example `closest('hedas', ['heads', 'layers']) // 'heads'`
 */
export function closest(word: string, known: readonly string[]): string | undefined {
  const distance = (a: string, b: string): number => {
    let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
    let before = prev;
    for (let i = 1; i <= a.length; i++) {
      const row = [i];
      for (let j = 1; j <= b.length; j++) {
        row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
        // two neighbours swapped ("hedas") is one slip, not two
        if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j], before[j - 2] + 1);
      }
      before = prev;
      prev = row;
    }
    return prev[b.length];
  };
  let best: { k: string; d: number } | undefined;
  for (const k of known) {
    const d = distance(word.toLowerCase(), k.toLowerCase());
    if (!best || d < best.d) best = { k, d };
  }
  return best && best.d <= Math.max(1, Math.floor(word.length / 3)) ? best.k : undefined;
}
