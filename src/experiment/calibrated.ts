import { join } from 'node:path';
import { CALIBRATION_FILE } from '../core/calibration';
import type { Variant } from '../core/manifest';
import { readManifest } from '../core/model-folder';
import { folderReader, pathExists } from '../node/fs-atomic';
import { calibrateNetworkFolder } from '../train/calibrate-folder';
import { networkData, networkDirs, type RepeatContext, variantKey } from './networks';
import { computeOnce } from './unit-store';

/**
 * The model folders of this repeat's networks for `variant`, each with its calibration.json
 * (what `POST /v1/label` answers with): a network trained with a validation slice has one;
 * one trained before networks were calibrated gets a calibrated copy, a unit of its own
 * (`<train root>/s<seed>/calibrated/<variant>/<net>`), fitted on exactly the validation slice
 * its training held out, so no network sees another's data.
 */
export async function calibratedDirs(ctx: RepeatContext, variant: Variant): Promise<string[]> {
  const dirs = await networkDirs(ctx, variant);
  const own = networkData(ctx);
  const out: string[] = [];
  for (let i = 0; i < dirs.length; i++) {
    const dir = dirs[i]!;
    const manifest = await readManifest(folderReader(dir));
    if (manifest.files[CALIBRATION_FILE] !== undefined) {
      out.push(dir);
      continue;
    }
    const validation = own[i]!.validation;
    if (validation.count === 0) {
      throw new Error(
        `cross-labelling needs each network's validation slice: set train.validationFraction in the config`,
      );
    }
    const copy = join(
      ctx.store.trainRoot,
      `s${ctx.seed}`,
      'calibrated',
      variantKey(variant),
      ctx.ids[i]!,
    );
    await computeOnce(
      copy,
      async () => ((await pathExists(join(copy, 'manifest.json'))) ? true : undefined),
      async () => {
        ctx.log(`  calibrating ${ctx.ids[i]} (${variantKey(variant)}) on its validation slice...`);
        await calibrateNetworkFolder({ modelDir: dir, outDir: copy, images: validation });
        return true;
      },
      ctx.policy,
      () => ctx.log(`  waiting for ${ctx.ids[i]}'s calibration (another process makes it)...`),
    );
    out.push(copy);
  }
  return out;
}
