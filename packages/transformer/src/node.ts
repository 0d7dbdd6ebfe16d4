/** The Node entry (export condition `node`, and the default): the browser-safe index plus `loadPretrained(dir)`. */
export * from './index.js';
export { loadPretrained } from './load-file.js';
