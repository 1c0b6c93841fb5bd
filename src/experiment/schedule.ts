import { UnitBusyError, type WaitPolicy } from './unit-store';

/**
 * Run every task once, in order, sharing the units with other processes: a task that meets a
 * unit another process holds (UnitBusyError, `policy.waiting` off) is set aside and tried
 * again before each later task, so a repeat's rows finish as soon as the networks they wait
 * for do, not after every other repeat; what is still held at the end is waited for
 * (`policy.waiting` on), in order.
 */
export async function runSharedTasks<T>(
  tasks: readonly T[],
  run: (task: T) => Promise<void>,
  policy: WaitPolicy,
): Promise<void> {
  const setAside: T[] = [];
  const attempt = async (task: T): Promise<void> => {
    try {
      await run(task);
    } catch (e) {
      if (!(e instanceof UnitBusyError)) throw e;
      setAside.push(task);
    }
  };
  for (const task of tasks) {
    for (const earlier of setAside.splice(0)) await attempt(earlier);
    await attempt(task);
  }
  policy.waiting = true;
  for (const task of setAside.splice(0)) await run(task);
}
