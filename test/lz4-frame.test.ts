// The decoded length and the soundness of LZ4 frames, which the Litestream 0.3 engine uses to find WAL segments
// missing from the middle of a replica's chain. Litestream's own frames are measured in
// reliability scenario 13 and by every 0.3 restore of the suite (a wrong length is a false gap).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { lz4BlockLengths, lz4FrameProblem } from '../src/engine/v0_3/lz4-frame.js';
import { walChainGap } from '../src/engine/v0_3/wal-chain.js';

/** The decoded length of every block, summed. */
function lz4DecodedLength(data: Uint8Array): number {
  let total = 0;
  for (const length of lz4BlockLengths(data)) total += length;
  return total;
}

const MAGIC = [0x04, 0x22, 0x4d, 0x18];
const END = [0, 0, 0, 0];

/** A frame header: version 01, independent blocks, 4 MiB blocks, plus the flags given. */
function header(flags = 0, extra: number[] = []): number[] {
  return [...MAGIC, 0x60 | flags, 0x70, ...extra, 0x00];
}

function le32(value: number): number[] {
  return [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff];
}

function block(bytes: number[], uncompressed = false): number[] {
  return [...le32(bytes.length | (uncompressed ? 0x80000000 : 0)), ...bytes];
}

const ascii = (text: string) => [...Buffer.from(text)];
// 'a', then a match of 6 at offset 1 ("aaaaaa"), then the literals "bc": 9 bytes.
const COMPRESSED = [0x12, ...ascii('a'), 0x01, 0x00, 0x20, ...ascii('bc')];
// 20 literals (15 + 5 in an extra byte), then a match of 4 + 15 + 255 + 1 = 275 at offset 20.
const LONG = [0xff, 5, ...ascii('x'.repeat(20)), 20, 0, 255, 1, 0x00];

describe('lz4BlockLengths', () => {
  it('counts an uncompressed block by its size', () => {
    expect(lz4DecodedLength(Uint8Array.from([...header(), ...block(ascii('hello'), true), ...END]))).toBe(5);
  });

  it('counts the literals and matches of compressed blocks, extended lengths included', () => {
    expect(lz4DecodedLength(Uint8Array.from([...header(), ...block(COMPRESSED), ...END]))).toBe(9);
    expect(lz4DecodedLength(Uint8Array.from([...header(), ...block(LONG), ...END]))).toBe(20 + 275);
  });

  it('skips block checksums, the content size, the content checksum, and sums frames that follow one another', () => {
    const withEverything = [
      ...header(0x10 | 0x08 | 0x04, [9, 0, 0, 0, 0, 0, 0, 0]),
      ...block(COMPRESSED),
      ...[1, 2, 3, 4],
      ...END,
      ...[5, 6, 7, 8],
    ];
    const plain = [...header(), ...block(ascii('hello'), true), ...block(COMPRESSED), ...END];
    expect(lz4DecodedLength(Uint8Array.from([...withEverything, ...plain]))).toBe(9 + 5 + 9);
  });

  it('ignores bytes after a frame that start no other, as decoders do', () => {
    const frame = [...header(), ...block(ascii('hello'), true), ...END];
    expect(lz4DecodedLength(Uint8Array.from([...frame, 0xde, 0xad, 0xbe, 0xef, 0x42]))).toBe(5);
  });

  it('rejects what is not a whole LZ4 frame', () => {
    expect(() => lz4DecodedLength(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]))).toThrow(/no LZ4 frame at byte 0/);
    const frame = [...header(), ...block(COMPRESSED), ...END];
    expect(() => lz4DecodedLength(Uint8Array.from(frame.slice(0, -6)))).toThrow(/ends early/);
    // A block whose literals claim more bytes than it holds.
    expect(() => lz4DecodedLength(Uint8Array.from([...header(), ...block([0x50, 1, 2]), ...END]))).toThrow(
      /run past its end/,
    );
  });
});

/** The text both fixture frames hold (made by python-lz4 4.x with 64 KiB blocks and a content checksum). */
const FIXTURE_TEXT = Array.from({ length: 3000 }, (_, i) => `row ${i} of the lz4 frame fixture, linked blocks\n`).join(
  '',
);

