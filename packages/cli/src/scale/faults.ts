/**
 * Fault injection for the scale-out tests, read from `LLM_MODULES_FAULT` (comma-separated; unset in real runs):
 * `slow-batch=MS` waits MS after each teacher batch, so a test can kill a worker mid-shard on a tiny teacher;
 * `kill-at=STAGE` (`states-written`, `manifest-written`, `job-done`) SIGKILLs this process at that stage, as a
 * machine that dies there would. The tests prove each such death leaves nothing corrupt and the run resumable.
 */
const faults = (): Map<string, string> => new Map((process.env.LLM_MODULES_FAULT ?? '').split(',').filter(Boolean).map((kv) => kv.split('=') as [string, string]));

/** After a teacher batch: wait when `slow-batch=MS` is set. */
export async function afterBatchFault(): Promise<void> {
  const ms = Number(faults().get('slow-batch') ?? 0);
  if (ms > 0) await new Promise((r) => setTimeout(r, ms));
}

/** At `stage`: die at once (SIGKILL, no cleanup) when `kill-at=stage` is set. */
export function stageFault(stage: string): void {
  if (faults().get('kill-at') === stage) process.kill(process.pid, 'SIGKILL');
}
