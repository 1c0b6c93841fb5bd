import {
  defaultCrossLabelOwn,
  evaluate,
  modelPredictor,
  type RunClientOptions,
  runClient,
} from '../../client';
import { deriveSeed } from '../../core/rng';
import type { EndpointRuntime } from '../../worker-host/local-endpoint';
import { calibratedDirs } from '../calibrated';
import { withFleet } from '../fleet';
import { networkDirs, type RepeatContext, validationUnion, withNetworks } from '../networks';
import { ownImagesFor, replaySamplesFor } from '../own-images';
import type { RowSpec } from '../rows';
import { paperEnsemble, type RowBase, type RowRun, summarise } from './row-run';

/** The fields of `o` that are set (a recipe's unset fields keep the config's values). */
function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The client options of a generative row: the config's sharing settings, then the recipe's. */
export type ClientSettings = ReturnType<typeof clientSettings>;

/**
 * Whether a cached row was computed with exactly these client settings (its `detail` holds
 * them): a change of a default never serves a stale row.
 */
export function sameSettings(detail: unknown, settings: ClientSettings): boolean {
  if (typeof detail !== 'object' || detail === null) return false;
  const d = detail as Record<string, unknown>;
  return Object.entries(settings).every(
    ([k, v]) => canonical(d[k] ?? defaultOf(k, d)) === canonical(v),
  );
}

/** JSON with object keys sorted, so key order does not matter. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b)))
      : x,
  );
}

/** Settings that rows cached before they existed did not record, at their value then. */
function defaultOf(key: string, recorded: Record<string, unknown>): unknown {
  const crossLabel = recorded.crossLabel ?? 0;
  return (
    { crossLabel, crossLabelScope: 'all', crossLabelOwn: crossLabel } as Record<string, unknown>
  )[key];
}

export function clientSettings(ctx: RepeatContext, row: RowSpec) {
  const { share, finetune } = ctx.config;
  const r = row.recipe;
  // A recipe is one change from the paper config's recipe, the selection row: an unset
  // threshold is the selection threshold (until 2026-12-03 it fell to 0, so every recipe row
  // also dropped the confidence filter; rows cached that way are recomputed, see runner.ts).
  const threshold = r?.threshold ?? (row.selection || r ? share.selectionThreshold : 0);
  return {
    samplesPerClass: r?.samplesPerClass ?? share.samplesPerClass,
    threshold,
    generator: r?.generator ?? share.generator,
    balanceClasses: r?.balance ?? share.balance,
    labelTemperature: r?.labelTemperature ?? 1,
    freshSamples: r?.freshSamples ?? false,
    ownData: r?.ownData ?? 'replay',
    crossLabel: r?.crossLabel ?? 0,
    crossLabelScope: r?.crossLabelScope ?? 'all',
    crossLabelOwn: r?.crossLabelOwn ?? defaultCrossLabelOwn(r?.ownImagesLoss) ?? r?.crossLabel ?? 0,
    ...definedOnly({
      ownSamplesPerClass: r?.ownSamplesPerClass,
      replaySamplesPerClass: r?.replaySamplesPerClass,
      ownBlends: r?.ownBlends,
      ownImagesLoss: r?.ownImagesLoss,
    }),
    schedule: { ...finetune, ...definedOnly(r?.finetune ?? {}) } as typeof finetune,
  };
}

/**
 * A generative row: the networks of the row's variant served by local endpoints (HTTP), the
 * client fetching their packets and fine-tuning the target, scored on the test set and on
 * the networks' validation slices; the merged network's inference time beside the ensemble's.
 */
