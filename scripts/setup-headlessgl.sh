#!/usr/bin/env bash
# Optional: build the `gl` package so gpu.js's `headlessgl` backend works in Node, and install xvfb to
# give it a display. The default install never needs this (pnpm skips gl's build script on purpose).
# Usage: bash scripts/setup-headlessgl.sh   (as root on Debian/Ubuntu; needs the npm registry and apt)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v xvfb-run >/dev/null || ! dpkg -s libglew-dev libxi-dev libglu1-mesa-dev pkg-config >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libxi-dev libglu1-mesa-dev libglew-dev pkg-config xvfb xauth >/dev/null
fi
gl_dir=$(ls -d node_modules/.pnpm/gl@*/node_modules/gl 2>/dev/null | head -n 1 || true)
if [ -z "$gl_dir" ]; then
  echo "setup-headlessgl: the optional gl package is not installed (run pnpm install first)" >&2
  exit 1
fi
gl_version=$(node -p "require('./$gl_dir/package.json').version")
cache="${XDG_CACHE_HOME:-$HOME/.cache}/llm-modules/gl-$gl_version-node-$(node -p process.versions.modules)"
if [ ! -f "$gl_dir/build/Release/webgl.node" ] && [ -f "$cache/webgl.node" ]; then
  mkdir -p "$gl_dir/build/Release" && cp "$cache/webgl.node" "$gl_dir/build/Release/webgl.node"
fi
if [ ! -f "$gl_dir/build/Release/webgl.node" ]; then
  gyp="$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js"
  [ -f "$gyp" ] || gyp="$(dirname "$(command -v npm)")/../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js"
  (cd "$gl_dir" && node "$gyp" rebuild --jobs=2 --nodedir="$(npm config get nodedir 2>/dev/null || echo /usr)" >/tmp/llm-modules-gl-build.log 2>&1) || {
    echo "setup-headlessgl: building gl failed, see /tmp/llm-modules-gl-build.log" >&2
    exit 1
  }
fi
[ -f "$cache/webgl.node" ] || { mkdir -p "$cache" && cp "$gl_dir/build/Release/webgl.node" "$cache/webgl.node"; }
xvfb-run -a node -e "const {GPU}=require('./$(ls -d node_modules/.pnpm/gpu.js@*/node_modules/gpu.js | head -n 1)/src/index.js'); process.exit(GPU.isHeadlessGLSupported ? 0 : 1)" \
  && echo "setup-headlessgl: headlessgl works (run tests under xvfb-run -a)"
