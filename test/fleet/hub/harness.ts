/** Publishing envelopes as sensors do, writing hub configs, and waiting for a condition, for the hub tests. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { stringify } from 'yaml';
import type { StartAt } from '../../../src/adapters/fleet/hub/bus.ts';
import { runHub } from '../../../src/app/hub.ts';
import { encodeEnvelope, envelopeMsgId, type FleetEnvelope, findingSubject } from '../../../src/core/fleet/contract.ts';
import { envelope, ruleFinding } from '../support/envelopes.ts';

export async function publish(url: string, envs: readonly FleetEnvelope[]): Promise<void> {
  const { connect } = await import('@nats-io/transport-node');
  const { jetstream } = await import('@nats-io/jetstream');
  const nc = await connect({ servers: url });
  try {
    const js = jetstream(nc);
    for (const e of envs)
      await js.publish(findingSubject({ ...e, severity: e.finding.severity }), encodeEnvelope(e), {
        msgID: envelopeMsgId(e),
      });
  } finally {
    await nc.close();
  }
}

/** `n` distinct findings spread over three hosts, none of which correlate (distinct rules). */
export function manyFindings(n: number, tag = 'f'): FleetEnvelope[] {
  return Array.from({ length: n }, (_, i) =>
    envelope(
      `host-${i % 3}`,
      'scan',
      ruleFinding(`rule-${tag}-${i}`, i, new Date(Date.UTC(2026, 11, 1, 10, 0, i)).toISOString()),
    ),
  );
}

export async function waitFor(
  what: string,
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
  state?: () => string | Promise<string>,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${state ? ` (${await state()})` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function tempDir(): { dir: string; dispose(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'imdsguard-hub-'));
  return { dir, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeConfig(dir: string, config: Record<string, unknown>, name = 'hub.yaml'): string {
  const p = join(dir, name);
  writeFileSync(p, stringify(config));
  return p;
}

/** The hub in this process; `stop()` ends it as SIGTERM would. */
export async function startHub(
  configFile: string,
  env: NodeJS.ProcessEnv,
  extra: { metricsPort?: number; replayFrom?: StartAt; replayReaders?: string[]; log?: pino.Logger } = {},
): Promise<{ stop(): Promise<void>; metricsPort: number | undefined; reload(): Promise<void> }> {
  let stop!: () => void;
  const until = new Promise<void>((r) => {
    stop = r;
  });
  let ready!: (v: { metricsPort: number | undefined; reload(): Promise<void> }) => void;
  const isReady = new Promise<{ metricsPort: number | undefined; reload(): Promise<void> }>((r) => {
    ready = r;
  });
  const log = extra.log ?? pino({ level: process.env.HUB_TEST_LOG ?? 'silent' }, pino.destination(2));
  const done = runHub({ configFile, env, until, onReady: (h) => ready(h), ...extra, log });
  const h = await Promise.race([isReady, done.then(() => Promise.reject(new Error('hub ended before ready')))]);
  return {
    metricsPort: h.metricsPort,
    reload: h.reload,
    async stop() {
      stop();
      await done;
    },
  };
}
