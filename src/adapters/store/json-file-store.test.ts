import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { JsonFileStore } from './json-file-store.ts';

describe('JsonFileStore', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('keeps values across instances and leaves no temp files', async () => {
    const d = await mkdtemp(join(tmpdir(), 'imdsguard-store-'));
    dirs.push(d);
    const a = new JsonFileStore(join(d, 'state'));
    assert.equal(await a.get('baseline'), undefined);
    await a.put('baseline', { entries: { x: 1 } });
    const b = new JsonFileStore(join(d, 'state'));
    assert.deepEqual(await b.get('baseline'), { entries: { x: 1 } });
    assert.deepEqual(await readdir(join(d, 'state')), ['baseline.json']);
  });

  it('names the file when state is corrupt and refuses unsafe keys', async () => {
    const d = await mkdtemp(join(tmpdir(), 'imdsguard-store-'));
    dirs.push(d);
    await writeFile(join(d, 'baseline.json'), '{not json');
    const s = new JsonFileStore(d);
    await assert.rejects(s.get('baseline'), /baseline\.json" is not valid JSON/);
    await assert.rejects(s.put('../etc/passwd', 1), /Invalid store key/);
  });
});
