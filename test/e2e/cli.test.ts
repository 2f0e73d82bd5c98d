import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = join(ROOT, 'dist', 'cli', 'main.js');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  bin: Record<string, string>;
};
const skip = existsSync(BIN) ? false : 'dist/ is not built (npm ci or npm run build builds it)';

function run(args: string[], input?: string) {
  return spawnSync(process.execPath, [BIN, ...args], { input: input ?? '', encoding: 'utf8', timeout: 60_000 });
}

describe('the built CLI', { skip }, () => {
  test('package.json bin points at the built entry', () => {
    assert.equal(join(ROOT, pkg.bin.imdsguard!), BIN);
  });

  test('--version prints the package version', () => {
    const r = run(['--version']);
    assert.equal(r.status, 0);
    assert.equal(r.stdout.trim(), pkg.version);
  });

  test('--help lists the commands, and every command has --help', () => {
    const r = run(['--help']);
    assert.equal(r.status, 0);
    const commands = [...r.stdout.matchAll(/^ {2}([a-z][\w-]*)\b/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
    assert.ok(commands.includes('explain'), r.stdout);
    for (const c of commands) {
      const h = run([c, '--help']);
      assert.equal(h.status, 0, `${c} --help: ${h.stderr}`);
      assert.match(h.stdout, /Usage: imdsguard/, c);
    }
  });

  test('an unknown command or flag is a usage error (exit 2)', () => {
    assert.equal(run(['no-such-command']).status, 2);
    assert.equal(run(['explain', '--no-such-flag']).status, 2);
  });

  test('explain prints exactly one JSON object per input line, blank lines included, in order', () => {
    const lines = [
      'http://0xA9FEA9FE/latest/meta-data/iam/security-credentials/',
      '',
      '/orders/2852039166',
      'http://localhost:8080/',
      '\u001b[31mhttp://169.254.169.254/\u001b[0m',
    ];
    const r = run(['explain'], `${lines.join('\n')}\n`);
    assert.equal(r.status, 0, r.stderr);
    const out = r.stdout
      .trimEnd()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as {
            input: string;
            verdict: string;
            hits: Array<{ provider: string; path_class: string; transforms: string[] }>;
          },
      );
    assert.deepEqual(
      out.map((o) => o.input),
      lines,
    );
    assert.deepEqual(
      out.map((o) => o.verdict),
      ['metadata', 'none', 'none', 'internal', 'metadata'],
    );
    assert.equal(out[0]!.hits[0]!.provider, 'aws');
    assert.equal(out[0]!.hits[0]!.path_class, 'credentials');
    assert.deepEqual(out[0]!.hits[0]!.transforms, ['ipv4-hex', 'ipv4-integer']);
  });

  test('explain with arguments and --field', () => {
    const r = run(['explain', '--field', 'url', '2852039166', '2852039166']);
    assert.equal(r.status, 0);
    const [a, b] = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { verdict: string });
    assert.equal(a!.verdict, 'metadata');
    assert.equal(b!.verdict, 'metadata');
    const plain = run(['explain', '2852039166']);
    assert.equal((JSON.parse(plain.stdout) as { verdict: string }).verdict, 'none');
  });

  test('explain --format table strips terminal control sequences from attacker text', () => {
    const r = run(['explain', '--format', 'table', '\u001b]0;owned\u0007http://169.254.169.254/\u001b[2J']);
    assert.equal(r.status, 0);
    assert.ok(!r.stdout.includes('\u001b'), JSON.stringify(r.stdout));
    assert.match(r.stdout, /verdict: metadata/);
  });
});

describe('a reader that stops early', { skip }, () => {
  // `imdsguard … | head`: the pipe closes while we still write. The command ends quietly with its own exit code.
  const piped = (cmd: string) =>
    spawnSync('bash', ['-c', `${cmd} 2>/tmp/imdsguard-epipe.err | head -1 >/dev/null; echo "$\{PIPESTATUS[0]}"`], {
      cwd: ROOT,
      encoding: 'utf8',
    });
  const stderr = () => readFileSync('/tmp/imdsguard-epipe.err', 'utf8');

  test('help into a closed pipe: exit 0, nothing on stderr', () => {
    const r = piped('node dist/cli/main.js scan --help');
    assert.equal(r.stdout.trim(), '0');
    assert.equal(stderr(), '');
  });

  test('explain on endless input into a closed pipe: stops, exit 0, nothing on stderr', () => {
    const r = spawnSync(
      'bash',
      [
        '-c',
        'yes "http://169.254.169.254/latest/meta-data/" | node dist/cli/main.js explain 2>/tmp/imdsguard-epipe.err | head -1 >/dev/null; echo "$' +
          '{PIPESTATUS[1]}"',
      ],
      { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(r.stdout.trim(), '0');
    assert.equal(stderr(), '');
  });
});

describe('the package entry points', { skip }, () => {
  test('the root and ./core exports load from dist and classify', async () => {
    for (const entry of ['dist/index.js', 'dist/core/index.js']) {
      const m = (await import(join(ROOT, entry))) as typeof import('../../src/core/index.ts');
      assert.equal(m.verdictOf(m.classify('http://0xa9fea9fe/latest/meta-data/')), 'metadata', entry);
    }
  });
});
