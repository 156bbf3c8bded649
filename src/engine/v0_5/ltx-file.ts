import { setImmediate } from 'node:timers/promises';
import { Crc64Iso } from '../../codec/crc64.js';
import { decodeLz4Block } from '../../codec/lz4-block.js';

// An LTX file (superfly/ltx, as Litestream 0.5.x writes it): a 100-byte header; per page a
// 6-byte page header (page number, flags), with flag 1 a 4-byte size and an LZ4 block of
// the page; an empty page header; a page index; a 16-byte trailer whose last 8 bytes are
// the file checksum: CRC-64/ISO of everything before them, pages counted decompressed, with
// the top bit set.

const HEADER_SIZE = 100;
const PAGE_HEADER_SIZE = 6;
const CHECKSUM_SIZE = 8;
const PAGE_HAS_SIZE = 1;
const CHECKSUM_FLAG = 1n << 63n;

/**
 * Why the LTX file `data` is damaged (cut short, a page that does not decompress, or a file
 * checksum that does not match), undefined when it checks, or `unknown` for a page encoding
 * this check does not read (older LTX files: litestream's own error is all there is).
 * Decodes a page at a time, yielding to the event loop every 256 pages.
 */
export async function ltxFileProblem(data: Uint8Array): Promise<string | undefined | 'unknown'> {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const endsEarly = () => `it ends early, at byte ${data.length}`;
  if (data.length < HEADER_SIZE + PAGE_HEADER_SIZE + CHECKSUM_SIZE) return endsEarly();
  if (Buffer.from(data.subarray(0, 4)).toString('latin1') !== 'LTX1') return 'it does not start with an LTX header';
  const pageSize = view.getUint32(8);
  if (pageSize < 512 || pageSize > 65_536 || (pageSize & (pageSize - 1)) !== 0)
    return `its header gives a page size of ${pageSize}`;
  const hash = new Crc64Iso();
  hash.update(data.subarray(0, HEADER_SIZE));
  const page = new Uint8Array(pageSize);
  let at = HEADER_SIZE;
  for (let pages = 0; ; pages++) {
    if (at + PAGE_HEADER_SIZE > data.length) return endsEarly();
    const pageNumber = view.getUint32(at);
    const flags = view.getUint16(at + 4);
    hash.update(data.subarray(at, at + PAGE_HEADER_SIZE));
    at += PAGE_HEADER_SIZE;
    if (pageNumber === 0 && flags === 0) break;
    if (flags !== PAGE_HAS_SIZE) return 'unknown';
    if (at + 4 > data.length) return endsEarly();
    const size = view.getUint32(at);
    hash.update(data.subarray(at, at + 4));
    at += 4;
    if (at + size > data.length) return endsEarly();
    let decoded: number;
    try {
      decoded = decodeLz4Block(data, at, at + size, page, 0);
    } catch (error) {
      return `page ${pageNumber} does not decompress (${(error as Error).message})`;
    }
    if (decoded !== pageSize) return `page ${pageNumber} decompresses to ${decoded} bytes, not ${pageSize}`;
    hash.update(page);
    at += size;
    if (pages % 256 === 255) await setImmediate();
  }
  // The page index and the trailer, up to the file checksum.
  if (at + 16 > data.length) return endsEarly();
  hash.update(data.subarray(at, data.length - CHECKSUM_SIZE));
  const expected = view.getBigUint64(data.length - CHECKSUM_SIZE);
  const actual = hash.digest() | CHECKSUM_FLAG;
  if (actual !== expected)
    return `its file checksum does not match (${actual.toString(16)}, expected ${expected.toString(16)})`;
  return undefined;
}
