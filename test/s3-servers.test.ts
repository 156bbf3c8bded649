import { describe, expect, it } from 'vitest';
import { listKeys, s3Ok } from './support/s3-client.js';
import { testS3 } from './support/s3-per-file.js';

describe('test S3 server', () => {
  it('stores and lists an object', async () => {
    const s3 = testS3();
    await s3Ok(s3, { method: 'PUT', key: 'a/b.txt', body: new TextEncoder().encode('hello') });
    expect(await listKeys(s3, 'a/')).toEqual(['a/b.txt']);
    expect(await (await s3Ok(s3, { key: 'a/b.txt' })).text()).toBe('hello');
  });
});
