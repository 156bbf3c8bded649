// Checking a Litestream 0.5 LTX file from Node, to name the damaged object of a replica.
// The fixtures are LTX files Litestream 0.5.18 wrote: the first sync of a 200-row database
// (every page) and the next (one row's pages).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ltxFileProblem } from '../src/engine/v0_5/ltx-file.js';

const fixture = (name: string) => readFileSync(new URL(`fixtures/ltx/${name}`, import.meta.url));
const FIXTURES = ['snapshot-0.5.18.ltx', 'changes-0.5.18.ltx'];

describe('ltxFileProblem', () => {
  it('finds nothing wrong with the files Litestream 0.5.18 wrote', async () => {
    for (const name of FIXTURES) expect(await ltxFileProblem(fixture(name)), name).toBeUndefined();
  });

  it('finds a byte flipped anywhere: header, page headers, page data, index or trailer', async () => {
    for (const name of FIXTURES) {
      const file = fixture(name);
      for (const at of [
        20,
        101,
        110,
        Math.floor(file.length / 2),
        file.length - 20,
        file.length - 9,
        file.length - 1,
      ]) {
        const flipped = Buffer.from(file);
        flipped[at] = (flipped[at] as number) ^ 0x04;
        expect(await ltxFileProblem(flipped), `${name}, byte ${at}`).toMatch(
          /checksum does not match|does not decompress|decompresses to|ends early|page size/,
        );
      }
    }
  });

  it('finds a file cut short, and what is not an LTX file', async () => {
    for (const name of FIXTURES) {
      const file = fixture(name);
      for (const length of [10, 150, Math.floor(file.length / 2), file.length - 1]) {
        expect(await ltxFileProblem(file.subarray(0, length)), `${name} cut to ${length}`).toMatch(
          /ends early|checksum does not match|does not decompress/,
        );
      }
    }
    expect(await ltxFileProblem(Buffer.alloc(200, 0x41))).toMatch(/does not start with an LTX header/);
  });
});
