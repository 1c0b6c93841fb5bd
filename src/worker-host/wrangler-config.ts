import { join, relative, resolve } from 'node:path';

/**
 * A network's wrangler config, derived from the repository's wrangler.toml (the single source
 * of Worker settings): every top-level setting is kept, an optional `[env.<network id>]`
 * section overrides it for that network (shallow, as wrangler's own environments do), then the
 * network's own parts are added: name `ks-<id>` (unless the section names it), the alias
 * `ks-model-bundle` -> the generated module of model files, and the Data rule for them.
 * Relative paths (main, alias targets) are rebased onto the generated folder. Node-only.
 */
export async function networkWranglerConfig(opts: {
  repoRoot: string;
  /** The generated folder the config is written to. */
  dir: string;
  networkId: string;
}): Promise<Record<string, unknown>> {
  const { experimental_readRawConfig } = await import('wrangler');
  const tomlPath = join(opts.repoRoot, 'wrangler.toml');
  const { rawConfig } = experimental_readRawConfig({ config: tomlPath });
  const { env: envs, ...top } = rawConfig as Record<string, unknown> & {
    env?: Record<string, Record<string, unknown>>;
  };
  const section = envs?.[opts.networkId] ?? {};
  const base: Record<string, unknown> = { ...top, ...section };
  const rebase = (p: string) =>
    p.startsWith('.') ? relative(opts.dir, resolve(opts.repoRoot, p)) || '.' : p;
  if (typeof base.main !== 'string') throw new Error(`${tomlPath}: main is not set`);
  const alias = Object.fromEntries(
    Object.entries((base.alias ?? {}) as Record<string, string>).map(([k, v]) => [k, rebase(v)]),
  );
  const rules = ((base.rules ?? []) as { type: string; globs: string[] }[]).filter(
    (r) => !(r.type === 'Data' && r.globs.includes('**/*.bin')),
  );
  return {
    $schema: relative(opts.dir, join(opts.repoRoot, 'node_modules/wrangler/config-schema.json')),
    ...base,
    name: typeof section.name === 'string' ? section.name : `ks-${opts.networkId}`,
    main: rebase(base.main.startsWith('.') ? base.main : `./${base.main}`),
    alias: { ...alias, 'ks-model-bundle': './bundle.js' },
    rules: [...rules, { type: 'Data', globs: ['**/*.bin'], fallthrough: false }],
  };
}
