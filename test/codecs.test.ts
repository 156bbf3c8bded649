// The checksums and the LZ4 block decoder that name a damaged replica object. Reference
// values from the python-xxhash package and the CRC-64/GO-ISO catalogue entry.
import { describe, expect, it } from 'vitest';
import { Crc64Iso } from '../src/codec/crc64.js';
import { decodeLz4Block } from '../src/codec/lz4-block.js';
import { Xxh32 } from '../src/codec/xxh32.js';

function xxh32(data: Uint8Array, pieces: number[] = []): number {
  const hash = new Xxh32();
  let at = 0;
  for (const size of pieces) {
    hash.update(data.subarray(at, at + size));
    at += size;
  }
  hash.update(data.subarray(at));
  return hash.digest();
}

describe('Xxh32', () => {
  it('matches the reference for short, stripe-sized and long inputs, however they are fed', () => {
    expect(xxh32(Buffer.from(''))).toBe(0x02cc5d05);
    expect(xxh32(Buffer.from('a'))).toBe(0x550d7456);
    expect(xxh32(Buffer.from('abc'))).toBe(0x32d153ff);
    const sentence = Buffer.from('Nobody inspects the spammish repetition');
    expect(xxh32(sentence)).toBe(0xe2293b2f);
    expect(xxh32(sentence, [1, 7, 16, 3])).toBe(0xe2293b2f);
    const bytes = Uint8Array.from({ length: 1280 }, (_, i) => i % 256);
    expect(xxh32(bytes)).toBe(0x1695c58b);
    expect(xxh32(bytes, [15, 17, 600])).toBe(0x1695c58b);
  });
});

describe('Crc64Iso', () => {
  it("matches Go's crc64.ISO check value, in one piece or several", () => {
    const whole = new Crc64Iso();
    whole.update(Buffer.from('123456789'));
    expect(whole.digest()).toBe(0xb90956c775a41001n);
    const pieces = new Crc64Iso();
    pieces.update(Buffer.from('1234'));
    pieces.update(Buffer.from('56789'));
    expect(pieces.digest()).toBe(0xb90956c775a41001n);
  });
});

describe('decodeLz4Block', () => {
  it('decodes literals and overlapping matches, and refuses output past the buffer', () => {
    // 'a', then a match of 6 at offset 1, then the literals "bc".
    const block = Uint8Array.from([0x12, 0x61, 0x01, 0x00, 0x20, 0x62, 0x63]);
    const out = new Uint8Array(9);
    expect(decodeLz4Block(block, 0, block.length, out, 0)).toBe(9);
    expect(Buffer.from(out).toString()).toBe('aaaaaaabc');
    expect(() => decodeLz4Block(block, 0, block.length, new Uint8Array(8), 0)).toThrow(/past its stated size/);
  });

  it('copies from the history before the block only when given one', () => {
    // A match of 4 at offset 2, with no literals: it needs 2 bytes of history.
    const block = Uint8Array.from([0x00, 0x02, 0x00, 0x00]);
    expect(() => decodeLz4Block(block, 0, 3, new Uint8Array(8), 2)).toThrow(/refers before its data/);
    const out = Uint8Array.from([0x78, 0x79, 0, 0, 0, 0]);
    expect(decodeLz4Block(block, 0, 3, out, 2, 0)).toBe(6);
    expect(Buffer.from(out).toString()).toBe('xyxyxy');
  });
});
