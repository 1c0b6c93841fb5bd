// Builds the optional native kernels (native/build/Release/ks_native.node) with node-gyp from
// native/src/*.cc (binding.gyp); the TS <-> C++ contract is native/ks_abi.h.
// Run by `npm ci` / `npm install` (the root package's postinstall) and by `npm run build:native`.
// It never fails the install: without OpenBLAS headers/library or a compiler it prints one line
// and exits 0, and the project runs on the wasm kernels. KS_NATIVE=0 skips the build.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const verbose = process.argv.includes('--verbose');
const say = (msg) => console.log(`native kernels: ${msg}`);

function main() {
  if (process.env.KS_NATIVE === '0') return say('skipped (KS_NATIVE=0)');
  if (process.platform !== 'linux') return say(`skipped (${process.platform}: Linux only)`);
  const inc = [
    '/usr/include',
    `/usr/include/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`,
  ];
  const header = inc.some((d) => fs.existsSync(path.join(d, 'cblas.h')));
  const libDirs = [
    '/usr/lib',
    '/usr/lib64',
    '/usr/local/lib',
    ...inc.map((d) => d.replace('include', 'lib')),
  ];
  const lib = libDirs.some((d) => fs.existsSync(path.join(d, 'libopenblas.so')));
  if (!header || !lib) {
    return say(
      'OpenBLAS not found (apt-get install libopenblas-dev, then npm run build:native); using the wasm kernels',
    );
  }
  const gyp = findNodeGyp();
  if (gyp === null) return say('node-gyp not found; using the wasm kernels');
  const args = [gyp, 'rebuild'];
  // Offline machines: use the headers of the running Node when npm did not name any.
  const nodeDir = path.resolve(path.dirname(process.execPath), '..');
  if (
    !process.env.npm_config_nodedir &&
    fs.existsSync(path.join(nodeDir, 'include', 'node', 'node_api.h'))
  ) {
    args.push(`--nodedir=${nodeDir}`);
  }
  const t0 = Date.now();
  const r = spawnSync(process.execPath, args, {
    cwd: here,
    encoding: 'utf8',
    stdio: verbose ? 'inherit' : 'pipe',
    timeout: 300_000, // e.g. node-gyp waiting for headers it cannot download
  });
  if (r.status !== 0) {
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n');
    if (out) console.log(out);
    return say('build failed (see above); using the wasm kernels');
  }
  say(`built in ${((Date.now() - t0) / 1000).toFixed(1)} s (native/build/Release/ks_native.node)`);
}

function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    path.resolve(
      path.dirname(process.execPath),
      '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
    ),
  ];
  for (const c of candidates) if (c && fs.existsSync(c)) return c;
  return null;
}

try {
  main();
} catch (e) {
  say(`build skipped (${e instanceof Error ? e.message : e}); using the wasm kernels`);
}
