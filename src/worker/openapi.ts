import { z } from 'zod';
import {
  ErrorBodySchema,
  HealthSchema,
  LABEL_MEDIA_TYPE,
  LabelResponseSchema,
  NetworkDescriptionSchema,
  PacketQuerySchema,
  PreviewQuerySchema,
} from '../core/api';
import { ENDPOINT_VERSION } from './served-network';

/**
 * The OpenAPI 3.1 document of the endpoint, generated from the zod schemas the routes
 * validate with (src/core/api.ts) through zod's own JSON Schema output: no second copy of any
 * schema and no extra library in the Worker bundle. Query parameters are described as the
 * strings they arrive as (`io: 'input'`).
 */
type Json = Record<string, unknown>;

const schema = (s: z.ZodType, io: 'input' | 'output' = 'output'): Json => {
  const { $schema: _, ...rest } = z.toJSONSchema(s, { io, unrepresentable: 'any' }) as Json;
  return rest;
};

const json = (s: z.ZodType, description: string) => ({
  description,
  content: { 'application/json': { schema: schema(s) } },
});

const error = (description: string) => json(ErrorBodySchema, description);

function queryParameters(s: z.ZodObject): Json[] {
  return Object.entries(s.shape).map(([name, field]) => {
    const js = schema(field as z.ZodType, 'input');
    const { description, ...rest } = js;
    return { name, in: 'query', required: false, description, schema: rest };
  });
}

const packetHeaders = {
  ETag: { description: 'strong; known before generating', schema: { type: 'string' } },
  'X-Packet-Seed': { description: 'the seed used (drawn when absent)', schema: { type: 'string' } },
  'X-Cache': { description: 'hit or miss (seeded requests only)', schema: { type: 'string' } },
  'Cache-Control': {
    description:
      'public, immutable when seeded; private + Vary: Authorization when a token is set; no-store when the seed was drawn',
    schema: { type: 'string' },
  },
};

const generated = {
  '304': { description: 'If-None-Match matched the ETag (answered before generating)' },
  '400': error('invalid_query: a parameter is malformed, unknown, repeated or out of range'),
  '401': error('unauthorized: a token is set and the bearer token is missing or wrong'),
  '422': error('budget_exhausted: the threshold/classes cannot be met within the attempt budget'),
  '503': {
    ...error('overloaded (the packet queue is full; see Retry-After) or model_unavailable'),
    headers: { 'Retry-After': { schema: { type: 'integer' } } },
  },
};

export function openApiDocument(): Json {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Knowledge packet endpoint',
      version: String(ENDPOINT_VERSION),
      description:
        'One endpoint per network: generated images, soft-labelled by the network, kept where it is confident. See docs/API.md.',
    },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    paths: {
      '/healthz': {
        get: {
          summary: 'Liveness, the network loaded, the packet queue',
          responses: {
            '200': json(HealthSchema, 'the network is loaded'),
            '503': error('model_unavailable: the network failed to load'),
          },
        },
      },
      '/v1/openapi.json': {
        get: {
          summary: 'This document',
          responses: { '200': { description: 'OpenAPI 3.1', content: { 'application/json': {} } } },
        },
      },
      '/v1/network': {
        get: {
          summary: 'The public part of the manifest, generators, limits',
          security: [{ bearer: [] }, {}],
          responses: {
            '200': json(NetworkDescriptionSchema, 'the network'),
            '401': generated['401'],
          },
        },
      },
      '/v1/packet': {
        get: {
          summary: 'A safetensors knowledge packet of exactly `count` kept samples',
          security: [{ bearer: [] }, {}],
          parameters: queryParameters(PacketQuerySchema),
          responses: {
            '200': {
              description: 'the packet (safetensors: images U8 [N,H,W,C], soft_labels F32 [N,K])',
              headers: packetHeaders,
              content: {
                'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
              },
            },
            ...generated,
          },
        },
      },
      '/v1/label': {
        post: {
          summary:
            "What the network's calibrated classifier says of the images sent: each image's score and probabilities",
          description:
            "Only networks whose model folder holds calibration.json answer. The work shares the packet queue (503 + Retry-After when it is full). `score`: percentile of the image's score (minus its smallest Mahalanobis distance to the class means in the classifier's penultimate features) among the network's own validation scores; `probabilities`: softmax(logits / T). Bounded by limits.maxLabelCount images per request (GET /v1/network).",
          security: [{ bearer: [] }, {}],
          requestBody: {
            required: true,
            description:
              'count images of the network imageShape [H, W, C] (GET /v1/network), uint8 pixels row-major [count, H, W, C]; count = bytes / (H x W x C), 1..limits.maxLabelCount',
            content: { [LABEL_MEDIA_TYPE]: { schema: { type: 'string', format: 'binary' } } },
          },
          responses: {
            '200': {
              ...json(LabelResponseSchema, 'one score and one row of probabilities per image'),
              headers: { 'Cache-Control': { schema: { type: 'string', const: 'no-store' } } },
            },
            '400': error('bad_body: the body is empty or not a whole number of images'),
            '401': generated['401'],
            '404': error('no_calibration: the network has no calibration.json'),
            '405': error('method_not_allowed: only POST'),
            '413': error('payload_too_large: more than limits.maxLabelCount images'),
            '415': error(`unsupported_media_type: the Content-Type is not ${LABEL_MEDIA_TYPE}`),
            '503': generated['503'],
          },
        },
      },
      '/v1/preview.png': {
        get: {
          summary: 'Generated samples as a PNG grid, one row group per predicted class',
          security: [{ bearer: [] }, {}],
          parameters: queryParameters(PreviewQuerySchema),
          responses: {
            '200': {
              description: 'PNG',
              headers: packetHeaders,
              content: { 'image/png': { schema: { type: 'string', format: 'binary' } } },
            },
            ...generated,
          },
        },
      },
    },
  };
}
