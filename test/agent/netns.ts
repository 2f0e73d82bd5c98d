/**
 * Test harness for the host agent: network namespaces that hold the metadata addresses on their own `lo`, the
 * fake metadata service inside them, real clients run inside them, and cleanup of everything it made. Nothing
 * here sends a packet to a metadata address from the machine's own namespace.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const CI = process.env.CI === 'true';

// ip, auditd and auditctl live in sbin, which a CI or sudo environment may leave off PATH; the agent's children
// inherit this too.
for (const d of ['/usr/sbin', '/sbin']) {
  if (!(process.env.PATH ?? '').split(':').includes(d))
    process.env.PATH = `${process.env.PATH ?? '/usr/bin:/bin'}:${d}`;
}

export function sh(
  cmd: string,
  args: string[],
  opts: { allowFail?: boolean; timeoutMs?: number } = {},
): { code: number; out: string; err: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: opts.timeoutMs ?? 20_000 });
  const res = { code: r.status ?? -1, out: r.stdout ?? '', err: r.stderr ?? String(r.error ?? '') };
  if (res.code !== 0 && !opts.allowFail)
    throw new Error(`${cmd} ${args.join(' ')} failed (${res.code}): ${res.err.trim()}`);
  return res;
}

export function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0;
}

/** Why the kernel end-to-end tests cannot run here, or undefined when they can. */
export function missingPrerequisite(tools: string[]): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, BPF, audit)';
  for (const t of ['ip', ...tools]) if (!have(t)) return `needs ${t} (bash .ci/run installs it)`;
  return undefined;
}

/**
 * Long-lived children of a test (the agent, the fake service) die with the test process, even when it is killed on
 * a timeout and no after() hook runs: the parent-death signal, set by setpriv before it execs the command.
 */
function dieWithTest(cmd: string, args: string[]): [string, string[]] {
  return have('setpriv') ? ['setpriv', ['--pdeathsig', 'KILL', '--', cmd, ...args]] : [cmd, args];
}

let counter = 0;
/** A unique name per test run, so parallel runs and leftovers never collide. */
export function uniqueName(prefix: string): string {
  counter++;
  return `${prefix}-${process.pid}-${counter}`;
}

export interface Netns {
  name: string;
  /** The namespace inode, as the agent reports it in process.netns. */
  inode: number;
}

export function createNetns(name: string): Netns {
  sh('ip', ['netns', 'add', name]);
  try {
    sh('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    // No dummy interface on these kernels: the metadata addresses live on the namespace's own lo.
    sh('ip', ['-n', name, 'addr', 'add', '169.254.169.254/32', 'dev', 'lo']);
    sh('ip', ['-n', name, 'addr', 'add', 'fd00:ec2::254/128', 'dev', 'lo', 'nodad']);
    // ECS task metadata/credentials endpoint too.
    sh('ip', ['-n', name, 'addr', 'add', '169.254.170.2/32', 'dev', 'lo']);
    return { name, inode: statSync(`/run/netns/${name}`).ino };
  } catch (e) {
    // Half set up: never leave it behind.
    spawnSync('ip', ['netns', 'del', name]);
    throw e;
  }
}

export function deleteNetns(name: string): void {
  // Kill anything still inside, by pid, then the namespace.
  const pids = sh('ip', ['netns', 'pids', name], { allowFail: true }).out.split('\n').filter(Boolean);
  for (const p of pids) {
    try {
      process.kill(Number(p), 'SIGKILL');
    } catch {}
  }
  sh('ip', ['netns', 'del', name], { allowFail: true });
}

/** Start the fake metadata service inside a namespace on 169.254.169.254:80, [fd00:ec2::254]:80 and 169.254.170.2:80 (ECS). */
export async function startFakeInNetns(ns: string): Promise<ChildProcess> {
  const child = spawn(
    ...dieWithTest('ip', [
      'netns',
      'exec',
      ns,
      process.execPath,
      '--import',
      'tsx',
      'test/fake-imds/serve.ts',
      '--listen',
      '169.254.169.254:80',
      '--listen',
      '[fd00:ec2::254]:80',
      '--listen',
      '169.254.170.2:80',
    ]),
    { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  let listening = 0;
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('fake metadata service did not start in 20 s')), 20_000);
    rl.on('line', (l) => {
      if (l.includes('listening') && ++listening === 3) {
        clearTimeout(t);
        resolve();
      }
    });
    child.once('exit', (c) => {
      clearTimeout(t);
      reject(new Error(`fake metadata service exited (${c})`));
    });
  });
  return child;
}

/**
 * Run a shell command inside a namespace (optionally as another uid, optionally moved into a cgroup first) and
 * return its stdout. The command should print `$$` first when the test needs the client's pid: `exec` keeps it.
 */
