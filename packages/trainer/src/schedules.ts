/**
 * Learning-rate schedules: functions of the 1-based step number, usable wherever a learning rate is.
 * @example `adamw({ lr: warmupCosine({ peak: 3e-4, warmupSteps: 100, totalSteps: 2000 }) })`
 */
export type Schedule = (step: number) => number;

/** The same rate at every step. @example `constant(1e-4)(500)` → 0.0001 */
export const constant = (lr: number): Schedule => () => lr;

/**
 * Linear warm-up from 0 to `peak` over `warmupSteps`, then cosine decay to `minLr` at `totalSteps`.
 * @example
 * ```ts
 * const lr = warmupCosine({ peak: 1e-3, warmupSteps: 10, totalSteps: 110 });
 * console.log([5, 10, 60, 110].map(lr)); // ≈ [0.0005, 0.001, 0.0005, 0]: half-way up, peak, half-way down, end
 * ```
 */
export function warmupCosine({ peak, warmupSteps = 0, totalSteps, minLr = 0 }: { peak: number; warmupSteps?: number; totalSteps: number; minLr?: number }): Schedule {
  return (step) => {
    if (step <= warmupSteps) return (peak * step) / Math.max(1, warmupSteps);
    const progress = Math.min(1, (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps));
    return minLr + 0.5 * (peak - minLr) * (1 + Math.cos(Math.PI * progress));
  };
}

/**
 * Linear warm-up from 0 to `peak`, then linear decay to `minLr` at `totalSteps`.
 * @example `[5, 10, 60, 110].map(warmupLinear({ peak: 1e-3, warmupSteps: 10, totalSteps: 110 }))` → [0.0005, 0.001, 0.0005, 0]
 */
export function warmupLinear({ peak, warmupSteps = 0, totalSteps, minLr = 0 }: { peak: number; warmupSteps?: number; totalSteps: number; minLr?: number }): Schedule {
  return (step) => {
    if (step <= warmupSteps) return (peak * step) / Math.max(1, warmupSteps);
    const progress = Math.min(1, (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps));
    return peak + (minLr - peak) * progress;
  };
}
