import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startSockDiag } from '../../net/caller/sockdiag.ts';
import { listOpenMetadataConnections } from './open-connections.ts';

/**
 * sock_diag dumps on this machine's loopback: a real connection, found with its uid and inode, and found as a
 * "metadata" connection when its address is treated as one. Needs python3 (the helper) and netlink.
 */
describe('open metadata connections (sock_diag dump, real sockets on loopback)', () => {
  let server: Server;
  let client: Socket;
  let port = 0;
  before(async () => {
    server = createServer(() => {});
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
    client = connect(port, '127.0.0.1');
    await new Promise<void>((r) => client.once('connect', r));
  });
  after(() => {
    client.destroy();
    server.close();
  });

  it('dumps the established connection with its uid and inode', async () => {
    const diag = await startSockDiag();
    try {
      const rows = await diag.dump(4);
      const mine = rows.find((r) => r.dst === '127.0.0.1' && r.dport === port && r.sport === client.localPort);
      assert.ok(mine, JSON.stringify(rows.slice(0, 5)));
      assert.equal(mine.uid, process.getuid?.() ?? mine.uid);
      assert.ok(mine.inode > 0);
    } finally {
      diag.close();
    }
  });

  it('lists it, with this process as its owner, when its destination is a watched one', async () => {
    const { connections } = await listOpenMetadataConnections([{ family: 4, ip: '127.0.0.1', ports: [port] }]);
    const mine = connections.find((c) => c.source.port === client.localPort);
    assert.ok(mine, JSON.stringify(connections));
    assert.equal(mine.pid, process.pid);
    assert.deepEqual(mine.destination, { ip: '127.0.0.1', port });
    // The accepted end has the same address as peer but on the client's port: not a connection to the service.
    assert.ok(!connections.some((c) => c.source.port === port));
  });
});
