/** XXH32 (seed 0), fed in pieces: the content checksum of an LZ4 frame. */
export class Xxh32 {
  readonly #stripe = new Uint8Array(16);
  #buffered = 0;
  #total = 0;
  #v1 = (PRIME1 + PRIME2) >>> 0;
  #v2 = PRIME2;
  #v3 = 0;
  #v4 = (0 - PRIME1) >>> 0;

  update(data: Uint8Array): void {
    this.#total += data.length;
    let at = 0;
    if (this.#buffered > 0) {
      const take = Math.min(16 - this.#buffered, data.length);
      this.#stripe.set(data.subarray(0, take), this.#buffered);
      this.#buffered += take;
      at = take;
      if (this.#buffered < 16) return;
      this.#consume(this.#stripe, 0);
      this.#buffered = 0;
    }
    for (; at + 16 <= data.length; at += 16) this.#consume(data, at);
    this.#stripe.set(data.subarray(at), 0);
    this.#buffered = data.length - at;
  }

  digest(): number {
    let acc =
      this.#total >= 16
        ? (rotl(this.#v1, 1) + rotl(this.#v2, 7) + rotl(this.#v3, 12) + rotl(this.#v4, 18)) >>> 0
        : PRIME5;
    acc = (acc + this.#total) >>> 0;
    const rest = this.#stripe;
    let at = 0;
    for (; at + 4 <= this.#buffered; at += 4) {
      acc = Math.imul(rotl((acc + Math.imul(lane(rest, at), PRIME3)) >>> 0, 17), PRIME4) >>> 0;
    }
    for (; at < this.#buffered; at++) {
      acc = Math.imul(rotl((acc + Math.imul(rest[at] as number, PRIME5)) >>> 0, 11), PRIME1) >>> 0;
    }
    acc = Math.imul(acc ^ (acc >>> 15), PRIME2);
    acc = Math.imul(acc ^ (acc >>> 13), PRIME3);
    return (acc ^ (acc >>> 16)) >>> 0;
  }

  #consume(data: Uint8Array, at: number): void {
    this.#v1 = round(this.#v1, lane(data, at));
    this.#v2 = round(this.#v2, lane(data, at + 4));
    this.#v3 = round(this.#v3, lane(data, at + 8));
    this.#v4 = round(this.#v4, lane(data, at + 12));
  }
}

const PRIME1 = 2654435761;
const PRIME2 = 2246822519;
const PRIME3 = 3266489917;
const PRIME4 = 668265263;
const PRIME5 = 374761393;

function rotl(value: number, bits: number): number {
  return ((value << bits) | (value >>> (32 - bits))) >>> 0;
}

function round(acc: number, input: number): number {
  return Math.imul(rotl((acc + Math.imul(input, PRIME2)) >>> 0, 13), PRIME1) >>> 0;
}

/** A little-endian 32-bit word. */
function lane(data: Uint8Array, at: number): number {
  return (
    ((data[at] as number) |
      ((data[at + 1] as number) << 8) |
      ((data[at + 2] as number) << 16) |
      ((data[at + 3] as number) << 24)) >>>
    0
  );
}
