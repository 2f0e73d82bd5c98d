import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { InputSyntaxError } from '../errors.ts';
import { parseYamlConfig } from './yaml-config.ts';

const schema = z.object({ items: z.array(z.object({ name: z.string(), size: z.number() }).strict()) }).strict();
const fails = (text: string, pattern: RegExp) =>
  assert.throws(
    () => parseYamlConfig(text, 'c.yaml', schema, 'example', { items: [] }),
    (e: unknown) => e instanceof InputSyntaxError && pattern.test(e.message),
  );

describe('parseYamlConfig', () => {
  test('reads a valid document, and an empty one as the default given', () => {
    assert.deepEqual(parseYamlConfig('items:\n  - name: a\n    size: 2\n', 'c.yaml', schema, 'example').value, {
      items: [{ name: 'a', size: 2 }],
    });
    assert.deepEqual(parseYamlConfig('', 'c.yaml', schema, 'example', { items: [] }).value, { items: [] });
  });
  test('a syntax error names file, line and column', () =>
    fails('items: [\n  - a: b\n', /^c\.yaml:\d+:\d+: Invalid YAML/));
  test('a repeated key is refused', () => fails('items: []\nitems: []\n', /^c\.yaml:2:1: Invalid YAML/));
  test('a schema issue names its key and the line of the value', () =>
    fails('items:\n  - name: a\n    size: big\n', /^c\.yaml:3:11: Invalid example at "items\.0\.size"/));
  test('a missing key points at its parent', () =>
    fails('items:\n  - name: a\n', /^c\.yaml:2:5: Invalid example at "items\.0\.size"/));
  test('alias expansion is bounded', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 8; i++)
      bomb.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(', ')}]`,
      );
    assert.throws(() => parseYamlConfig(bomb.join('\n'), 'c.yaml', z.unknown(), 'example'));
  });
});

test('an alias bomb (billion laughs) is refused with an error naming the file', () => {
  const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (const [prev, cur] of [
    ['a', 'b'],
    ['b', 'c'],
    ['c', 'd'],
    ['d', 'e'],
  ])
    levels.push(`${cur}: &${cur} [${Array(9).fill(`*${prev}`).join(',')}]`);
  assert.throws(
    () => parseYamlConfig(`${levels.join('\n')}\n`, 'bomb.yaml', z.unknown(), 'policy'),
    (e: Error) => e instanceof InputSyntaxError && /bomb\.yaml/.test(e.message) && /alias/i.test(e.message),
  );
});
