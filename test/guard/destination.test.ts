/**
 * The guard's own copy of the catalogue and its own address parser (read with the built-ins it took at load) give
 * the core's answers: every catalogued address and hostname, with paths of every class, on the catalogued ports and
 * others, and the IPv6 spellings the core unwraps.
 */
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { test } from 'node:test';
import { parseIPv6 } from '../../src/core/decode/ip.ts';
import { CATALOGUE, matchEndpoint, servicesAt } from '../../src/core/endpoints/lookup.ts';
import { ipFamily, metadataAtAddress, metadataAtHostname } from '../../src/guard/destination.ts';

const PATHS = [
  undefined,
  '/',
  '/latest/meta-data/iam/security-credentials/role',
  '/latest/api/token',
  '/computeMetadata/v1/instance/service-accounts/default/token?x=1',
  '/metadata/identity/oauth2/token',
  '//Latest//USER-DATA#frag',
  'latest/dynamic/instance-identity/document',
  '/opc/v2/instance/',
];

test('metadataAtAddress and metadataAtHostname agree with the core catalogue', () => {
  let compared = 0;
  for (const s of CATALOGUE.services) {
    const hosts: [string, 'ipv4' | 'ipv6' | 'hostname'][] = [
      ...s.ipv4.map((h) => [h, 'ipv4'] as [string, 'ipv4']),
      ...s.ipv6.map((h) => [h, 'ipv6'] as [string, 'ipv6']),
      ...s.hostnames.map((h) => [h, 'hostname'] as [string, 'hostname']),
    ];
    for (const [host, kind] of hosts) {
      for (const port of [null, 80, ...s.ports, 8080]) {
        for (const path of PATHS) {
          const core = servicesAt(host, kind, port).length === 0 ? null : matchEndpoint(host, kind, port, path ?? '/');
          const mine = kind === 'hostname' ? metadataAtHostname(host, port, path) : metadataAtAddress(host, port, path);
          compared++;
          if (core === null) {
            assert.equal(mine, null, `${host}:${port}${path}`);
            continue;
          }
          assert.ok(mine, `${host}:${port}${path}`);
          assert.equal(mine.provider, core.provider, `${host}:${port}${path}`);
          assert.equal(mine.service, core.service, `${host}:${port}${path}`);
          if (path !== undefined) assert.equal(mine.pathClass, core.pathClass, `${host}:${port}${path}`);
        }
      }
    }
  }
  assert.ok(compared > 500, String(compared));
});

test('IPv6 spellings are read as the core reads them, and IPv4 as Node takes it', () => {
  const spellings = [
    '::ffff:169.254.169.254',
    '::ffff:a9fe:a9fe',
    '::FFFF:A9FE:A9FE',
    '0:0:0:0:0:ffff:a9fe:a9fe',
    '0000:0000:0000:0000:0000:ffff:a9fe:a9fe',
    '::a9fe:a9fe',
    '::169.254.169.254',
    '::ffff:0:a9fe:a9fe',
    '64:ff9b::a9fe:a9fe',
    '64:ff9b:1::a9fe:a9fe',
    '2002:a9fe:a9fe::1',
    'fd00:ec2::254',
    'fd00:0ec2:0000:0000:0000:0000:0000:0254',
    'FD00:EC2::254',
    'fd00:ec2::254%eth0',
    'fd00:ec2:0::254',
    '::ffff:7f00:1',
    '::1',
    '1::',
    '1:2:3:4:5:6:7:8',
    '::ffff:127.0.0.1',
    'fe80::1%lo',
  ];
  for (const s of spellings) {
    const core = parseIPv6(s);
    assert.equal(ipFamily(s), isIP(s), s);
    for (const port of [80, 40342]) {
      const expected =
        core === null
          ? null
          : servicesAt(core.canonical, core.kind, port).length === 0
            ? null
            : matchEndpoint(core.canonical, core.kind, port, '/');
      const mine = metadataAtAddress(s, port, '/');
      assert.equal(mine?.provider ?? null, expected?.provider ?? null, `${s}:${port}`);
      assert.equal(mine?.canonical ?? null, expected ? core?.canonical : null, `${s}:${port}`);
    }
  }
  for (const s of [
    '169.254.169.254',
    '127.0.0.1',
    '169.254.169.0254',
    '0169.254.169.254',
    '169.254.169',
    '1.2.3.4.5',
    '256.1.1.1',
    '169.254.169.254.',
    '::ffff:1.2.3',
  ]) {
    assert.equal(ipFamily(s), isIP(s), s);
  }
});

test('the unspecified addresses, 0.0.0.0/8 and 127.0.0.0/8 are the host itself: they reach the services on loopback', () => {
  // Linux connects 0.0.0.0 and :: to the local host, and a service listening on the wildcard address answers on
  // every 127.x.y.z: each is Azure Arc's endpoint on its port (the core, reading logs, knows only the catalogued
  // addresses). The destination names the address connected to.
  const local: [string, string][] = [
    ['0.0.0.0', '0.0.0.0'],
    ['::', '::'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['::ffff:0.0.0.0', '0.0.0.0'],
    ['::ffff:0:0', '0.0.0.0'],
    ['0.0.0.1', '0.0.0.1'],
    ['::ffff:0.1.2.3', '0.1.2.3'],
    ['::2', '0.0.0.2'],
    ['127.0.0.2', '127.0.0.2'],
    ['127.255.255.254', '127.255.255.254'],
    ['::ffff:127.9.9.9', '127.9.9.9'],
  ];
  for (const [address, canonical] of local) {
    const d = metadataAtAddress(address, 40342, '/metadata/identity/oauth2/token');
    assert.equal(d?.service, 'azure-arc', address);
    assert.equal(d?.canonical, canonical, address);
    assert.equal(d?.pathClass, 'credentials', address);
    assert.equal(metadataAtAddress(address, 80, '/'), null, `${address}:80`);
  }
  for (const address of ['1.0.0.0', '10.0.0.1', '126.255.255.255', '128.0.0.1', '::1:0:0:0', 'fe80::1'])
    assert.equal(metadataAtAddress(address, 40342, '/'), null, address);
});
