// The process table from /proc (Linux): what tests and benchmarks use to find litestream
// children and prove none outlived its owner.
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcInfo {
  pid: number;
  ppid: number;
  /** The executable's name, as the kernel keeps it (`litestream`). */
  comm: string;
  /** `R`, `S`, … and `Z` for a zombie that its parent has not reaped yet. */
  state: string;
}

/** Every process on the machine. */
export function processes(): ProcInfo[] {
  const list: ProcInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Format: pid (comm) state ppid …; comm may contain spaces, so split after ')'.
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      list.push({ pid: Number(entry), ppid: Number(ppid), comm, state: state ?? '' });
    } catch {
      // It ended while we looked.
    }
  }
  return list;
}
