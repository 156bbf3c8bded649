// Helpers that load nothing but Node's fs: a cold start's child process imports these and
// the built package, nothing the package would otherwise load later, on its own schedule
// (node:crypto, node:child_process, better-sqlite3), is loaded ahead of it.
import { type ProcInfo, processes } from '../test/support/proc.js';

/** The middle value (mean of the two middle ones for an even count). */
export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** Linear-interpolated percentile, p in [0, 100]. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  const lowValue = sorted[low] as number;
  return lowValue + ((sorted[high] as number) - lowValue) * (rank - low);
}

/** Live (non-zombie) child processes of `parent`. */
export function childrenOf(parent: number): ProcInfo[] {
  return processes().filter((p) => p.ppid === parent && p.state !== 'Z');
}
