import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { buildCatalogue, CATALOGUE } from '../../src/core/endpoints/lookup.ts';
import { SYNTHETIC } from './synthetic-catalogue.ts';

/** Run the child with the catalogue module swapped for a copy holding one more provider, or as it is. */
function child(swap: boolean) {
  const here = join(import.meta.dirname);
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      ...(swap ? ['--import', join(here, 'register-swap.mjs')] : []),
      join(here, 'synthetic-child.ts'),
    ],
    { encoding: 'utf8', cwd: join(here, '..', '..') },
  );
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as {
    explain: Array<{ verdict: string; provider: string | null; path_class: string | null }>;
    scan: Array<{ line: number; provider: string | null }>;
    export: Record<string, { address: boolean; name: boolean }>;
    guard: Record<string, string | null>;
  };
}

describe('the catalogue drives everything that names a provider', () => {
  test('a catalogue built from a copy with one more provider derives its lookups and name lists', () => {
    const c = buildCatalogue([...CATALOGUE.services, SYNTHETIC]);
    assert.equal(c.matchEndpoint('198.51.100.77', 'ipv4', 80, '/synth/v1/credentials')?.provider, 'synthcloud');
    assert.ok(c.dottedHostnames.includes('meta.synthcloud.example'));
    assert.ok(c.payloadMarkers.includes('198.51.100.77') && c.payloadMarkers.includes('meta.synthcloud.example'));
    assert.equal(CATALOGUE.matchEndpoint('198.51.100.77', 'ipv4', 80, '/synth/v1/credentials'), null);
  });

  test('explain, scan, every exporter and the guard see a provider added to the catalogue copy, and only then', () => {
    const before = child(false);
    assert.deepEqual(
      before.explain.map((e) => e.verdict),
      ['none', 'none', 'none', 'none'],
    );
    assert.deepEqual(before.scan, []);
    assert.deepEqual(before.guard, { address: null, ipv6: null, hostname: null });
    for (const [t, seen] of Object.entries(before.export)) assert.deepEqual(seen, { address: false, name: false }, t);

    const after = child(true);
    // explain: by address, by name, as a base64 payload (markers derived), by IPv6 address.
    assert.deepEqual(after.explain, [
      { verdict: 'metadata', provider: 'synthcloud', path_class: 'credentials' },
      { verdict: 'metadata', provider: 'synthcloud', path_class: 'credentials' },
      { verdict: 'metadata', provider: 'synthcloud', path_class: 'credentials' },
      { verdict: 'metadata', provider: 'synthcloud', path_class: 'index' },
    ]);
    // scan (its prefilter and line selection included): the three requests to it, not the page.
    assert.deepEqual(after.scan, [
      { line: 1, provider: 'synthcloud' },
      { line: 2, provider: 'synthcloud' },
      { line: 3, provider: 'synthcloud' },
    ]);
    // export: every engine's rules carry its address or name; Falco (connect-time, no names) its address.
    for (const [t, seen] of Object.entries(after.export)) assert.ok(seen.address || seen.name, t);
    assert.equal(after.export.falco?.address, true);
    // the guard's destination check, by IPv4, IPv6 and hostname.
    assert.deepEqual(after.guard, { address: 'synthcloud', ipv6: 'synthcloud', hostname: 'synthcloud' });
  });
});
