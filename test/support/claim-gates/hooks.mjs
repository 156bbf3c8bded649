// Module resolution hook: every import of the library's dist/pidfile.js gets the gated
// wrapper instead, except the wrapper's own import of the real module.
const WRAPPER = new URL('./gated-pidfile.mjs', import.meta.url).href;

export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  if (context.parentURL !== WRAPPER && resolved.url.endsWith('/dist/pidfile.js')) {
    return { ...resolved, url: WRAPPER };
  }
  return resolved;
}
