import cliProgress from 'cli-progress';
import type { OnTrainEvent } from './progress';

/**
 * Renders training events for a person: a progress bar per stage and epoch on a terminal
 * (loss, images/s), and one line per epoch when output is not a terminal (CI, logs).
 */
export function trainProgressView(stream: NodeJS.WriteStream = process.stderr): {
  onEvent: OnTrainEvent;
  stop: () => void;
} {
  const tty = stream.isTTY === true;
  let bar: cliProgress.SingleBar | undefined;
  const stop = () => {
    bar?.stop();
    bar = undefined;
  };
  const onEvent: OnTrainEvent = (e) => {
    if (e.kind === 'stage-start') {
      stream.write(`${e.network} ${e.stage}: ${e.epochs} epochs x ${e.batchesPerEpoch} batches\n`);
      return;
    }
    if (e.kind === 'batch') {
      if (!tty) return;
      if (!bar) {
        bar = new cliProgress.SingleBar(
          {
            stream,
            format: `${e.network} ${e.stage} epoch ${e.epoch} [{bar}] {value}/{total} batches | loss {loss} | {ips} img/s | eta {eta}s`,
            hideCursor: true,
            clearOnComplete: true,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(e.batchesPerEpoch, 0, { loss: '-', ips: '-' });
      }
      bar.update(e.batch, { loss: e.loss.toFixed(4), ips: e.imagesPerSecond.toFixed(0) });
      return;
    }
    stop();
    const acc = e.accuracy === undefined ? '' : ` | held-out acc ${e.accuracy.toFixed(4)}`;
    stream.write(
      `${e.network} ${e.stage} epoch ${e.epoch}/${e.epochs} | loss ${e.loss.toFixed(4)} | ${e.imagesPerSecond.toFixed(0)} img/s | ${e.seconds.toFixed(1)} s${acc}\n`,
    );
  };
  return { onEvent, stop };
}
