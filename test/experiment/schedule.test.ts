import { describe, expect, it } from 'vitest';
import { runSharedTasks } from '../../src/experiment/schedule';
import { UnitBusyError, type WaitPolicy } from '../../src/experiment/unit-store';

describe('runSharedTasks', () => {
  it('retries a task set aside before each later one, and waits for the rest at the end', async () => {
    const policy: WaitPolicy = { waiting: false };
    // 'a' is held by another process for one attempt, 'c' until this process would wait
    let aHeld = 1;
    const finished: string[] = [];
    const attempts: string[] = [];
    await runSharedTasks(
      ['a', 'b', 'c', 'd'],
      async (t) => {
        attempts.push(t);
        if (t === 'a' && aHeld-- > 0) throw new UnitBusyError(t);
        if (t === 'c' && !policy.waiting) throw new UnitBusyError(t);
        finished.push(t);
      },
      policy,
    );
    // a repeat's row finishes as soon as its unit is free, not after every later task
    expect(finished).toEqual(['a', 'b', 'd', 'c']);
    expect(attempts).toEqual(['a', 'a', 'b', 'c', 'c', 'd', 'c']);
    expect(policy.waiting).toBe(true);
  });

  it('lets any other error through at once', async () => {
    const ran: string[] = [];
    await expect(
      runSharedTasks(
        ['a', 'b'],
        async (t) => {
          ran.push(t);
          throw new Error(`broken ${t}`);
        },
        { waiting: false },
      ),
    ).rejects.toThrow('broken a');
    expect(ran).toEqual(['a']);
  });
});
