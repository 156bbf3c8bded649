/**
 * Which Litestream formats a replica path holds, found by listing it from Node (no
 * litestream process). Litestream 0.3.13 looks only under `generations/` and reports a
 * replica that 0.5 wrote as "no backup"; after an upgrade on the same path, 0.5 writes its
 * LTX files beside the stale 0.3 generations, which a downgrade would silently restore. This
 * module lets the library see both before it lets an app start on an empty database.
 *
 * The layouts, as written by the real binaries (0.3.13 and 0.5.17, to a file replica and to
 * versitygw), relative to one database's replica path:
 *
 * | format | S3 | file replica |
 * | --- | --- | --- |
 * | 0.3 | `generations/<16 hex>/snapshots/<8 hex>.snapshot.lz4`, `generations/<16 hex>/wal/<8 hex>_<8 hex>.wal.lz4` | the same |
 * | 0.5 | `<level, 4 hex digits>/<min txid>-<max txid>.ltx` (levels `0000`…`0009`) | `ltx/<level, decimal>/<min txid>-<max txid>.ltx` |
 *
 * (TXIDs are 16 hex digits.) Only a key of exactly that shape counts: a stray object, a
 * temp file or a lock file is not a backup.
 *
 * @packageDocumentation
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ReplicaLocation } from '../config/replica-location.js';
import { ReplicaUnreachableError } from '../errors.js';
import { s3BucketOf } from '../replica/location-bucket.js';
import type { S3Bucket } from '../replica/s3/bucket.js';
import { listS3Pages, listS3Prefix } from '../replica/s3/operations.js';
import { throwIfAborted } from '../support/abort.js';
import { V03_FILE } from './v0_3/file-names.js';
import { V05_FILE } from './v0_5/file-names.js';

/** A Litestream replica format: 0.3 generations, or 0.5 LTX files. */
export type ReplicaFormat = '0.3' | '0.5';

// Where a database's backup lives is resolved with the config (config/replica-location.ts).

/** What a replica path holds. */
export interface ReplicaContents {
  readonly checked: true;
  /** The formats with at least one backup file; empty when there is no backup. */
  readonly formats: ReadonlySet<ReplicaFormat>;
  /**
   * The newest backup file's time, per format, when it was cheap to know: on S3 when the
   * listing that found the format was complete (or `exhaustive` was set), always for a file
   * replica.
   */
  readonly newest: { readonly '0.3'?: Date; readonly '0.5'?: Date };
  /**
   * Every 0.3 generation with its first and last write (its objects' oldest and newest
   * `LastModified`, as litestream 0.3 reads them), when {@link InspectReplicaOptions.generationSpans}
   * asked for them and the listing was complete.
   */
  readonly generations?: readonly GenerationSpan[];
}

/** A Litestream 0.3 generation's first and last write in the replica. */
export interface GenerationSpan {
  readonly generation: string;
  readonly start: Date;
  readonly end: Date;
}

/** The replica was not looked at, and why (a replica type litestream-node cannot list). */
export interface ReplicaNotChecked {
  readonly checked: false;
  readonly reason: string;
}

/** Options of {@link inspectReplica}. */
export interface InspectReplicaOptions {
  signal?: AbortSignal;
  /** Per S3 request. Default 10 000. */
  timeoutMs?: number;
  /**
   * List every backup object to give each format's exact newest time (one request per 1000
   * objects). Default false: stop at the first page that proves a format is there.
   */
  exhaustive?: boolean;
  /**
   * List all of a 0.3 replica's `generations/` (one request per 1000 objects) to give each
   * generation's span in {@link ReplicaContents.generations}. Default false.
   */
  generationSpans?: boolean;
  /**
   * Where static keys and `AWS_CA_BUNDLE` come from when the location has none. Default
   * `process.env`. (The AWS default chain, used without static keys, reads the process's own.)
   */
  env?: Readonly<Record<string, string | undefined>>;
}

// Keys relative to the database's replica path.
const V03_KEY =
  /^generations\/[0-9a-f]{16}\/(?:snapshots\/[0-9a-f]{8,16}\.snapshot\.lz4|wal\/[0-9a-f]{8,16}_[0-9a-f]{8,16}\.wal\.lz4)$/;
const V05_S3_KEY = /^[0-9a-f]{4}\/[0-9a-f]{16}-[0-9a-f]{16}\.ltx$/;
const V05_S3_LEVEL = /^[0-9a-f]{4}\/$/;
const GENERATION = /^[0-9a-f]{16}$/;
const V05_FILE_LEVEL = /^\d+$/;

