/**
 * CRC-64 with the ISO polynomial, as Go's `hash/crc64` computes it with `crc64.ISO`: the
 * file checksum of a Litestream 0.5 LTX file. Kept as two 32-bit halves, as numbers are.
 */
export class Crc64Iso {
  #high = 0xffffffff;
  #low = 0xffffffff;

  update(data: Uint8Array): void {
    let high = this.#high;
    let low = this.#low;
    for (let i = 0; i < data.length; i++) {
      const index = (low ^ (data[i] as number)) & 0xff;
      low = ((low >>> 8) | (high << 24)) ^ (TABLE_LOW[index] as number);
      high = (high >>> 8) ^ (TABLE_HIGH[index] as number);
    }
    this.#high = high;
    this.#low = low;
  }

  /** The checksum so far, as an unsigned 64-bit value. */
  digest(): bigint {
    return (BigInt(~this.#high >>> 0) << 32n) | BigInt(~this.#low >>> 0);
  }
}

// The reflected ISO polynomial is 0xD800000000000000: its low half is zero.
const POLY_HIGH = 0xd8000000;
const TABLE_HIGH = new Uint32Array(256);
const TABLE_LOW = new Uint32Array(256);
for (let n = 0; n < 256; n++) {
  let high = 0;
  let low = n;
  for (let bit = 0; bit < 8; bit++) {
    const odd = low & 1;
    low = ((low >>> 1) | ((high & 1) << 31)) >>> 0;
    high >>>= 1;
    if (odd) high = (high ^ POLY_HIGH) >>> 0;
  }
  TABLE_HIGH[n] = high;
  TABLE_LOW[n] = low;
}
