/**
 * Litestream 0.5 (its AWS SDK, with a custom HTTP client) fails every S3 request when
 * `AWS_CA_BUNDLE` is set: "unable to add custom RootCAs HTTPClient". Go reads a CA bundle
 * from `SSL_CERT_FILE` (beside the system's certificate directories), so the bundle is
 * passed that way instead. Returns a sentence for the log when it changed something.
 */
export function adaptEnv(env: NodeJS.ProcessEnv): string | undefined {
  const bundle = env.AWS_CA_BUNDLE;
  if (bundle === undefined) return undefined;
  delete env.AWS_CA_BUNDLE;
  if (bundle.trim() === '') return undefined;
  const cause = 'AWS_CA_BUNDLE is set, and litestream 0.5 fails every S3 request when it is';
  if (env.SSL_CERT_FILE) {
    return `${cause}: it is removed from litestream's environment; litestream uses SSL_CERT_FILE (${env.SSL_CERT_FILE}) instead.`;
  }
  env.SSL_CERT_FILE = bundle;
  return `${cause}: litestream gets the bundle (${bundle}) as SSL_CERT_FILE instead, which it trusts beside the system's certificates.`;
}
