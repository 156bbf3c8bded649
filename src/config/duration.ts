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

/**
 * Formats milliseconds the way Litestream prints durations in its listings: truncated as
 * its `truncateDuration` does (whole seconds above 10 s, tenths above 1 s, whole
 * milliseconds above 1 ms), then written as Go's `time.Duration` writes it — `21m57s`,
 * `8.5s`, `1h0m0s`, `150ms`, `0s`.
 */
export function formatGoDuration(ms: number): string {
  const sign = ms < 0 ? '-' : '';
  const abs = Math.abs(ms);
  const step = abs > 10_000 ? 1_000 : abs > 1_000 ? 100 : abs > 1 ? 1 : 0.001;
  // The epsilon keeps binary fractions (8500 / 100 = 84.999…) from flooring one step short.
  const truncated = Math.floor(abs / step + 1e-9) * step;
  if (truncated === 0) return '0s';
  if (truncated < 1_000) {
    return truncated >= 1 ? `${sign}${trimZeros(truncated, 3)}ms` : `${sign}${trimZeros(truncated * 1_000, 0)}µs`;
  }
  const hours = Math.floor(truncated / 3_600_000);
  const minutes = Math.floor((truncated % 3_600_000) / 60_000);
  const seconds = `${trimZeros((truncated % 60_000) / 1_000, 3)}s`;
  if (hours > 0) return `${sign}${hours}h${minutes}m${seconds}`;
  if (minutes > 0) return `${sign}${minutes}m${seconds}`;
  return `${sign}${seconds}`;
}

/** `value` with up to `digits` decimals and no trailing zeros: 8.500 → 8.5, 57.000 → 57. */
function trimZeros(value: number, digits: number): string {
  const text = value.toFixed(digits);
  return digits === 0 ? text : text.replace(/0+$/, '').replace(/\.$/, '');
}
