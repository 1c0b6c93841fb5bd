import { describe, expect, it } from 'vitest';
import { endpointVars, limitsFromVars, servedGeneratorsFromVars } from '../../src/worker/config';

describe('endpoint vars (wrangler.toml [vars])', () => {
  it('MAX_LABEL_COUNT bounds a label request; out of 1..1024 is refused naming the var', () => {
    expect(limitsFromVars(endpointVars({ MAX_LABEL_COUNT: '16' }))).toEqual({ maxLabelCount: 16 });
    expect(limitsFromVars(endpointVars({ MAX_LABEL_COUNT: '' }))).toEqual({});
    expect(() => endpointVars({ MAX_LABEL_COUNT: '0' })).toThrow(/MAX_LABEL_COUNT/);
    expect(() => endpointVars({ MAX_LABEL_COUNT: '2048' })).toThrow(/MAX_LABEL_COUNT/);
  });

  it('the packet queue vars pass through as limits', () => {
    expect(
      limitsFromVars(endpointVars({ MAX_CONCURRENT_PACKETS: '2', MAX_QUEUED_PACKETS: '0' })),
    ).toEqual({ maxConcurrentPackets: 2, maxQueuedPackets: 0 });
  });

  it('SERVED_GENERATORS is a comma-separated allow-list; empty or unset: every generator', () => {
    expect(
      servedGeneratorsFromVars(endpointVars({ SERVED_GENERATORS: 'vae, class-prior' })),
    ).toEqual(['vae', 'class-prior']);
    expect(servedGeneratorsFromVars(endpointVars({ SERVED_GENERATORS: '' }))).toBeUndefined();
    expect(servedGeneratorsFromVars(endpointVars({}))).toBeUndefined();
  });
});
