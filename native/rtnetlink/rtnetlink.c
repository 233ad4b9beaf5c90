// Many rtnetlink requests per system call, for the routes BGP learns. `ip -batch` sends one
// request per route and waits for its answer (a sendmsg and two recvmsg per route: 1.2 s of
// kernel time for 100 000 routes where the insertions themselves take 0.35 s). The requests
// are encoded in TypeScript (src/dataplane/netlink-routes.ts, golden bytes); this helper only
// moves them:
//   exchange(messages: Buffer, netnsPath: string | null) -> Promise<{ failures, fatal, sent }>
// (messages is the helper's until the promise settles: flags are set in it)
// It sends the messages in chunks of at most CHUNK bytes, split between messages, with
// NLM_F_ACK on each chunk's last message only: the kernel answers the others only when they
// fail, and the acknowledged last one says the whole chunk has been handled. Each failure is
// reported by sequence number with its errno and the kernel's extended-ack text. The work runs
// on libuv's thread pool, so trellisd's event loop never waits for the kernel.
// With netnsPath the socket is made in that namespace (tests, the lab); a thread of its own
// enters it, so no thread-pool thread ever changes namespace.
//
// And the other direction, route change notifications without a full BGP table's worth of
// them (`ip monitor route` prints and trellisd reads 100 000 lines when a table comes in):
//   watchRoutes(netnsPath: string | null, ignoreProto: number, onEvents) -> { stop() }
// A thread of its own (in the namespace, if one is given) listens to the IPv4 and IPv6 route
// groups through a socket filter that drops, in the kernel, every notification of protocol
// ignoreProto. onEvents(kind, events) is called on the event loop: kind "ready" once subscribed,
// "routes" with [{ deleted, family, dst, dev, proto, table, type }], "lost" when the kernel
// dropped notifications (the socket's queue overflowed: read the table back), "error" with a
// message when the watcher cannot run (it has stopped then).
#define _GNU_SOURCE
#include <node_api.h>
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
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
  napi_ref buf;
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
  napi_delete_reference(env, j->buf);
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
  if (!j) {
    free(netns);
    napi_throw_error(env, "ENOMEM", "exchange: out of memory");
    return NULL;
  }
  // No copy (a full table is megabytes): the Buffer is held until the promise settles, and
  // the worker sets NLM_F_ACK flags in it. Its memory is outside V8's heap and never moves.
  napi_create_reference(env, argv[0], 1, &j->buf);
  j->data = data;
  j->len = len;
  j->netns = netns;
  napi_value promise, name;
  napi_create_promise(env, &j->deferred, &promise);
  napi_create_string_utf8(env, "trellis:rtnetlink", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, execute, complete, j, &j->work);
  napi_queue_async_work(env, j->work);
  return promise;
}


// ---- watchRoutes ----

#define WATCH_BATCH 256

typedef struct {
  uint8_t deleted, family, dst_len, proto, type;
  uint32_t table;
  char dst[INET6_ADDRSTRLEN];
  char dev[IF_NAMESIZE];
} route_ev_t;

typedef enum { W_READY, W_ROUTES, W_LOST, W_ERROR } wkind_t;

typedef struct {
  wkind_t kind;
  int n;
  char message[160];
  route_ev_t ev[WATCH_BATCH];
} wbatch_t;

typedef struct {
  napi_threadsafe_function tsfn;
  char *netns;
  int ignore;
  int wake[2];
  pthread_t thread;
  int stopped;
} watch_t;

static void wsend(watch_t *w, wbatch_t *b) {
  if (napi_call_threadsafe_function(w->tsfn, b, napi_tsfn_blocking) != napi_ok) free(b);
}

static wbatch_t *wnew(wkind_t kind) {
  wbatch_t *b = calloc(1, sizeof *b);
  if (b) b->kind = kind;
  return b;
}

static void werror(watch_t *w, const char *step, int err) {
  wbatch_t *b = wnew(W_ERROR);
  if (!b) return;
  snprintf(b->message, sizeof b->message, "%s: %s (%s)", step, strerror(err), strerrorname_np(err) ? strerrorname_np(err) : "EOTHER");
  wsend(w, b);
}

