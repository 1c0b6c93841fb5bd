import { Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { LABEL_MEDIA_TYPE } from '../../core/api';
import { readBounded } from '../../core/bounded-read';
import type { AppEnv } from '../app';
import { apiError } from '../errors';
import { LabelAbortedError, labelImages, labelResponse } from '../served-network';

/** The media type of a Content-Type header, without its parameters, lower case. */
function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]!.trim().toLowerCase();
}

const aborted = () =>
  apiError(
    499 as ContentfulStatusCode,
    'client_closed_request',
    'the request was aborted by its client',
  );

/**
 * `POST /v1/label`: what the network's calibrated classifier says of the images in the body
 * (uint8 [count, H, W, C] of its image shape, `application/octet-stream`): each image's score
 * (percentile among the network's own validation scores) and its temperature-scaled
 * probabilities over the network's classes. The work goes through the endpoint's scheduler
 * (503 + Retry-After when its queue is full). See LabelResponseSchema in src/core/api.ts.
 */
export const labelRoutes = new Hono<AppEnv>().post('/label', async (c) => {
  const served = c.get('network');
  const { networkId, dataset } = served.net.manifest;
  if (!served.scorer) {
    throw apiError(
      404,
      'no_calibration',
      `network ${networkId} has no calibration.json in its model folder, so it does not answer POST /v1/label: calibrate it (npm run calibrate) or train it with a validation slice (npm run train -- --validation-fraction 0.1), then serve it again`,
    );
  }
  const [h, w, ch] = dataset.imageShape;
  const px = h * w * ch;
  const shape = `${h}x${w}x${ch}`;
  const type = mediaType(c.req.header('content-type'));
  if (type !== LABEL_MEDIA_TYPE) {
    throw apiError(
      415,
      'unsupported_media_type',
      `POST /v1/label takes Content-Type: ${LABEL_MEDIA_TYPE} (raw uint8 pixels of ${shape} images, row-major), not ${type || 'none'}`,
    );
  }
  const max = served.limits.maxLabelCount;
  const signal = c.req.raw.signal;
  // a body at most twice the limit is drained before the 413, so the client reads the answer
  const body = await readBounded(c.req.raw, max * px, max * px);
  if (!body) {
    throw apiError(
      413,
      'payload_too_large',
      `the body is more than ${max * px} bytes, i.e. more than ${max} images of ${shape} (${px} bytes each), this endpoint's limit per request: send at most ${max} images per request`,
    );
  }
  if (body.byteLength === 0 || body.byteLength % px !== 0) {
    throw apiError(
      400,
      'bad_body',
      body.byteLength === 0
        ? `the body is empty: send 1..${max} images of ${shape} uint8 pixels (${px} bytes each), row-major [count, H, W, C]`
        : `the body is ${body.byteLength} bytes, not a whole number of ${shape} images (${px} bytes each): send uint8 pixels [count, ${h}, ${w}, ${ch}] row-major, ${px} x count bytes`,
    );
  }
  const count = body.byteLength / px;
  if (signal.aborted) throw aborted();
  const answer = await labelImages(served, body, count, signal).catch((e: unknown): never => {
    if (e instanceof LabelAbortedError || signal.aborted) throw aborted();
    throw e;
  });
  if (signal.aborted) throw aborted();
  c.header('cache-control', 'no-store');
  return c.json(labelResponse(served, answer, count));
});
