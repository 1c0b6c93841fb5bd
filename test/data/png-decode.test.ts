import { deflateSync } from 'node:zlib';
import { encode } from 'fast-png';
import { describe, expect, it } from 'vitest';
import { encodePng } from '../../src/core/png';
import { decodePngImage } from '../../src/data/png-decode';
import { craftPng } from './png-craft';

const px = (n: number, f: (i: number) => number) => Uint8Array.from({ length: n }, (_, i) => f(i));

describe('decodePngImage', () => {
  it('reads 8-bit grayscale and RGB as they are', () => {
    const gray = px(6, (i) => i * 40);
    expect(decodePngImage(encodePng(gray, 3, 2, 1), 'g.png')).toEqual({
      width: 3,
      height: 2,
      channels: 1,
      pixels: gray,
    });
    const rgb = px(18, (i) => 255 - i);
    const d = decodePngImage(encodePng(rgb, 3, 2, 3), 'c.png');
    expect(d.channels).toBe(3);
    expect(d.pixels).toEqual(rgb);
  });

  it('drops alpha: RGBA -> RGB, grayscale+alpha -> grayscale', () => {
    const rgba = px(8, (i) => i + 1);
    const d = decodePngImage(encodePng(rgba, 2, 1, 4), 'a.png');
    expect(d.channels).toBe(3);
    expect(d.pixels).toEqual(Uint8Array.from([1, 2, 3, 5, 6, 7]));
    const ga = encode({ width: 2, height: 1, channels: 2, depth: 8, data: px(4, (i) => 10 * i) });
    const g = decodePngImage(ga, 'ga.png');
    expect(g.channels).toBe(1);
    expect(g.pixels).toEqual(Uint8Array.from([0, 20]));
  });

  it('expands palettes (gray palette -> 1 channel, colour -> 3) and scales 1-bit gray', () => {
    const rows = [Uint8Array.from([0, 1]), Uint8Array.from([1, 0])];
    const grayPal = craftPng({
      width: 2,
      height: 2,
      depth: 8,
      colorType: 3,
      rows,
      palette: [
        [7, 7, 7],
        [200, 200, 200],
      ],
    });
    expect(decodePngImage(grayPal, 'p.png')).toMatchObject({
      channels: 1,
      pixels: Uint8Array.from([7, 200, 200, 7]),
    });
    const colourPal = craftPng({
      width: 2,
      height: 1,
      depth: 1,
      colorType: 3,
      rows: [Uint8Array.from([0b0100_0000])],
      palette: [
        [255, 0, 0],
        [0, 0, 255],
      ],
    });
    expect(decodePngImage(colourPal, 'q.png')).toMatchObject({
      channels: 3,
      pixels: Uint8Array.from([255, 0, 0, 0, 0, 255]),
    });
    // 1-bit grayscale, 10 pixels wide: two bytes per row, the last 6 bits padding
    const bits = craftPng({
      width: 10,
      height: 1,
      depth: 1,
      colorType: 0,
      rows: [Uint8Array.from([0b1010_0000, 0b0100_0000])],
    });
    expect(Array.from(decodePngImage(bits, 'b.png').pixels)).toEqual([
      255, 0, 255, 0, 0, 0, 0, 0, 0, 255,
    ]);
  });

  it('names the file and the fault for broken files', () => {
    const good = encodePng(
      px(16, (i) => i),
      4,
      4,
      1,
    );
    expect(() => decodePngImage(good.subarray(0, good.length - 20), 'cut.png')).toThrow(
      /cut\.png: truncated PNG \(\d+ bytes, ends inside the IDAT chunk\)/,
    );
    expect(() => decodePngImage(good.subarray(0, 30), 'cut2.png')).toThrow(
      /cut2\.png: truncated PNG.*copy or export it again/,
    );
    const jpeg = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 74, 70, 73, 70, 0]);
    expect(() => decodePngImage(jpeg, 'x.png')).toThrow(
      /x\.png: a JPEG image; the image-folder layout reads PNG images only: convert it/,
    );
    expect(() => decodePngImage(new TextEncoder().encode('hello world'), 't.png')).toThrow(
      /t\.png: not a PNG \(it starts with 0x68656c6c\)/,
    );
    expect(() => decodePngImage(new Uint8Array(0), 'e.png')).toThrow(/e\.png: an empty file/);
    const deep = encode({ width: 2, height: 1, channels: 1, depth: 16, data: new Uint16Array(2) });
    expect(() => decodePngImage(deep, 'd.png')).toThrow(
      /d\.png: 16-bit grayscale PNG; only 8-bit images are read.*-depth 8/,
    );
    // image data cut short inside a valid chunk
    const short = craftPng({
      width: 4,
      height: 4,
      depth: 8,
      colorType: 0,
      rows: [],
      idat: deflateSync(new Uint8Array(10)),
    });
    expect(() => decodePngImage(short, 's.png')).toThrow(
      /s\.png: truncated PNG \(image data holds 10 of the 20 bytes a 4x4 image needs\)/,
    );
    // a small file that inflates far past its header (a decompression bomb)
    const bomb = craftPng({
      width: 4,
      height: 4,
      depth: 8,
      colorType: 0,
      rows: [],
      idat: deflateSync(new Uint8Array(1_000_000)),
    });
    expect(bomb.length).toBeLessThan(2000);
    expect(() => decodePngImage(bomb, 'bomb.png')).toThrow(
      /bomb\.png: broken PNG \(its image data inflates to more than the 20 bytes/,
    );
    const badCrc = good.slice();
    badCrc[good.length - 1]! ^= 0xff; // the IEND chunk's CRC
    expect(() => decodePngImage(badCrc, 'crc.png')).toThrow(/crc\.png: broken PNG \(CRC mismatch/);
  });
});
