import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ConfigIssue } from '../errors.js';
import { loadYaml } from '../support/load-on-use.js';
import { parseDuration } from './duration.js';
import { Secret } from './secret.js';

/** A user's own litestream.yml, made safe to hand to the supervisor. */
export interface LoadedConfigFile {
  /** Absolute path of the user's file. */
  readonly path: string;
  /** Absolute paths of its databases, in file order. */
  readonly databases: readonly string[];
  /**
   * The file with environment variables expanded, database paths made absolute, logging
   * switched to JSON at debug level (the supervisor reads it), `exec` removed (we
   * supervise), and credentials removed — they travel in {@link credentials}.
   */
  readonly yaml: string;
  /**
   * The same sanitized file, parsed once when the config was built (deeply frozen): the
   * engines write their litestream.yml from it, and each database's replica locations come
   * from it. @internal
   */
  readonly document: LitestreamYamlDocument;
  /** The one pair of static keys the file gave, moved out of it. */
  readonly credentials: { readonly accessKeyId: Secret; readonly secretAccessKey: Secret } | undefined;
}

type Yaml = Record<string, unknown>;

/** One `dbs:` entry of a sanitized litestream.yml: its absolute `path`, its replica(s), anything else litestream reads. @internal */
export interface LitestreamYamlDatabase {
  readonly path: string;
  /** Litestream 0.5's one replica. */
  readonly replica?: unknown;
  /** Litestream 0.3's list of replicas. */
  readonly replicas?: readonly unknown[];
  readonly [key: string]: unknown;
}

/** A sanitized litestream.yml, parsed: `dbs:` and the top-level settings. @internal */
export interface LitestreamYamlDocument {
  readonly dbs: readonly LitestreamYamlDatabase[];
  readonly [key: string]: unknown;
}

/**
 * Reads and sanitizes a litestream.yml the way litestream itself would read it
 * (`$VAR`/`${VAR}` expanded from `env`, `~` and relative paths resolved).
 */
export function loadConfigFile(
  file: string,
  field: string,
  env: Readonly<Record<string, string | undefined>>,
): { value?: LoadedConfigFile; issues: ConfigIssue[] } {
  const issue = (message: string) => ({ issues: [{ field, message }] });
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return issue(`cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'}): fix the path`);
  }
  let doc: unknown;
  try {
    doc = loadYaml().parse(expandEnv(text, env));
  } catch (error) {
    return issue(`${file} is not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  if (!isObject(doc) || !Array.isArray(doc.dbs) || doc.dbs.length === 0) {
    return issue(`${file} lists no databases: add a "dbs:" list with a path and a replica for each`);
  }

  const issues: ConfigIssue[] = [];
  const pairs = new Map<string, [string, string]>();
  const takeCredentials = (node: Yaml, where: string) => {
    const id = node['access-key-id'];
    const secret = node['secret-access-key'];
    delete node['access-key-id'];
    delete node['secret-access-key'];
    if (id === undefined && secret === undefined) return;
    if (typeof id !== 'string' || typeof secret !== 'string' || id === '' || secret === '') {
      issues.push({ field, message: `${where} needs both access-key-id and secret-access-key, or neither` });
      return;
    }
    pairs.set(`${id}\0${secret}`, [id, secret]);
  };
  takeCredentials(doc, 'the top level');

  const databases: string[] = [];
  doc.dbs.forEach((db: unknown, index) => {
    if (!isObject(db) || typeof db.path !== 'string' || db.path.trim() === '') {
      issues.push({ field, message: `dbs[${index}] has no path: give each database its file path` });
      return;
    }
    const absolute = path.resolve(db.path.startsWith('~/') ? path.join(os.homedir(), db.path.slice(2)) : db.path);
    db.path = absolute;
    databases.push(absolute);
    // Litestream 0.5 writes one `replica:`; `replicas:` is the 0.3 form (0.5 takes one entry).
    if (isObject(db.replica) && db.replicas === undefined) {
      takeCredentials(db.replica, `dbs[${index}].replica`);
      return;
    }
    if (!Array.isArray(db.replicas) || db.replicas.length === 0) {
      issues.push({
        field,
        message: `dbs[${index}] (${absolute}) has no replica: add one under "replica:" (or "replicas:")`,
      });
      return;
    }
    db.replicas.forEach((replica: unknown, r) => {
      if (isObject(replica)) takeCredentials(replica, `dbs[${index}].replicas[${r}]`);
    });
  });
  if (pairs.size > 1) {
    issues.push({
      field,
      message:
        'uses more than one pair of credentials: litestream-node passes one pair through the environment, so use the same keys for every replica',
    });
  }
  if (issues.length > 0) return { issues };

  delete doc.exec;
  doc.logging = { type: 'json', level: 'debug', stderr: false };
  const [pair] = pairs.values();
  const document = deepFreeze(doc) as LitestreamYamlDocument;
  return {
    issues: [],
    value: Object.freeze({
      path: file,
      databases: Object.freeze(databases),
      yaml: `# Generated by litestream-node from ${file}. Credentials come from the environment.\n${loadYaml().stringify(document)}`,
      document,
      credentials: pair
        ? Object.freeze({ accessKeyId: new Secret(pair[0]), secretAccessKey: new Secret(pair[1]) })
        : undefined,
    }),
  };
}

/** Go's os.ExpandEnv, which litestream applies to its config file: `$VAR` and `${VAR}`. */
export function expandEnv(text: string, env: Readonly<Record<string, string | undefined>>): string {
  return text.replace(
    /\$\{([^}]*)\}|\$([A-Za-z0-9_]+)/g,
    (_match, braced: string | undefined, bare: string | undefined) => {
      return env[(braced ?? bare) as string] ?? '';
    },
  );
}

/** `value` with every object and array in it frozen: the parsed file is shared by every consumer. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

function isObject(value: unknown): value is Yaml {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Litestream's own sync interval when a replica sets none (`DefaultSyncInterval`, 0.3.13 and 0.5.18). */
const LITESTREAM_DEFAULT_SYNC_MS = 1_000;

/**
 * How often litestream syncs the databases of a user's litestream.yml, as the library times
 * its watchdogs by: the longest of the replicas' `sync-interval` (each replica's own, else
 * the file's top-level one, which 0.5 reads, else litestream's default of 1 s). The longest,
 * so that no replica is taken for stalled or down while it only waits for its next sync.
 * Undefined when a value is not a positive Go duration (litestream refuses the file then).
 */
export function syncIntervalOfFile(document: LitestreamYamlDocument): number | undefined {
  const top = document['sync-interval'];
  let longest = 0;
  for (const db of document.dbs) {
    const replicas = db.replicas ?? (db.replica === undefined ? [] : [db.replica]);
    for (const replica of replicas) {
      const own = typeof replica === 'object' && replica !== null ? (replica as Yaml)['sync-interval'] : undefined;
      const given = own ?? top;
      const ms = given === undefined ? LITESTREAM_DEFAULT_SYNC_MS : parseDuration(String(given));
      if (ms === undefined) return undefined;
      longest = Math.max(longest, ms);
    }
  }
  return longest > 0 ? longest : LITESTREAM_DEFAULT_SYNC_MS;
}
