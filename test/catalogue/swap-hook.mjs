// Module resolution hook: every import of the core catalogue resolves to the synthetic copy, except the copy's own.
const COPY = new URL('./synthetic-catalogue.ts', import.meta.url).href;

export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (r.url.endsWith('/src/core/endpoints/catalogue.ts') && context.parentURL !== COPY) return { ...r, url: COPY };
  return r;
}
