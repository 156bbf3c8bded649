/**
 * Decodes one LZ4 block, `src[start, end)`, into `out` from `outAt` on. The bytes of `out`
 * before `outAt` are the history a match may copy from (a linked block's previous output;
 * none for an independent block, whose history starts at `historyStart`). Returns where the
 * output ends. Throws on a block that does not decode: a match before the history, or
 * output past `out`'s end.
 */
export function decodeLz4Block(
  src: Uint8Array,
  start: number,
  end: number,
  out: Uint8Array,
  outAt: number,
  historyStart = outAt,
): number {
  return walkSequences(src, start, end, out, outAt, historyStart);
}

/**
 * The decoded length of one LZ4 block, `src[start, end)`, found by walking its sequences
 * without producing them (a match's offset is not checked: there is no history to check it
 * against). Throws on a block whose sequences run past its end.
 */
export function lz4BlockLength(src: Uint8Array, start: number, end: number): number {
  return walkSequences(src, start, end, undefined, 0, Number.NEGATIVE_INFINITY);
}

/** Decodes into `out`, or only counts without it. */
function walkSequences(
  src: Uint8Array,
  start: number,
  end: number,
  out: Uint8Array | undefined,
  outAt: number,
  historyStart: number,
): number {
  let at = start;
  let to = outAt;
  const byte = () => {
    if (at >= end) throw new Error('an LZ4 block ends mid-sequence');
    return src[at++] as number;
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
    if (at + literals > end) throw new Error("an LZ4 block's literals run past its end");
    if (out) {
      if (to + literals > out.length) throw new Error('an LZ4 block decodes past its stated size');
      out.set(src.subarray(at, at + literals), to);
    }
    at += literals;
    to += literals;
    // The last sequence has literals only.
    if (at === end) break;
    const offset = byte() | (byte() << 8);
    const length = extended(token & 0x0f) + 4;
    if (offset === 0 || to - offset < historyStart) throw new Error('an LZ4 match refers before its data');
    if (!out) {
      to += length;
      continue;
    }
    if (to + length > out.length) throw new Error('an LZ4 block decodes past its stated size');
    // Byte by byte: a match may overlap the bytes it produces.
    for (let from = to - offset, stop = to + length; to < stop; ) out[to++] = out[from++] as number;
  }
  return to;
}
