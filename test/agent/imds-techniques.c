/*
 * One metadata request made in a chosen way, to check that the host agent sees it whatever system call made the
 * connection or carried the request. Built by test/agent/agent-techniques.e2e.test.ts with the machine's gcc and
 * run only inside the test's network namespaces (the metadata address lives on their lo).
 *
 *   [IMDS_TOKEN=TOKEN] imds-techniques TECHNIQUE [PATH]
 *
 * TECHNIQUE: connect | tfo | iouring | mmap | split1 | writev2 | sendmsg3 | fork | dup | sendfile | token400 |
 *            preexisting (connects, prints "connected", waits for a line on stdin, sends, then waits for stdin
 *            to close)
 * With IMDS_TOKEN (from the environment, not argv, which the agent records) the request carries `X-aws-ec2-metadata-token: TOKEN` (IMDSv2), else it is an IMDSv1 request.
 * Exit 0 when an HTTP response came back.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MSG_FASTOPEN
#define MSG_FASTOPEN 0x20000000
#endif

static void die(const char *what) {
  fprintf(stderr, "imds-techniques: %s: %s\n", what, strerror(errno));
  exit(2);
}

static void fill_addr(struct sockaddr_in *sa) {
  memset(sa, 0, sizeof *sa);
  sa->sin_family = AF_INET;
  sa->sin_port = htons(80);
  inet_pton(AF_INET, "169.254.169.254", &sa->sin_addr);
}

/* The request head; with pad, filler headers put the token header past byte 400. */
static int build_request(char *out, size_t cap, const char *path, const char *token, int pad) {
  int n = snprintf(out, cap, "GET %s HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: imds-techniques\r\n", path);
  for (int i = 0; pad && n < 420; i++) n += snprintf(out + n, cap - n, "X-Filler-%02d: %s\r\n", i, "abcdefghijklmnopqrstuvwxyz");
  if (token) n += snprintf(out + n, cap - n, "X-aws-ec2-metadata-token: %s\r\n", token);
  n += snprintf(out + n, cap - n, "Connection: close\r\n\r\n");
  return n;
}

static int connected_socket(void) {
  struct sockaddr_in sa;
  fill_addr(&sa);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) die("connect");
  return fd;
}

static void write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) die("write");
    p += w;
    n -= (size_t)w;
  }
}

