/**
 * What the scan benches share: this tree's CLI bundled once with esbuild (as a build would, so a figure is never a
 * stale dist/ and no transpiler runs in the measured process), the CPU and peak RSS of a measured child read at its
 * exit, and the median-with-range figures they print.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

export const ROOT = join(import.meta.dirname, '..');

export const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export const spread = (a: number[], digits: number) =>
  `${median(a).toFixed(digits)} (${Math.min(...a).toFixed(digits)}–${Math.max(...a).toFixed(digits)})`;

/** The CLI bundled into a new directory under .bench/ (two levels under the root, so package.json resolves). */
export async function bundleCli(prefix: string): Promise<{ bundle: string; dir: string }> {
  mkdirSync(join(ROOT, '.bench'), { recursive: true });
  const dir = mkdtempSync(join(ROOT, '.bench', prefix));
  await build({
    entryPoints: { imdsguard: join(ROOT, 'src', 'cli', 'main.ts') },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    outdir: dir,
    logLevel: 'error',
  });
  if (statSync(join(ROOT, 'assembly'), { throwIfNoEntry: false })) {
    // A WebAssembly line stage, where the tree has one, built and placed next to the bundle where its loader looks.
    const wasm = spawnSync('npm', ['run', '--silent', 'build:wasm'], { cwd: ROOT, stdio: 'inherit' });
    if (wasm.status !== 0) throw new Error('npm run build:wasm failed');
    copyFileSync(join(ROOT, 'dist', 'wasm', 'combined-scan.wasm'), join(dir, 'combined-scan.wasm'));
  }
  return { bundle: join(dir, 'imdsguard.js'), dir };
}

/** A module to `--import` into a measured child: at exit it leaves its CPU seconds and peak RSS where `read` finds them. */
export function usageHook(dir: string): { hook: string; read(): { cpuSeconds: number; maxRssMiB: number } } {
  const file = join(dir, 'usage.json');
  const hook = join(dir, 'usage-hook.mjs');
  writeFileSync(
    hook,
    `import { writeFileSync } from 'node:fs';\nprocess.on('exit', () => { const u = process.resourceUsage(); writeFileSync(${JSON.stringify(file)}, JSON.stringify({ cpuSeconds: (u.userCPUTime + u.systemCPUTime) / 1e6, maxRssMiB: u.maxRSS / 1024 })); });\n`,
  );
  return { hook, read: () => JSON.parse(readFileSync(file, 'utf8')) as { cpuSeconds: number; maxRssMiB: number } };
}
