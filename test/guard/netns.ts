/**
 * A throwaway network namespace for tests that need the real metadata addresses: only `lo` exists in it, the
 * metadata addresses are put on `lo`, and a hosts file of its own (`/etc/netns/<name>/hosts`, which
 * `ip netns exec` mounts over /etc/hosts) maps test names to them. Nothing inside can reach a real network,
 * so a guard that fails still only talks to the fake service.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

export interface TestNetns {
  name: string;
  /** Run a command in the namespace; resolves with its exit code and output (bounded by timeoutMs). */
  exec(
    argv: string[],
    opts?: { env?: NodeJS.ProcessEnv; timeoutMs?: number },
  ): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** Start a long-running process in the namespace and wait for its first stdout line. */
  start(argv: string[], opts?: { env?: NodeJS.ProcessEnv }): Promise<ChildProcess>;
  remove(): void;
}

/** Why namespace tests cannot run here, or null when they can. */
export function netnsUnavailable(): string | null {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'creating a network namespace needs root';
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (r.error || r.status !== 0)
    return `"ip netns" is not usable (${r.error?.message ?? r.stderr.trim()}); install iproute2`;
  return null;
}

function ip(args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')} failed: ${r.stderr.trim()}`);
}

export function createNetns(opts: { addresses: string[]; hosts: Record<string, string> }): TestNetns {
  const name = `igtest-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  ip(['netns', 'add', name]);
  const children: ChildProcess[] = [];
  const etc = `/etc/netns/${name}`;
  try {
    ip(['-n', name, 'link', 'set', 'lo', 'up']);
    for (const a of opts.addresses)
      ip(['-n', name, 'addr', 'add', a.includes(':') ? `${a}/128` : `${a}/32`, 'dev', 'lo']);
    mkdirSync(etc, { recursive: true });
    const lines = ['127.0.0.1 localhost', '::1 localhost', ...Object.entries(opts.hosts).map(([h, a]) => `${a} ${h}`)];
    writeFileSync(`${etc}/hosts`, `${lines.join('\n')}\n`);
  } catch (e) {
    spawnSync('ip', ['netns', 'delete', name]);
    rmSync(etc, { recursive: true, force: true });
    throw e;
  }
  return {
    name,
    exec(argv, o = {}) {
      return new Promise((resolve) => {
        const child = spawn('ip', ['netns', 'exec', name, ...argv], {
          env: o.env ?? process.env,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 30_000);
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr });
        });
      });
    },
    start(argv, o = {}) {
      return new Promise((resolve, reject) => {
        const child = spawn('ip', ['netns', 'exec', name, ...argv], {
          env: o.env ?? process.env,
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        children.push(child);
        const timer = setTimeout(() => reject(new Error(`${argv.join(' ')} did not start within 20 s`)), 20_000);
        const rl = createInterface({ input: child.stdout! });
        rl.once('line', () => {
          clearTimeout(timer);
          resolve(child);
        });
        child.once('exit', (code) => reject(new Error(`${argv.join(' ')} exited with ${code} before it was ready`)));
      });
    },
    remove() {
      for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
      spawnSync('ip', ['netns', 'delete', name]);
      rmSync(etc, { recursive: true, force: true });
    },
  };
}
