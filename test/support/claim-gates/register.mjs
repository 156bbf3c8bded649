// `node --import` this file to run an app whose claims on its databases wait at gates the
// test opens (see gated-pidfile.mjs): the library's pidfile.js (in tsc's unbundled build,
// .cache/dist-modules) is swapped for the wrapper.
import { register } from 'node:module';

register('./hooks.mjs', import.meta.url);
