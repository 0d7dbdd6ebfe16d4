#!/usr/bin/env node
import { main } from './index.js';

const code = await main(process.argv.slice(2));
// Every command has finished its work (and its writes) when main resolves. End the process here rather than
// waiting for the event loop to drain: Dawn (the `webgpu` backend in Node) keeps native handles open that
// would hold the process alive, spinning, after the result is printed.
process.exit(code);
