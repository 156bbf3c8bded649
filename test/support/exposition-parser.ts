// The Prometheus text format read by a parser of its own (parse-prometheus-text-format), not
// by this project's writer: what a scraper would see. The parser is lenient, so what it
// cannot type, or a value that is not a number, fails here.
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { expect } from 'vitest';

/** One sample: its labels and its value. */
export interface ParsedSample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** One metric family as a scraper reads it. */
export interface ParsedFamily {
  readonly type: 'counter' | 'gauge' | 'summary' | 'histogram';
  readonly help: string;
  /** Sorted by labels, so that two readings compare equal whatever their order. */
  readonly samples: readonly ParsedSample[];
}

/** The families of `text` by name; fails on an untyped family, a family announced twice, or a value that is no number. */
export function parseFamilies(text: string): Map<string, ParsedFamily> {
  const parsed = parsePrometheusTextFormat(text);
  // The parser merges a family announced twice into one: count the announcements.
  const announced = text.split('\n').filter((line) => line.startsWith('# TYPE ')).length;
  expect(parsed.length, 'families announced twice').toBe(announced);
  const families = new Map<string, ParsedFamily>();
  for (const family of parsed) {
    expect(family.type, `type of ${family.name}`).not.toBe('UNTYPED');
    const samples = family.metrics.map((metric) => {
      expect(metric.value, `a value of ${family.name}`).toMatch(/^(-?[0-9][0-9.e+-]*|NaN|[+-]Inf)$/);
      return { labels: metric.labels ?? {}, value: Number(metric.value) };
    });
    samples.sort((a, b) => JSON.stringify(a.labels).localeCompare(JSON.stringify(b.labels)));
    families.set(family.name, {
      type: family.type.toLowerCase() as ParsedFamily['type'],
      help: family.help,
      samples,
    });
  }
  return families;
}
