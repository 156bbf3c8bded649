/**
 * A misspelt `LITESTREAM_*` variable is otherwise ignored without a word
 * (`LITESTREAM_SYNC_INTERVALL=1s` leaves the default in place): each variable neither
 * litestream-node nor Litestream reads is named once, with the one it most likely meant.
 *
 * @packageDocumentation
 */
import type { Logger } from '../logging/logger.js';
import { noticeOncePerProcess } from '../logging/process-notices.js';

/**
 * What Litestream itself reads (v0.3.13 and v0.5.18, `os.Getenv("LITESTREAM_…")` outside its
 * tests): the CLI's, the S3 client's, the Azure client's, and the VFS extension's. They are
 * not litestream-node's to judge.
 */
export const LITESTREAM_OWN_VARIABLES: readonly string[] = Object.freeze([
  'LITESTREAM_ACCESS_KEY_ID',
  'LITESTREAM_SECRET_ACCESS_KEY',
  'LITESTREAM_CONFIG',
  'LITESTREAM_S3_ENDPOINT',
  'LITESTREAM_S3_DEBUG',
  'LITESTREAM_AZURE_ACCOUNT_KEY',
  'LITESTREAM_AZURE_SAS_TOKEN',
  // The VFS extension (litestream-vfs).
  'LITESTREAM_REPLICA_URL',
  'LITESTREAM_LOG_LEVEL',
  'LITESTREAM_LOG_FILE',
  'LITESTREAM_WRITE_ENABLED',
  'LITESTREAM_SYNC_INTERVAL',
  'LITESTREAM_BUFFER_PATH',
  'LITESTREAM_HYDRATION_ENABLED',
  'LITESTREAM_HYDRATION_PATH',
]);

/** One variable nobody reads, and the known one it most likely meant. */
export interface UnknownVariable {
  readonly name: string;
  readonly didYouMean: string | undefined;
}

/**
 * The `LITESTREAM_*` variables of `env` that are not in `known` (nor Litestream's own), each
 * with the closest known name when one is close enough to be a typo. `LITESTREAM_NODE_*` is
 * left alone: the prefix of this package's own tooling.
 */
export function unknownVariables(
  env: Readonly<Record<string, string | undefined>>,
  known: readonly string[],
): UnknownVariable[] {
  const candidates = [...new Set([...known, ...LITESTREAM_OWN_VARIABLES])];
  return Object.keys(env)
    .filter(
      (name) =>
        name.startsWith('LITESTREAM_') &&
        !name.startsWith('LITESTREAM_NODE_') &&
        env[name] !== undefined &&
        !candidates.includes(name),
    )
    .sort()
    .map((name) => ({ name, didYouMean: closest(name, candidates) }));
}

/** The sentence for {@link unknownVariables}' result: one warning for all of them. */
export function describeUnknownVariables(unknown: readonly UnknownVariable[]): string {
  const each = unknown.map(({ name, didYouMean }) => (didYouMean ? `${name} (did you mean ${didYouMean}?)` : name));
  const list = each.join(', ');
  return `${unknown.length === 1 ? 'this environment variable is' : 'these environment variables are'} read by neither litestream-node nor Litestream, and ignored: ${list}. Check the spelling (the variables are listed in the README).`;
}

/** Warns (once per process for the same variables) about `LITESTREAM_*` variables nobody reads. */
export function warnUnknownVariables(
  env: Readonly<Record<string, string | undefined>>,
  known: readonly string[],
  logger: Logger,
): void {
  const unknown = unknownVariables(env, known);
  if (unknown.length === 0) return;
  const message = describeUnknownVariables(unknown);
  noticeOncePerProcess(logger, 'warn', message, { variables: unknown.map((variable) => variable.name) }, message);
}

/**
 * The candidate closest to `name` by edit distance (a letter added, dropped, changed, or two
 * swapped), when it is close enough to be a typo of it: at most a third of its length.
 */
function closest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  // Measured past the shared prefix: LITESTREAM_ itself says nothing about closeness.
  const ownPart = name.length - PREFIX.length;
  if (bestDistance <= Math.max(1, Math.floor(ownPart / 3))) return best;
  // A word left out or added: LITESTREAM_BUCKET for LITESTREAM_S3_BUCKET, LITESTREAM_S3_ACCESS_KEY_ID
  // for LITESTREAM_ACCESS_KEY_ID. Only when one candidate fits (LITESTREAM_PATH fits several).
  const words = wordsOf(name);
  const fits = candidates.filter((candidate) => {
    const theirs = wordsOf(candidate);
    return endsWith(theirs, words) || endsWith(words, theirs);
  });
  return fits.length === 1 ? fits[0] : undefined;
}

const PREFIX = 'LITESTREAM_';

function wordsOf(name: string): string[] {
  return name.slice(PREFIX.length).split('_');
}

/** Whether `words` ends with every word of `tail`, which is shorter. */
function endsWith(words: readonly string[], tail: readonly string[]): boolean {
  if (tail.length >= words.length) return false;
  return tail.every((word, index) => words[words.length - tail.length + index] === word);
}

/** Optimal string alignment distance (Damerau–Levenshtein without repeated edits of one span). */
function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number) => d[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i < rows; i++) {
    const row = d[i] as number[];
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        value = Math.min(value, at(i - 2, j - 2) + 1);
      row[j] = value;
    }
  }
  return at(a.length, b.length);
}
