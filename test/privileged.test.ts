// The root-only scenarios (a tmpfs, a pid namespace) skip on a developer's machine and fail
// under CI, where they must run.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { privileged, underCi } from './support/privileged.js';

describe('privileged scenarios', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it('run where the privilege is there, whatever CI says', () => {
    vi.stubEnv('CI', 'true');
    expect(privileged('x.test.ts', 'mounting a tmpfs', true)).toBe(true);
  });

  it('skip with a warning on a developer machine', () => {
    vi.stubEnv('CI', '');
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    expect(privileged('x.test.ts', 'mounting a tmpfs', false)).toBe(false);
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/x\.test\.ts: mounting a tmpfs needs root/));
  });

  it('fail the file under CI instead of skipping', () => {
    vi.stubEnv('CI', 'true');
    expect(() => privileged('x.test.ts', 'mounting a tmpfs', false)).toThrow(/must not skip under CI/);
    for (const value of ['1', 'yes', 'TRUE']) expect(underCi({ CI: value })).toBe(true);
    for (const value of [undefined, '', 'false', '0']) expect(underCi({ CI: value })).toBe(false);
  });
});
