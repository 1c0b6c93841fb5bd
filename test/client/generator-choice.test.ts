import { beforeAll, describe, expect, it } from 'vitest';
import { chooseGenerator, localMenu } from '../../src/client/generator-choice';
import { DEFAULT_RECIPE } from '../../src/client/recipe';
import { builtinGenerators, GeneratorRegistry } from '../../src/core/generators';
import { initWasmBackend } from '../../src/node/wasm-backend';
import { writeTinyNetwork } from '../fixtures/tiny-network';

const all = [
  { name: 'vae', targetsClasses: false },
  { name: 'class-prior', targetsClasses: true },
  { name: 'class-mixture', targetsClasses: true },
];
const menu = { offered: all, defaultGenerator: 'vae' };

describe('chooseGenerator', () => {
  it("'auto' takes the recipe's preferred generator where offered, balanced when it targets classes", () => {
    const preferred = DEFAULT_RECIPE.generators[0]!;
    const c = chooseGenerator('auto', 'auto', menu);
    expect(c).toEqual({
      generator: preferred,
      named: true,
      balance: all.find((g) => g.name === preferred)!.targetsClasses,
    });
  });

  it("'auto' falls back to the endpoint's default, unbalanced when that one is unconditional", () => {
    const c = chooseGenerator('auto', 'auto', { offered: [all[0]!], defaultGenerator: 'vae' });
    expect(c).toEqual({ generator: 'vae', named: false, balance: false });
    // an endpoint that describes no generators (an older one): its default, unnamed
    expect(chooseGenerator('auto', 'auto', {})).toEqual({
      generator: 'vae',
      named: false,
      balance: false,
    });
  });

  it('a name is asked of every endpoint; absent means the default; balance as given', () => {
    expect(chooseGenerator('class-prior', undefined, menu)).toEqual({
      generator: 'class-prior',
      named: true,
      balance: false,
    });
    expect(chooseGenerator('vae', true, menu)).toMatchObject({ generator: 'vae', balance: true });
    expect(chooseGenerator(undefined, 'auto', menu)).toEqual({
      generator: 'vae',
      named: false,
      balance: false,
    });
  });
});

describe('localMenu', () => {
  beforeAll(async () => {
    await initWasmBackend();
  });

  it("offers what the target's folder can make, with the endpoints' default rule", async () => {
    const { manifest: older } = await writeTinyNetwork();
    const { manifest: mixed } = await writeTinyNetwork({ mixtures: true });
    expect(localMenu(older).offered?.map((g) => g.name)).toEqual(['vae', 'class-prior']);
    expect(localMenu(mixed).offered?.map((g) => g.name)).toEqual([
      'vae',
      'class-prior',
      'class-mixture',
    ]);
    expect(localMenu(mixed).defaultGenerator).toBe('vae');
    // 'auto' on the older folder falls back to its default
    expect(chooseGenerator('auto', 'auto', localMenu(older))).toMatchObject({ named: false });
    expect(chooseGenerator('auto', 'auto', localMenu(mixed))).toMatchObject({
      generator: 'class-mixture',
      balance: true,
    });
  });
});

describe('GeneratorRegistry', () => {
  it("reserves the name 'auto' for the client's choice", () => {
    const plugin = { ...builtinGenerators().get('vae')!, name: 'auto' };
    expect(() => new GeneratorRegistry().register(plugin)).toThrow(/reserved/);
  });
});