export function runIn(ns: string, script: string, opts: { uid?: number; cgroup?: string } = {}): string {
  const inner =
    opts.uid !== undefined
      ? ['setpriv', '--reuid', String(opts.uid), '--regid', String(opts.uid), '--clear-groups', 'sh', '-c', script]
      : ['sh', '-c', script];
  if (opts.cgroup) {
    // Join the cgroup before entering the namespace: `ip netns exec` mounts a fresh /sys without the cgroup tree.
    // Every step execs, so the pid the script prints is the client's.
    return sh('sh', ['-c', `echo $$ > ${opts.cgroup}/cgroup.procs && exec ip netns exec "$0" "$@"`, ns, ...inner], {
      timeoutMs: 30_000,
    }).out;
  }
  const args = ['netns', 'exec', ns, ...inner];
  return sh('ip', args, { timeoutMs: 30_000 }).out;
}

/** A cgroup shaped like a Docker container's, on the unified hierarchy, so container attribution is exercised for real. */
export function createContainerCgroup(): { path: string; id: string } | undefined {
  const root = existsSync('/sys/fs/cgroup/unified/cgroup.procs')
    ? '/sys/fs/cgroup/unified'
    : existsSync('/sys/fs/cgroup/cgroup.procs')
      ? '/sys/fs/cgroup'
      : undefined;
  if (!root) return undefined;
  const id = (process.pid.toString(16) + 'c0ffee'.repeat(11)).slice(0, 64).padEnd(64, '0');
  const path = `${root}/docker-${id}.scope`;
  try {
    mkdirSync(path);
  } catch {
    return undefined;
  }
  return { path, id };
}

export function removeCgroup(path: string): void {
  try {
    rmdirSync(path);
  } catch {}
}

/** Read a process-exiting child's stdout lines until a predicate on stderr holds. */
export async function waitForLine(
  stream: NodeJS.ReadableStream,
  pred: (l: string) => boolean,
  timeoutMs: number,
  what: string,
): Promise<string> {
  const rl = createInterface({ input: stream });
  return new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
    rl.on('line', (l) => {
      if (pred(l)) {
        clearTimeout(t);
        resolve(l);
      }
    });
  });
}

export function stopChild(
  child: ChildProcess | undefined,
  signal: NodeJS.Signals = 'SIGTERM',
  timeoutMs = 10_000,
): Promise<number | null> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child?.exitCode ?? null);
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
    child.kill(signal);
  });
}

export interface RunningAgent {
  child: ChildProcess;
  logs: string[];
  /** Resolves with the agent's "ready" log record. */
  ready: Promise<Record<string, unknown>>;
}

/**
 * Start `imdsguard agent` with the given flags, from the sources (tests) or the built CLI (`built`, for
 * measurements without tsx in the process); logs (JSON on stderr) are collected.
 */
/** The flags every agent test uses to record jsonl to `out`, with state under `dir` and no warm-up. */
export function recordingArgs(out: string, dir: string): string[] {
  return ['--format', 'jsonl', '-o', out, '--state', join(dir, 'state'), '--warmup', '0'];
}

export function startAgent(args: string[], opts: { built?: boolean } = {}): RunningAgent {
  const entry = opts.built ? ['dist/cli/main.js'] : ['--import', 'tsx', 'src/cli/main.ts'];
  const child = spawn(...dieWithTest(process.execPath, [...entry, 'agent', ...args]), {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const rl = createInterface({ input: child.stderr as NodeJS.ReadableStream });
  const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`agent not ready in 60 s; logs:\n${logs.join('\n')}`)), 60_000);
    rl.on('line', (l) => {
      logs.push(l);
      if (l.includes('"agent ready"')) {
        clearTimeout(t);
        resolve(JSON.parse(l) as Record<string, unknown>);
      }
    });
    child.once('exit', (c) => {
      clearTimeout(t);
      reject(new Error(`agent exited (${c}) before ready; logs:\n${logs.join('\n')}`));
    });
  });
  ready.catch(() => undefined);
  child.stdout?.resume();
  return { child, logs, ready };
}

/**
 * Why the kernel refuses a sensor here, or undefined when it accepts it. Only this may skip the kernel tests under
 * CI: a missing tool is an installation error and fails the run.
 */
export function kernelRefusal(sensor: 'bpftrace' | 'auditd'): string | undefined {
  if (sensor === 'auditd') {
    const r = sh('auditctl', ['-s'], { allowFail: true });
    return r.code === 0 ? undefined : `the kernel refuses audit: ${r.err.trim().split('\n').pop()}`;
  }
  if (!existsSync('/sys/kernel/tracing/events/syscalls'))
    sh('mount', ['-t', 'tracefs', 'nodev', '/sys/kernel/tracing'], { allowFail: true });
  const r = sh('bpftrace', ['-e', 'tracepoint:syscalls:sys_enter_getppid { } BEGIN { exit(); }'], {
    allowFail: true,
    timeoutMs: 60_000,
  });
  if (r.code === 0) return undefined;
  const last = r.err
    .split('\n')
    .filter((l) => l.trim() && !l.includes('RLIMIT_MEMLOCK'))
    .pop();
  return `the kernel refuses bpftrace tracepoints: ${last ?? `exit ${r.code}`}`;
}
