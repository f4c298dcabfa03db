/*
 * The benchmark's client for the small-message measurements, in C so that the
 * client is not what limits them: the Python client tops out near 14,000 round
 * trips/s even against the C echo, which hides the servers' differences.
 *
 *   cc -O2 -o rtclient rtclient.c -lssl -lcrypto
 *   ./rtclient rt HOST PORT PATH SECONDS [CAFILE]   16-byte text echoes on one connection
 *   ./rtclient hs HOST PORT PATH SECONDS [CAFILE]   sequential open + close handshakes
 *   ./rtclient many HOST PORT PATH SECONDS N [E]    N connections open at once, each echoing
 *                                                   16-byte texts back to back (one thread, poll()),
 *                                                   for SECONDS, or until each has done E echoes
 * With CAFILE the connection is TLS (the server's certificate is verified
 * against it). It prints "COUNT SECONDS" and exits 0, or a reason and exits 1.
 */
#define _GNU_SOURCE
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int fd;
    SSL *ssl;
    unsigned char buf[65536];
    size_t start, end;
} conn_t;

static SSL_CTX *tls_ctx;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int fail(const char *what) {
    fprintf(stderr, "rtclient: %s\n", what);
    exit(1);
}

static void put(conn_t *c, const void *data, size_t n) {
    size_t done = 0;
    while (done < n) {
        int w = c->ssl ? SSL_write(c->ssl, (const char *)data + done, (int)(n - done))
                       : (int)write(c->fd, (const char *)data + done, n - done);
        if (w <= 0) fail("write failed");
        done += (size_t)w;
    }
}

/* Make sure at least n bytes are buffered; 0 on EOF. */
static int need(conn_t *c, size_t n) {
    if (c->start > 0 && c->end - c->start < n) {
        memmove(c->buf, c->buf + c->start, c->end - c->start);
        c->end -= c->start;
        c->start = 0;
    }
    while (c->end - c->start < n) {
        int r = c->ssl ? SSL_read(c->ssl, c->buf + c->end, (int)(sizeof c->buf - c->end))
                       : (int)read(c->fd, c->buf + c->end, sizeof c->buf - c->end);
        if (r <= 0) return 0;
        c->end += (size_t)r;
    }
    return 1;
}

/* Read one frame; return its opcode (payload skipped), -1 on EOF. */
static int read_frame(conn_t *c) {
    if (!need(c, 2)) return -1;
    int opcode = c->buf[c->start] & 0x0F;
    size_t len = c->buf[c->start + 1] & 0x7F, header = 2;
    if (len == 126) {
        if (!need(c, 4)) return -1;
        len = (c->buf[c->start + 2] << 8) | c->buf[c->start + 3];
        header = 4;
    } else if (len == 127) {
        fail("unexpected 64-bit frame length");
    }
    if (!need(c, header + len)) return -1;
    c->start += header + len;
    return opcode;
}

