import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type RunningFakeImds, startFakeImds } from '../fake-imds/server.ts';
import { privateTempDir } from './_private-dir.ts';

/** An application directory beside an allowlisted SDK, and the fake metadata service on Azure Arc's endpoint. */
export interface ArcSdkApp {
  home: string;
  imds: RunningFakeImds;
  close(): Promise<void>;
}

/**
 * A private directory holding `app` (its file name and source) and the package `arc-client` (source `sdk`) in its
 * node_modules, with the fake metadata service listening on 127.0.0.1:40342 (Azure Arc, the one metadata endpoint on
 * loopback, so nothing can leave the host whatever the guard lets through).
 */
export async function arcSdkApp(
  prefix: string,
  sdk: string,
  app: { file: string; source: string },
): Promise<ArcSdkApp> {
  const home = privateTempDir(prefix);
  const pkg = join(home, 'node_modules', 'arc-client');
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'arc-client', version: '1.0.0', main: 'index.js' }));
  writeFileSync(join(pkg, 'index.js'), sdk);
  writeFileSync(join(home, app.file), app.source);
  let imds: RunningFakeImds;
  try {
    imds = await startFakeImds({ host: '127.0.0.1', port: 40342 });
  } catch (e) {
    rmSync(home, { recursive: true, force: true });
    throw new Error(`the fake metadata service cannot listen on 127.0.0.1:40342: ${(e as Error).message}`);
  }
  return {
    home,
    imds,
    async close() {
      await imds.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
}
