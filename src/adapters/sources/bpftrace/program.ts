import ipaddr from 'ipaddr.js';
import { SERVICES } from '../../../core/endpoints/catalogue.ts';

/** One metadata address to watch, with the ports it is a metadata service on (null: any port). */
export interface WatchedAddress {
  family: 4 | 6;
  ip: string;
  ports: number[] | null;
}

/** Every metadata address of the catalogue (IPv4 and IPv6; ECS, EKS and port-bound ones such as Azure Arc). */
export function catalogueAddresses(): WatchedAddress[] {
  const seen = new Map<string, WatchedAddress>();
  for (const s of SERVICES) {
    for (const [family, list] of [
      [4, s.ipv4],
      [6, s.ipv6],
    ] as const) {
      for (const ip of list) {
        const key = `${family}/${ip.toLowerCase()}`;
        const ports = s.portBound ? [...s.ports] : null;
        const prev = seen.get(key);
        if (!prev) seen.set(key, { family, ip: ip.toLowerCase(), ports });
        else if (prev.ports && ports) prev.ports = [...new Set([...prev.ports, ...ports])];
        else prev.ports = null;
      }
    }
  }
  return [...seen.values()];
}

/** The 32-bit value the kernel holds for an IPv4 address in network order, read as a little-endian u32. */
function ipv4Word(ip: string): number {
  const b = ip.split('.').map(Number);
  if (b.length !== 4 || b.some((x) => !Number.isInteger(x) || x < 0 || x > 255))
    throw new RangeError(`Not an IPv4 address "${ip}"`);
  return ((b[3] as number) << 24) | ((b[2] as number) << 16) | ((b[1] as number) << 8) | (b[0] as number);
}

/** Four little-endian u32 words of an IPv6 address in network order. */
function ipv6Words(ip: string): number[] {
  if (!ipaddr.IPv6.isValid(ip)) throw new RangeError(`Not an IPv6 address "${ip}"`);
  const bytes = ipaddr.IPv6.parse(ip).toByteArray();
  const words: number[] = [];
  for (let i = 0; i < 16; i += 4) {
    words.push(
      (((bytes[i + 3] as number) << 24) |
        ((bytes[i + 2] as number) << 16) |
        ((bytes[i + 1] as number) << 8) |
        (bytes[i] as number)) >>>
        0,
    );
  }
  return words;
}

const hex = (n: number) => `0x${(n >>> 0).toString(16).toUpperCase()}`;
const portCond = (ports: number[] | null) => (ports ? ` && (${ports.map((p) => `$p == ${p}`).join(' || ')})` : '');

/** Bytes of one send call the program prints from a single buffer (six chunks). */
export const CALL_BYTES = 960;
/** Segments of a writev/sendmsg iovec read, and bytes printed per segment. */
export const IOV_SEGMENTS = 4;
export const IOV_SEGMENT_BYTES = 320;
/**
 * Bytes per printed chunk. bpftrace 0.17 copies at most 200 per buf(), but a probe holding a 200-byte buf() and the
 * iovec reads exceeds the 512-byte BPF stack.
 */
const CHUNK = 160;

export interface ProgramOptions {
  /**
   * Read io_uring SEND payloads from the kernel's request (struct io_kiocb / io_sr_msg through BTF). Off when the
   * kernel's BTF lacks those types: the program would not compile; the connection is still seen.
   */
  uringPayload?: boolean;
}

