export * from './dtype.js';
