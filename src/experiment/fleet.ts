import { type EndpointRuntime, startLocalEndpoint } from '../worker-host/local-endpoint';

export interface FleetMember {
  url: string;
  networkId: string;
  modelDir: string;
}

export interface Fleet {
  members: FleetMember[];
  stop(): Promise<void>;
}

/**
 * One local endpoint per model folder, on 127.0.0.1 with free ports. If one fails to start,
 * the ones already started are stopped before the error is rethrown.
 */
export async function startFleet(
  modelDirs: readonly string[],
  opts: { runtime: EndpointRuntime; tokens?: readonly (string | undefined)[] },
): Promise<Fleet> {
  const started: { member: FleetMember; stop: () => Promise<void> }[] = [];
  const stopAll = async () => {
    const all = started.splice(0);
    await Promise.allSettled(all.map((s) => s.stop()));
  };
  try {
    for (const [i, modelDir] of modelDirs.entries()) {
      const token = opts.tokens?.[i];
      const ep = await startLocalEndpoint({
        modelDir,
        runtime: opts.runtime,
        ...(token ? { token } : {}),
      });
      started.push({ member: { url: ep.url, networkId: ep.networkId, modelDir }, stop: ep.stop });
    }
  } catch (e) {
    await stopAll();
    throw e;
  }
  return { members: started.map((s) => s.member), stop: stopAll };
}

/** Run `fn` with a fleet up, and always stop it afterwards. */
export async function withFleet<T>(
  modelDirs: readonly string[],
  opts: { runtime: EndpointRuntime },
  fn: (fleet: Fleet) => Promise<T>,
): Promise<T> {
  const fleet = await startFleet(modelDirs, opts);
  try {
    return await fn(fleet);
  } finally {
    await fleet.stop();
  }
}
