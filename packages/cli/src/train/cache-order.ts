/** The teacher-cache example order (shared by `cache-teacher` and `train`) lives in the trainer. */
export { cacheOrder } from '@llm-modules/trainer';
