import type { LoadedNetwork } from '../core/model-folder';
import { decodePacket } from '../core/packet';
import { deriveSeed } from '../core/rng';
import { createApp } from '../worker/app';
import { createServedNetwork } from '../worker/served-network';

/**
 * What a network would share: packets from its own endpoint app, in process (the same
 * sampler, thresholds and byte quantisation as a served packet), decoded with the strict codec.
 */
export interface SharedSamplesOptions {
  generator: string;
  count: number;
  seed: number;
  /** Keep samples whose top probability reaches it, as the endpoint does. Default 0. */
  threshold?: number;
}

export async function sharedSamples(
  net: LoadedNetwork,
  opts: SharedSamplesOptions,
): Promise<Uint8Array> {
  const served = createServedNetwork(net, { kernels: 'fast' });
  const app = createApp({ network: async () => served, token: () => undefined });
  const [h, w, c] = net.manifest.dataset.imageShape;
  const px = h * w * c;
  const out = new Uint8Array(opts.count * px);
  const step = served.limits.maxCount;
  for (let done = 0, i = 0; done < opts.count; i++) {
    const q = new URLSearchParams({
      count: String(Math.min(step, opts.count - done)),
      seed: String(deriveSeed(opts.seed, `audit-${i}`)),
      threshold: String(opts.threshold ?? 0),
      generator: opts.generator,
    });
    const res = await app.request(`/v1/packet?${q.toString()}`);
    if (res.status !== 200) {
      const body = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
      throw new Error(
        `generator ${opts.generator}: the endpoint answered ${res.status}: ${body.error?.message ?? ''}`,
      );
    }
    const p = decodePacket(new Uint8Array(await res.arrayBuffer()));
    out.set(p.images, done * px);
    done += p.metadata.kept;
  }
  return out;
}
