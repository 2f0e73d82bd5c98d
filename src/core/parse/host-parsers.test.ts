import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { type AuditRecord, auditConnect, decodeProctitle, decodeSaddr, parseAuditLine } from './host-auditd.ts';
import { parseCgroup } from './host-cgroup.ts';
import { parseProcNetTcp } from './host-proc-net.ts';
import { parseRequestHead, unescapeBpftraceBuf } from './imds-request-head.ts';

describe('parseRequestHead()', () => {
  it('reads curl bytes as bpftrace prints them, keeping the token presence and not its value', () => {
    const raw =
      'GET /latest/meta-data/iam/security-credentials/ HTTP/1.1\\x0d\\x0aHost: 169.254.169.254\\x0d\\x0aUser-Agent: curl/7.88.1\\x0d\\x0aAccept: */*\\x0d\\x0aX-aws-ec2-metadata-token: SECRETTOKEN\\x0d\\x0a\\x0d\\x0a\\x00\\x00\\x00junk';
    const head = parseRequestHead(unescapeBpftraceBuf(raw, 160));
    assert.deepEqual(head, {
      method: 'GET',
      path: '/latest/meta-data/iam/security-credentials/',
      headerNames: ['host', 'user-agent', 'accept', 'x-aws-ec2-metadata-token'],
      token: true,
      awsToken: true,
      awsTokenTtl: false,
    });
    assert.ok(!JSON.stringify(head).includes('SECRET'));
  });

  it('cuts at the written length, sees the IMDSv2 PUT, GCP flavour and absolute-form targets, and rejects non-requests', () => {
    const put = parseRequestHead(
      unescapeBpftraceBuf(
        'PUT /latest/api/token HTTP/1.1\\x0d\\x0aX-Aws-Ec2-Metadata-Token-Ttl-Seconds: 21600\\x0d\\x0a\\x0d\\x0aGARBAGE',
        76,
      ),
    );
    assert.equal(put?.awsTokenTtl, true);
    assert.equal(put?.token, false);
    const gcp = parseRequestHead(
      'GET http://metadata.google.internal/computeMetadata/v1/ HTTP/1.1\r\nMetadata-Flavor: Google\r\n\r\n',
    );
    assert.equal(gcp?.path, '/computeMetadata/v1/');
    assert.equal(gcp?.token, true);
    assert.equal(parseRequestHead('\x16\x03\x01\x02\x00'), null);
    assert.equal(parseRequestHead('{"json":"body"}'), null);
    assert.equal(parseRequestHead('GET / SPDY/3\r\n'), null);
  });
});

describe('audit records', () => {
  const lines = readFileSync(new URL('../../../test/fixtures/agent/audit-connect.log', import.meta.url), 'utf8')
    .split('\n')
    .filter(Boolean);

  it('parseAuditLine() + auditConnect() decode a real ENRICHED curl connect (EINPROGRESS counts as made)', () => {
    const recs = lines.map(parseAuditLine).filter((r): r is AuditRecord => r !== null);
    assert.equal(recs.length, 6);
    const first = auditConnect(recs.filter((r) => r.serial === 5));
    assert.deepEqual(first, {
      timeMs: 1795412346032,
      serial: 5,
      pid: 29678,
      ppid: 29517,
      uid: 0,
      auid: 4294967295,
      comm: 'curl',
      exe: '/usr/bin/curl',
      argv: ['curl', '-s', '-o', '/dev/null', 'http://169.254.169.254/latest/meta-data/iam/security-credentials/'],
      success: true,
      destination: { family: 4, ip: '169.254.169.254', port: 80 },
    });
    const v6 = auditConnect(recs.filter((r) => r.serial === 7));
    assert.deepEqual(v6?.destination, { family: 6, ip: 'fd00:ec2::254', port: 80 });
    assert.match(v6?.exe ?? '', /python3/);
  });

  it('decodeSaddr() handles mapped IPv6 and ignores other families; decodeProctitle() plain text', () => {
    assert.deepEqual(decodeSaddr('0A00005000000000' + '00000000000000000000FFFFA9FEA9FE' + '00000000'), {
      family: 6,
      ip: '::ffff:169.254.169.254',
      port: 80,
    });
    assert.equal(decodeSaddr('01002F7661722F72756E2F6E7363642F736F636B6574'), null);
    assert.equal(decodeSaddr('zz'), null);
    assert.deepEqual(decodeProctitle('curl'), ['curl']);
  });
});

describe('parseCgroup()', () => {
  const id = 'a'.repeat(64);
  it('finds docker, containerd, cri-o, podman and Kubernetes pods', () => {
    assert.deepEqual(parseCgroup(`0::/system.slice/docker-${id}.scope\n`), {
      id,
      runtime: 'docker',
      cgroup: `/system.slice/docker-${id}.scope`,
    });
    assert.equal(parseCgroup(`12:memory:/docker/${id}\n`)?.runtime, 'docker');
    const k = parseCgroup(
      `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1b2c3d4e_5f60_7182_93a4_b5c6d7e8f901.slice/cri-containerd-${id}.scope`,
    );
    assert.equal(k?.runtime, 'containerd');
    assert.equal(k?.podUid, '1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901');
    assert.equal(
      parseCgroup(`0::/kubepods.slice/kubepods-pod1b2c3d4e_5f60_7182_93a4_b5c6d7e8f901.slice/crio-${id}.scope`)
        ?.runtime,
      'cri-o',
    );
    assert.equal(
      parseCgroup(`0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${id}.scope/container`)?.runtime,
      'podman',
    );
    assert.equal(
      parseCgroup(`11:cpu:/kubepods/besteffort/pod1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901/${id}`)?.runtime,
      'kubernetes',
    );
  });
  it('returns undefined for host processes (including this machine own hybrid layout)', () => {
    assert.equal(
      parseCgroup('9:name=systemd:/\n4:memory:/process_api/152b5681ea60f78ca0bd7a3b87f24ed0\n0::/\n'),
      undefined,
    );
    assert.equal(parseCgroup('0::/user.slice/user-0.slice/session-1.scope\n'), undefined);
  });
});

describe('parseProcNetTcp()', () => {
  it('decodes IPv4 and IPv6 rows (host-order words) with state and inode', () => {
    const v4 = parseProcNetTcp(
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   4: 0100007F:AC34 FEA9FEA9:0050 01 00000000:00000000 00:00000000 00000000     0        0 22719 1 0000000000000000 20 4 30 10 -1\n',
    );
    assert.deepEqual(v4, [
      {
        local: { ip: '127.0.0.1', port: 44084 },
        remote: { ip: '169.254.169.254', port: 80 },
        state: 1,
        uid: 0,
        inode: 22719,
      },
    ]);
    const v6 = parseProcNetTcp(
      'header\n   0: 00000000000000000000000001000000:9C40 C20E00FD000000000000000054020000:0050 02 00000000:00000000 00:00000000 00000000 65534        0 30128 1\n',
    );
    assert.equal(v6[0]?.remote.ip, 'fd00:ec2::254');
    assert.equal(v6[0]?.local.ip, '::1');
    assert.equal(v6[0]?.uid, 65534);
  });
});
