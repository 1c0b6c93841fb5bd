import { describe, expect, it } from 'vitest';
import { filterImages } from '../../../src/experiment/probes/blur';
import { describeImages } from '../../../src/experiment/probes/image-stats';

// two 4 x 4 images: a flat one, and one with a vertical edge between columns 1 and 2
const flat = new Array(16).fill(100);
const edge = Array.from({ length: 16 }, (_, i) => (i % 4 >= 2 ? 200 : 0));
const images = Uint8Array.from([...flat, ...edge]);

describe('the blur probe', () => {
  it('a blur keeps flat images and softens edges; an unsharp mask steepens them', () => {
    const blurred = filterImages(images, 2, 4, 4, 1);
    expect(Array.from(blurred.subarray(0, 16))).toEqual(flat);
    const row = Array.from(blurred.subarray(16, 20));
    expect(row[1]!).toBeGreaterThan(0);
    expect(row[2]!).toBeLessThan(200);
    const sharp = filterImages(images, 2, 4, 4, 1, 1);
    expect(Array.from(sharp.subarray(0, 16))).toEqual(flat);
    expect(sharp[16 + 1]).toBe(0); // clipped at 0
    expect(sharp[16 + 2]).toBe(255); // clipped at 255
  });
});

describe('the image-stats probe', () => {
  it('brightness, inked pixels and horizontal steps of the chosen images', () => {
    expect(describeImages(images, [0], 4, 4)).toEqual({
      count: 1,
      brightness: 100,
      inkedPixels: 16,
      horizontalStep: 0,
    });
    // the edge image: half its pixels at 200; one step of 200 per row, 4 rows, over 16 pixels
    expect(describeImages(images, [1], 4, 4)).toEqual({
      count: 1,
      brightness: 100,
      inkedPixels: 8,
      horizontalStep: 50,
    });
  });
});