export async function generativeRow(
  ctx: RepeatContext,
  base: RowBase,
  row: RowSpec,
  runtime: EndpointRuntime,
): Promise<RowRun> {
  const settings = clientSettings(ctx, row);
  const dirs =
    settings.crossLabel > 0
      ? await calibratedDirs(ctx, row.variant!)
      : await networkDirs(ctx, row.variant!);
  const targetDir = dirs[ctx.target]!;
  const res = await withFleet(dirs, { runtime }, async (fleet) => {
    ctx.log(`  ${row.id}: ${fleet.members.length} endpoints up (${runtime}), fetching packets...`);
    let lastLog = 0;
    const opts: RunClientOptions = {
      endpoints: fleet.members.map((m) => ({ url: m.url })),
      targetDir,
      samplesPerClass: settings.samplesPerClass,
      threshold: settings.threshold,
      seed: deriveSeed(ctx.seed, row.id),
      chunkSize: ctx.config.share.chunkSize,
      concurrency: ctx.config.share.concurrency,
      generator: settings.generator,
      balanceClasses: settings.balanceClasses,
      labelTemperature: settings.labelTemperature,
      freshSamples: settings.freshSamples,
      crossLabel: settings.crossLabel,
      crossLabelScope: settings.crossLabelScope,
      crossLabelOwn: settings.crossLabelOwn,
      schedule: settings.schedule,
      ...(settings.replaySamplesPerClass === undefined
        ? {}
        : { replaySamples: replaySamplesFor(ctx, settings.replaySamplesPerClass) }),
      test: ctx.test,
      ...(settings.ownData === 'replay'
        ? {}
        : // the endpoints run here; the row measures the client with the owner's consent
          {
            ownImages: await ownImagesFor(
              ctx,
              targetDir,
              settings.ownData,
              settings.ownSamplesPerClass,
            ),
            shareOwnImages: true,
            ownBlends: settings.ownBlends,
            ownImagesLoss: settings.ownImagesLoss,
            keepReplay: settings.ownData === 'real+replay',
          }),
      onEvent: (e) => {
        const now = performance.now();
        if (e.kind === 'download' && now - lastLog > 5000) {
          lastLog = now;
          ctx.log(`    ${e.endpoint}: ${e.kept}/${e.wanted} samples`);
        } else if (e.kind === 'epoch') {
          ctx.log(
            `    fine-tune epoch ${e.epoch}/${e.epochs} loss ${e.loss.toFixed(4)} (${e.imagesPerSecond.toFixed(0)} img/s)`,
          );
        } else if (e.kind === 'cross-labelled') {
          ctx.log(
            `    cross-labelled: the fair ensemble agrees with the sender on ${(100 * e.agreement).toFixed(1)} %`,
          );
        } else if (e.kind === 'balance-dropped') {
          ctx.log(`    ${e.endpoint}: balanced quotas dropped (${e.message})`);
        } else if (e.kind === 'retry') {
          ctx.log(`    retry ${e.attempt}: ${e.message}`);
        }
      },
    };
    return runClient(opts);
  });
  try {
    const merged = modelPredictor(res.model, res.classes);
    // The test set was scored by runClient (res.merged); the validation union here.
    const val = validationUnion(ctx);
    const v = val ? await evaluate(merged, val) : undefined;
    // inference time of the merged network vs the ensemble of the same networks
    const { ensembleSeconds, mergedSeconds } = await withNetworks(dirs, async (nets) => {
      const ens = paperEnsemble(nets);
      await evaluate(ens, { ...ctx.test, count: Math.min(500, ctx.test.count) }); // warm-up
      const ensembleSeconds = (await evaluate(ens, ctx.test)).seconds;
      return { ensembleSeconds, mergedSeconds: (await evaluate(merged, ctx.test)).seconds };
    });
    return {
      ...base,
      target: res.targetId,
      ...summarise(res.merged!, v),
      seconds: {
        fetch: res.seconds.fetch,
        finetune: res.seconds.finetune,
        mergedInference: mergedSeconds,
        ensembleInference: ensembleSeconds,
      },
      detail: {
        ...settings,
        generators: res.settings.generators,
        sources: res.sources,
        targetAloneAccuracy: res.target?.accuracy,
        ...(res.crossLabelAgreement === undefined
          ? {}
          : { crossLabelAgreement: res.crossLabelAgreement }),
        finetuneLoss: res.history.map((h) => h.loss),
      },
    };
  } finally {
    res.model.dispose();
  }
}
