/** Every built-in variant passes the conformance suite of `@llm-modules/bridge/testing` (one line each). */
import { describeBridgeConformance } from '../src/testing.js';
import { calm, enhanced, flamingo, linearBridge, paperReleased, plain } from '../src/index.js';

describeBridgeConformance(enhanced, { options: { heads: 2, adapterDim: 4 } });
describeBridgeConformance(paperReleased, { options: { heads: 2, adapterDim: 4 } });
describeBridgeConformance(flamingo, { options: { heads: 2 } });
describeBridgeConformance(calm, { options: { heads: 2, every: 1 } });
describeBridgeConformance(plain, { options: { heads: 2, layers: 2 } });
describeBridgeConformance(linearBridge);
