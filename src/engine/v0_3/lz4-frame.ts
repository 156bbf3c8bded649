import { setImmediate } from 'node:timers/promises';
import { decodeLz4Block, lz4BlockLength } from '../../codec/lz4-block.js';
import { Xxh32 } from '../../codec/xxh32.js';

// Litestream 0.3 compresses every snapshot and WAL segment into one LZ4 frame.

/** One step of walking LZ4 frames. */
type FramePart =
  | { readonly part: 'frame'; readonly blockMax: number; readonly linked: boolean }
  | { readonly part: 'block'; readonly start: number; readonly end: number; readonly stored: boolean }
  | { readonly part: 'end'; readonly contentChecksum: number | undefined };

const FRAME_MAGIC = 0x184d2204;
const BLOCK_MAX = [0, 0, 0, 0, 64 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024];

/**
 * The frames of `data`, block by block, without decoding them. Throws on data that does not
 * start with a well-formed LZ4 frame or that ends early.
 */
function* frameParts(data: Uint8Array): Generator<FramePart> {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let at = 0;
  const need = (bytes: number) => {
    if (at + bytes > data.length) throw new Error(`it ends early, at byte ${data.length}`);
  };
  // Frames may follow one another, each starting with the magic number. Bytes after the
  // first frame that start no other are not read, as decoders ignore them: a segment file
  // rewritten shorter in place keeps the old one's tail.
  while (at < data.length) {
    if (at > 0 && (at + 4 > data.length || view.getUint32(at, true) !== FRAME_MAGIC)) return;
    need(7);
    if (view.getUint32(at, true) !== FRAME_MAGIC) throw new Error(`it has no LZ4 frame at byte ${at}`);
    const flags = data[at + 4] as number;
    if (flags >> 6 !== 1) throw new Error(`it has an unknown LZ4 frame version at byte ${at}`);
    const blockChecksums = (flags & 0x10) !== 0;
    const contentSize = (flags & 0x08) !== 0;
    const contentChecksum = (flags & 0x04) !== 0;
    const dictionary = (flags & 0x01) !== 0;
    const blockMax = BLOCK_MAX[((data[at + 5] as number) >> 4) & 0x07] ?? 0;
    if (blockMax === 0) throw new Error(`it has an unknown LZ4 block size at byte ${at + 5}`);
    yield { part: 'frame', blockMax, linked: (flags & 0x20) === 0 };
    at += 6 + (contentSize ? 8 : 0) + (dictionary ? 4 : 0) + 1;
    for (;;) {
      need(4);
      const word = view.getUint32(at, true);
      at += 4;
      if (word === 0) break;
      const size = word & 0x7fffffff;
      need(size + (blockChecksums ? 4 : 0));
      yield { part: 'block', start: at, end: at + size, stored: (word & 0x80000000) !== 0 };
      at += size + (blockChecksums ? 4 : 0);
    }
    if (contentChecksum) need(4);
    yield { part: 'end', contentChecksum: contentChecksum ? view.getUint32(at, true) : undefined };
    at += contentChecksum ? 4 : 0;
  }
}

/**
 * The decoded length of each block of the LZ4 frames in `data`, found by walking the block
 * sequences without producing them, one block (up to 4 MiB) at a time so that a caller can
 * yield to the event loop between them. Throws on data that is not well-formed LZ4 frames.
 */
export function* lz4BlockLengths(data: Uint8Array): Generator<number> {
  for (const part of frameParts(data)) {
    if (part.part === 'block') yield part.stored ? part.end - part.start : lz4BlockLength(data, part.start, part.end);
  }
}

/**
 * Why the LZ4 frames in `data` are damaged (cut short, a block that does not decode, or a
 * content checksum that does not match), or undefined when every frame decodes and checks.
 * Decodes a block at a time, yielding to the event loop between blocks.
 */
export async function lz4FrameProblem(data: Uint8Array): Promise<string | undefined> {
  // A linked block may copy from the 64 KiB decoded before it: they are kept just before it.
  const history = 64 * 1024;
  let out = new Uint8Array(0);
  let kept = 0;
  let linked = false;
  let hash = new Xxh32();
  try {
    for (const part of frameParts(data)) {
      if (part.part === 'frame') {
        linked = part.linked;
        if (out.length < history + part.blockMax) out = new Uint8Array(history + part.blockMax);
        kept = 0;
        hash = new Xxh32();
      } else if (part.part === 'block') {
        let to: number;
        if (part.stored) {
          out.set(data.subarray(part.start, part.end), history);
          to = history + part.end - part.start;
        } else to = decodeLz4Block(data, part.start, part.end, out, history, linked ? history - kept : history);
        hash.update(out.subarray(history, to));
        if (linked) {
          kept = Math.min(history, to - (history - kept));
          out.copyWithin(history - kept, to - kept, to);
        }
        await setImmediate();
      } else if (part.contentChecksum !== undefined && part.contentChecksum !== hash.digest()) {
        return `its content checksum does not match (${hash.digest().toString(16)}, expected ${part.contentChecksum.toString(16)})`;
      }
    }
  } catch (error) {
    return (error as Error).message;
  }
  return undefined;
}
