/** The example variant passes the same conformance suite as the built-ins: one line. */
import { describeBridgeConformance } from '@llm-modules/bridge/testing';
import { lowRank } from './low-rank.js';

describeBridgeConformance(lowRank, { options: { rank: 4 } });
