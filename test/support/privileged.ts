// Scenarios that need root (a tmpfs mount, a pid namespace of their own) skip on a developer's
// machine. CI runs them as root: there, a missing privilege means the runner changed, and the
// file fails instead of skipping, so that the coverage cannot vanish unnoticed.

/** True when CI is set (as CI services set it): `.ci/run` sets it too. */
export function underCi(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env.CI?.trim().toLowerCase();
  return value !== undefined && value !== '' && value !== 'false' && value !== '0';
}

/**
 * Whether the scenarios of `file` that need `privilege` can run here: `available` is the
 * probe's answer. Where they cannot, a warning on a developer's machine (they skip), and an
 * error under CI (the file fails).
 */
export function privileged(file: string, privilege: string, available: boolean): boolean {
  if (available) return true;
  if (underCi()) {
    throw new Error(
      `${file}: ${privilege} is not possible on this CI runner, and its scenarios must not skip under CI (CI=${process.env.CI}): run the suite as root, with mount and unshare allowed.`,
    );
  }
  console.warn(`${file}: ${privilege} needs root; its scenarios are skipped here (under CI they fail instead)`);
  return false;
}
