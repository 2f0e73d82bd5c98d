/**
 * A throwaway Apache + ModSecurity on 127.0.0.1 with a configuration of its own in a temp dir (Debian's apache2 and
 * libapache2-mod-security2). Started in the foreground, stopped by the test.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MODULES = '/usr/lib/apache2/modules';

/** Why Apache + ModSecurity cannot run here, or null. */
export function apacheUnavailable(): string | null {
  if (spawnSync('apache2', ['-v']).status !== 0) return 'apache2 is not installed (Debian: apt-get install apache2)';
  if (!existsSync(join(MODULES, 'mod_security2.so')))
    return 'mod_security2 is not installed (Debian: apt-get install libapache2-mod-security2)';
  if (typeof process.getuid !== 'function' || process.getuid() !== 0)
    return 'starting apache2 with its own config needs root';
  return null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

function waitForPort(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve();
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > deadline) reject(new Error(`apache2 did not listen on ${port} within ${ms} ms`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

export interface RunningApache {
  port: number;
  errorLog(): string;
  stop(): Promise<void>;
}

export async function startApache(rules: string): Promise<RunningApache> {
  const dir = mkdtempSync(join(tmpdir(), 'imdsguard-apache-'));
  chmodSync(dir, 0o755);
  const work = join(dir, 'work');
  mkdirSync(work);
  chmodSync(work, 0o777);
  const port = await freePort();
  writeFileSync(join(dir, 'rules.conf'), rules);
  writeFileSync(
    join(dir, 'httpd.conf'),
    `ServerRoot /usr/lib/apache2
ServerName 127.0.0.1
LoadModule mpm_event_module ${MODULES}/mod_mpm_event.so
LoadModule authz_core_module ${MODULES}/mod_authz_core.so
LoadModule unique_id_module ${MODULES}/mod_unique_id.so
LoadModule security2_module ${MODULES}/mod_security2.so
Listen 127.0.0.1:${port}
PidFile ${dir}/httpd.pid
ErrorLog ${dir}/error.log
LogLevel warn
User www-data
Group www-data
DocumentRoot ${work}
<Directory ${work}>
  Require all granted
</Directory>
# Every request the rules let through gets a plain answer, whatever its path or method.
ErrorDocument 404 "ok"
ErrorDocument 405 "ok"
AllowEncodedSlashes On
KeepAliveTimeout 30
MaxKeepAliveRequests 0
SecRuleEngine On
SecRequestBodyAccess On
SecRequestBodyLimit 1048576
SecRequestBodyNoFilesLimit 1048576
SecRequestBodyLimitAction ProcessPartial
SecAuditEngine Off
SecDataDir ${work}
SecTmpDir ${work}
SecPcreMatchLimit 500000
SecPcreMatchLimitRecursion 500000
Include ${dir}/rules.conf
`,
  );
  const check = spawnSync('apache2', ['-f', join(dir, 'httpd.conf'), '-t'], { encoding: 'utf8' });
  if (check.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`apache2 rejected the configuration: ${check.stderr}`);
  }
  const child: ChildProcess = spawn('apache2', ['-f', join(dir, 'httpd.conf'), '-DFOREGROUND'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += d));
  try {
    await waitForPort(port, 15_000);
  } catch (e) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${(e as Error).message}: ${stderr}`);
  }
  return {
    port,
    errorLog: () => (existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : ''),
    stop: () =>
      new Promise<void>((resolve) => {
        const done = () => {
          rmSync(dir, { recursive: true, force: true });
          resolve();
        };
        if (child.exitCode !== null) return done();
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.once('exit', () => {
          clearTimeout(timer);
          done();
        });
        child.kill('SIGTERM');
      }),
  };
}
