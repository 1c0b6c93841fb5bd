import { describe, expect, it } from 'vitest';
import { runScript } from './run-script';

const sweep = (...args: string[]) => runScript('sweep-finetune.ts', ...args);

describe('npm run sweep:finetune (CLI)', () => {
  it('rejects bad schedules and too few networks, naming the flag', async () => {
    const r = await sweep('--net', 'models/net-a', '--schedules', '[{"epoch":3}]');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/--net: give at least two/);
    expect(r.err).toMatch(/--schedules \(item 1\): Unrecognized key: "epoch"/);
    expect(r.err).not.toMatch(/ at .*\.ts:\d+/);
  });

  it('fine-tunes the demo target once per schedule from the same packets', async () => {
    const r = await sweep(
      ...['--net', 'models/net-a', '--net', 'models/net-b'],
      ...['--samples-per-class', '150', '--native-threads', '1'],
      ...['--schedules', '[{"epochs":2},{"epochs":2,"frozenLayers":["conv1"],"shiftPixels":1}]'],
    );
    expect(r.code).toBe(0);
    const json = r.out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const lines = json.filter((l) => 'schedule' in l) as {
      selectionAccuracy: number;
      perClass: number[];
      schedule: object;
    }[];
    expect(lines.map((l) => l.schedule)).toEqual([
      { epochs: 2 },
      { epochs: 2, frozenLayers: ['conv1'], shiftPixels: 1 },
    ]);
    for (const l of lines) {
      expect(l.perClass).toHaveLength(10);
      // the target alone knows 5 of 10 classes (~0.5); 1500 packets lift it
      expect(l.selectionAccuracy).toBeGreaterThan(0.6);
    }
    // last: the schedule with the best selection score, scored once on the other half
    const chosen = json.at(-1) as {
      chosen: object;
      selectionAccuracy: number;
      reportAccuracy: number;
      reportImages: number;
    };
    const best = lines.reduce((a, b) => (b.selectionAccuracy > a.selectionAccuracy ? b : a));
    expect(chosen.chosen).toEqual(best.schedule);
    expect(chosen.selectionAccuracy).toBe(best.selectionAccuracy);
    expect(chosen.reportAccuracy).toBeGreaterThan(0.6);
    expect(chosen.reportImages).toBe(5000);
    expect(r.out).toMatch(/threshold 0.9, 1500 merged samples, selection half 5000 images/);
  }, 120_000);
});
