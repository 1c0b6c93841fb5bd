import { LABEL_MEDIA_TYPE, LabelResponseSchema, MAX_LABEL_COUNT } from '../core/api';
import type { MemberAnswer } from '../core/calibration';
import type { NetworkInfo } from './endpoint';
import { EndpointError } from './errors';
import { type EndpointAddress, type RetryOptions, requestWithRetry } from './http';
import { parseAnswer } from './parse-answer';

/** Largest label answer read: JSON of MAX_LABEL_COUNT rows over the network's classes. */
function maxLabelBytes(count: number, classes: number): number {
  return 4096 + count * (classes + 1) * 32;
}

/**
 * Ask an endpoint what its calibrated network says of `count` images (uint8 [count, H, W, C]
 * of the network's image shape): `POST /v1/label`. The answer is checked against the network
 * `/v1/network` described (id, digest, classes, row count) and returned as a `MemberAnswer`.
 */
export async function fetchLabels(
  endpoint: EndpointAddress,
  info: NetworkInfo,
  images: Uint8Array,
  count: number,
  opts: RetryOptions = {},
): Promise<MemberAnswer> {
  const limit = info.maxLabelCount ?? MAX_LABEL_COUNT;
  if (count < 1 || count > limit) {
    throw new EndpointError(
      'bad-request',
      endpoint.url,
      `POST /v1/label: ${count} images, the endpoint takes 1..${limit} per request`,
    );
  }
  const { body } = await requestWithRetry(
    endpoint,
    '/v1/label',
    { ...opts, maxBytes: maxLabelBytes(count, info.classes.length) },
    { method: 'POST', body: images, contentType: LABEL_MEDIA_TYPE },
  );
  const r = parseAnswer(LabelResponseSchema, body, endpoint.url, 'POST /v1/label');
  if (r.modelDigest !== info.modelDigest || r.networkId !== info.networkId) {
    throw new EndpointError(
      'digest-mismatch',
      endpoint.url,
      `POST /v1/label answered for ${r.networkId} ${r.modelDigest.slice(0, 12)}…, /v1/network describes ${info.networkId} ${info.modelDigest.slice(0, 12)}…`,
    );
  }
  if (r.classes.join(',') !== info.classes.join(',') || r.count !== count) {
    throw new EndpointError(
      'format',
      endpoint.url,
      `POST /v1/label: answered ${r.count} images over classes [${r.classes.join(',')}], asked ${count} over [${info.classes.join(',')}]`,
    );
  }
  const k = r.classes.length;
  const probabilities = new Float32Array(count * k);
  r.probabilities.forEach((row, i) => {
    probabilities.set(row, i * k);
  });
  return { score: Float32Array.from(r.score), probabilities };
}