/** The conditions on `$a`/`$p` (IPv4) and `$w0..$w3`/`$p` (IPv6) that name a watched destination. */
function destinationConditions(addresses: WatchedAddress[]): { v4: string; v6: string } {
  const v4 = addresses.filter((a) => a.family === 4);
  const v6 = addresses.filter((a) => a.family === 6);
  const v4cond = v4.map((a) => `($a == ${hex(ipv4Word(a.ip))}${portCond(a.ports)})`).join(' || ') || '0';
  const w6 = (words: number[]) => words.map((w, i) => `$w${i} == ${hex(w)}`).join(' && ');
  // IPv4-mapped IPv6 (::ffff:a.b.c.d): dual-stack sockets (Java, some runtimes) connect to IPv4 this way.
  const mapped = v4
    .map((a) => `($w0 == 0 && $w1 == 0 && $w2 == 0xFFFF0000 && $w3 == ${hex(ipv4Word(a.ip))}${portCond(a.ports)})`)
    .join(' || ');
  const v6cond =
    [...v6.map((a) => `(${w6(ipv6Words(a.ip))}${portCond(a.ports)})`), mapped].filter(Boolean).join(' || ') || '0';
  return { v4: v4cond, v6: v6cond };
}

const PROC = 'pid, curtask->real_parent->tgid, uid, curtask->nsproxy->net_ns->ns.inum, cgroup';

/**
 * `$sk` (the struct sock of descriptor FD, as a u64) and `$stream` (1 for SOCK_STREAM) when FD is a socket; then
 * BODY. The descriptor is resolved in the kernel's file table, so a dup()ed descriptor or a forked child's copy
 * leads to the same socket.
 */
function withSocket(fd: string, body: string): string {
  return `  $fdt = curtask->files->fdt;
  if (${fd} >= 0 && ${fd} < $fdt->max_fds) {
    $f = *($fdt->fd + ${fd});
    if ($f != 0 && ($f->f_inode->i_mode & 0xF000) == 0xC000) {
      $so = (struct socket *)$f->private_data;
      $sk = (uint64)$so->sk;
      $stream = $so->type == 1 ? 1 : 0;
${body}
    }
  }`;
}

/**
 * Is `$sk` a metadata socket? Marked at SYN_SENT, or (a connection opened before the program attached) its
 * destination, read from the socket itself, is a watched one: then it is marked and announced with a P record.
 */
function markedOrWatched(c: { v4: string; v6: string }): string {
  return `      $m = @imds[$sk];
      if (!$m && $stream) {
        $s = (struct sock *)$sk;
        $p = (($s->__sk_common.skc_dport & 0xff) << 8) | (($s->__sk_common.skc_dport >> 8) & 0xff);
        if ($s->__sk_common.skc_family == 2) {
          $a = $s->__sk_common.skc_daddr;
          if (${c.v4}) {
            $m = 2; @imds[$sk] = 2;
            printf("P %llu %d %d %d %u %llu %llu 4 %d %s %s\\n", nsecs, ${PROC}, $sk, $p, ntop(2, $a), comm);
          }
        } else if ($s->__sk_common.skc_family == 10) {
          $w0 = $s->__sk_common.skc_v6_daddr.in6_u.u6_addr32[0];
          $w1 = $s->__sk_common.skc_v6_daddr.in6_u.u6_addr32[1];
          $w2 = $s->__sk_common.skc_v6_daddr.in6_u.u6_addr32[2];
          $w3 = $s->__sk_common.skc_v6_daddr.in6_u.u6_addr32[3];
          if (${c.v6}) {
            $m = 2; @imds[$sk] = 2;
            printf("P %llu %d %d %d %u %llu %llu 6 %d %s %s\\n", nsecs, ${PROC}, $sk, $p,
              ntop(10, $s->__sk_common.skc_v6_daddr.in6_u.u6_addr8), comm);
          }
        }
      }`;
}

/**
 * One W record: bytes [off, off+200) of a buffer `$b` of which `$n` bytes were sent, at call offset `$o`. Each chunk
 * is its own probe: a printf with a 200-byte buf() takes about half of BPF's 512-byte stack, so two do not fit in
 * one program. Probes on one tracepoint run in the order they are written, on the same CPU.
 */
function chunkPrint(off: number): string {
  return `if ($n > ${off}) { $c = $n - ${off}; if ($c > ${CHUNK}) { $c = ${CHUNK}; }
      printf("W %llu %d %llu %llu %d %d %d %r\\n", nsecs, pid, $sk, $call, $total, $o + ${off}, $c, buf(uptr($b + ${off}), ${CHUNK})); }`;
}

