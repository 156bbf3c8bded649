// Go's time.ParseDuration grammar, which Litestream uses for every interval option and
// prints in its listings (e.g. the lag column).
const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};
const PART = /(\d+(?:\.\d+)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;

/**
 * Parses any Go duration (`10s`, `1h30m`, `-1.5s`, `0s`) into milliseconds, or
 * `undefined` when it is not one.
 */
export function parseGoDuration(text: string): number | undefined {
  const sign = text.startsWith('-') ? -1 : 1;
  const body = text.replace(/^[+-]/, '');
  if (body === '0') return 0;
  if (body.length === 0) return undefined;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < body.length) {
    const start = PART.lastIndex;
    const match = PART.exec(body);
    if (!match || match.index !== start) return undefined;
    total += Number(match[1]) * (UNIT_MS[match[2] as string] as number);
  }
  return sign * total;
}

/**
 * Parses a Go duration for a config option. Returns `undefined` for anything Litestream
 * would reject or that is not positive (`10`, `-5s`, `0s`).
 */
export function parseDuration(text: string): number | undefined {
  const ms = parseGoDuration(text);
  return ms !== undefined && ms > 0 && !/^[+-]/.test(text) ? ms : undefined;
}
