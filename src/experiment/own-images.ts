import { loadNetwork } from '../core/model-folder';
import { deriveSeed } from '../core/rng';
import type { Dataset } from '../data/dataset';
import { concatDatasets, subsample } from '../data/subsample';
import { folderReader } from '../node/fs-atomic';
import { fitEncoder, reconstructImages } from '../train/encoder-fit';
import { networkData, type RepeatContext } from './networks';

/** What a row's target contributes of its own images (`Recipe.ownData` other than replay). */
export type OwnImagesKind = 'real' | 'real+replay' | 'reconstructions' | 'real+reconstructions';

const targetClasses = (ctx: RepeatContext): number => ctx.partition[ctx.target]!.length;

/**
 * The target's own training images for a row: at most `perClass` times its class count of
 * them (a seeded draw), as they are, or passed through its own generator
 * (`reconstructions`: an encoder fitted to its decoder, src/train/encoder-fit.ts), or both.
 */
export async function ownImagesFor(
  ctx: RepeatContext,
  targetDir: string,
  kind: OwnImagesKind,
  perClass: number | undefined,
): Promise<Dataset> {
  const all = networkData(ctx)[ctx.target]!.train;
  const real =
    perClass === undefined
      ? all
      : subsample(all, perClass * targetClasses(ctx), deriveSeed(ctx.seed, 'own-images'));
  if (kind === 'real' || kind === 'real+replay') return real;
  const net = await loadNetwork(folderReader(targetDir));
  try {
    ctx.log(`    fitting an encoder to ${net.manifest.networkId}'s decoder on its own images...`);
    const encoder = await fitEncoder(net.decoder, net.manifest, all, {
      epochs: 3,
      batchSize: 64,
      learningRate: 1e-3,
      klWeight: ctx.config.train.klWeight ?? 1,
      seed: deriveSeed(ctx.seed, 'own-encoder'),
      onEvent: (e) => {
        if (e.kind === 'epoch-end') {
          ctx.log(
            `      encoder epoch ${e.epoch}/${e.epochs} loss ${e.loss.toFixed(2)} (${e.imagesPerSecond.toFixed(0)} img/s)`,
          );
        }
      },
    });
    try {
      const recon = reconstructImages(encoder, net.decoder, real);
      return kind === 'reconstructions' ? recon : concatDatasets([real, recon]);
    } finally {
      encoder.dispose();
    }
  } finally {
    net.classifier.dispose();
    net.decoder.dispose();
  }
}

/** The target's generated replay per class, as the client's total. */
export const replaySamplesFor = (ctx: RepeatContext, perClass: number): number =>
  perClass * targetClasses(ctx);
