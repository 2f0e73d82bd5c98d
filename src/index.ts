/**
 * imdsguard as a library: the detection core (classifier, catalogue, finding model). The in-process guard and the
 * request middleware are the `imdsguard/guard` and `imdsguard/guard/middleware` subpaths.
 * @module
 */
export * from './core/index.ts';
