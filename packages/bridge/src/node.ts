/** The Node entry (export condition `node`, and the default): the browser-safe index plus the bridge folder functions that take paths. */
export * from './index.js';
export { describeBridgeFolder, isBridgeFolder, loadBridge, readBridgeConfig, saveBridge, type BridgeFolderSummary, type LoadBridgeOptions, type SaveBridgeOptions } from './folder.js';
