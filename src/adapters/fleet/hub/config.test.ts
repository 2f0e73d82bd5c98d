import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseHubConfig } from './config.ts';

const env = { HEC: 't', PG: 'postgres://x@127.0.0.1/db' };

test('a config with every sink type loads, secrets from the environment, defaults filled', () => {
  const c = parseHubConfig(
    `nats:
  servers: [nats://127.0.0.1:4222]
correlator:
  rule_hosts: 4
sinks:
  - { name: s, type: splunk-hec, url: "http://127.0.0.1:8088", token_env: HEC }
  - { name: e, type: elasticsearch, url: "http://127.0.0.1:9200" }
  - { name: l, type: syslog, host: 127.0.0.1, port: 514, format: cef }
  - { name: w, type: webhook, url: "http://127.0.0.1/h", secret_env: HEC, payload: ocsf }
  - { name: p, type: postgres, url_env: PG }
`,
    'hub.yaml',
    env,
  );
  assert.deepEqual(
    c.raw.sinks.map((s) => s.type),
    ['splunk-hec', 'elasticsearch', 'syslog', 'webhook', 'postgres'],
  );
  assert.equal(c.correlator.ruleHosts, 4);
  assert.equal(c.raw.hub.max_deliver, 10);
  assert.equal(c.raw.hub.dead_letter, 'imds.v1.hub.dead');
  assert.deepEqual(c.bus.servers, ['nats://127.0.0.1:4222']);
});

test('errors name the file, line and column', () => {
  assert.throws(
    () =>
      parseHubConfig(
        'sinks:\n  - { name: s, type: splunk-hec, url: "http://x", token_env: MISSING }\n',
        'hub.yaml',
        env,
      ),
    /^InputSyntaxError: hub\.yaml:2:\d+: Sink "s": environment variable MISSING/,
  );
  assert.throws(
    () => parseHubConfig('sinks:\n  - name: s\n    type: kafka\n', 'hub.yaml', env),
    /hub\.yaml:3:11: Invalid hub config at "sinks\.0\.type"/,
  );
  assert.throws(
    () => parseHubConfig('nats:\n  servers: ["nats://u:p@h:4222"]\n', 'hub.yaml', env),
    /hub\.yaml:2:\d+: .*without a user/,
  );
  assert.throws(
    () =>
      parseHubConfig(
        'sinks:\n  - { name: a, type: postgres, url_env: PG }\n  - { name: a, type: postgres, url_env: PG }\n',
        'hub.yaml',
        env,
      ),
    /hub\.yaml:3:\d+: Sink name "a" is used twice/,
  );
});

test('a dead-letter subject the fleet consumes is refused where it is written (it would loop)', () => {
  for (const dl of ['imds.v1.finding.dead', 'imds.v1', 'imds.v1.scan']) {
    assert.throws(
      () => parseHubConfig(`nats:\n  servers: [nats://127.0.0.1:4222]\nhub:\n  dead_letter: ${dl}\n`, 'hub.yaml', env),
      /^InputSyntaxError: hub\.yaml:4:16: hub\.dead_letter ".*" overlaps imds\.v1\.(finding\.>|scan\.job)/,
      dl,
    );
  }
  assert.throws(
    () => parseHubConfig('hub:\n  dead_letter: "imds.dead.>"\n', 'hub.yaml', env),
    /^InputSyntaxError: hub\.yaml:2:16: Invalid hub config at "hub\.dead_letter": a subject prefix/,
  );
  assert.equal(
    parseHubConfig('hub:\n  dead_letter: imds.v1.hub.dead\n', 'hub.yaml', env).raw.hub.dead_letter,
    'imds.v1.hub.dead',
  );
  assert.equal(parseHubConfig('hub:\n  dead_letter: null\n', 'hub.yaml', env).raw.hub.dead_letter, null);
});

test('an unknown key is placed on its own line, at top level and inside a section', () => {
  assert.throws(
    () => parseHubConfig('nats:\n  servers: [nats://127.0.0.1:4222]\nsink:\n  - { name: a }\n', 'hub.yaml', env),
    /^InputSyntaxError: hub\.yaml:3:1: Invalid hub config: Unrecognized key: "sink"/,
  );
  assert.throws(
    () => parseHubConfig('hub:\n  batch: 10\n  dead_leter: x\n', 'hub.yaml', env),
    /^InputSyntaxError: hub\.yaml:3:3: Invalid hub config at "hub": Unrecognized key: "dead_leter"/,
  );
});
