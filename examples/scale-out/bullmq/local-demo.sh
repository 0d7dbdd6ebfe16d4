#!/usr/bin/env bash
# The whole BullMQ flow on one machine with the repository's tiny teacher: a throwaway redis-server on a free
# loopback port, three workers, the enqueuer (progress, ETA, merge), then a check that the merged cache equals the
# one a single process writes. Needs a built repository (pnpm build) and redis-server on PATH. ~20 s.
#   bash examples/scale-out/bullmq/local-demo.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
CLI="node packages/cli/dist/bin.js"
TEACHER=examples/knowledge-transfer/teacher
work=$(mktemp -d)
port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
redis-server --port "$port" --bind 127.0.0.1 --daemonize yes --save '' --appendonly no --logfile "$work/redis.log"
trap 'redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
QUEUE=redis://127.0.0.1:$port
head -24 examples/knowledge-transfer/facts.jsonl > "$work/rows.jsonl"

for i in 1 2 3; do $CLI worker --queue "$QUEUE" --lock-seconds 5 --exit-when-idle 2> "$work/worker-$i.log" & done
$CLI cache-teacher --model "$TEACHER" --data "$work/rows.jsonl" --batch-size 2 --out "$work/cache" \
  --queue "$QUEUE" --enqueue --shards 6
wait
grep -h "done:" "$work"/worker-*.log

$CLI cache-teacher --model "$TEACHER" --data "$work/rows.jsonl" --batch-size 2 --out "$work/single" > /dev/null 2>&1
diff -r "$work/cache" "$work/single" && echo "the merged cache is byte-identical to the single-process one"
