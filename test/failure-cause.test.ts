// The one classifier of failure texts, against texts the real binaries and this library's own
// requests produced (litestream 0.3.13 and 0.5.17/0.5.18 against versitygw made to fail, the
// captured log in test/fixtures/litestream-0.5.17, the Node side's S3 and lease errors): each
// row gives the cause, what the restore does with it, and what the outage watch reports.
import { describe, expect, it } from 'vitest';
import {
  classifyFailure,
  type FailureCause,
  type FailureKind,
  failureCauseOf,
  failureKindOfText,
  type ReplicaFailureKind,
} from '../src/replica/failure-cause.js';

type Row = [text: string, cause: FailureCause, restore: FailureKind, outage: ReplicaFailureKind];

const V03: Row[] = [
  [
    'monitor error: RequestError: send request failed\ncaused by: Get "http://127.0.0.1:35843/litestream-test?delimiter=%2F": dial tcp 127.0.0.1:35843: connect: connection refused',
    'refused',
    'transient',
    'refused',
  ],
  [
    'monitor error: cannot determine replica position: max snapshot: RequestError: send request failed\ncaused by: Get "http://127.0.0.1:35843/x": read tcp 127.0.0.1:46780->127.0.0.1:35843: read: connection reset by peer',
    'reset',
    'transient',
    'reset',
  ],
  [
    'monitor error: RequestError: send request failed\ncaused by: Put "http://s3-1.lsnode.invalid:4000/b/k": dial tcp: lookup s3-1.lsnode.invalid on 10.255.255.53:53: no such host',
    'dns',
    'transient',
    'dns',
  ],
  // No resolver answering: the text ends in "connection refused", and it is still DNS.
  [
    'dial tcp: lookup s3.example.invalid on 127.0.0.53:53: read udp 127.0.0.1:5->127.0.0.53:53: connection refused',
    'dns',
    'transient',
    'dns',
  ],
  [
    'monitor error: SignatureDoesNotMatch: The request signature we calculated does not match the signature you provided.\n\tstatus code: 403, request id: , host id: ',
    'credentials',
    'credentials',
    'credentials',
  ],
  [
    'cannot fetch generations: InvalidAccessKeyId: The AWS Access Key Id you provided does not exist',
    'credentials',
    'credentials',
    'credentials',
  ],
  // versitygw's answer to an unknown key.
  [
    'XAdminUserNotFound: No user exists with the provided access key ID.\n\tstatus code: 404',
    'credentials',
    'credentials',
    'credentials',
  ],
  [
    'NoCredentialProviders: no valid providers in chain. Deprecated.\n\tFor verbose messaging see aws.Config.CredentialsChainVerboseErrors',
    'credentials',
    'credentials',
    'credentials',
  ],
  [
    "AuthorizationHeaderMalformed: The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'eu-west-1'\n\tstatus code: 400",
    'wrong-region',
    'wrong-region',
    'wrong-region',
  ],
  [
    'cannot fetch generations: NoSuchBucket: The specified bucket does not exist',
    'no-bucket',
    'no-bucket',
    'no-bucket',
  ],
  [
    'monitor error: ServiceUnavailable: Please reduce your request rate.\n\tstatus code: 503, request id: ',
    'server-error',
    'transient',
    'server-error',
  ],
  ['cannot download wal 4011/00000000: EOF', 'reset', 'transient', 'reset'],
  ['cannot download wal 0791db968d7f0056/00000000: unexpected EOF', 'ended-early', 'ended-early', 'reset'],
  [
    'cannot restore snapshot: lz4: invalid frame checksum: got e693f9ab; expected ee945265',
    'damaged',
    'damaged',
    'other',
  ],
  ['write /data/app.sqlite3.tmp: no space left on device', 'disk-full', 'disk-full', 'other'],
  ['invalid -timestamp, must specify in ISO 8601 format', 'other', 'other', 'other'],
];

const V05: Row[] = [
  [
    'monitor error: operation error S3: PutObject, exceeded maximum number of attempts, 8, https response error StatusCode: 503, RequestID: , HostID: , api error ServiceUnavailable: Please reduce your request rate.',
    'server-error',
    'transient',
    'server-error',
  ],
  // Only the status: aws-sdk-go v2 writes "StatusCode:", v1 "status code:"; both are read.
  [
    'operation error S3: GetObject, https response error StatusCode: 500, RequestID: x, HostID: y',
    'server-error',
    'transient',
    'server-error',
  ],
  [
    'operation error S3: GetObject, https response error StatusCode: 403, RequestID: x, HostID: y',
    'credentials',
    'credentials',
    'credentials',
  ],
  [
    'operation error S3: ListObjectsV2, https response error StatusCode: 403, api error InvalidAccessKeyId',
    'credentials',
    'credentials',
    'credentials',
  ],
  // test/fixtures/litestream-0.5.17/sigterm-replica-unreachable.jsonl
  [
    'calc pos: max ltx file: operation error S3: ListObjectsV2, https response error StatusCode: 0, RequestID: , HostID: , canceled, context deadline exceeded',
    'timeout',
    'transient',
    'timeout',
  ],
  ['context deadline exceeded (Client.Timeout exceeded while awaiting headers)', 'timeout', 'transient', 'timeout'],
  [
    'cannot calc restore plan: non-contiguous ltx files: have up to 0000000000000002 but next file starts at 0000000000000004',
    'damaged',
    'damaged',
    'other',
  ],
  [
    'decode database: decode page 1: read page header 2: read compressed data: unexpected EOF',
    'ended-early',
    'ended-early',
    'reset',
  ],
  ['compaction failed: invalid argument', 'other', 'other', 'other'],
];

const NODE_SIDE: Row[] = [
  [
    'the lease s3://b/app.db.litestream-node-lease could not be renewed: Could not reach s3://b at http://127.0.0.1:4 (ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:4): check the endpoint and the network.',
    'refused',
    'transient',
    'refused',
  ],
  [
    'Could not reach s3://b at http://x.invalid:4 (ENOTFOUND: getaddrinfo ENOTFOUND x.invalid)',
    'dns',
    'transient',
    'dns',
  ],
  ['Could not reach s3://b (ETIMEDOUT: no complete answer within 2500 ms)', 'timeout', 'transient', 'timeout'],
  [
    '403 SignatureDoesNotMatch: The request signature we calculated does not match',
    'credentials',
    'credentials',
    'credentials',
  ],
];

describe('the failure classifier', () => {
  it.each([
    ...V03.map((row) => ['0.3', ...row] as const),
    ...V05.map((row) => ['0.5', ...row] as const),
    ...NODE_SIDE.map((row) => ['node', ...row] as const),
  ])('%s: %s → %s (restore: %s, outage: %s)', (_from, text, cause, restore, outage) => {
    expect(failureCauseOf(text)).toBe(cause);
    expect(classifyFailure(text)).toBe(restore);
    expect(failureKindOfText(text)).toBe(outage);
  });
});
