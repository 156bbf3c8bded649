import { MetricNameClashError, MetricsRegistryError } from '../errors.js';
import { METRIC_INFOS, type MetricInfo } from './catalogue.js';
import type { MetricFamily, Sample } from './exposition.js';

/**
 * The part of a prom-client `Registry` that `registerMetrics` uses: prom-client 15's
 * default `register` and every `new Registry()` fit it. prom-client itself is never loaded
 * by litestream-node: the collectors it adds are plain objects that the registry reads the
 * way it reads its own metrics.
 */
export interface PrometheusRegistry {
  /** Adds a metric; throws when one of its name is there already. */
  registerMetric(metric: never): void;
  /** The metric of that name, or undefined. */
  getSingleMetric(name: string): unknown;
  /** Removes the metric of that name. */
  removeSingleMetric(name: string): void;
}

/** What `registerMetrics` returns: the metrics it added, and how to take them out again. */
export interface MetricsRegistration {
  /** The names of the metrics added to the registry, in the order they are written. */
  readonly names: readonly string[];
  /**
   * Removes the metrics from the registry (those it still holds: a metric of the app's own
   * registered since under one of these names stays). Calling it again does nothing.
   * `registry.removeSingleMetric(name)` removes one of them too.
   */
  unregister(): void;
}

// Marks the collectors, so that a second registration can be told from an app's own metric
// of the same name (also across two copies of this library).
const COLLECTOR = Symbol.for('litestream-node.metrics-collector');

/**
 * One metric as prom-client's registry reads it (`name`, `help`, `type`, `aggregator`,
 * `get()`, `reset()`), with its samples read when the registry is scraped.
 */
class Collector {
  readonly [COLLECTOR] = true;
  /** The name in the registry. */
  readonly registeredAs: string;
  /** Changed by the registry itself: its OpenMetrics output takes `_total` off a counter's name. */
  name: string;
  readonly help: string;
  readonly type: MetricInfo['type'];
  // How prom-client's cluster aggregation combines workers' values: its own default.
  readonly aggregator = 'sum';
  readonly #samples: () => readonly Sample[];

  constructor(info: MetricInfo, samples: () => readonly Sample[]) {
    this.registeredAs = info.name;
    this.name = info.name;
    this.help = info.help;
    this.type = info.type;
    this.#samples = samples;
  }

  async get() {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: this.#samples().map((sample) => ({ labels: { ...sample.labels }, value: sample.value })),
    };
  }

  /** The values come from replication at each scrape: there is nothing to reset. */
  reset(): void {}
}

/**
 * Adds every metric of {@link METRIC_INFOS} to `registry`, each reading its samples from
 * `read` at scrape time — all or none: a name the registry already has is a
 * {@link MetricNameClashError} and nothing is added. `setting` names what the user passed
 * the registry as, for the error when it is not one.
 */
export function addCollectors(
  registry: unknown,
  read: () => readonly MetricFamily[],
  setting = 'registerMetrics(registry)',
): MetricsRegistration {
  assertRegistry(registry, setting);
  const taken = METRIC_INFOS.flatMap((info) => {
    const existing = registry.getSingleMetric(info.name);
    return existing === undefined ? [] : [{ name: info.name, ours: isCollector(existing) }];
  });
  if (taken.length > 0) throw new MetricNameClashError(taken);

  const samples = snapshots(read);
  const collectors = METRIC_INFOS.map((info) => new Collector(info, () => samples(info.name)));
  // By the name it was registered under: the registry may shorten a counter's `name` since.
  const remove = (collectors: readonly Collector[]) => {
    for (const collector of collectors) {
      if (registry.getSingleMetric(collector.registeredAs) === collector) {
        registry.removeSingleMetric(collector.registeredAs);
      }
    }
  };
  const added: Collector[] = [];
  try {
    for (const collector of collectors) {
      registry.registerMetric(collector as never);
      added.push(collector);
    }
  } catch (error) {
    remove(added);
    throw error;
  }
  return {
    names: METRIC_INFOS.map((info) => info.name),
    unregister: () => remove(collectors),
  };
}

/**
 * The samples of one metric from one reading of every family: a scrape asks each collector
 * in the same turn of the event loop, and they all answer from a reading taken once, so that
 * a sync's time and its age describe one moment.
 */
function snapshots(read: () => readonly MetricFamily[]): (name: string) => readonly Sample[] {
  let current: Map<string, readonly Sample[]> | undefined;
  return (name) => {
    if (current === undefined) {
      current = new Map(read().map((family) => [family.name, family.samples]));
      queueMicrotask(() => {
        current = undefined;
      });
    }
    return current.get(name) ?? [];
  };
}

/** Throws {@link MetricsRegistryError}, naming `setting`, unless `value` is a prom-client registry. */
export function assertRegistry(value: unknown, setting: string): asserts value is PrometheusRegistry {
  const registry = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const fits =
    typeof registry.registerMetric === 'function' &&
    typeof registry.getSingleMetric === 'function' &&
    typeof registry.removeSingleMetric === 'function';
  if (!fits) throw new MetricsRegistryError(setting, value);
}

function isCollector(value: unknown): boolean {
  return typeof value === 'object' && value !== null && COLLECTOR in value;
}
