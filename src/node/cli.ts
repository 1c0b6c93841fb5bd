import { type ParseArgsConfig, parseArgs } from 'node:util';
import type { z } from 'zod';

/**
 * Thin CLI plumbing shared by scripts/: parse flags with node:util, validate them with a zod
 * schema, print --help. Scripts stay a few lines over library code.
 */
export class CliError extends Error {
  override name = 'CliError';
}

export function parseCli<S extends z.ZodType>(
  argv: readonly string[],
  options: NonNullable<ParseArgsConfig['options']>,
  schema: S,
  help: string,
): z.infer<S> {
  let values: Record<string, unknown>;
  try {
    values = parseArgs({
      args: [...argv],
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }).values as Record<string, unknown>;
  } catch (e) {
    throw new CliError(`${(e as Error).message}\n\n${help}`);
  }
  if (values.help) {
    process.stdout.write(`${help}\n`);
    process.exit(0);
  }
  delete values.help;
  const camel = Object.fromEntries(
    Object.entries(values).map(([k, x]) => [
      k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()),
      x,
    ]),
  );
  const parsed = schema.safeParse(camel);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const [key, ...rest] = i.path;
      if (key === undefined) return `  ${i.message}`; // a rule across flags
      const flag = `--${String(key).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
      const item = typeof rest[0] === 'number' ? ` (item ${rest[0] + 1})` : '';
      return `  ${flag}${item}: ${i.message}`;
    });
    throw new CliError(`invalid options:\n${lines.join('\n')}\n\nSee --help.`);
  }
  return parsed.data;
}

/** Run a CLI main: print errors (message only for known errors) and set the exit code. */
export function runMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      const err = e as Error;
      const known = [
        'CliError',
        'EndpointError',
        'ClientError',
        'ModelFolderError',
        'DatasetError',
        'PartitionError',
      ];
      process.stderr.write(
        `\nerror: ${known.includes(err?.name) ? err.message : (err?.stack ?? String(e))}\n`,
      );
      process.exit(1);
    },
  );
}

/** Progress lines on stderr, at most one per `everyMs` for the same key. */
export function throttledLog(everyMs = 2000): (key: string, line: string, force?: boolean) => void {
  const last = new Map<string, number>();
  return (key, line, force = false) => {
    const now = performance.now();
    if (!force && now - (last.get(key) ?? -Infinity) < everyMs) return;
    last.set(key, now);
    process.stderr.write(`${line}\n`);
  };
}
