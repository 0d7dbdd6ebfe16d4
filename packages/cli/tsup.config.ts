import { cpSync } from 'node:fs';
import { packageBuild } from '../../tsup.base.js';

/**
 * The demo's world (examples/knowledge-transfer: tokenizer, trained teacher, configs, facts; ~0.6 MB) is copied into
 * dist/knowledge-transfer, so `npx llm-modules demo` works from the installed package. Run outputs (`runs/`) stay out.
 */
const shipDemoWorld = async () => {
  const from = new URL('../../examples/knowledge-transfer/', import.meta.url);
  cpSync(from, new URL('./dist/knowledge-transfer/', import.meta.url), {
    recursive: true,
    filter: (src) => !/[\\/]runs([\\/]|$)/.test(src.slice(from.pathname.length - 1)),
  });
};

export default packageBuild(['src/index.ts', 'src/bin.ts', 'src/demo-world.ts'], { dts: { entry: ['src/index.ts', 'src/demo-world.ts'] }, onSuccess: shipDemoWorld });
