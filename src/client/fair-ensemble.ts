import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import {
  type CalibratedScorer,
  combineAnswers,
  createScorer,
  fitCalibration,
  scoreImages,
} from '../core/calibration';
import { ClientError } from './errors';
import type { LabelledImages, Predictor } from './evaluate';

/**
 * A fair ensemble of classifiers trained on disjoint classes. The naive ensemble
 * (`ensemblePredictor`) takes the element-wise max of the members' softmax outputs, but a
 * member that never saw an image's class still gives it a saturated softmax, so the max
 * often picks the wrong member. Here each member is calibrated on a held-out slice of its
 * OWN data only (`fitCalibration` in src/core/calibration: Mahalanobis score in its
 * penultimate features as a percentile of its own validation scores, temperature scaling),
 * and the ensemble's score for class c of member m is percentile_m(x) * softmax(logits_m / T_m)_c;
 * the prediction is the argmax over the union of classes. Endpoints answer the same per-member
 * quantities over HTTP (`POST /v1/label`), with the same code.
 */
export type CalibratedMember = CalibratedScorer;

/**
 * Calibrate one member on its own validation slice (images of its own classes only; labels
 * are class ids). The caller owns `classifier`; dispose the member with `disposeMember`.
 */
export function calibrateMember(
  classifier: tfl.LayersModel,
  classes: readonly number[],
  validation: LabelledImages,
): CalibratedMember {
  try {
    return createScorer(classifier, fitCalibration(classifier, classes, validation));
  } catch (e) {
    throw new ClientError((e as Error).message);
  }
}

export function disposeMember(m: CalibratedMember): void {
  m.dispose();
}

export function fairEnsemblePredictor(members: readonly CalibratedMember[]): Predictor {
  const classes = [...new Set(members.flatMap((m) => m.classes))].sort((a, b) => a - b);
  return {
    classes,
    predict: (x) => {
      const n = x.shape[0];
      const { values } = combineAnswers(
        members.map((m) => ({ classes: m.classes, answer: scoreImages(m, x) })),
        n,
      );
      return tf.tensor2d(values, [n, classes.length]);
    },
  };
}
