import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CliError, defineCli, flag, switchFlag } from '../../src/node/cli';

/** One declaration per flag: the parseArgs map, the zod schema and --help come from it. */
const cli = defineCli({
  usage: 'npm run demo -- [options]',
  about: 'Demonstrates the declarations.',
  flags: {
    'samples-per-class': flag(z.coerce.number().int().positive(), {
      value: 'N',
      default: 600,
      help: 'per class',
    }),
    net: flag(z.array(z.string().min(2, 'a folder')), {
      value: 'DIR',
      multiple: true,
      required: true,
      help: 'a model folder\nrepeatable',
    }),
    target: flag(z.string(), { value: 'NAME', defaultHelp: 'the last one', help: 'who learns' }),
    balance: switchFlag('equal quotas', 'Packets'),
  },
  rules: (v, ctx) => {
    if (v.balance && v.net.length < 2) ctx.addIssue({ code: 'custom', message: 'balance needs 2' });
  },
});

const errorOf = (argv: string[]) => {
  try {
    cli.parse(argv);
  } catch (e) {
    expect(e).toBeInstanceOf(CliError);
    return (e as Error).message;
  }
  throw new Error('no error');
};

describe('defineCli', () => {
  it('derives the parseArgs map', () => {
    expect(cli.options).toEqual({
      'samples-per-class': { type: 'string' },
      net: { type: 'string', multiple: true },
      target: { type: 'string' },
      balance: { type: 'boolean' },
    });
  });

  it('parses to camelCase values with defaults, absent optional flags undefined', () => {
    expect(cli.parse(['--net', 'ab', '--net', 'cd'])).toEqual({
      samplesPerClass: 600,
      net: ['ab', 'cd'],
      balance: false,
    });
    const v = cli.parse(['--net', 'ab', '--samples-per-class', '7', '--target', 'x']);
    expect([v.samplesPerClass, v.target]).toEqual([7, 'x']);
  });

  it('names the flag, the list item and cross-flag rules in errors', () => {
    expect(errorOf(['--samples-per-class', '0'])).toMatch(
      /--samples-per-class: Too small[^\n]*\n {2}--net: Invalid input/,
    );
    expect(errorOf(['--net', 'ab', '--net', 'c'])).toMatch(/--net \(item 2\): a folder/);
    expect(errorOf(['--net', 'ab', '--balance'])).toMatch(/^ {2}balance needs 2$/m);
    expect(errorOf(['--nope'])).toMatch(/Unknown option '--nope'[\s\S]*npm run demo/);
  });

  it('writes --help from the declarations', () => {
    expect(cli.help).toBe(
      [
        'npm run demo -- [options]',
        '',
        'Demonstrates the declarations.',
        '',
        '  --samples-per-class N   per class (default: 600)',
        '  --net DIR               a model folder',
        '                          repeatable',
        '  --target NAME           who learns (default: the last one)',
        '',
        'Packets',
        '  --balance               equal quotas',
        '  --help                  this text',
      ].join('\n'),
    );
  });
});