/**
 * Looks at one database's replica path and says which Litestream formats hold a backup
 * there. On S3 it costs one delimiter listing of the path, plus one listing per format found
 * (more only for a format with over 1000 objects whose first page has no backup file, or
 * with `exhaustive`). A missing directory or an empty prefix is "no formats".
 *
 * S3 credentials: the location's, else `LITESTREAM_ACCESS_KEY_ID` / `LITESTREAM_SECRET_ACCESS_KEY`
 * or `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (each preferred in that order, as litestream
 * does) with `AWS_SESSION_TOKEN`, else the AWS default chain (profiles, web identity, ECS and
 * EC2 roles; see `credentials.ts`).
 *
 * @throws ReplicaUnreachableError when the replica cannot be read or refuses the request
 *   (see `s3FailureOf` for the S3 status and code).
 * @throws CredentialsError when the Node process has no credentials, or their source failed.
 * @throws LitestreamAbortError when `signal` aborts.
 */
export async function inspectReplica(
  location: ReplicaLocation,
  options: InspectReplicaOptions = {},
): Promise<ReplicaContents | ReplicaNotChecked> {
  throwIfAborted(options.signal, 'Inspecting the replica');
  if (location.type === 'file') return inspectDirectory(location.directory, options);
  return inspectBucket(s3BucketOf(location, options.env ?? process.env), location.prefix, options);
}

async function inspectBucket(bucket: S3Bucket, prefix: string, options: InspectReplicaOptions) {
  const root = prefix.replace(/^\/+|\/+$/g, '') === '' ? '' : `${prefix.replace(/^\/+|\/+$/g, '')}/`;
  const call = { signal: options.signal, timeoutMs: options.timeoutMs, env: options.env };
  // One delimiter listing says which format roots exist; only those are listed further.
  const top = await listS3Prefix(bucket, { ...call, prefix: root, delimiter: '/' });
  const children = top.prefixes.map((child) => child.slice(root.length));
  const levels = children.filter((child) => V05_S3_LEVEL.test(child));

  const probes: Promise<[ReplicaFormat, Probe]>[] = [];
  if (children.includes('generations/')) {
    const spans = options.generationSpans ? new Map<string, { start: Date; end: Date }>() : undefined;
    const onKey = spans && ((key: string, modified: Date) => addToSpan(spans, key, modified));
    probes.push(
      probeS3(bucket, root, `${root}generations/`, V03_KEY, options, call, onKey).then((probe) => [
        '0.3',
        spans && probe.newest
          ? { ...probe, generations: [...spans].map(([generation, span]) => ({ generation, ...span })) }
          : probe,
      ]),
    );
  }
  if (levels.length > 0) {
    // All level directories in one listing: their common leading characters (`000` for 0000…0009).
    const shared = commonPrefix(levels);
    probes.push(probeS3(bucket, root, `${root}${shared}`, V05_S3_KEY, options, call).then((p) => ['0.5', p]));
  }
  const found = contents(await Promise.all(probes));
  // No `generations/` at all is a complete answer too: there are none.
  return options.generationSpans && !children.includes('generations/') ? { ...found, generations: [] } : found;
}

interface Probe {
  found: boolean;
  newest: Date | undefined;
  generations?: GenerationSpan[];
}

/** Widens the span of the generation that `key` (`generations/<id>/…`) belongs to. */
function addToSpan(spans: Map<string, { start: Date; end: Date }>, key: string, modified: Date): void {
  const generation = key.slice('generations/'.length, 'generations/'.length + 16);
  spans.set(generation, widen(spans.get(generation), modified, modified));
}

/** `span` grown to cover `start`…`end` (or that span, when there is none yet). */
function widen(span: { start: Date; end: Date } | undefined, start: Date, end: Date): { start: Date; end: Date } {
  if (!span) return { start, end };
  return {
    start: start.getTime() < span.start.getTime() ? start : span.start,
    end: end.getTime() > span.end.getTime() ? end : span.end,
  };
}

