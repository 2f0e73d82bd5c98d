import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Attributor } from '../../src/adapters/net/caller/attribute.ts';
import { findRow, ipv4Hex, ipv6Hex } from '../../src/adapters/net/caller/proc-net-tcp.ts';
import { ProcessIndex } from '../../src/adapters/net/caller/process-index.ts';
import { ProcessFactsCache, parseStat, readProcess, UserNames } from '../../src/adapters/proc/identity.ts';
import { SELF_EXE } from './harness.ts';

/** A loopback server that hands each accepted socket to the test. */
async function acceptor(): Promise<{ server: Server; port: number; next: () => Promise<Socket> }> {
  const queue: Socket[] = [];
  const waiting: Array<(s: Socket) => void> = [];
  const server = createServer((s) => {
    const w = waiting.shift();
    if (w) w(s);
    else queue.push(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    server,
    port: (server.address() as { port: number }).port,
    next: () => new Promise((r) => (queue.length > 0 ? r(queue.shift()!) : waiting.push(r))),
  };
}

const ends = (s: Socket) => ({
  peerIp: s.remoteAddress!,
  peerPort: s.remotePort!,
  localIp: s.localAddress!,
  localPort: s.localPort!,
});

describe('Attributor', () => {
  let acc: Awaited<ReturnType<typeof acceptor>>;
  before(async () => {
    acc = await acceptor();
  });
  after(() => acc.server.close());

  test('sock_diag: a client in another process is identified by pid, exe, argv and uid', async () => {
    const a = await Attributor.create();
    try {
      assert.equal(a.backend, 'sock_diag');
      const child = spawn(
        process.execPath,
        ['-e', `const s=require('net').connect(${acc.port},'127.0.0.1');s.on('data',()=>process.exit(0))`],
        {
          stdio: 'ignore',
        },
      );
      const sock = await acc.next();
      const id = await a.attribute(ends(sock));
      sock.end('bye');
      await once(child, 'exit');
      assert.equal(id.known, true, id.reason);
      assert.equal(id.pid, child.pid);
      assert.equal(id.ppid, process.pid);
      assert.equal(id.exe, SELF_EXE);
      assert.equal(id.argv?.[0], process.execPath);
      assert.equal(id.uid, process.getuid?.());
      assert.equal(id.otherNamespace, false);
      assert.ok(typeof id.netns === 'number' && id.netns === a.ownNetns);
    } finally {
      a.close();
    }
  });

  test('/proc/net/tcp fallback identifies the same way', async () => {
    const a = await Attributor.create({ python: false });
    try {
      assert.equal(a.backend, 'procfs');
      const client = (await import('node:net')).connect(acc.port, '127.0.0.1');
      const sock = await acc.next();
      const id = await a.attribute(ends(sock));
      client.destroy();
      sock.destroy();
      assert.deepEqual([id.known, id.pid, id.exe], [true, process.pid, SELF_EXE]);
    } finally {
      a.close();
    }
  });

  test('when the helper dies, attribution falls back to /proc and still works', async () => {
    const warnings: string[] = [];
    const a = await Attributor.create({ warn: (m) => warnings.push(m) });
    try {
      const pid = a.helperPid!;
      process.kill(pid, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 100));
      const client = (await import('node:net')).connect(acc.port, '127.0.0.1');
      const sock = await acc.next();
      const id = await a.attribute(ends(sock));
      client.destroy();
      sock.destroy();
      assert.equal(id.pid, process.pid);
      assert.equal(a.backend, 'procfs');
      assert.match(warnings.join('\n'), /falling back to \/proc\/net\/tcp/);
    } finally {
      a.close();
    }
  });

  test('a peer with no local socket is a clear unknown', async () => {
    const a = await Attributor.create();
    try {
      const id = await a.attribute({ peerIp: '127.0.0.1', peerPort: 1, localIp: '127.0.0.1', localPort: acc.port });
      assert.equal(id.known, false);
      assert.match(id.reason ?? '', /no local socket/);
    } finally {
      a.close();
    }
  });
});

describe('/proc helpers', () => {
  test('addresses in /proc/net/tcp{,6} notation', () => {
    assert.equal(ipv4Hex('127.0.0.1'), '0100007F');
    assert.equal(ipv4Hex('169.254.169.254'), 'FEA9FEA9');
    assert.equal(ipv6Hex('fd00:ec2::254'), 'C20E00FD000000000000000054020000');
    assert.equal(ipv6Hex('::1'), '00000000000000000000000001000000');
  });
  test('findRow() matches the local address and skips sockets without an inode', () => {
    const table = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:AC34 0100007F:46A0 06 00000000:00000000 03:00000000 00000000     0        0 0 3',
      '   1: 0100007F:AC34 0100007F:46A0 01 00000000:00000000 00:00000000 00000000  1000        0 22719 1',
    ].join('\n');
    assert.deepEqual(findRow(table, '127.0.0.1', 0xac34), { inode: 22719, uid: 1000 });
    assert.equal(findRow(table, '127.0.0.1', 0xac34, [{ ip: '127.0.0.1', port: 1 }]), null);
  });
  test('the container id comes from the one cgroup parser: docker, containerd, cri-o paths; none on the host', () => {
    const id = 'a'.repeat(64);
    const root = mkdtempSync(join(tmpdir(), 'imdsguard-proc-'));
    try {
      const dir = join(root, String(process.pid));
      mkdirSync(dir);
      // A copy of this process's stat, so the start-time check passes; the cgroup text is the case under test.
      writeFileSync(join(dir, 'stat'), readFileSync(`/proc/${process.pid}/stat`));
      const users = new UserNames('/nonexistent');
      for (const [cgroup, want] of [
        [`0::/system.slice/docker-${id}.scope\n`, id],
        [`0::/kubepods/besteffort/pod1234/cri-containerd-${id}.scope\n`, id],
        [`12:memory:/docker/${id}\n`, id],
        ['0::/user.slice/user-0.slice/session-1.scope\n', undefined],
      ] as const) {
        writeFileSync(join(dir, 'cgroup'), cgroup);
        assert.equal(readProcess(process.pid, users, 0, root)?.container, want, cgroup);
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('ProcessIndex: a client that reconnects on the descriptor it just closed', () => {
  /** A /proc of one client process whose fd links (dangling symlinks, as in /proc) name socket inodes. */
  function fakeProc(): { root: string; link: (fd: number, inode: number | null) => void; done: () => void } {
    const root = mkdtempSync(join(tmpdir(), 'imdsguard-proc-'));
    mkdirSync(join(root, '4242', 'fd'), { recursive: true });
    mkdirSync(join(root, 'sys', 'kernel'), { recursive: true });
    writeFileSync(join(root, 'sys', 'kernel', 'ns_last_pid'), '4242\n');
    const link = (fd: number, inode: number | null) => {
      rmSync(join(root, '4242', 'fd', String(fd)), { force: true });
      if (inode !== null) symlinkSync(`socket:[${inode}]`, join(root, '4242', 'fd', String(fd)));
    };
    return { root, link, done: () => rmSync(root, { recursive: true, force: true }) };
  }

  test('the freed descriptor is probed first: no walk of the fd table; sockets seen on the way are learned', () => {
    const p = fakeProc();
    try {
      const index = new ProcessIndex({ procRoot: p.root, last: () => new Set() });
      for (let fd = 0; fd < 40; fd++) p.link(fd, 1000 + fd);
      assert.equal(index.findOwner(1007), 4242);
      assert.equal(index.stats.walks, 1);
      // Connections on fds 7 and 9 end; the client opens two new sockets there.
      index.released(1007);
      index.released(1009);
      p.link(7, 2001);
      p.link(9, 2002);
      assert.equal(index.findOwner(2002), 4242);
      assert.equal(index.findOwner(2001), 4242);
      assert.equal(index.stats.walks, 1, 'found by probing fds 7 and 9, not by walking 40 descriptors');
      assert.ok(index.stats.probes <= 2, `${index.stats.probes} probes`);
      // A socket the probe did not foresee still falls back to a walk.
      p.link(20, 3000);
      assert.equal(index.findOwner(3000), 4242);
      assert.equal(index.stats.walks, 2);
      // Nobody holds it: null, not a wrong process.
      assert.equal(index.findOwner(9999), null);
    } finally {
      p.done();
    }
  });

  test('process facts are keyed by pid and start time: a reused pid running the same executable inherits nothing (P2)', () => {
    const root = mkdtempSync(join(tmpdir(), 'imdsguard-proc-'));
    try {
      const dir = join(root, '4242');
      mkdirSync(join(dir, 'ns'), { recursive: true });
      symlinkSync('/usr/bin/python3', join(dir, 'exe'));
      symlinkSync('net:[4026531840]', join(dir, 'ns', 'net'));
      const become = (startTime: number, container: string, netns: number) => {
        // The command name may hold spaces and parentheses: fields are counted after the last ')'.
        writeFileSync(
          join(dir, 'stat'),
          `4242 (py (x) y) S 1 4242 4242 0 -1 4194560 ${'0 '.repeat(12)}${startTime} 1000 50\n`,
        );
        writeFileSync(join(dir, 'cgroup'), `0::/system.slice/docker-${container}.scope\n`);
        writeFileSync(join(dir, 'cmdline'), `python3\u0000app-${startTime}.py\u0000`);
        rmSync(join(dir, 'ns', 'net'));
        symlinkSync(`net:[${netns}]`, join(dir, 'ns', 'net'));
      };
      const a = 'a'.repeat(64);
      const b = 'b'.repeat(64);
      become(100, a, 4026531840);
      const cache = new ProcessFactsCache(new UserNames('/nonexistent'), root);
      const first = cache.get(4242, 0)!;
      assert.equal(first.container, a);
      assert.equal(cache.get(4242, 1), first, 'the same process: the cached facts');
      // The process exits and another python3, in another container and namespace, gets pid 4242 within the TTL.
      become(200, b, 4026532999);
      const second = cache.get(4242, 2)!;
      assert.notEqual(second, first);
      assert.equal(second.container, b);
      assert.equal(second.netns, 4026532999);
      assert.deepEqual(second.argv, ['python3', 'app-200.py']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('parseStat reads ppid and start time past a command name with spaces and parentheses', () => {
    assert.deepEqual(parseStat(`9 (a) b) c) R 7 ${'0 '.repeat(17)}12345 0\n`), { ppid: 7, startTime: 12345 });
    assert.equal(parseStat('9 (trunc'), null);
  });
});
