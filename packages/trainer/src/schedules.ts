/**
 * Learning-rate schedules: functions of the 1-based step number, usable wherever a learning rate is.
 * @example `adamw({ lr: warmupCosine({ peak: 3e-4, warmupSteps: 100, totalSteps: 2000 }) })`
 */
export type Schedule = (step: number) => number;

/** The same rate at every step. */
export const constant = (lr: number): Schedule => () => lr;

/** Linear warm-up from 0 to `peak` over `warmupSteps`, then cosine decay to `minLr` at `totalSteps`. */
export function warmupCosine({ peak, warmupSteps = 0, totalSteps, minLr = 0 }: { peak: number; warmupSteps?: number; totalSteps: number; minLr?: number }): Schedule {
  return (step) => {
    if (step <= warmupSteps) return (peak * step) / Math.max(1, warmupSteps);
    const progress = Math.min(1, (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps));
    return minLr + 0.5 * (peak - minLr) * (1 + Math.cos(Math.PI * progress));
  };
}

/** Linear warm-up from 0 to `peak`, then linear decay to `minLr` at `totalSteps`. */
export function warmupLinear({ peak, warmupSteps = 0, totalSteps, minLr = 0 }: { peak: number; warmupSteps?: number; totalSteps: number; minLr?: number }): Schedule {
  return (step) => {
    if (step <= warmupSteps) return (peak * step) / Math.max(1, warmupSteps);
    const progress = Math.min(1, (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps));
    return peak + (minLr - peak) * progress;
  };
}
