// Many rtnetlink requests per system call, for the routes BGP learns. `ip -batch` sends one
// request per route and waits for its answer (a sendmsg and two recvmsg per route: 1.2 s of
// kernel time for 100 000 routes where the insertions themselves take 0.35 s). The requests
// are encoded in TypeScript (src/dataplane/netlink-routes.ts, golden bytes); this helper only
// moves them:
//   exchange(messages: Buffer, netnsPath: string | null) -> Promise<{ failures, fatal, sent }>
// It sends the messages in chunks of at most CHUNK bytes, split between messages, with
// NLM_F_ACK on each chunk's last message only: the kernel answers the others only when they
// fail, and the acknowledged last one says the whole chunk has been handled. Each failure is
// reported by sequence number with its errno and the kernel's extended-ack text. The work runs
// on libuv's thread pool, so trellisd's event loop never waits for the kernel.
// With netnsPath the socket is made in that namespace (tests, the lab); a thread of its own
// enters it, so no thread-pool thread ever changes namespace.
#define _GNU_SOURCE
#include <node_api.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

// Fits a default net.core.wmem_max send buffer with room to spare.
#define CHUNK (48 * 1024)
#define BUF_BYTES (4 * 1024 * 1024)
#define ANSWER_TIMEOUT_SEC 10

typedef struct {
  uint32_t seq;
  int err;
  char detail[160];
} failure_t;

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  uint8_t *data;
  size_t len;
  char *netns;
  failure_t *fails;
  size_t nfails, cap;
  size_t sent;
  // A failure of the exchange itself (nothing, or not everything, was sent or answered).
  int fatal_err;
  char fatal_what[96];
} job_t;

static void set_fatal(job_t *j, const char *what, int err) {
  if (j->fatal_what[0]) return;
  snprintf(j->fatal_what, sizeof j->fatal_what, "%s", what);
  j->fatal_err = err;
}

static int add_failure(job_t *j, uint32_t seq, int err, const char *detail, size_t dlen) {
  if (j->nfails == j->cap) {
    size_t cap = j->cap ? j->cap * 2 : 64;
    failure_t *f = realloc(j->fails, cap * sizeof *f);
    if (!f) return -1;
    j->fails = f;
    j->cap = cap;
  }
  failure_t *f = &j->fails[j->nfails++];
  f->seq = seq;
  f->err = err;
  if (dlen >= sizeof f->detail) dlen = sizeof f->detail - 1;
  memcpy(f->detail, detail, dlen);
  f->detail[dlen] = 0;
  return 0;
}

static int open_socket(void) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return -errno;
  int big = BUF_BYTES, one = 1;
  // FORCE needs CAP_NET_ADMIN (trellisd has it); otherwise as much as net.core.*mem_max allows.
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) < 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big) < 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  // Failures echo only the request's header, and carry the kernel's own words when it has them.
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  struct timeval tv = { .tv_sec = ANSWER_TIMEOUT_SEC, .tv_usec = 0 };
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int err = errno;
    close(fd);
    return -err;
  }
  return fd;
}

typedef struct { const char *path; int fd; int err; const char *step; } ns_open_t;

static void *open_in_netns(void *arg) {
  ns_open_t *o = arg;
  int nsfd = open(o->path, O_RDONLY | O_CLOEXEC);
  if (nsfd < 0) { o->err = errno; o->step = "open the namespace"; return NULL; }
  // This thread alone enters the namespace, and ends right after.
  if (setns(nsfd, CLONE_NEWNET) < 0) { o->err = errno; o->step = "enter the namespace"; close(nsfd); return NULL; }
  close(nsfd);
  int fd = open_socket();
  if (fd < 0) { o->err = -fd; o->step = "netlink socket"; return NULL; }
  o->fd = fd;
  return NULL;
}