/**
 * The exit side of a single-buffer send: one probe per chunk, then one that forgets the pending call. PEND holds
 * (sk, buffer, call); RET is the bytes sent.
 */
function singleExit(attach: string, pend: string, ret: string): string {
  const out: string[] = [];
  for (let off = 0; off < CALL_BYTES; off += CHUNK) {
    out.push(`${attach} / ${pend}.0 /
{
  $q = ${pend}; $sk = $q.0;
  if (${ret} > 0 && @imds[$sk]) {
    $call = $q.2; $total = ${ret}; $n = ${ret}; $b = $q.1; $o = 0;
    ${chunkPrint(off)}
  }
}`);
  }
  out.push(`${attach} / ${pend}.0 / { delete(${pend}); }`);
  return out.join('\n\n');
}

/**
 * The exit side of an iovec send: per segment and chunk one probe. VEC is how to get `$v` (the user address of the
 * iovec array) from `$q`. The call offset of a segment is the sum of the lengths before it; a segment starts before
 * the bytes sent end only if it is one of the call's (so the count is not needed). The user ABI
 * is read by offset (iov_base 0, iov_len 8; msg_iov 16, msg_iovlen 24 in a 64-bit msghdr): struct reads through
 * uptr() cost stack that the chunk's printf needs.
 */
function iovecExit(attach: string, pend: string, vec: string): string {
  const out: string[] = [];
  for (let seg = 0; seg < IOV_SEGMENTS; seg++) {
    for (let off = 0; off < IOV_SEGMENT_BYTES; off += CHUNK) {
      out.push(`${attach} / ${pend}.0 /
{
  $q = ${pend}; $sk = $q.0;
  if (args->ret > 0 && @imds[$sk]) {
    ${vec}
    if ($v != 0) {
      $call = $q.2; $total = args->ret; $o = 0;
${Array.from({ length: seg }, (_, i) => `      $o += *(uint64 *)uptr($v + ${i * 16 + 8});`).join('\n')}
      if ($o < $total) {
        $b = *(uint64 *)uptr($v + ${seg * 16});
        $n = *(uint64 *)uptr($v + ${seg * 16 + 8});
        if ($n > $total - $o) { $n = $total - $o; }
        ${chunkPrint(off)}
      }
    }
  }
}`);
    }
  }
  out.push(`${attach} / ${pend}.0 / { delete(${pend}); }`);
  return out.join('\n\n');
}

/**
 * The bpftrace program. Tracepoints only (no kprobes, which do not attach on kernels without CONFIG_KPROBES).
 *
 * Connections come from `sock:inet_sock_set_state` on the transition to SYN_SENT, which the kernel makes whatever
 * the system call path (connect, sendto with MSG_FASTOPEN, io_uring, 32-bit calls), with the destination read from
 * the socket in kernel memory. The socket's address marks it in a kernel map until it reaches TCP_CLOSE.
 * Request bytes come from the exits of write/sendto/writev/sendmsg on a descriptor whose socket is marked (resolved
 * in the kernel's file table: dup()ed descriptors and forked children are covered): at exit the kernel has already
 * copied the buffer, so pages never touched before the call are present, and the return value says how many bytes
 * went. io_uring SEND payloads are read at the request's completion. sendfile/splice and other io_uring opcodes
 * carry page-cache or kernel pages that tracepoints cannot read: they are announced with an F record.
 *
 * Output lines (inside bpftrace's `-f json` "printf" records), space separated, free text last:
 *   S ns pid ppid uid netns cgroup sk family port via addr comm   (SYN_SENT; via: s system call, u io_uring)
 *   P ns pid ppid uid netns cgroup sk family port addr comm       (a write on a watched socket that was connected
 *                                                                  before the program attached)
 *   W ns pid sk call total off n chunk   (n bytes at offset off of a send call that sent total bytes; call is the
 *                                        call's start time and names it)
 *   F ns pid sk kind                     (bytes sent by a path whose payload is out of reach: sendfile, splice, uring)
 *   D ns sk                              (the socket reached TCP_CLOSE)
 *   E ns pid ppid uid cgroup filename
 *   A ns pid index arg
 *   R <ns> ready                         (every probe attached)
 */
