import { packetPath } from '../../core/api';
import { PACKET_MEDIA_TYPE } from '../../core/packet';
import { PacketQuerySchema } from '../query';
import { buildPacket, packetEtag } from '../served-network';
import { generatedRoute } from './generated';

/** `GET /v1/packet`: a safetensors knowledge packet of exactly `count` kept samples. */
export const packetRoutes = generatedRoute({
  path: '/packet',
  query: PacketQuerySchema,
  count: (l) => ({ count: l.defaultCount, maxCount: l.maxCount }),
  etag: packetEtag,
  headers: (p) => ({ 'content-location': packetPath(p) }),
  make: async (served, p, signal) => {
    const { bytes, metadata } = await buildPacket(served, p, signal);
    const name = `${metadata.networkId}-${p.generator}-n${p.count}-t${p.threshold}-s${p.seed}.safetensors`;
    return {
      body: bytes,
      headers: {
        'content-type': PACKET_MEDIA_TYPE,
        'content-disposition': `attachment; filename="${name}"`,
        'x-packet-generated': String(metadata.generated),
        'x-packet-kept': String(metadata.kept),
      },
    };
  },
});
