/**
 * `scan --dispatch` and `scan --worker`: the scan command's options, applied to distributed scanning (see
 * docs/fleet.md). Kept apart from scan.ts, which loads this only when one of the two is asked for.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fleetHost } from '../../adapters/fleet/host-identity.ts';
import { ImdsguardError } from '../../core/errors.ts';
import { EXIT } from '../exit-codes.ts';
import { stopExitCode, whileRunning } from '../lifecycle.ts';
import { defaultStateDir, publishSettings } from '../publish-options.ts';
import type { ScanFlags } from './scan.ts';

function usage(message: string): never {
  throw new ImdsguardError('E_USAGE', message);
}

export async function runScanJobs(inputs: string[], flags: ScanFlags): Promise<void> {
  if (flags.dispatch && flags.worker) usage('--dispatch and --worker are two roles: give one');
  const role = flags.dispatch ? '--dispatch' : '--worker';
  if (!flags.publish || flags.publish.length === 0) usage(`${role} needs --publish nats://HOST:PORT (the job queue)`);
  if (flags.follow) usage(`${role} scans whole files: --follow does not apply`);
  if (flags.drain && !flags.worker) usage('--drain only works with --worker');
  const ac = new AbortController();
  const stopHooks = whileRunning({ onStop: () => ac.abort() });
  const warn = (m: string) => process.stderr.write(`imdsguard: ${m}\n`);
  try {
    if (flags.dispatch) await dispatch(inputs, flags, ac.signal, warn);
    else await work(inputs, flags, ac.signal, warn);
  } finally {
    stopHooks();
  }
}

async function dispatch(inputs: string[], flags: ScanFlags, signal: AbortSignal, warn: (m: string) => void) {
  const { dispatchScanJobs, describeDispatch } = await import('../../app/scan-dispatch.ts');
  // Only the connection settings matter here: a dispatch has no outbox (it waits for each job's acknowledgement).
  const s = (await publishSettings(flags, 'scan'))!;
  const outcome = await dispatchScanJobs({
    inputs,
    nats: s.nats,
    host: fleetHost(flags.hostId),
    ...(flags.account ? { account: flags.account } : {}),
    ...(flags.region ? { region: flags.region } : {}),
    warn,
    signal,
  });
  process.stderr.write(describeDispatch(outcome));
  process.exitCode = stopExitCode() ?? (outcome.failed.length > 0 ? EXIT.error : EXIT.ok);
}

async function work(inputs: string[], flags: ScanFlags, signal: AbortSignal, warn: (m: string) => void) {
  if (inputs.length > 0) usage('--worker takes its files from the job queue, not from the command line');
  const [{ openSink }, { ScanWorker, describeWorker }, { describePublishOutcome }] = await Promise.all([
    import('../../adapters/sinks/open-sink.ts'),
    import('../../app/scan-worker.ts'),
    import('../../app/fleet-publishing.ts'),
  ]);
  const settings = (await publishSettings(flags, 'scan'))!;
  // Several workers on one host must not share an outbox (each would wait for the other's findings), and none needs
  // the one a dead worker left: a job is acknowledged only once its findings are, so that job is scanned again.
  const ownOutbox = !flags.outbox;
  if (ownOutbox) settings.outboxPath = join(defaultStateDir(), `outbox-scan-worker-${process.pid}.sqlite`);
  const sink = await openSink(flags.format, flags.output, { wholeRun: true });
  const worker = new ScanWorker({
    publish: settings,
    logFormat: flags.logFormat,
    parser: { fieldMap: flags.field },
    maxLineBytes: flags.maxLineBytes,
    sink,
    failOn: flags.failOn,
    maxTries: flags.maxTries,
    ackWaitMs: flags.ackWait * 1000,
    drain: Boolean(flags.drain),
    signal,
    warn,
  });
  let outcome: Awaited<ReturnType<typeof worker.run>>;
  try {
    outcome = await worker.run();
    await sink.close();
  } catch (e) {
    await sink.abort();
    throw e;
  }
  const published = await worker.finish();
  if (flags.summary) process.stderr.write(describeWorker(outcome));
  process.stderr.write(describePublishOutcome(published, settings.outboxPath));
  if (ownOutbox && published.left === 0)
    for (const f of [settings.outboxPath, `${settings.outboxPath}-wal`, `${settings.outboxPath}-shm`])
      rmSync(f, { force: true });
  // A signal is how a worker without --drain ends: the exit code says what it found, as for scan --follow.
  if (settings.required && published.left > 0) process.exitCode = EXIT.output;
  else if (outcome.dead > 0 || outcome.readInPart > 0) process.exitCode = EXIT.error;
  else process.exitCode = outcome.atOrAbove > 0 && !flags.exitZero ? EXIT.findings : EXIT.ok;
}