// One RTM_NEWROUTE / RTM_DELROUTE into ev; 0 when it is not one.
static int parse_route(struct nlmsghdr *h, route_ev_t *ev) {
  if (h->nlmsg_type != RTM_NEWROUTE && h->nlmsg_type != RTM_DELROUTE) return 0;
  if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct rtmsg))) return 0;
  struct rtmsg *r = NLMSG_DATA(h);
  memset(ev, 0, sizeof *ev);
  ev->deleted = h->nlmsg_type == RTM_DELROUTE;
  ev->family = r->rtm_family == AF_INET6 ? 6 : 4;
  ev->dst_len = r->rtm_dst_len;
  ev->proto = r->rtm_protocol;
  ev->type = r->rtm_type;
  ev->table = r->rtm_table;
  uint8_t addr[16] = { 0 };
  int alen = RTM_PAYLOAD(h);
  for (struct rtattr *a = RTM_RTA(r); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
    if (a->rta_type == RTA_DST && RTA_PAYLOAD(a) <= sizeof addr) memcpy(addr, RTA_DATA(a), RTA_PAYLOAD(a));
    else if (a->rta_type == RTA_TABLE && RTA_PAYLOAD(a) >= 4) memcpy(&ev->table, RTA_DATA(a), 4);
    else if (a->rta_type == RTA_OIF && RTA_PAYLOAD(a) >= 4) {
      uint32_t ifindex;
      memcpy(&ifindex, RTA_DATA(a), 4);
      // This thread is in the routes' namespace: the name is that namespace's.
      if (!if_indextoname(ifindex, ev->dev)) ev->dev[0] = 0;
    }
  }
  if (r->rtm_family != AF_INET && r->rtm_family != AF_INET6) return 0;
  inet_ntop(r->rtm_family, addr, ev->dst, sizeof ev->dst);
  return 1;
}

static void *watch_thread(void *arg) {
  watch_t *w = arg;
  if (w->netns) {
    int nsfd = open(w->netns, O_RDONLY | O_CLOEXEC);
    if (nsfd < 0) { werror(w, "open the namespace", errno); goto out; }
    int r = setns(nsfd, CLONE_NEWNET);
    int err = errno;
    close(nsfd);
    if (r < 0) { werror(w, "enter the namespace", err); goto out; }
  }
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
  if (fd < 0) { werror(w, "netlink socket", errno); goto out; }
  int big = BUF_BYTES;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) < 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  // In the kernel, before the socket's queue: drop every notification of the ignored
  // protocol (each multicast notification is one message; rtm_protocol is byte 5 of rtmsg).
  struct sock_filter code[] = {
    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, NLMSG_HDRLEN + 5),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)w->ignore, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, 0),
    BPF_STMT(BPF_RET | BPF_K, 0xffffffff),
  };
  struct sock_fprog prog = { .len = sizeof code / sizeof code[0], .filter = code };
  if (w->ignore >= 0 && setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0) { werror(w, "socket filter", errno); close(fd); goto out; }
  struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE };
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) { werror(w, "subscribe to route notifications", errno); close(fd); goto out; }
  wbatch_t *ready = wnew(W_READY);
  if (ready) wsend(w, ready);
  static __thread uint8_t rb[64 * 1024];
  struct pollfd pf[2] = { { .fd = fd, .events = POLLIN }, { .fd = w->wake[0], .events = POLLIN } };
  for (;;) {
    if (poll(pf, 2, -1) < 0) {
      if (errno == EINTR) continue;
      werror(w, "poll", errno);
      break;
    }
    if (pf[1].revents) break;
    wbatch_t *b = NULL;
    for (;;) {
      ssize_t n = recv(fd, rb, sizeof rb, 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == ENOBUFS) { wbatch_t *l = wnew(W_LOST); if (l) wsend(w, l); continue; }
        break; // EAGAIN: drained
      }
      int len = (int)n;
      for (struct nlmsghdr *h = (struct nlmsghdr *)rb; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
        if (!b && !(b = wnew(W_ROUTES))) break;
        if (!parse_route(h, &b->ev[b->n])) continue;
        if (++b->n == WATCH_BATCH) { wsend(w, b); b = NULL; }
      }
    }
    if (b && b->n) wsend(w, b); else free(b);
  }
  close(fd);
out:
  napi_release_threadsafe_function(w->tsfn, napi_tsfn_release);
  return NULL;
}

static const char *KIND_NAMES[] = { "ready", "routes", "lost", "error" };

