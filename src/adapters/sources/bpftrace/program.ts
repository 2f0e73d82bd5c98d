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

/**
 * The bpftrace program: syscall tracepoints only (no kprobes, which do not attach on kernels without
 * CONFIG_KPROBES). connect() to a metadata address marks (pid, fd) in a kernel map; the first bytes written on a
 * marked fd by write/sendto/sendmsg/writev are printed so that user space can read the request line and header
 * names. exec events feed the pid table, since short-lived clients are gone before /proc can be read.
 *
 * Output lines (inside bpftrace's `-f json` "printf" records), space separated, free text last:
 *   C ns pid ppid uid netns cgroup fd family port addr comm
 *   W ns pid fd len chunk0        (the first 200 bytes written)
 *   V pid fd chunk1               (the next 200, when the write is longer)
 *   E ns pid ppid uid cgroup filename
 *   A ns pid index arg
 *   D ns pid fd
 *   R ready                       (every probe attached)
 */
export function bpftraceProgram(addresses: WatchedAddress[] = catalogueAddresses(), maxArgs = 8): string {
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
  const args: string[] = [];
  for (let i = 0; i < maxArgs; i++) {
    args.push(
      `  if (args->argv[${i}] != 0) { printf("A %llu %d ${i} %s\\n", nsecs, pid, str(args->argv[${i}])); } else { return; }`,
    );
  }
  return `// imdsguard agent: metadata-service callers. Generated from the endpoint catalogue; tracepoints only.
// BEGIN fires once every probe is attached: the agent is ready only then ("attached_probes" comes earlier).
BEGIN { printf("R ready\\n"); }

tracepoint:syscalls:sys_enter_connect
/ ((struct sockaddr *)args->uservaddr)->sa_family == 2 /
{
  $sa = (struct sockaddr_in *)args->uservaddr;
  $a = $sa->sin_addr.s_addr;
  $p = (($sa->sin_port & 0xff) << 8) | (($sa->sin_port >> 8) & 0xff);
  if (${v4cond}) {
    @imds[pid, args->fd] = 1;
    printf("C %llu %d %d %d %u %llu %d 4 %d %s %s\\n", nsecs, pid, curtask->real_parent->tgid, uid,
      curtask->nsproxy->net_ns->ns.inum, cgroup, args->fd, $p, ntop(2, $a), comm);
  }
}

tracepoint:syscalls:sys_enter_connect
/ ((struct sockaddr *)args->uservaddr)->sa_family == 10 /
{
  $s6 = (struct sockaddr_in6 *)args->uservaddr;
  $p = (($s6->sin6_port & 0xff) << 8) | (($s6->sin6_port >> 8) & 0xff);
  $w0 = $s6->sin6_addr.in6_u.u6_addr32[0];
  $w1 = $s6->sin6_addr.in6_u.u6_addr32[1];
  $w2 = $s6->sin6_addr.in6_u.u6_addr32[2];
  $w3 = $s6->sin6_addr.in6_u.u6_addr32[3];
  if (${v6cond}) {
    @imds[pid, args->fd] = 1;
    printf("C %llu %d %d %d %u %llu %d 6 %d %s %s\\n", nsecs, pid, curtask->real_parent->tgid, uid,
      curtask->nsproxy->net_ns->ns.inum, cgroup, args->fd, $p, ntop(10, $s6->sin6_addr.in6_u.u6_addr8), comm);
  }
}

tracepoint:syscalls:sys_enter_write /@imds[pid, args->fd]/
{
  printf("W %llu %d %d %d %r\\n", nsecs, pid, args->fd, args->count, buf(args->buf, 200));
  if (args->count > 200) { printf("V %d %d %r\\n", pid, args->fd, buf(args->buf + 200, 200)); }
}

tracepoint:syscalls:sys_enter_sendto /@imds[pid, args->fd]/
{
  printf("W %llu %d %d %d %r\\n", nsecs, pid, args->fd, args->len, buf(args->buff, 200));
  if (args->len > 200) { printf("V %d %d %r\\n", pid, args->fd, buf(args->buff + 200, 200)); }
}

tracepoint:syscalls:sys_enter_sendmsg /@imds[pid, args->fd]/
{
  $iov = (struct iovec *)((struct user_msghdr *)args->msg)->msg_iov;
  printf("W %llu %d %d %d %r\\n", nsecs, pid, args->fd, $iov->iov_len, buf($iov->iov_base, 200));
  if ($iov->iov_len > 200) { printf("V %d %d %r\\n", pid, args->fd, buf($iov->iov_base + 200, 200)); }
}

tracepoint:syscalls:sys_enter_writev /@imds[pid, args->fd]/
{
  $iov = (struct iovec *)args->vec;
  printf("W %llu %d %d %d %r\\n", nsecs, pid, args->fd, $iov->iov_len, buf($iov->iov_base, 200));
  if ($iov->iov_len > 200) { printf("V %d %d %r\\n", pid, args->fd, buf($iov->iov_base + 200, 200)); }
}

tracepoint:syscalls:sys_enter_close /@imds[pid, args->fd]/
{
  delete(@imds[pid, args->fd]);
  printf("D %llu %d %d\\n", nsecs, pid, args->fd);
}

tracepoint:syscalls:sys_enter_execve
{
${args.join('\n')}
}

tracepoint:sched:sched_process_exec
{
  printf("E %llu %d %d %d %llu %s\\n", nsecs, pid, curtask->real_parent->tgid, uid, cgroup, str(args->filename));
}

END { clear(@imds); }
`;
}