/** Lists `prefix` (no delimiter) until a key of the format's shape shows up, or to the end. */
async function probeS3(
  bucket: S3Bucket,
  root: string,
  prefix: string,
  shape: RegExp,
  options: InspectReplicaOptions,
  call: { signal: AbortSignal | undefined; timeoutMs: number | undefined; env: InspectReplicaOptions['env'] },
  /** Sees every key of the format's shape (relative to `root`); the listing then goes to the end. */
  onKey?: (key: string, modified: Date) => void,
): Promise<Probe> {
  let found = false;
  let newest: Date | undefined;
  let complete = false;
  for await (const page of listS3Pages(bucket, { ...call, prefix, delimiter: null })) {
    for (const object of page.objects) {
      const key = object.key.slice(root.length);
      if (!shape.test(key)) continue;
      onKey?.(key, object.lastModified);
      found = true;
      if (!newest || object.lastModified > newest) newest = object.lastModified;
    }
    complete = page.complete;
    if (found && !options.exhaustive && !onKey) break;
  }
  return { found, newest: complete ? newest : undefined };
}

function commonPrefix(names: readonly string[]): string {
  let shared = names[0] ?? '';
  for (const name of names) {
    while (!name.startsWith(shared)) shared = shared.slice(0, -1);
  }
  return shared;
}

function contents(probes: readonly [ReplicaFormat, Probe][]): ReplicaContents {
  const formats = new Set<ReplicaFormat>();
  const newest: { '0.3'?: Date; '0.5'?: Date } = {};
  let generations: GenerationSpan[] | undefined;
  for (const [format, probe] of probes) {
    if (!probe.found) continue;
    formats.add(format);
    if (probe.newest) newest[format] = probe.newest;
    generations ??= probe.generations;
  }
  return { checked: true, formats, newest, ...(generations ? { generations } : {}) };
}

async function inspectDirectory(directory: string, options: InspectReplicaOptions): Promise<ReplicaContents> {
  const { signal } = options;
  const v03: Probe = { found: false, newest: undefined };
  const spans: GenerationSpan[] = [];
  for (const generation of await subdirectories(path.join(directory, 'generations'), GENERATION)) {
    let span: { start: Date; end: Date } | undefined;
    for (const [kind, shape] of Object.entries(V03_FILE)) {
      throwIfAborted(signal, 'Inspecting the replica');
      const { found, first, last } = await firstAndLastFile(
        path.join(directory, 'generations', generation, kind),
        shape,
      );
      v03.found ||= found;
      if (!last) continue;
      if (!v03.newest || last > v03.newest) v03.newest = last;
      span = widen(span, first ?? last, last);
    }
    if (span) spans.push({ generation, ...span });
  }
  const v05: Probe = { found: false, newest: undefined };
  for (const level of await subdirectories(path.join(directory, 'ltx'), V05_FILE_LEVEL)) {
    throwIfAborted(signal, 'Inspecting the replica');
    const { found, last } = await firstAndLastFile(path.join(directory, 'ltx', level), V05_FILE);
    v05.found ||= found;
    if (last && (!v05.newest || last > v05.newest)) v05.newest = last;
  }
  const found = contents([
    ['0.3', v03],
    ['0.5', v05],
  ]);
  return options.generationSpans ? { ...found, generations: spans } : found;
}

/**
 * The modification times of the directory's first and last file of `shape`. Names sort in
 * write order within one directory (they are increasing indexes or TXIDs), so only those two
 * are stat'ed; undefined for a file that went away meanwhile (removed by retention).
 */
async function firstAndLastFile(
  directory: string,
  shape: RegExp,
): Promise<{ found: boolean; first: Date | undefined; last: Date | undefined }> {
  const names = (await entries(directory))
    .filter((entry) => entry.isFile() && shape.test(entry.name))
    .map((entry) => entry.name)
    .sort();
  const first = names[0];
  const last = names.at(-1);
  if (first === undefined || last === undefined) return { found: false, first: undefined, last: undefined };
  const mtime = async (name: string) => (await statOrUndefined(path.join(directory, name)))?.mtime;
  const [firstTime, lastTime] = await Promise.all([first === last ? undefined : mtime(first), mtime(last)]);
  return { found: true, first: firstTime, last: lastTime };
}

async function subdirectories(directory: string, shape: RegExp): Promise<string[]> {
  return (await entries(directory))
    .filter((entry) => entry.isDirectory() && shape.test(entry.name))
    .map((entry) => entry.name);
}

async function entries(directory: string) {
  try {
    return await readdir(directory, { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // Nothing there (yet) is no backup, not an error.
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw new ReplicaUnreachableError(
      `Cannot read the file replica ${directory} (${code ?? 'error'}): check its permissions.`,
      {
        cause: error,
      },
    );
  }
}

async function statOrUndefined(file: string) {
  try {
    return await stat(file);
  } catch {
    // Removed by retention between readdir and stat: the next newest is close enough.
    return undefined;
  }
}