static int read_response(int fd) {
  char buf[512];
  ssize_t r = read(fd, buf, sizeof buf - 1);
  if (r <= 0) return 1;
  buf[r] = 0;
  return strncmp(buf, "HTTP/1.", 7) == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: [IMDS_TOKEN=TOKEN] imds-techniques TECHNIQUE [PATH]\n");
    return 2;
  }
  const char *t = argv[1];
  const char *path = argc > 2 ? argv[2] : "/latest/meta-data/iam/security-credentials/";
  const char *token = getenv("IMDS_TOKEN");
  if (token && !*token) token = NULL;
  static char req[2048];
  int n = build_request(req, sizeof req, path, token, strcmp(t, "token400") == 0);
  int fd = -1;

  if (!strcmp(t, "connect") || !strcmp(t, "token400")) {
    fd = connected_socket();
    write_all(fd, req, n);
  } else if (!strcmp(t, "tfo")) {
    /* No connect(): the destination travels with the data in sendto(MSG_FASTOPEN). */
    struct sockaddr_in sa;
    fill_addr(&sa);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    if (sendto(fd, req, n, MSG_FASTOPEN, (struct sockaddr *)&sa, sizeof sa) < 0) die("sendto MSG_FASTOPEN");
  } else if (!strcmp(t, "iouring")) {
    /* IORING_OP_CONNECT linked to IORING_OP_SEND: neither connect() nor write() is called. */
    struct io_uring ring;
    struct sockaddr_in sa;
    fill_addr(&sa);
    if (io_uring_queue_init(4, &ring, 0) < 0) die("io_uring_queue_init");
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    struct io_uring_sqe *c = io_uring_get_sqe(&ring);
    io_uring_prep_connect(c, fd, (struct sockaddr *)&sa, sizeof sa);
    c->flags |= IOSQE_IO_LINK;
    struct io_uring_sqe *s = io_uring_get_sqe(&ring);
    io_uring_prep_send(s, fd, req, n, 0);
    if (io_uring_submit_and_wait(&ring, 2) < 0) die("io_uring_submit_and_wait");
    for (int i = 0; i < 2; i++) {
      struct io_uring_cqe *cqe;
      if (io_uring_wait_cqe(&ring, &cqe) < 0) die("io_uring_wait_cqe");
      if (cqe->res < 0) {
        errno = -cqe->res;
        die("io_uring op");
      }
      io_uring_cqe_seen(&ring, cqe);
    }
    io_uring_queue_exit(&ring);
  } else if (!strcmp(t, "mmap")) {
    /* sockaddr and request in a file-backed page this process never touched: a BPF read of user memory fails. */
    char tmpl[] = "/tmp/imds-techniques-XXXXXX";
    int f = mkstemp(tmpl);
    if (f < 0) die("mkstemp");
    unlink(tmpl);
    struct sockaddr_in sa;
    fill_addr(&sa);
    static char page[4096];
    memcpy(page, &sa, sizeof sa);
    memcpy(page + 64, req, n);
    if (write(f, page, sizeof page) != (ssize_t)sizeof page) die("write file");
    char *m = mmap(NULL, sizeof page, PROT_READ, MAP_SHARED, f, 0);
    if (m == MAP_FAILED) die("mmap");
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    if (connect(fd, (struct sockaddr *)m, sizeof sa) < 0) die("connect");
    char *m2 = mmap(NULL, sizeof page, PROT_READ, MAP_SHARED, f, 0); /* a second, untouched mapping */
    if (m2 == MAP_FAILED) die("mmap");
    if (write(fd, m2 + 64, n) != n) die("write");
  } else if (!strcmp(t, "split1")) {
    fd = connected_socket();
    write_all(fd, req, 1);
    usleep(20000);
    write_all(fd, req + 1, n - 1);
  } else if (!strcmp(t, "writev2")) {
    fd = connected_socket();
    struct iovec iov[2] = {{req, 10}, {req + 10, (size_t)n - 10}};
    if (writev(fd, iov, 2) != n) die("writev");
  } else if (!strcmp(t, "sendmsg3")) {
    fd = connected_socket();
    struct iovec iov[3] = {{req, 4}, {req + 4, 30}, {req + 34, (size_t)n - 34}};
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 3};
    if (sendmsg(fd, &mh, 0) != n) die("sendmsg");
  } else if (!strcmp(t, "fork")) {
    /* The parent connects; a forked child writes the request. */
    fd = connected_socket();
    pid_t c = fork();
    if (c < 0) die("fork");
    if (c == 0) {
      write_all(fd, req, n);
      _exit(0);
    }
    int st;
    waitpid(c, &st, 0);
  } else if (!strcmp(t, "dup")) {
    int orig = connected_socket();
    fd = dup2(orig, 77);
    if (fd < 0) die("dup2");
    write_all(fd, req, n);
  } else if (!strcmp(t, "sendfile")) {
    fd = connected_socket();
    char tmpl[] = "/tmp/imds-techniques-XXXXXX";
    int f = mkstemp(tmpl);
    if (f < 0) die("mkstemp");
    unlink(tmpl);
    write_all(f, req, n);
    off_t off = 0;
    if (sendfile(fd, f, &off, n) != n) die("sendfile");
  } else if (!strcmp(t, "preexisting")) {
    fd = connected_socket();
    printf("connected\n");
    fflush(stdout);
    char line[16];
    if (!fgets(line, sizeof line, stdin)) return 2;
    write_all(fd, req, n);
    int rc = read_response(fd);
    /* Stay alive until stdin closes, so the owner can still be read from /proc. */
    while (fgets(line, sizeof line, stdin)) {
    }
    return rc;
  } else {
    fprintf(stderr, "imds-techniques: unknown technique %s\n", t);
    return 2;
  }
  return read_response(fd);
}