static void watch_call_js(napi_env env, napi_value cb, void *context, void *data) {
  (void)context;
  wbatch_t *b = data;
  if (env && cb) {
    napi_value argv[2], undef;
    napi_get_undefined(env, &undef);
    argv[0] = str(env, KIND_NAMES[b->kind]);
    if (b->kind == W_ROUTES) {
      napi_create_array_with_length(env, (size_t)b->n, &argv[1]);
      for (int i = 0; i < b->n; i++) {
        route_ev_t *e = &b->ev[i];
        napi_value o, dst, dev, t;
        napi_create_object(env, &o);
        napi_get_boolean(env, e->deleted, &t);
        napi_set_named_property(env, o, "deleted", t);
        napi_set_named_property(env, o, "family", num(env, e->family));
        char text[INET6_ADDRSTRLEN + 4];
        snprintf(text, sizeof text, "%s/%u", e->dst, e->dst_len);
        dst = str(env, text);
        napi_set_named_property(env, o, "dst", dst);
        if (e->dev[0]) dev = str(env, e->dev); else napi_get_null(env, &dev);
        napi_set_named_property(env, o, "dev", dev);
        napi_set_named_property(env, o, "proto", num(env, e->proto));
        napi_set_named_property(env, o, "table", num(env, e->table));
        napi_set_named_property(env, o, "type", num(env, e->type));
        napi_set_element(env, argv[1], (uint32_t)i, o);
      }
    } else if (b->kind == W_ERROR) {
      argv[1] = str(env, b->message);
    } else {
      argv[1] = undef;
    }
    napi_call_function(env, undef, cb, 2, argv, NULL);
  }
  free(b);
}

static napi_value js_watch_stop(napi_env env, napi_callback_info info) {
  watch_t *w = NULL;
  napi_get_cb_info(env, info, NULL, NULL, NULL, (void **)&w);
  if (!w || w->stopped) return NULL;
  w->stopped = 1;
  char one = 1;
  ssize_t r = write(w->wake[1], &one, 1);
  (void)r;
  // The thread never waits for the event loop (the queue has no limit): it wakes, releases
  // the function and ends. Batches it queued before are still delivered; the caller ignores them.
  pthread_join(w->thread, NULL);
  close(w->wake[0]);
  close(w->wake[1]);
  free(w->netns);
  // w itself stays: the stop function may still be called (and does nothing then).
  return NULL;
}

static napi_value js_watch_routes(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_valuetype t0, t2;
  int32_t ignore = -1;
  if (argc < 3 || napi_typeof(env, argv[0], &t0) != napi_ok || (t0 != napi_string && t0 != napi_null) ||
      napi_get_value_int32(env, argv[1], &ignore) != napi_ok || ignore < -1 || ignore > 255 ||
      napi_typeof(env, argv[2], &t2) != napi_ok || t2 != napi_function) {
    napi_throw_type_error(env, "EINVAL", "watchRoutes(netnsPath, ignoreProto, onEvents): a path or null, a protocol 0-255 (-1: none), a function");
    return NULL;
  }
  watch_t *w = calloc(1, sizeof *w);
  if (!w) { napi_throw_error(env, "ENOMEM", "watchRoutes: out of memory"); return NULL; }
  w->ignore = ignore;
  if (t0 == napi_string) {
    size_t n = 0;
    napi_get_value_string_utf8(env, argv[0], NULL, 0, &n);
    w->netns = malloc(n + 1);
    if (!w->netns) { free(w); napi_throw_error(env, "ENOMEM", "watchRoutes: out of memory"); return NULL; }
    napi_get_value_string_utf8(env, argv[0], w->netns, n + 1, &n);
  }
  if (pipe2(w->wake, O_CLOEXEC) < 0) {
    int err = errno;
    free(w->netns); free(w);
    char msg[128];
    snprintf(msg, sizeof msg, "watchRoutes: pipe: %s", strerror(err));
    napi_throw_error(env, "EOTHER", msg);
    return NULL;
  }
  napi_value name;
  napi_create_string_utf8(env, "trellis:route-watch", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[2], NULL, name, 0, 1, NULL, NULL, NULL, watch_call_js, &w->tsfn) != napi_ok) {
    close(w->wake[0]); close(w->wake[1]); free(w->netns); free(w);
    napi_throw_error(env, "EOTHER", "watchRoutes: cannot make the callback");
    return NULL;
  }
  if (pthread_create(&w->thread, NULL, watch_thread, w) != 0) {
    napi_release_threadsafe_function(w->tsfn, napi_tsfn_abort);
    close(w->wake[0]); close(w->wake[1]); free(w->netns); free(w);
    napi_throw_error(env, "EAGAIN", "watchRoutes: cannot start the thread");
    return NULL;
  }
  napi_value handle, stop;
  napi_create_object(env, &handle);
  napi_create_function(env, "stop", NAPI_AUTO_LENGTH, js_watch_stop, w, &stop);
  napi_set_named_property(env, handle, "stop", stop);
  return handle;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "exchange", NULL, js_exchange, NULL, NULL, NULL, napi_default, NULL },
    { "watchRoutes", NULL, js_watch_routes, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
