#!/usr/bin/env bash
# After every array task of cache-teacher-array.sh succeeded (sbatch --dependency=afterok:<array job id>):
# check all shards and write the cache `train` reads. Any bad shard: one line naming it, exit 1, cache untouched.
#SBATCH --job-name=cache-teacher-merge
#SBATCH --cpus-per-task=1
#SBATCH --mem=2G
#SBATCH --time=00:30:00
#SBATCH --output=logs/cache-teacher-merge-%j.out
set -euo pipefail
SHARED=${SHARED:-/shared}
exec npx -y llm-modules@0.1 cache-teacher merge --from "$SHARED/shards" --out "$SHARED/cache" --json