describe('lz4FrameProblem', () => {
  const fixture = (name: string) => readFileSync(new URL(`fixtures/lz4/${name}`, import.meta.url));

  it('finds nothing wrong with frames another encoder wrote, linked blocks or independent', async () => {
    for (const name of ['linked-64k.lz4', 'independent-64k.lz4']) {
      const frame = fixture(name);
      expect(await lz4FrameProblem(frame)).toBeUndefined();
      expect(lz4DecodedLength(frame)).toBe(Buffer.byteLength(FIXTURE_TEXT));
    }
  });

  it('finds a flipped byte, wherever it is, and a frame cut short', async () => {
    for (const name of ['linked-64k.lz4', 'independent-64k.lz4']) {
      const frame = fixture(name);
      for (const at of [20, Math.floor(frame.length / 2), frame.length - 12]) {
        const flipped = Buffer.from(frame);
        flipped[at] = (flipped[at] as number) ^ 0x01;
        expect(await lz4FrameProblem(flipped), `${name}, byte ${at}`).toMatch(
          /checksum does not match|ends|refers before|past/,
        );
      }
      expect(await lz4FrameProblem(frame.subarray(0, frame.length - 100))).toMatch(/ends early/);
    }
  });

  it('checks stored blocks and frames without a content checksum by their structure alone', async () => {
    expect(await lz4FrameProblem(Uint8Array.from([...header(), ...block(ascii('hello'), true), ...END]))).toBe(
      undefined,
    );
    expect(await lz4FrameProblem(Uint8Array.from([...header(), ...block(COMPRESSED), ...END]))).toBeUndefined();
    // A match at offset 2 in a block that has produced 1 byte.
    const badMatch = [0x12, ...ascii('a'), 0x02, 0x00, 0x20, ...ascii('bc')];
    expect(await lz4FrameProblem(Uint8Array.from([...header(), ...block(badMatch), ...END]))).toMatch(
      /refers before its data/,
    );
  });
});

describe('walChainGap', () => {
  /** A 0.3 file replica of one generation: its snapshots, and its WAL segments by name and decoded length. */
  function replica(snapshots: string[], segments: [name: string, length: number][]): string {
    const root = mkdtempSync(path.join(os.tmpdir(), 'wal-chain-'));
    onTestFinished(() => rmSync(root, { recursive: true, force: true }));
    const dir = path.join(root, 'generations', GENERATION);
    mkdirSync(path.join(dir, 'snapshots'), { recursive: true });
    mkdirSync(path.join(dir, 'wal'), { recursive: true });
    for (const name of snapshots) writeFileSync(path.join(dir, 'snapshots', name), '');
    for (const [name, length] of segments) {
      const frame = [
        ...header(),
        ...block(
          Array.from({ length }, () => 0x61),
          true,
        ),
        ...END,
      ];
      writeFileSync(path.join(dir, 'wal', name), Uint8Array.from(frame));
    }
    return root;
  }
  const GENERATION = '0123456789abcdef';
  const gapOf = (root: string) => walChainGap({ type: 'file', directory: root }, GENERATION);

  it('finds nothing in a whole chain, and ignores the indexes before the newest snapshot', async () => {
    const root = replica(
      ['00000001.snapshot.lz4', '00000002.snapshot.lz4'],
      [
        ['00000001_00000000.wal.lz4', 10],
        ['00000001_00000100.wal.lz4', 10],
        ['00000002_00000000.wal.lz4', 100],
        ['00000002_00000064.wal.lz4', 50],
        ['00000002_00000096.wal.lz4', 7],
        ['00000003_00000000.wal.lz4', 10],
        ['00000003_0000000a.wal.lz4', 10],
      ],
    );
    expect(await gapOf(root)).toBeUndefined();
  });

  it('names the first missing segment, in index and offset order', async () => {
    const root = replica(
      ['00000002.snapshot.lz4'],
      [
        ['00000002_00000000.wal.lz4', 100],
        ['00000002_00000064.wal.lz4', 50],
        // 0x96 (150) is missing: this one starts at 160.
        ['00000002_000000a0.wal.lz4', 7],
        ['00000003_00000000.wal.lz4', 10],
        // A later gap: not the one reported.
        ['00000003_00000014.wal.lz4', 10],
      ],
    );
    expect(await gapOf(root)).toMatch(
      /^generations\/0123456789abcdef\/wal\/00000002_00000096\.wal\.lz4 is missing: WAL bytes 150–159 .*00000002_00000064\.wal\.lz4 ends at 150, and the next segment, 00000002_000000a0\.wal\.lz4, starts at 160/,
    );
  });

  it('finds nothing without a snapshot', async () => {
    expect(await gapOf(replica([], [['00000001_00000000.wal.lz4', 10]]))).toBeUndefined();
  });
});
