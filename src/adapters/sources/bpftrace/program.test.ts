import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bpftraceProgram, catalogueAddresses } from './program.ts';

describe('bpftraceProgram()', () => {
  it('watches every catalogue address, IPv4 and IPv6, with port-bound services only on their ports', () => {
    const addrs = catalogueAddresses();
    const ips = addrs.map((a) => a.ip);
    for (const ip of [
      '169.254.169.254',
      '169.254.170.2',
      '169.254.170.23',
      '100.100.100.200',
      'fd00:ec2::254',
      'fd00:ec2::23',
    ])
      assert.ok(ips.includes(ip), ip);
    assert.deepEqual(
      addrs.find((a) => a.ip === '127.0.0.1'),
      { family: 4, ip: '127.0.0.1', ports: [40342] },
    );
    const p = bpftraceProgram();
    // 169.254.169.254 in network order read as a little-endian u32.
    assert.match(p, /\$a == 0xFEA9FEA9\)/);
    assert.match(p, /\(\$a == 0x100007F && \(\$p == 40342\)\)/);
    // fd00:ec2::254 as four words, and the IPv4-mapped form of 169.254.169.254.
    assert.match(p, /\$w0 == 0xC20E00FD && \$w1 == 0x0 && \$w2 == 0x0 && \$w3 == 0x54020000/);
    assert.match(p, /\$w0 == 0 && \$w1 == 0 && \$w2 == 0xFFFF0000 && \$w3 == 0xFEA9FEA9/);
  });

  it('uses tracepoints only and declares readiness from BEGIN', () => {
    const p = bpftraceProgram([{ family: 4, ip: '169.254.169.254', ports: null }]);
    assert.doesNotMatch(p, /kprobe|kfunc/);
    for (const tp of [
      'sock:inet_sock_set_state',
      'sys_exit_write',
      'sys_exit_sendto',
      'sys_exit_sendmsg',
      'sys_exit_writev',
      'sys_enter_sendfile64',
      'sys_enter_execve',
      'sched_process_exec',
    ]) {
      assert.ok(p.includes(tp), tp);
    }
    assert.match(p, /BEGIN \{ printf\("R %llu ready\\n", nsecs\); \}/);
    // The connection comes from the kernel's socket, not from connect()'s user-memory argument.
    assert.doesNotMatch(p, /sys_enter_connect|uservaddr/);
    // io_uring payload probes only when asked (they need kernel-internal types in BTF).
    assert.doesNotMatch(p, /io_sr_msg/);
    assert.match(bpftraceProgram(undefined, 8, { uringPayload: true }), /io_sr_msg/);
    assert.throws(() => bpftraceProgram([{ family: 4, ip: '300.1.1.1', ports: null }]), /Not an IPv4 address/);
  });
});