// Reads answers until the ack of `last`; 0 when it came, -1 on a fatal error (recorded).
static int read_answers(job_t *j, int fd, uint32_t last) {
  static __thread uint8_t rb[64 * 1024];
  for (;;) {
    ssize_t n = recv(fd, rb, sizeof rb, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      // ENOBUFS: answers were dropped, so which requests failed is unknown.
      set_fatal(j, errno == EAGAIN ? "no answer from the kernel" : errno == ENOBUFS ? "answers lost" : "recv", errno);
      return -1;
    }
    int len = (int)n;
    for (struct nlmsghdr *h = (struct nlmsghdr *)rb; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_type != NLMSG_ERROR) continue;
      if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr))) { set_fatal(j, "short answer", EPROTO); return -1; }
      struct nlmsgerr *e = NLMSG_DATA(h);
      if (e->error != 0) {
        const char *detail = "";
        size_t dlen = 0;
        if (h->nlmsg_flags & NLM_F_ACK_TLVS) {
          // With NETLINK_CAP_ACK the echoed request is its header alone.
          size_t skip = NLMSG_LENGTH(sizeof *e) + ((h->nlmsg_flags & NLM_F_CAPPED) ? 0 : NLMSG_ALIGN(e->msg.nlmsg_len) - sizeof e->msg);
          int alen = (int)h->nlmsg_len - (int)skip;
          for (struct rtattr *a = (struct rtattr *)((uint8_t *)h + skip); alen > 0 && RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
            if (a->rta_type == NLMSGERR_ATTR_MSG) {
              detail = RTA_DATA(a);
              dlen = strnlen(detail, RTA_PAYLOAD(a));
            }
          }
        }
        if (add_failure(j, e->msg.nlmsg_seq, -e->error, detail, dlen) < 0) { set_fatal(j, "out of memory", ENOMEM); return -1; }
      }
      if (e->msg.nlmsg_seq == last) return 0;
    }
  }
}

static void execute(napi_env env, void *data) {
  (void)env;
  job_t *j = data;
  int fd;
  if (j->netns) {
    ns_open_t o = { .path = j->netns, .fd = -1, .err = 0, .step = NULL };
    pthread_t t;
    if (pthread_create(&t, NULL, open_in_netns, &o) != 0) { set_fatal(j, "thread", EAGAIN); return; }
    pthread_join(t, NULL);
    if (o.fd < 0) { set_fatal(j, o.step, o.err); return; }
    fd = o.fd;
  } else {
    fd = open_socket();
    if (fd < 0) { set_fatal(j, "netlink socket", -fd); return; }
  }
  size_t off = 0;
  while (off < j->len) {
    size_t end = off;
    struct nlmsghdr *last = NULL;
    while (end < j->len) {
      struct nlmsghdr *h = (struct nlmsghdr *)(j->data + end);
      size_t step = NLMSG_ALIGN(h->nlmsg_len);
      if (end > off && end + step - off > CHUNK) break;
      last = h;
      end += step;
    }
    last->nlmsg_flags |= NLM_F_ACK;
    ssize_t n;
    do n = send(fd, j->data + off, end - off, 0); while (n < 0 && errno == EINTR);
    if (n < 0) { set_fatal(j, "send", errno); break; }
    if (read_answers(j, fd, last->nlmsg_seq) < 0) break;
    for (size_t p = off; p < end; p += NLMSG_ALIGN(((struct nlmsghdr *)(j->data + p))->nlmsg_len)) j->sent++;
    off = end;
  }
  close(fd);
}

static napi_value str(napi_env env, const char *s) {
  napi_value v;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  return v;
}

static napi_value num(napi_env env, double d) {
  napi_value v;
  napi_create_double(env, d, &v);
  return v;
}

static const char *errno_name(int err) {
  const char *name = strerrorname_np(err);
  return name ? name : "EOTHER";
}

