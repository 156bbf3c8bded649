export type { LitestreamFamily } from '../errors.js';