export function bpftraceProgram(
  addresses: WatchedAddress[] = catalogueAddresses(),
  maxArgs = 8,
  opts: ProgramOptions = {},
): string {
  const c = destinationConditions(addresses);
  // A socket found by its writes could also be the accepted end of a local service whose peer holds a metadata
  // address (a local emulator, a test's fake service): sockets to "any port" services count only on port 80 there.
  const open = destinationConditions(addresses.map((a) => (a.ports ? a : { ...a, ports: [80] })));
  const args: string[] = [];
  for (let i = 0; i < maxArgs; i++) {
    args.push(
      `  if (args->argv[${i}] != 0) { printf("A %llu %d ${i} %s\\n", nsecs, pid, str(args->argv[${i}])); } else { return; }`,
    );
  }
  const single = (sys: string, fd: string, bufArg: string, tfo: boolean) => `tracepoint:syscalls:sys_enter_${sys}
{
${withSocket(
  fd,
  `${markedOrWatched(open)}
      // A TCP Fast Open sendto/sendmsg connects inside the call: decided at exit, once SYN_SENT has marked it.
      if ($m${tfo ? ' || ($stream && args->addr != 0)' : ''}) { @pend[tid] = ($sk, (uint64)${bufArg}, nsecs); }`,
)}
}

${singleExit(`tracepoint:syscalls:sys_exit_${sys}`, '@pend[tid]', 'args->ret')}`;
  const uring = opts.uringPayload
    ? `
// io_uring SEND/SEND_ZC (26, 47): the buffer is in the prepared request; read it when the request completes, in
// the ring owner's context (its submitting thread or an iou-wrk worker sharing its memory). The connect may be
// linked in the same submission, so the socket is checked only at completion.
tracepoint:io_uring:io_uring_submit_req / args->opcode == 26 || args->opcode == 47 /
{
  $r = (struct io_kiocb *)args->req;
  $fd = $r->cqe.fd;
${withSocket('$fd', '      if ($stream) { @uq[(uint64)args->req] = ($sk, (uint64)((struct io_sr_msg *)args->req)->buf, nsecs); }')}
}

${singleExit('tracepoint:io_uring:io_uring_complete', '@uq[(uint64)args->req]', 'args->res')}
`
    : `
// Without the io_uring request types in BTF, a SEND on a watched socket is only announced.
tracepoint:io_uring:io_uring_submit_req / args->opcode == 26 || args->opcode == 47 /
{
  $r = (struct io_kiocb *)args->req;
  $fd = $r->cqe.fd;
${withSocket('$fd', '      if (@imds[$sk]) { printf("F %llu %d %llu uring\\n", nsecs, pid, $sk); }')}
}
`;
  return `// imdsguard agent: metadata-service callers. Generated from the endpoint catalogue; tracepoints only.
// BEGIN fires once every probe is attached: the agent is ready only then ("attached_probes" comes earlier).
BEGIN { printf("R %llu ready\\n", nsecs); }

// Every TCP connection attempt, whatever system call made it; the destination is read from the socket.
tracepoint:sock:inet_sock_set_state / args->newstate == 2 && args->protocol == 6 /
{
  $p = args->dport;
  $via = (@ur[tid] || strncmp(comm, "iou-", 4) == 0) ? "u" : "s";
  if (args->family == 2) {
    $a = (uint32)args->daddr[0] | ((uint32)args->daddr[1] << 8) | ((uint32)args->daddr[2] << 16) |
      ((uint32)args->daddr[3] << 24);
    if (${c.v4}) {
      @imds[(uint64)args->skaddr] = 1;
      printf("S %llu %d %d %d %u %llu %llu 4 %d %s %s %s\\n", nsecs, ${PROC}, (uint64)args->skaddr, $p, $via,
        ntop(2, $a), comm);
    }
  } else if (args->family == 10) {
    $w0 = (uint32)args->daddr_v6[0] | ((uint32)args->daddr_v6[1] << 8) | ((uint32)args->daddr_v6[2] << 16) |
      ((uint32)args->daddr_v6[3] << 24);
    $w1 = (uint32)args->daddr_v6[4] | ((uint32)args->daddr_v6[5] << 8) | ((uint32)args->daddr_v6[6] << 16) |
      ((uint32)args->daddr_v6[7] << 24);
    $w2 = (uint32)args->daddr_v6[8] | ((uint32)args->daddr_v6[9] << 8) | ((uint32)args->daddr_v6[10] << 16) |
      ((uint32)args->daddr_v6[11] << 24);
    $w3 = (uint32)args->daddr_v6[12] | ((uint32)args->daddr_v6[13] << 8) | ((uint32)args->daddr_v6[14] << 16) |
      ((uint32)args->daddr_v6[15] << 24);
    if (${c.v6}) {
      @imds[(uint64)args->skaddr] = 1;
      printf("S %llu %d %d %d %u %llu %llu 6 %d %s %s %s\\n", nsecs, ${PROC}, (uint64)args->skaddr, $p, $via,
        ntop(10, args->daddr_v6), comm);
    }
  }
}

tracepoint:sock:inet_sock_set_state / args->newstate == 7 && @imds[(uint64)args->skaddr] /
{
  delete(@imds[(uint64)args->skaddr]);
  printf("D %llu %llu\\n", nsecs, (uint64)args->skaddr);
}

${single('write', 'args->fd', 'args->buf', false)}

${single('sendto', 'args->fd', 'args->buff', true)}

tracepoint:syscalls:sys_enter_writev
{
${withSocket('args->fd', `${markedOrWatched(open)}\n      if ($m) { @vpend[tid] = ($sk, (uint64)args->vec, nsecs); }`)}
}

${iovecExit('tracepoint:syscalls:sys_exit_writev', '@vpend[tid]', '$v = $q.1;')}

tracepoint:syscalls:sys_enter_sendmsg
{
${withSocket(
  'args->fd',
  `${markedOrWatched(open)}
      if ($m || $stream) { @mpend[tid] = ($sk, (uint64)args->msg, nsecs); }`,
)}
}

${iovecExit('tracepoint:syscalls:sys_exit_sendmsg', '@mpend[tid]', '$v = *(uint64 *)uptr($q.1 + 16);')}

tracepoint:syscalls:sys_enter_sendfile64
{
${withSocket('args->out_fd', `${markedOrWatched(open)}\n      if ($m) { printf("F %llu %d %llu sendfile\\n", nsecs, pid, $sk); }`)}
}

tracepoint:syscalls:sys_enter_splice
{
${withSocket('args->fd_out', `${markedOrWatched(open)}\n      if ($m) { printf("F %llu %d %llu splice\\n", nsecs, pid, $sk); }`)}
}

// Connections made from io_uring_enter run in the submitter's context; workers are named iou-wrk-*/iou-sqp-*.
tracepoint:syscalls:sys_enter_io_uring_enter { @ur[tid] = 1; }
tracepoint:syscalls:sys_exit_io_uring_enter { delete(@ur[tid]); }
${uring}
tracepoint:syscalls:sys_enter_execve
{
${args.join('\n')}
}

tracepoint:sched:sched_process_exec
{
  printf("E %llu %d %d %d %llu %s\\n", nsecs, pid, curtask->real_parent->tgid, uid, cgroup, str(args->filename));
}

END { clear(@imds); clear(@pend); clear(@vpend); clear(@mpend); clear(@ur); clear(@uq); }
`;
}
