/**
 * Node's command-line options read the way Node reads them (node_options.cc, `OptionsParser::Parse`), so that the
 * guard refuses an option for what Node makes of it, never for one spelling of it:
 * - a word that starts with `--` is an option; its name runs to the first `=`, and what follows is its value
 *   (Node takes `--expose-internals=1`, `=true`, even `=0`, as `--expose-internals`);
 * - every `_` in the name after the leading dashes is read as `-` (`--experimental_loader`, `--expose_internals`);
 * - an alias is the option it stands for (`--loader` is `--experimental-loader`);
 * - an option that takes a value and has no `=` takes the next word (Node refuses that word if it starts with `-`).
 * `NODE_OPTIONS` is split into words the way Node splits it (`ParseNodeOptionsEnvVar`): at spaces outside double
 * quotes, a backslash inside quotes taking the next character as it is.
 */
import {
  ArrayPrototypePush,
  StringCtor,
  StringPrototypeCharCodeAt,
  StringPrototypeIndexOf,
  StringPrototypeSlice,
} from './intrinsics.ts';

/** One option as Node reads it: its canonical name, its value (null when the option takes none), its words. */
export interface NodeOption {
  name: string;
  value: string | null;
  /** The words that gave it, as written (`--experimental_loader /x.mjs`). */
  text: string;
}

/** Aliases Node resolves before it looks the option up. */
const ALIASES: Readonly<Record<string, string>> = Object.freeze({
  __proto__: null,
  '--loader': '--experimental-loader',
} as unknown as Record<string, string>);

/** Options of interest to the guard that take a value (and so may take the next word). */
const TAKES_VALUE: Readonly<Record<string, true>> = Object.freeze({
  __proto__: null,
  '--experimental-loader': true,
  '--import': true,
  '--require': true,
} as unknown as Record<string, true>);

/** The canonical name of an option word's name part (`--experimental_loader` → `--experimental-loader`). */
function canonicalName(name: string): string {
  let out = StringPrototypeSlice(name, 0, 2);
  for (let i = 2; i < name.length; i++) {
    const c = StringPrototypeCharCodeAt(name, i);
    out += c === 95 ? '-' : StringPrototypeSlice(name, i, i + 1);
  }
  return ALIASES[out] ?? out;
}

/** The options in a list of words (an `execArgv`, or `NODE_OPTIONS` split by `nodeOptionsWords`). */
export function nodeOptions(words: readonly string[]): NodeOption[] {
  const out: NodeOption[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = StringCtor(words[i]);
    if (StringPrototypeCharCodeAt(w, 0) !== 45 || StringPrototypeCharCodeAt(w, 1) !== 45 || w.length < 3) continue;
    const eq = StringPrototypeIndexOf(w, '=');
    const name = canonicalName(eq < 0 ? w : StringPrototypeSlice(w, 0, eq));
    let value: string | null = eq < 0 ? null : StringPrototypeSlice(w, eq + 1);
    let text = w;
    if (TAKES_VALUE[name] !== true) value = null;
    else if (eq < 0 && i + 1 < words.length) {
      value = StringCtor(words[++i]);
      text = `${w} ${value}`;
    }
    ArrayPrototypePush(out, { name, value, text });
  }
  return out;
}

/** The words of a `NODE_OPTIONS` value, as Node splits it. */
export function nodeOptionsWords(value: string): string[] {
  const words: string[] = [];
  let quoted = false;
  let word: string | null = null;
  for (let i = 0; i < value.length; i++) {
    let c = StringPrototypeSlice(value, i, i + 1);
    if (c === '\\' && quoted && i + 1 < value.length) c = StringPrototypeSlice(value, ++i, i + 1);
    else if (c === ' ' && !quoted) {
      if (word !== null) ArrayPrototypePush(words, word);
      word = null;
      continue;
    } else if (c === '"') {
      quoted = !quoted;
      continue;
    }
    word = word === null ? c : word + c;
  }
  if (word !== null) ArrayPrototypePush(words, word);
  return words;
}
