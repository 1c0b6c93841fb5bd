/** What long training work reports; the CLI renders it, tests ignore or collect it. */
export type TrainStage = 'classifier' | 'vae' | 'vae-adversarial' | 'priors';

export type TrainEvent =
  | {
      kind: 'stage-start';
      network: string;
      stage: TrainStage;
      epochs: number;
      batchesPerEpoch: number;
    }
  | {
      kind: 'batch';
      network: string;
      stage: TrainStage;
      epoch: number;
      batch: number;
      batchesPerEpoch: number;
      loss: number;
      imagesPerSecond: number;
    }
  | {
      kind: 'epoch-end';
      network: string;
      stage: TrainStage;
      epoch: number;
      epochs: number;
      loss: number;
      seconds: number;
      imagesPerSecond: number;
      /** Held-out accuracy after this epoch, where measured. */
      accuracy?: number;
    };

export type OnTrainEvent = (e: TrainEvent) => void;

export const silent: OnTrainEvent = () => {};
