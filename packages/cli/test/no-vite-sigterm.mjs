// Preloaded (node --import) into a CLI process run from source through vite-node: vite's dev server, which
// vite-node starts to transform the source, registers its own SIGTERM listener that closes the server and exits.
// The built binary has no such server, so that one listener is dropped here and the CLI's own handling is tested.
const once = process.once.bind(process);
process.once = (event, listener) => (event === 'SIGTERM' && listener.name === 'parentSigtermCallback' ? process : once(event, listener));
