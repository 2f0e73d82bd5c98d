/** Helpers for end-to-end tests inside network namespaces the test creates (and always deletes). */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

/** Why these tests cannot run here, or null. Under CI=true the caller must fail instead of skipping. */
export function netnsUnavailable(tools: readonly string[]): string | null {
  if (process.platform !== 'linux') return 'needs Linux network namespaces';
  if (process.getuid?.() !== 0) return 'needs root (ip netns, nft)';
  for (const t of tools) {
    if (spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0) return `needs ${t} on PATH`;
  }
  return null;
}

/** Run a command to completion; throws with its stderr when it fails. */
export function sh(
  cmd: string,
  args: string[],
  opts: { allowFail?: boolean } = {},
): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000 });
  const out = { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  if (!opts.allowFail && out.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} failed (${out.status}): ${out.stderr}`);
  return out;
}

/** `ip netns exec NS cmd args…` to completion. */
export function inNs(ns: string, cmd: string, args: string[], opts: { allowFail?: boolean } = {}) {
  return sh('ip', ['netns', 'exec', ns, cmd, ...args], opts);
}

/** A client run inside a namespace, optionally as another uid; its pid is the client's own (exec, no fork). */
export async function client(
  ns: string,
  argv: string[],
  as?: { uid: number; gid: number },
): Promise<{ pid: number; code: number; stdout: string; stderr: string }> {
  const prefix = as ? ['setpriv', `--reuid=${as.uid}`, `--regid=${as.gid}`, '--clear-groups'] : [];
  const child = spawn('ip', ['netns', 'exec', ns, ...prefix, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { pid: child.pid ?? -1, code: code ?? -1, stdout, stderr };
}

/** Start a long-running process in a namespace and wait until a line on `stream` matches `ready`. */
export async function daemon(
  ns: string,
  argv: string[],
  ready: RegExp,
  stream: 'stdout' | 'stderr',
  timeoutMs = 60_000,
): Promise<{ child: ChildProcess; lines: string[] }> {
  const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const other = stream === 'stdout' ? child.stderr : child.stdout;
  other?.on('data', (c: Buffer) => lines.push(...c.toString().split('\n').filter(Boolean)));
  const rl = createInterface({ input: stream === 'stdout' ? child.stdout! : child.stderr! });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(
      () => reject(new Error(`${argv.join(' ')} not ready after ${timeoutMs} ms: ${lines.join('\n')}`)),
      timeoutMs,
    );
    rl.on('line', (l) => {
      lines.push(l);
      if (ready.test(l)) {
        clearTimeout(t);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`${argv.join(' ')} exited (${code}) before it was ready: ${lines.join('\n')}`));
    });
  });
  return { child, lines };
}

/** Stop a process we started (by its pid), waiting for it to exit. */
export async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

/** Kill whatever is still running in a namespace we created (by pid), then delete it. */
export function deleteNs(ns: string): void {
  const pids = sh('ip', ['netns', 'pids', ns], { allowFail: true }).stdout.split(/\s+/).filter(Boolean);
  for (const p of pids) {
    try {
      process.kill(Number(p), 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  sh('ip', ['netns', 'del', ns], { allowFail: true });
}
