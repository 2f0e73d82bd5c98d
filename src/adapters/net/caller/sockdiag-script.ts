/**
 * The sock_diag helper, kept as text so that it ships inside the built package.
 * Node has no netlink sockets; Python's standard library does. One exact NETLINK_SOCK_DIAG lookup by 4-tuple is a
 * hash lookup in the kernel (microseconds), where reading /proc/net/tcp walks every bucket of the established
 * table (milliseconds, see docs). Protocol, one line each way:
 *   "<id> <4|6> <src> <sport> <dst> <dport> [<dst> <dport>…]\n"  →  "<id> <uid> <inode>\n" | "<id> - <errno>\n"
 *   (the first destination that matches wins: one round trip for every candidate)
 *   "<id> ping\n" → "<id> pong\n"
 *   "<id> dump <4|6>\n" → "<id> + <src> <sport> <dst> <dport> <uid> <inode>|…\n" (every TCP socket of that family
 *   in ESTABLISHED, SYN_SENT or CLOSE_WAIT in the helper's network namespace) | "<id> - <errno>\n"
 * Queries that arrive together (Node writes a burst of them at once) are answered together, in one write.
 */
export const SOCKDIAG_SCRIPT = String.raw`
import os, socket, struct
NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 1
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_DUMP = 0x300
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG)
def lookup(seq, fam, src, sport, dst, dport):
    af = socket.AF_INET if fam == '4' else socket.AF_INET6
    a = socket.inet_pton(af, src).ljust(16, b'\0')
    b = socket.inet_pton(af, dst).ljust(16, b'\0')
    sockid = struct.pack('>HH', int(sport), int(dport)) + a + b + struct.pack('=III', 0, 0xffffffff, 0xffffffff)
    req = struct.pack('=BBBBI', af, socket.IPPROTO_TCP, 0, 0, 0xffffffff) + sockid
    s.send(struct.pack('=IHHII', 16 + len(req), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, seq, 0) + req)
    while True:
        d = s.recv(65536)
        off = 0
        while off + 16 <= len(d):
            ln, typ, fl, sq, pid = struct.unpack_from('=IHHII', d, off)
            if sq == seq:
                if typ == NLMSG_ERROR:
                    return '- %d' % -struct.unpack_from('=i', d, off + 16)[0]
                uid, inode = struct.unpack_from('=II', d, off + 16 + 4 + 48 + 12)
                return '%d %d' % (uid, inode)
            off += (ln + 3) & ~3
def dump(seq, fam):
    af = socket.AF_INET if fam == '4' else socket.AF_INET6
    n = 4 if fam == '4' else 16
    states = (1 << 1) | (1 << 2) | (1 << 8)
    req = struct.pack('=BBBBI', af, socket.IPPROTO_TCP, 0, 0, states) + b'\0' * 48
    s.send(struct.pack('=IHHII', 16 + len(req), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + req)
    rows = []
    while True:
        d = s.recv(65536)
        off = 0
        while off + 16 <= len(d):
            ln, typ, fl, sq, pid = struct.unpack_from('=IHHII', d, off)
            if sq == seq:
                if typ == NLMSG_DONE:
                    return '+ ' + '|'.join(rows)
                if typ == NLMSG_ERROR:
                    return '- %d' % -struct.unpack_from('=i', d, off + 16)[0]
                b = off + 16
                sport, dport = struct.unpack_from('>HH', d, b + 4)
                src = socket.inet_ntop(af, d[b + 8:b + 8 + n])
                dst = socket.inet_ntop(af, d[b + 24:b + 24 + n])
                uid, inode = struct.unpack_from('=II', d, b + 4 + 48 + 12)
                rows.append('%s %d %s %d %d %d' % (src, sport, dst, dport, uid, inode))
            off += (ln + 3) & ~3
def answer(line):
    parts = line.decode('ascii', 'replace').split()
    if len(parts) == 2 and parts[1] == 'ping':
        return parts[0] + ' pong\n'
    if len(parts) == 3 and parts[1] == 'dump':
        try:
            return parts[0] + ' ' + dump(int(parts[0]) & 0xffffffff, parts[2]) + '\n'
        except Exception:
            return parts[0] + ' - 22\n'
    if len(parts) >= 6 and len(parts) % 2 == 0:
        r = '- 2'
        for i in range(4, len(parts), 2):
            try:
                r = lookup(int(parts[0]) & 0xffffffff, parts[1], parts[2], parts[3], parts[i], parts[i + 1])
            except Exception as e:
                r = '- 22'
            if r != '- 2':
                break
        return parts[0] + ' ' + r + '\n'
    return parts[0] + ' - 22\n' if parts else ''
# Every query that arrived together is answered in one write: one wake-up serves a burst of new connections.
buf = b''
while True:
    d = os.read(0, 65536)
    if not d:
        break
    buf += d
    lines = buf.split(b'\n')
    buf = lines.pop()
    out = ''.join(answer(l) for l in lines if l)
    b = out.encode('ascii')
    while b:
        b = b[os.write(1, b):]
`;
