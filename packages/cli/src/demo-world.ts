/**
 * `llm-modules/demo-world`: the demo's arithmetic world and its measures without the command line. It imports no
 * Node built-in, so a web page trains and scores on the same facts, split, traces and accuracy as `llm-modules demo`
 * (examples/browser does, and its Node twin test runs the same module).
 */
export { allFacts, completionText, encode, factText, promptText, shuffled, splitWorld, WORLD_EOS, WORLD_VOCAB, type Fact, type WorldSplit } from './demo/world.js';
export { generationAccuracy, teacherForcedAccuracy, traceSet, type TraceSet } from './demo/metrics.js';
export { studentConfig, type StudentSize } from './demo/variants.js';
