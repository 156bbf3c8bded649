/** The Litestream release lines this library drives, each by an engine of its own. */
export type LitestreamFamily = '0.3' | '0.5';
