// Module resolution hook: every import of the library's pidfile.js (in tsc's unbundled
// build) gets the gated wrapper instead, except the wrapper's own import of the real module.
const WRAPPER = new URL('./gated-pidfile.mjs', import.meta.url).href;

export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  if (context.parentURL !== WRAPPER && resolved.url.endsWith('/.cache/dist-modules/process/pidfile.js')) {
    return { ...resolved, url: WRAPPER };
  }
  return resolved;
}
