/**
 * The decoded length of each block of the LZ4 frames in `data` (Litestream 0.3 compresses
 * every snapshot and WAL segment into one), found by walking the block sequences without
 * producing them, one block (up to 4 MiB) at a time so that a caller can yield to the event
 * loop between them. Throws on data that does not start with a well-formed LZ4 frame.
 */
export function* lz4BlockLengths(data: Uint8Array): Generator<number> {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let at = 0;
  const need = (bytes: number) => {
    if (at + bytes > data.length) throw new Error(`LZ4 data ends early, at byte ${data.length}`);
  };
  // Frames may follow one another, each starting with the magic number. Bytes after the
  // first frame that start no other are not read, as decoders ignore them: a segment file
  // rewritten shorter in place keeps the old one's tail.
  while (at < data.length) {
    if (at > 0 && (at + 4 > data.length || view.getUint32(at, true) !== FRAME_MAGIC)) return;
    need(7);
    if (view.getUint32(at, true) !== FRAME_MAGIC) throw new Error(`no LZ4 frame at byte ${at}`);
    const flags = data[at + 4] as number;
    if (flags >> 6 !== 1) throw new Error(`unknown LZ4 frame version at byte ${at}`);
    const blockChecksums = (flags & 0x10) !== 0;
    const contentSize = (flags & 0x08) !== 0;
    const contentChecksum = (flags & 0x04) !== 0;
    const dictionary = (flags & 0x01) !== 0;
    at += 6 + (contentSize ? 8 : 0) + (dictionary ? 4 : 0) + 1;
    for (;;) {
      need(4);
      const word = view.getUint32(at, true);
      at += 4;
      if (word === 0) break;
      const size = word & 0x7fffffff;
      need(size + (blockChecksums ? 4 : 0));
      yield (word & 0x80000000) !== 0 ? size : blockLength(data, at, at + size);
      at += size + (blockChecksums ? 4 : 0);
    }
    at += contentChecksum ? 4 : 0;
    need(0);
  }
}

const FRAME_MAGIC = 0x184d2204;

/** The decoded length of one compressed block in `data[start, end)`. */
function blockLength(data: Uint8Array, start: number, end: number): number {
  let at = start;
  let total = 0;
  const byte = () => {
    if (at >= end) throw new Error(`an LZ4 block ends early, at byte ${end}`);
    return data[at++] as number;
  };
  const extended = (length: number) => {
    if (length !== 15) return length;
    let more = 255;
    while (more === 255) {
      more = byte();
      length += more;
    }
    return length;
  };
  while (at < end) {
    const token = byte();
    const literals = extended(token >> 4);
    at += literals;
    total += literals;
    if (at > end) throw new Error(`an LZ4 block's literals run past its end, at byte ${end}`);
    // The last sequence has literals only.
    if (at === end) break;
    byte();
    byte();
    total += extended(token & 0x0f) + 4;
  }
  return total;
}