static void open_ws(conn_t *c, const struct addrinfo *ai, const char *host, const char *port, const char *path) {
    c->start = c->end = 0;
    c->ssl = NULL;
    c->fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (c->fd < 0 || connect(c->fd, ai->ai_addr, ai->ai_addrlen) < 0) fail("connect failed");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (tls_ctx) {
        c->ssl = SSL_new(tls_ctx);
        SSL_set_fd(c->ssl, c->fd);
        SSL_set_tlsext_host_name(c->ssl, host);
        if (SSL_connect(c->ssl) != 1) fail("TLS handshake failed");
    }
    char request[512];
    int n = snprintf(request, sizeof request,
                     "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     path, host, port);
    put(c, request, (size_t)n);
    for (;;) {
        unsigned char *head = c->buf + c->start;
        size_t avail = c->end - c->start;
        unsigned char *end = memmem(head, avail, "\r\n\r\n", 4);
        if (end) {
            if (avail < 12 || memcmp(head, "HTTP/1.1 101", 12) != 0) fail("handshake refused");
            c->start += (size_t)(end + 4 - head);
            return;
        }
        if (!need(c, avail + 1)) fail("closed during the handshake");
    }
}

static void close_ws(conn_t *c) {
    static const unsigned char close_frame[] = {0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xe8 ^ 2};
    put(c, close_frame, sizeof close_frame);
    int opcode;
    while ((opcode = read_frame(c)) >= 0 && opcode != 0x8) {
    }
    if (c->ssl) {
        SSL_free(c->ssl);
    }
    close(c->fd);
}

/* Consume the complete frames buffered; return how many, -1 if one is not an echo. */
static int take_echoes(conn_t *c) {
    int n = 0;
    for (;;) {
        size_t avail = c->end - c->start;
        if (avail < 2) break;
        size_t len = c->buf[c->start + 1] & 0x7F;
        if (len >= 126 || (c->buf[c->start] & 0x0F) != 0x1) return -1;
        if (avail < 2 + len) break;
        c->start += 2 + len;
        n++;
    }
    if (c->start == c->end) c->start = c->end = 0;
    return n;
}

/* "many": N connections, each with one echo in flight at a time, driven by poll(). A
 * connection that cannot be opened ends the run: "refused AFTER REASON" on stderr. */
static void many(const struct addrinfo *ai, const char *host, const char *port, const char *path, double seconds,
                 int n, long echoes, const unsigned char *frame, size_t frame_len) {
    conn_t *conns = calloc((size_t)n, sizeof *conns);
    struct pollfd *fds = calloc((size_t)n, sizeof *fds);
    long *left = calloc((size_t)n, sizeof *left);
    if (!conns || !fds || !left) fail("out of memory");
    int busy = n;
    for (int i = 0; i < n; i++) {
        open_ws(&conns[i], ai, host, port, path);
        fds[i].fd = conns[i].fd;
        fds[i].events = POLLIN;
        left[i] = echoes > 0 ? echoes : -1;
    }
    fprintf(stderr, "opened %d\n", n);
    fflush(stderr);
    long count = 0;
    double start = now(), deadline = start + seconds;
    for (int i = 0; i < n; i++) put(&conns[i], frame, frame_len);
    while (busy > 0 && now() < deadline) {
        int ready = poll(fds, (nfds_t)n, 1000);
        if (ready < 0) fail("poll failed");
        for (int i = 0; i < n && ready > 0; i++) {
            if (!fds[i].revents) continue;
            ready--;
            conn_t *c = &conns[i];
            ssize_t r = read(c->fd, c->buf + c->end, sizeof c->buf - c->end);
            if (left[i] == 0) { /* closing: done at the server's close frame (or its end of stream) */
                if (r <= 0 || (c->end + (size_t)r >= 2 && (c->buf[c->start] & 0x0F) == 0x8)) {
                    fds[i].fd = -1; /* poll() skips it from now on */
                    busy--;
                }
                continue;
            }
            if (r <= 0) fail("a connection closed during the run");
            c->end += (size_t)r;
            int got = take_echoes(c);
            if (got < 0) fail("bad echo");
            count += got;
            if (left[i] > 0) {
                left[i] -= got;
                if (left[i] <= 0) { /* its echoes are done: the closing handshake */
                    static const unsigned char close_frame[] = {0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xe8 ^ 2};
                    left[i] = 0;
                    c->start = c->end = 0;
                    put(c, close_frame, sizeof close_frame);
                    continue;
                }
            }
            for (int k = 0; k < got; k++) put(c, frame, frame_len);
        }
    }
    double elapsed = now() - start;
    printf("%ld %.6f\n", count, elapsed);
    fflush(stdout);
    if (busy > 0 && echoes > 0) fail("the echoes did not finish in time");
    for (int i = 0; i < n; i++) close(conns[i].fd); /* abruptly: the servers drop them */
    free(conns);
    free(fds);
    free(left);
}

int main(int argc, char **argv) {
    if (argc < 6) fail("usage: rtclient rt|hs HOST PORT PATH SECONDS [CAFILE]");
    const char *mode = argv[1], *host = argv[2], *port = argv[3], *path = argv[4];
    double seconds = atof(argv[5]);
    if (argc > 6 && strcmp(mode, "many") != 0) {
        tls_ctx = SSL_CTX_new(TLS_client_method());
        if (!tls_ctx || SSL_CTX_load_verify_locations(tls_ctx, argv[6], NULL) != 1) fail("cannot load the CA file");
        SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_PEER, NULL);
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
    if (getaddrinfo(host, port, &hints, &ai) != 0) fail("cannot resolve the host");

    static conn_t c;
    long count = 0;
    double start = now(), deadline = start + seconds;
    if (strcmp(mode, "rt") == 0) {
        /* "0123456789abcdef" masked with key 1,2,3,4 */
        unsigned char frame[22] = {0x81, 0x90, 1, 2, 3, 4};
        const char *text = "0123456789abcdef";
        for (int i = 0; i < 16; i++) frame[6 + i] = (unsigned char)(text[i] ^ frame[2 + (i & 3)]);
        open_ws(&c, ai, host, port, path);
        start = now();
        deadline = start + seconds;
        do {
            for (int i = 0; i < 100; i++) {
                put(&c, frame, sizeof frame);
                if (read_frame(&c) != 0x1) fail("bad echo");
            }
            count += 100;
        } while (now() < deadline && count < 10000000);
        double elapsed = now() - start;
        close_ws(&c);
        printf("%ld %.6f\n", count, elapsed);
    } else if (strcmp(mode, "hs") == 0) {
        do {
            open_ws(&c, ai, host, port, path);
            close_ws(&c);
            count++;
        } while (now() < deadline && count < 1000000);
        printf("%ld %.6f\n", count, now() - start);
    } else if (strcmp(mode, "many") == 0) {
        unsigned char frame[22] = {0x81, 0x90, 1, 2, 3, 4};
        const char *text = "0123456789abcdef";
        for (int i = 0; i < 16; i++) frame[6 + i] = (unsigned char)(text[i] ^ frame[2 + (i & 3)]);
        if (argc < 7) fail("usage: rtclient many HOST PORT PATH SECONDS N [ECHOES]");
        many(ai, host, port, path, seconds, atoi(argv[6]), argc > 7 ? atol(argv[7]) : 0, frame, sizeof frame);
    } else {
        fail("mode must be rt, hs or many");
    }
    freeaddrinfo(ai);
    return 0;
}
