import { type ParseArgsConfig, parseArgs } from 'node:util';
import { z } from 'zod';

/**
 * CLI plumbing shared by scripts/. Each flag is declared once (`flag()` / `switchFlag()`: its
 * zod schema piece, default, help line) and `defineCli()` derives from those declarations the
 * node:util parseArgs map, the zod schema (values typed by z.infer) and the --help text.
 * Scripts stay a few lines over library code.
 */
export class CliError extends Error {
  override name = 'CliError';
}

type ParseOptions = NonNullable<ParseArgsConfig['options']>;

export interface FlagOptions<S extends z.ZodType> {
  /** One line; '\n' continues it, aligned under the first. */
  help: string;
  /** What the value stands for in --help, e.g. 'N', 'DIR' (switches have none). */
  value?: string;
  /** Used when the flag is absent (shown in --help unless `defaultHelp` says it better). */
  default?: z.output<S> | Readonly<z.output<S>>;
  defaultHelp?: string;
  /** No default, and absent is an error (the schema's own message says so). */
  required?: true;
  type?: 'string' | 'boolean';
  /** Repeatable: the value is a string[]. */
  multiple?: true;
  short?: string;
  /** Starts a titled group of flags in --help. */
  section?: string;
}

export type Flag<S extends z.ZodType = z.ZodType> = FlagOptions<S> & { schema: S };

/** A flag taking a value (strings on the command line: coerce numbers in `schema`). */
export function flag<S extends z.ZodType, const O extends FlagOptions<NoInfer<S>>>(
  schema: S,
  opts: O,
): O & { schema: S } {
  return { ...opts, schema };
}

/** A switch: false unless given. */
export function switchFlag(
  help: string,
  section?: string,
): { help: string; type: 'boolean'; default: false; schema: z.ZodBoolean; section?: string } {
  return {
    help,
    type: 'boolean',
    default: false,
    schema: z.boolean(),
    ...(section ? { section } : {}),
  };
}

type CamelCase<S extends string> = S extends `${infer H}-${infer T}`
  ? `${H}${Capitalize<CamelCase<T>>}`
  : S;
type FlagValue<F> = F extends { schema: infer S extends z.ZodType }
  ? F extends { default: unknown } | { required: true }
    ? z.output<S>
    : z.output<S> | undefined
  : never;
/** The parsed values: camelCase keys, one per flag. */
export type CliValues<F extends Record<string, Flag>> = {
  [K in keyof F & string as CamelCase<K>]: FlagValue<F[K]>;
};

export interface CliSpec<F extends Record<string, Flag>> {
  /** First line of --help, e.g. `npm run sweep:finetune -- --net DIR --net DIR [options]`. */
  usage: string;
  /** What the command does (paragraphs). */
  about: string;
  flags: F;
  /** Rules across flags; an issue without a path prints as its message alone. */
  rules?: (values: CliValues<F>, ctx: z.RefinementCtx) => void;
}

export interface Cli<V> {
  readonly help: string;
  readonly schema: z.ZodType<V>;
  readonly options: ParseOptions;
  /** Parses argv (without node and the script); --help prints the help and exits 0. */
  parse(argv: readonly string[]): V;
}

const camel = (k: string) => k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

export function defineCli<const F extends Record<string, Flag>>(
  spec: CliSpec<F>,
): Cli<CliValues<F>> {
  const entries = Object.entries(spec.flags);
  const options: ParseOptions = {};
  const shape: Record<string, z.ZodType> = {};
  for (const [name, f] of entries) {
    options[name] = {
      type: f.type ?? 'string',
      ...(f.multiple ? { multiple: true } : {}),
      ...(f.short ? { short: f.short } : {}),
    };
    shape[camel(name)] =
      f.default !== undefined
        ? (f.schema as z.ZodType<unknown>).default(f.default as never)
        : f.required
          ? f.schema
          : f.schema.optional();
  }
  const object = z.object(shape);
  const schema = (spec.rules
    ? object.superRefine((v, ctx) => spec.rules?.(v as CliValues<F>, ctx))
    : object) as unknown as z.ZodType<CliValues<F>>;
  const help = helpText(spec.usage, spec.about, spec.flags);
  return { help, schema, options, parse: (argv) => parseWith(argv, options, schema, help) };
}

function helpText(usage: string, about: string, flags: Record<string, Flag>): string {
  const heads = Object.entries(flags).map(
    ([name, f]) => `--${name}${f.type === 'boolean' ? '' : ` ${f.value ?? 'X'}`}`,
  );
  const width = Math.max(22, ...heads.map((h) => h.length)) + 2;
  const lines: string[] = [];
  Object.values(flags).forEach((f, i) => {
    if (f.section) lines.push(`${lines.length > 0 ? '\n' : ''}${f.section}`);
    const shown =
      f.defaultHelp ??
      (f.default === undefined || f.type === 'boolean'
        ? undefined
        : typeof f.default === 'string'
          ? f.default
          : JSON.stringify(f.default));
    const text = `${f.help}${shown === undefined ? '' : ` (default: ${shown})`}`;
    const [first, ...rest] = text.split('\n');
    lines.push(`  ${heads[i]!.padEnd(width)}${first}`);
    for (const r of rest) lines.push(`  ${' '.repeat(width)}${r.trim()}`);
  });
  return `${usage}\n\n${about.trim()}\n\n${lines.join('\n')}\n  ${'--help'.padEnd(width)}this text`;
}

function parseWith<S extends z.ZodType>(
  argv: readonly string[],
  options: ParseOptions,
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
  const byKey = Object.fromEntries(Object.entries(values).map(([k, x]) => [camel(k), x]));
  const parsed = schema.safeParse(byKey);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const [key, ...rest] = i.path;
      if (key === undefined) return `  ${i.message}`; // a rule across flags
      const name = `--${String(key).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
      const item = typeof rest[0] === 'number' ? ` (item ${rest[0] + 1})` : '';
      return `  ${name}${item}: ${i.message}`;
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
