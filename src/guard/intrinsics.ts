/**
 * The built-ins the guard's decisions use, taken when the guard is loaded. Application code can replace any
 * built-in method later (`String.prototype.toLowerCase`, `Set.prototype.has`, `Array.prototype.filter`,
 * `RegExp.prototype.exec`, `JSON.parse`, `URL`, `Function.prototype.call` …) so that a check written with them
 * answers "not a metadata address" or "allowed". The guard's checks call only the functions kept here:
 * methods are held "uncurried" (`StringPrototypeSlice(s, 0, 3)` for `s.slice(0, 3)`), bound to Node's own
 * `Function.prototype.call`, so nothing is looked up on a prototype, on `Function.prototype` or on `globalThis`
 * when they run. The code that uses them also avoids what looks up built-ins implicitly: iteration of arrays
 * (`for…of`, spread and destructuring read `Array.prototype[Symbol.iterator]`), `instanceof`, `Symbol.species`
 * (`map`, `filter`, `slice` of arrays), and properties missing on its own objects (an accessor put on
 * `Object.prototype` would answer).
 *
 * Code that ran before this module was loaded could already have replaced them: with `--import
 * imdsguard/guard/register` nothing of the application has run yet.
 */

const { bind, call } = Function.prototype;
/** `uncurryThis(f)(self, ...args)` is `f.call(self, ...args)` with the `call` of this moment. */
const uncurryThis = bind.bind(call) as <T, A extends unknown[], R>(
  fn: (this: T, ...args: A) => R,
) => (self: T, ...args: A) => R;

export const ReflectApply = Reflect.apply;
export const ReflectConstruct = Reflect.construct;
export const ReflectDefineProperty = Reflect.defineProperty;
export const ReflectGetOwnPropertyDescriptor = Reflect.getOwnPropertyDescriptor;
export const ReflectGetPrototypeOf = Reflect.getPrototypeOf;
export const ObjectFreeze = Object.freeze;
export const ObjectKeys = Object.keys;
export const ObjectGetOwnPropertySymbols = Object.getOwnPropertySymbols;
export const ObjectDefineProperty = Object.defineProperty;
export const ArrayIsArray = Array.isArray;
export const NumberCtor = Number;
export const StringCtor = String;
export const JSONStringify = JSON.stringify;
export const DateNow = Date.now;
export const MathMin = Math.min;
export const NumberParseInt = Number.parseInt;

export const StringPrototypeCharCodeAt = uncurryThis(String.prototype.charCodeAt);
export const StringPrototypeSlice = uncurryThis(String.prototype.slice);
export const StringPrototypeIndexOf = uncurryThis(String.prototype.indexOf);
export const StringPrototypeLastIndexOf = uncurryThis(String.prototype.lastIndexOf);
export const StringPrototypeStartsWith = uncurryThis(String.prototype.startsWith);
export const StringPrototypeEndsWith = uncurryThis(String.prototype.endsWith);
export const StringPrototypeIncludes = uncurryThis(String.prototype.includes);
export const StringPrototypeToLowerCase = uncurryThis(String.prototype.toLowerCase);
export const StringPrototypeToUpperCase = uncurryThis(String.prototype.toUpperCase);
export const StringPrototypeReplaceAll = uncurryThis(
  String.prototype.replaceAll as (this: string, search: string, replacement: string) => string,
);
export const StringPrototypeSplit = uncurryThis(String.prototype.split as (this: string, sep: string) => string[]);

export const ArrayPrototypePush = uncurryThis(Array.prototype.push) as <T>(a: T[], ...items: T[]) => number;
export const ArrayPrototypeJoin = uncurryThis(Array.prototype.join) as (a: readonly unknown[], sep: string) => string;

