/**
 * V8 checks a code cache only against the length of the source it is given and its own flags: `new vm.Script(src,
 * { filename, cachedData })` with a cache made from other code of the same length runs that other code's bytecode,
 * while its frames report `filename`, the hash of `src`, and positions in `src`. Given an allowlisted SDK file's
 * exact source and path, that code passes for the SDK on the stack (caller.ts compares the script's hash with the
 * file's), request line included. So code named after a package file is compiled from its source: `cachedData` is
 * dropped when `filename` is inside a node_modules directory (the only place caller.ts counts a package). A cache
 * made from that same source is only a start-up saving; the script runs the same, slower to compile.
 *
 * The check is on Node's native script class (the prototype of `vm.Script`, whose constructor `vm.Script`,
 * `vm.createScript` and `vm.runIn*Context` all call, and which code can reach with `Object.getPrototypeOf`): the
 * class `vm.Script` extends is replaced by a Proxy whose construct trap drops the cache, and the native class's
 * `prototype.constructor` names the Proxy, so nothing exported leads back to it. `vm.compileFunction`, which
 * compiles without that class, is replaced on the module (and its ES namespace) by one that does the same with a
 * copy of its options, each read once. Once per process, read-only.
 */
import { createRequire, syncBuiltinESMExports } from 'node:module';
import type * as Vm from 'node:vm';
import { packageOf } from './caller.ts';
import { ObjectDefineProperty, ReflectApply, ReflectConstruct, ReflectGetPrototypeOf } from './intrinsics.ts';

/** The position of `cachedData` among the native script class's constructor arguments (Node 20 to 24). */
const CACHED_DATA_ARG = 4;
const FILENAME_ARG = 1;

/** The options `vm.compileFunction` reads. */
const COMPILE_FUNCTION_OPTIONS = [
  'filename',
  'lineOffset',
  'columnOffset',
  'cachedData',
  'produceCachedData',
  'parsingContext',
  'contextExtensions',
  'importModuleDynamically',
] as const;

/** Whether a vm filename names a file of a package. */
const claimsPackage = (filename: unknown): boolean => typeof filename === 'string' && packageOf(filename) !== null;

let hooked = false;

export function hookVm(): void {
  if (hooked) return;
  hooked = true;
  const vm = createRequire(import.meta.url)('node:vm') as typeof Vm;
  const Native = ReflectGetPrototypeOf(vm.Script) as (new (...args: unknown[]) => object) | null;
  if (typeof Native === 'function' && Native !== Function.prototype && Native.prototype) {
    const Guarded = new Proxy(Native, {
      construct(target, args: unknown[], newTarget) {
        let given = args;
        if (given[CACHED_DATA_ARG] !== undefined && claimsPackage(given[FILENAME_ARG])) {
          given = [];
          for (let i = 0; i < args.length; i++) given[i] = args[i];
          given[CACHED_DATA_ARG] = undefined;
        }
        return ReflectConstruct(target, given, newTarget);
      },
    });
    Object.setPrototypeOf(vm.Script, Guarded);
    ObjectDefineProperty(Native.prototype, 'constructor', {
      value: Guarded,
      writable: false,
      enumerable: false,
      configurable: false,
    });
  }
  const originalCompileFunction = vm.compileFunction;
  const guardedCompileFunction = function compileFunction(
    this: unknown,
    code: string,
    params?: readonly string[],
    options?: Vm.CompileFunctionOptions,
  ): ReturnType<typeof Vm.compileFunction> {
    if (options === null || typeof options !== 'object')
      return ReflectApply(originalCompileFunction, this, [code, params, options]);
    const copy = { __proto__: null } as unknown as Record<string, unknown>;
    const given = options as unknown as Record<string, unknown>;
    for (let i = 0; i < COMPILE_FUNCTION_OPTIONS.length; i++) {
      const k = COMPILE_FUNCTION_OPTIONS[i]!;
      const v = given[k];
      if (v !== undefined) copy[k] = v;
    }
    if (copy.cachedData !== undefined && claimsPackage(copy.filename)) copy.cachedData = undefined;
    return ReflectApply(originalCompileFunction, this, [code, params, copy]);
  };
  ObjectDefineProperty(vm, 'compileFunction', {
    value: guardedCompileFunction,
    writable: false,
    enumerable: true,
    configurable: false,
  });
  syncBuiltinESMExports();
}
