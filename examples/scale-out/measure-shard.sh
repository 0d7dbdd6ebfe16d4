#!/usr/bin/env bash
# One shard of the paper's teacher on this machine: tokens/s, the shard's fixed start (load + fingerprint) and its
# bytes per token, on the Qwen2-1.5B stand-in (random weights, the real shapes; see ../qwen2-gptneo/README.md).
#   bash examples/scale-out/measure-shard.sh [ROWS]      (after `pnpm build`; ROWS of 512 tokens, default 4; ~3 min)
# Writes under examples/qwen2-gptneo/standin/ (gitignored), reusing a stand-in teacher already there.
set -euo pipefail
cd "$(dirname "$0")/../qwen2-gptneo"
ROWS=${1:-4}
CLI="node ../../packages/cli/dist/bin.js"
[ -f ../../packages/cli/dist/bin.js ] || { echo "measure-shard.sh: run 'pnpm build' first" >&2; exit 1; }
mkdir -p standin
[ -f standin/qwen2-1.5b/config.json ] || $CLI new-model --config configs/qwen2-1.5b/config.json --tokenizer tokenizer --out standin/qwen2-1.5b --dtype bf16 --seed 0 --json > /dev/null
[ -f standin/data/synthetic-stratos.parquet ] || node make-synthetic-stratos.mjs --rows 32 --seed 0 --out standin/data > /dev/null
head -n "$ROWS" standin/data/synthetic-stratos.jsonl > standin/measure-rows.jsonl
rm -rf standin/measure-shards
load=$(cut -d' ' -f1 /proc/loadavg)
t0=$(date +%s.%N)
summary=$($CLI cache-teacher --model standin/qwen2-1.5b --data standin/measure-rows.jsonl --max-length 512 \
  --out standin/measure-shards --shard 0/1 --json | tail -n 1)
t1=$(date +%s.%N)
node -e '
  const [summary, t0, t1, load, cores] = process.argv.slice(1);
  const s = JSON.parse(summary);
  const wall = Number(t1) - Number(t0);
  console.log(JSON.stringify({ rows: s.rows[1] - s.rows[0], tokens: s.tokens, teacher_seconds: s.seconds,
    tokens_per_second: s.tokens_per_second, wall_seconds: Number(wall.toFixed(1)),
    start_seconds: Number((wall - s.seconds).toFixed(1)), bytes_per_token: s.bytes / s.tokens,
    load_at_start: Number(load), cores: Number(cores) }));
' "$summary" "$t0" "$t1" "$load" "$(nproc)"
