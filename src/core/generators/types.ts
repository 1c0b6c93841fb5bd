import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { Manifest } from '../manifest';
import type { Rng } from '../rng';

/** What a generator may use: the network's manifest and its loaded generator model. */
export interface GeneratorModels {
  manifest: Manifest;
  /** The model under `generator/` (for 'vae-decoder' manifests: z -> image in [0, 1]). */
  decoder: tfl.LayersModel;
}

export interface SampleRequest {
  /** How many images to make. */
  count: number;
  /** The only source of randomness: draw from it, in a fixed order, so a seed fixes the output. */
  rng: Rng;
  /**
   * For generators with `targetsClasses`: the class id each sample should be aimed at
   * (length `count`). Generators that cannot aim ignore it; the classifier decides anyway.
   */
  targets: readonly number[];
}

/**
 * A generator plug-in: makes candidate images that the endpoint then labels with the
 * network's classifier and filters by confidence. Register it in `index.ts`; routes, the
 * packet format and the client pick it up by name.
 */
export interface GeneratorPlugin {
  /** Name used in `?generator=` and in packet metadata: lowercase, digits, dashes. */
  readonly name: string;
  readonly description: string;
  /** Bump when the same seed would yield different images: it is part of packet ETags. */
  readonly version: number;
  /** Whether `sample` honours `targets`; then class quotas are filled directly. */
  readonly targetsClasses: boolean;
  /** Why this network cannot offer the generator, or undefined when it can. */
  unavailableReason(manifest: Manifest): string | undefined;
  /** Images [count, H, W, C] with values in [0, 1]; the caller disposes the tensor. */
  sample(models: GeneratorModels, request: SampleRequest): tf.Tensor4D;
}