static void complete(napi_env env, napi_status status, void *data) {
  job_t *j = data;
  napi_value out, fails;
  napi_create_object(env, &out);
  napi_create_array_with_length(env, j->nfails, &fails);
  for (size_t i = 0; i < j->nfails; i++) {
    napi_value f;
    napi_create_object(env, &f);
    napi_set_named_property(env, f, "seq", num(env, j->fails[i].seq));
    napi_set_named_property(env, f, "code", str(env, errno_name(j->fails[i].err)));
    napi_set_named_property(env, f, "message", str(env, strerror(j->fails[i].err)));
    napi_set_named_property(env, f, "detail", str(env, j->fails[i].detail));
    napi_set_element(env, fails, (uint32_t)i, f);
  }
  napi_set_named_property(env, out, "failures", fails);
  napi_set_named_property(env, out, "sent", num(env, (double)j->sent));
  if (status != napi_ok) set_fatal(j, "the work was cancelled", ECANCELED);
  if (j->fatal_what[0]) {
    char msg[256];
    snprintf(msg, sizeof msg, "%s: %s (%s)", j->fatal_what, strerror(j->fatal_err), errno_name(j->fatal_err));
    napi_set_named_property(env, out, "fatal", str(env, msg));
  } else {
    napi_value nul;
    napi_get_null(env, &nul);
    napi_set_named_property(env, out, "fatal", nul);
  }
  napi_resolve_deferred(env, j->deferred, out);
  napi_delete_async_work(env, j->work);
  free(j->data);
  free(j->netns);
  free(j->fails);
  free(j);
}

static napi_value js_exchange(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  bool isbuf = false;
  void *data = NULL;
  size_t len = 0;
  if (argc < 2 || napi_is_buffer(env, argv[0], &isbuf) != napi_ok || !isbuf ||
      napi_get_buffer_info(env, argv[0], &data, &len) != napi_ok || len == 0) {
    napi_throw_type_error(env, "EINVAL", "exchange(messages, netnsPath): messages must be a non-empty Buffer");
    return NULL;
  }
  // Every message whole and a request, before anything is sent: never half a batch for a bad encoding.
  for (size_t p = 0; p < len;) {
    const struct nlmsghdr *h = (const struct nlmsghdr *)((uint8_t *)data + p);
    if (len - p < sizeof *h || h->nlmsg_len < sizeof *h || NLMSG_ALIGN(h->nlmsg_len) > len - p || !(h->nlmsg_flags & NLM_F_REQUEST)) {
      napi_throw_range_error(env, "EINVAL", "exchange: messages is not a sequence of whole netlink requests");
      return NULL;
    }
    p += NLMSG_ALIGN(h->nlmsg_len);
  }
  napi_valuetype nt;
  napi_typeof(env, argv[1], &nt);
  char *netns = NULL;
  if (nt == napi_string) {
    size_t n = 0;
    napi_get_value_string_utf8(env, argv[1], NULL, 0, &n);
    netns = malloc(n + 1);
    if (!netns) { napi_throw_error(env, "ENOMEM", "exchange: out of memory"); return NULL; }
    napi_get_value_string_utf8(env, argv[1], netns, n + 1, &n);
  } else if (nt != napi_null && nt != napi_undefined) {
    napi_throw_type_error(env, "EINVAL", "exchange(messages, netnsPath): netnsPath must be a string or null");
    return NULL;
  }
  job_t *j = calloc(1, sizeof *j);
  // A copy: the worker sets NLM_F_ACK flags in it, and the caller's Buffer stays the caller's.
  uint8_t *copy = malloc(len);
  if (!j || !copy) {
    free(j); free(copy); free(netns);
    napi_throw_error(env, "ENOMEM", "exchange: out of memory");
    return NULL;
  }
  memcpy(copy, data, len);
  j->data = copy;
  j->len = len;
  j->netns = netns;
  napi_value promise, name;
  napi_create_promise(env, &j->deferred, &promise);
  napi_create_string_utf8(env, "trellis:rtnetlink", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, execute, complete, j, &j->work);
  napi_queue_async_work(env, j->work);
  return promise;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "exchange", NULL, js_exchange, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
