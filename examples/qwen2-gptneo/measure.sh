#!/usr/bin/env bash
# Paper scale on random stand-ins: every step of the README's recipe, timed, with peak RSS.
#   bash examples/qwen2-gptneo/measure.sh [--fresh] [--pytorch]      (after `pnpm build`; ~30 min on 2 cores)
# --pytorch: then the same workloads in PyTorch (benchmarks/pytorch/paper_scale.py on the same teacher file, 8 rows for
# its teacher forward; once more with --no-teacher for the memory of training from a cache alone; $PYTHON, default
# python3, with torch installed; ~15 min more), side by side in the table.
# Writes standin/ (models, data, cache, runs; gitignored) and standin/measurements.jsonl (one JSON object per
# step: command, wall seconds, peak RSS, the command's own --json summary), then prints the table the README quotes.
set -euo pipefail
cd "$(dirname "$0")"
CLI="node ../../packages/cli/dist/bin.js"
OUT=standin/measurements.jsonl
[ -f ../../packages/cli/dist/bin.js ] || { echo "measure.sh: run 'pnpm build' first" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "measure.sh: needs GNU time (/usr/bin/time; Debian: apt-get install time)" >&2; exit 1; }
FRESH=0; PYTORCH=0
for a in "$@"; do case $a in --fresh) FRESH=1 ;; --pytorch) PYTORCH=1 ;; *) echo "measure.sh: unknown option $a" >&2; exit 2 ;; esac; done
if [ $FRESH = 1 ]; then rm -rf standin; fi
PY=${PYTHON:-python3}
if [ $PYTORCH = 1 ] && ! "$PY" -c 'import torch' 2>/dev/null; then echo "measure.sh: --pytorch needs torch for $PY (Debian: apt-get install python3-torch; or set PYTHON)" >&2; exit 1; fi
mkdir -p standin
: > "$OUT"

# step NAME CMD...: run CMD under GNU time; append {step, seconds, peak_rss_gb, load, summary (CMD's last stdout line)}
step() {
  local name=$1; shift
  echo "== $name: $*" >&2
  local load; load=$(cut -d' ' -f1 /proc/loadavg)
  /usr/bin/time -f '%e %M' -o standin/.time "$@" > standin/.stdout
  local summary; summary=$(tail -n 1 standin/.stdout)
  read -r secs kb < standin/.time
  node -e '
    const [name, secs, kb, load, summary] = process.argv.slice(1);
    let s = null; try { s = JSON.parse(summary); } catch {}
    console.log(JSON.stringify({ step: name, seconds: Number(secs), peak_rss_gb: Number((kb / 2 ** 20).toFixed(2)), load_at_start: Number(load), summary: s }));
  ' "$name" "$secs" "$kb" "$load" "$summary" >> "$OUT"
  tail -n 1 "$OUT" >&2
}

bytes() { du -sb "$1" | cut -f1; }

[ -f standin/qwen2-1.5b/config.json ] || step new-model $CLI new-model --config configs/qwen2-1.5b/config.json --tokenizer tokenizer --out standin/qwen2-1.5b --dtype bf16 --seed 0 --json
[ -f standin/data/synthetic-stratos.parquet ] || node make-synthetic-stratos.mjs --rows 32 --seed 0 --out standin/data > /dev/null
# the rows whose answers are long enough for 2,048 tokens (the live 2,048-token step)
node -e 'const fs = require("fs"); const rows = fs.readFileSync("standin/data/synthetic-stratos.jsonl", "utf8").trim().split("\n").filter((l) => JSON.parse(l).conversations[1].value.length >= 12000); fs.writeFileSync("standin/data/synthetic-long.jsonl", rows.join("\n") + "\n")'
step load-teacher $CLI train --config standin-live.train.json --dry-run --json   # no cache: the teacher is loaded
rm -rf standin/cache-512 standin/runs
step cache-teacher $CLI cache-teacher --model standin/qwen2-1.5b --data standin/data/synthetic-stratos.parquet --out standin/cache-512 --max-length 512 --json
echo "{\"step\":\"cache-size\",\"bytes\":$(bytes standin/cache-512)}" >> "$OUT"
step train-cached $CLI train --config standin.train.json --json
cp standin/runs/paper/metrics.jsonl standin/metrics-cached.jsonl
echo "{\"step\":\"checkpoint-size\",\"bytes\":$(bytes standin/runs/paper/checkpoint),\"bridge_folder_bytes\":$(bytes standin/runs/paper/bridge.safetensors)}" >> "$OUT"
step train-resume $CLI train --config standin.train.json --resume --max-steps 6 --json
step train-live $CLI train --config standin-live.train.json --json
cp standin/runs/paper-live/metrics.jsonl standin/metrics-live.jsonl
step train-live-2048 $CLI train --config standin-live-2048.train.json --overwrite --json   # one step of 2,048 tokens, teacher live
step generate $CLI generate --model standin/runs/paper --prompt "User: What is 12 times 7? Think step by step." --max-new-tokens 32 --ignore-eos --greedy --json
TORCH=()
if [ $PYTORCH = 1 ]; then
  echo "== pytorch: paper_scale.py (teacher: standin/qwen2-1.5b), then --no-teacher" >&2
  "$PY" ../../benchmarks/pytorch/paper_scale.py --teacher standin/qwen2-1.5b --seq 512 --rows 8 --steps 5 --live-steps 2 --gen-tokens 32 --json --out standin/pytorch.json > /dev/null
  "$PY" ../../benchmarks/pytorch/paper_scale.py --no-teacher --seq 512 --steps 5 --json --out standin/pytorch-no-teacher.json > /dev/null
  TORCH=(--pytorch standin/pytorch.json --pytorch-no-teacher standin/pytorch-no-teacher.json)
fi
node report.mjs "$OUT" standin/metrics-cached.jsonl standin/metrics-live.jsonl "${TORCH[@]}"