export const SetPrototypeHas = uncurryThis(Set.prototype.has) as <T>(s: Set<T>, v: T) => boolean;
export const SetPrototypeAdd = uncurryThis(Set.prototype.add) as <T>(s: Set<T>, v: T) => Set<T>;
export const MapPrototypeGet = uncurryThis(Map.prototype.get) as <K, V>(m: Map<K, V>, k: K) => V | undefined;
export const MapPrototypeSet = uncurryThis(Map.prototype.set) as <K, V>(m: Map<K, V>, k: K, v: V) => Map<K, V>;
export const MapPrototypeHas = uncurryThis(Map.prototype.has) as <K, V>(m: Map<K, V>, k: K) => boolean;
export const WeakSetPrototypeHas = uncurryThis(WeakSet.prototype.has) as <T extends object>(
  s: WeakSet<T>,
  v: T,
) => boolean;
export const WeakSetPrototypeAdd = uncurryThis(WeakSet.prototype.add) as <T extends object>(
  s: WeakSet<T>,
  v: T,
) => WeakSet<T>;
export const WeakMapPrototypeGet = uncurryThis(WeakMap.prototype.get) as <K extends object, V>(
  m: WeakMap<K, V>,
  k: K,
) => V | undefined;
export const WeakMapPrototypeSet = uncurryThis(WeakMap.prototype.set) as <K extends object, V>(
  m: WeakMap<K, V>,
  k: K,
  v: V,
) => WeakMap<K, V>;
export const RegExpPrototypeExec = uncurryThis(RegExp.prototype.exec);
export const SymbolPrototypeDescription = uncurryThis(
  Object.getOwnPropertyDescriptor(Symbol.prototype, 'description')!.get as (this: symbol) => string | undefined,
);
export const ProcessNextTick = process.nextTick;
export const FunctionPrototypeCall = uncurryThis(call) as (fn: unknown, self: unknown, ...args: unknown[]) => unknown;

/** A new array with the same elements, by index (no iterator, no `Symbol.species`). */
export function copyArray<T>(a: readonly T[]): T[] {
  const out: T[] = [];
  for (let i = 0; i < a.length; i++) ArrayPrototypePush(out, a[i] as T);
  return out;
}

/** `a.includes(v)` for the guard's own arrays of strings. */
export function arrayHas(a: readonly string[], v: string): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] === v) return true;
  return false;
}

/** An object without a prototype, so that a key missing on it is missing, whatever `Object.prototype` holds. */
export function bare<T>(): Record<string, T> {
  return { __proto__: null } as unknown as Record<string, T>;
}

const urlGetter = (name: string) =>
  uncurryThis(Object.getOwnPropertyDescriptor(URL.prototype, name)!.get as (this: URL) => string);
export const URLCtor = URL;
export const URLPrototypeGetHref = urlGetter('href');
export const URLPrototypeGetHostname = urlGetter('hostname');
export const URLPrototypeGetPort = urlGetter('port');
export const URLPrototypeGetProtocol = urlGetter('protocol');
export const URLPrototypeGetPathname = urlGetter('pathname');
export const URLPrototypeGetSearch = urlGetter('search');

export const BufferFrom = Buffer.from;
export const BufferIsBuffer = Buffer.isBuffer;
/** `buffer.toString('latin1', start, end)`, by Node's own method. */
export const BufferPrototypeLatin1Slice = uncurryThis(
  (Buffer.prototype as unknown as { latin1Slice: (this: Buffer, start: number, end: number) => string }).latin1Slice,
);
export const TypedArrayPrototypeGetByteLength = uncurryThis(
  Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), 'byteLength')!.get as (
    this: Uint8Array,
  ) => number,
);
const typedArrayGetter = <R>(name: string) =>
  uncurryThis(
    Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), name)!.get as (this: Uint8Array) => R,
  );
export const TypedArrayPrototypeGetBuffer = typedArrayGetter<ArrayBufferLike>('buffer');
export const TypedArrayPrototypeGetByteOffset = typedArrayGetter<number>('byteOffset');
export const TypedArrayPrototypeGetSymbolToStringTag = uncurryThis(
  Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag)!.get as (
    this: unknown,
  ) => string | undefined,
);
/** A Uint8Array (a Buffer included), by its internal slot, not `instanceof`. */
export function isUint8Array(v: unknown): v is Uint8Array {
  return TypedArrayPrototypeGetSymbolToStringTag(v) === 'Uint8Array';
}
