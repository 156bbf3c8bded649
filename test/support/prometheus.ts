// Reading the Prometheus text format in tests.
import { expect } from 'vitest';

/** A line of the text format: a comment, or `name{labels} value`. */
const LINE = /^(# (HELP|TYPE) [a-z_]+ .+|[a-z_]+(\{([a-z_]+="([^"\\]|\\.)*",?)+\})? (-?[0-9.e+-]+|NaN|[+-]Inf))$/;

/** The value of the sample `name{labels}` in `text`, undefined when absent. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = match[2]?.split(/,(?=[a-z_]+=")/) ?? [];
    if (want.every((label) => have.includes(label))) return Number(match[3]);
  }
  return undefined;
}

/** Every line is well formed, and every family is announced once with its type before its samples. */
export function expectWellFormed(text: string): void {
  const lines = text.trimEnd().split('\n');
  for (const line of lines) expect(line).toMatch(LINE);
  const typed = new Set<string>();
  for (const line of lines) {
    const type = /^# TYPE ([a-z_]+) (gauge|counter)$/.exec(line);
    if (type) {
      expect(typed.has(type[1] as string), `${type[1]} announced twice`).toBe(false);
      typed.add(type[1] as string);
    } else if (!line.startsWith('#')) {
      expect(typed, line).toContain(/^[a-z_]+/.exec(line)?.[0]);
    }
  }
  for (const name of typed) if (/_total$/.test(name)) expect(text).toContain(`# TYPE ${name} counter`);
}
