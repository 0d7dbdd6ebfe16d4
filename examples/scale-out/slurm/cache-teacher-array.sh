#!/usr/bin/env bash
# Teacher states on a Slurm cluster: one array task per shard. Slurm sets SLURM_ARRAY_TASK_ID;
# `cache-teacher` reads SLURM_ARRAY_TASK_ID as the shard index (0-based: --array=0-99 for 100 shards). --shards is
# spelled out because a rerun of some tasks (--array=7,42) has its own SLURM_ARRAY_TASK_COUNT. The shared file
# system holds model, data and shards.
#
#   jobid=$(sbatch --parsable --array=0-99%50 cache-teacher-array.sh)      # 100 shards, 50 at a time
#   sbatch --dependency=afterok:$jobid merge.sh
#
# A failed or preempted task is rerun with `scontrol requeue` or `sbatch --array=<ids>`: a shard already whole is
# kept without running the teacher, a half-written one is computed again (the manifest is written last).
#SBATCH --job-name=cache-teacher
#SBATCH --cpus-per-task=2
#SBATCH --mem=12G
#SBATCH --time=02:00:00
#SBATCH --requeue
#SBATCH --output=logs/cache-teacher-%A_%a.out
set -euo pipefail
SHARED=${SHARED:-/shared}
exec npx -y llm-modules@0.1 cache-teacher \
  --model "$SHARED/models/qwen2-1.5b-instruct" \
  --data "$SHARED/data/stratos-subset.parquet" \
  --format paper --max-length 4096 --batch-size 8 \
  --shards 100 \
  --out "$SHARED/shards" --json
