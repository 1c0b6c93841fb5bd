import type { ExperimentResult } from './runner';
import { fmt, markdownTable } from './stats';

/** The results as markdown: the table (test and validation accuracy), then how it was made. */
export function resultsMarkdown(r: ExperimentResult): string {
  const hasValidation = r.rows.some((row) => row.validation);
  const table = markdownTable(
    [
      'approach',
      'test (mean ± std)',
      ...(hasValidation ? ['validation'] : []),
      'runs',
      'per repeat',
      'paper (10 runs)',
    ],
    r.rows.map((row) => [
      row.label,
      fmt(row),
      ...(hasValidation ? [row.validation ? fmt(row.validation) : '–'] : []),
      String(row.n),
      r.seeds
        .map((_, i) => {
          const run = r.runs.find((x) => x.row === row.id && x.repeat === i);
          return run ? run.accuracy.toFixed(4) : '–';
        })
        .join(' '),
      row.paper ? `${row.paper.mean.toFixed(3)} ± ${row.paper.std.toFixed(3)}` : '–',
    ]),
  );
  const m = r.machine;
  const d = r.dataset;
  const partitions = [...new Set(r.partitions.map((p) => p.map((g) => g.join(',')).join(' / ')))];
  return [
    `## Results: config \`${r.config.name}\` (${r.configHash}), ${r.repeats} repeat(s)`,
    '',
    table,
    '',
    `Dataset ${String(d.name)} (${String(d.dir)}${d.digest ? `, sha256 ${String(d.digest).slice(0, 16)}…` : ''}), ` +
      `${String(d.trainCount)} training / ${String(d.testCount)} test images. ` +
      `Partition${partitions.length > 1 ? 's' : ''}: ${partitions.join('; ')}; target ${r.target}. ` +
      `Selection threshold ${r.config.share.selectionThreshold}; fine-tuning ${JSON.stringify(r.config.finetune)}. ` +
      `Seeds: ${r.seeds.join(', ')} (base seed ${r.baseSeed}). Endpoints: ${r.runtime}. ` +
      `Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, Node ${m.node}, tfjs backend ${m.backend}` +
      `${m.nativeKernels ? ` + native kernels (${m.nativeKernels.blas}, ${m.nativeKernels.threads} threads)` : ''}. ` +
      `Wall time ${(r.seconds / 60).toFixed(1)} min (cached units count as 0).`,
    ...r.failures.map(
      (f) => `\nFailed: ${f.row}, repeat ${f.repeat + 1} (seed ${f.seed}): ${f.error}`,
    ),
    ...(r.missing.length > 0
      ? [
          '',
          `Not computed yet (${r.missing.length} of ${r.repeats * r.rows.length} units): ` +
            r.rows
              .map((row) => [row.id, r.missing.filter((u) => u.row === row.id)] as const)
              .filter(([, units]) => units.length > 0)
              .map(([id, units]) => `${id} repeat ${units.map((u) => u.repeat + 1).join(', ')}`)
              .join('; ') +
            '.',
        ]
      : []),
  ].join('\n');
}
