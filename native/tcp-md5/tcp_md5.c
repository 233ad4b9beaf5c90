// The one thing Node's net module cannot do for BGP: TCP-MD5 (RFC 2385) through Linux's
// TCP_MD5SIG socket option. Three calls, each on a socket that JavaScript then hands to
// net (documented fd options), so libuv still does all I/O:
//   socket(family)                -> fd of a fresh TCP socket, to set keys on before connect
//   bindListener(host, port)      -> fd of a bound (not yet listening) socket, for server.listen({fd})
//   setKey(fd, peer, key)         -> install (key non-empty) or remove (key "") the key for a peer
// Errors are thrown as Error with .code set to the errno name, so callers can say what failed.
#include <node_api.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  const char *code = err == EINVAL ? "EINVAL" : err == EADDRINUSE ? "EADDRINUSE" : err == EACCES ? "EACCES"
    : err == EPERM ? "EPERM" : err == ENOENT ? "ENOENT" : err == EBADF ? "EBADF" : err == EADDRNOTAVAIL ? "EADDRNOTAVAIL"
    : err == ENOPROTOOPT ? "ENOPROTOOPT" : err == EAFNOSUPPORT ? "EAFNOSUPPORT" : "EOTHER";
  napi_throw_error(env, code, msg);
  return NULL;
}

static int get_string(napi_env env, napi_value v, char *buf, size_t cap, size_t *len) {
  size_t n = 0;
  if (napi_get_value_string_utf8(env, v, buf, cap, &n) != napi_ok) return -1;
  if (len) *len = n;
  return 0;
}

// peer text -> sockaddr in the socket's own family (an IPv4 peer on an IPv6 socket is v4-mapped,
// which is how the kernel's IPv6 key table takes IPv4 peers of a dual-stack listener).
static int peer_addr(const char *text, int family, struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof *ss);
  struct in_addr a4;
  struct in6_addr a6;
  if (family == AF_INET) {
    if (inet_pton(AF_INET, text, &a4) != 1) return -1;
    struct sockaddr_in *s = (struct sockaddr_in *)ss;
    s->sin_family = AF_INET;
    s->sin_addr = a4;
    return 0;
  }
  struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;
  s->sin6_family = AF_INET6;
  if (inet_pton(AF_INET6, text, &a6) == 1) { s->sin6_addr = a6; return 0; }
  if (inet_pton(AF_INET, text, &a4) == 1) {
    s->sin6_addr.s6_addr[10] = 0xff;
    s->sin6_addr.s6_addr[11] = 0xff;
    memcpy(&s->sin6_addr.s6_addr[12], &a4, 4);
    return 0;
  }
  return -1;
}

static napi_value js_socket(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fam = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fam) != napi_ok || (fam != 4 && fam != 6)) {
    napi_throw_type_error(env, "EINVAL", "socket(family): family must be 4 or 6");
    return NULL;
  }
  int fd = socket(fam == 4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) return throw_errno(env, "socket", errno);
  napi_value out;
  napi_create_int32(env, fd, &out);
  return out;
}

static napi_value js_bind_listener(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  char host[64];
  int32_t port = -1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2 || get_string(env, argv[0], host, sizeof host, NULL) || napi_get_value_int32(env, argv[1], &port) != napi_ok || port < 0 || port > 65535) {
    napi_throw_type_error(env, "EINVAL", "bindListener(host, port): host must be an IP address, port 0-65535");
    return NULL;
  }
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t len;
  int family;
  struct in_addr a4;
  struct in6_addr a6;
  if (inet_pton(AF_INET, host, &a4) == 1) {
    struct sockaddr_in *s = (struct sockaddr_in *)&ss;
    s->sin_family = AF_INET; s->sin_addr = a4; s->sin_port = htons((uint16_t)port);
    family = AF_INET; len = sizeof *s;
  } else if (inet_pton(AF_INET6, host, &a6) == 1) {
    struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
    s->sin6_family = AF_INET6; s->sin6_addr = a6; s->sin6_port = htons((uint16_t)port);
    family = AF_INET6; len = sizeof *s;
  } else {
    napi_throw_type_error(env, "EINVAL", "bindListener(host, port): host must be an IP address");
    return NULL;
  }
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) return throw_errno(env, "socket", errno);
  int one = 1, zero = 0;
  // As libuv does for a listener; and '::' takes IPv4 peers too, as Node's own listen does.
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
      (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) < 0) ||
      bind(fd, (struct sockaddr *)&ss, len) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "bind", err);
  }
  napi_value out;
  napi_create_int32(env, fd, &out);
  return out;
}

static napi_value js_set_key(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t fd = -1;
  char peer[64];
  char key[TCP_MD5SIG_MAXKEYLEN + 2];
  size_t keylen = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || get_string(env, argv[1], peer, sizeof peer, NULL) ||
      get_string(env, argv[2], key, sizeof key, &keylen)) {
    napi_throw_type_error(env, "EINVAL", "setKey(fd, peer, key): needs a socket fd, a peer address and a key string");
    return NULL;
  }
  if (keylen > TCP_MD5SIG_MAXKEYLEN) {
    napi_throw_range_error(env, "EINVAL", "setKey: the key is longer than 80 bytes (TCP_MD5SIG_MAXKEYLEN)");
    return NULL;
  }
  int domain = 0;
  socklen_t dl = sizeof domain;
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dl) < 0) return throw_errno(env, "getsockopt(SO_DOMAIN)", errno);
  struct tcp_md5sig sig;
  memset(&sig, 0, sizeof sig);
  if (peer_addr(peer, domain, &sig.tcpm_addr) < 0) {
    napi_throw_type_error(env, "EINVAL", "setKey: peer is not an IP address of the socket's family");
    return NULL;
  }
  sig.tcpm_keylen = (uint16_t)keylen;
  memcpy(sig.tcpm_key, key, keylen);
  if (setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG, &sig, sizeof sig) < 0) {
    int err = errno;
    // Removing a key that is not there is what we wanted anyway.
    if (keylen == 0 && err == ENOENT) return NULL;
    return throw_errno(env, "setsockopt(TCP_MD5SIG)", err);
  }
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "socket", NULL, js_socket, NULL, NULL, NULL, napi_default, NULL },
    { "bindListener", NULL, js_bind_listener, NULL, NULL, NULL, napi_default, NULL },
    { "setKey", NULL, js_set_key, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
