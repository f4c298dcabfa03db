/*
 * The benchmark's ceiling: a minimal WebSocket echo server in C (a thread per
 * connection, blocking I/O, no extensions). It answers the opening handshake,
 * echoes text and binary frames unmasked, answers pings, echoes the close.
 * It checks nothing a benchmark client does not send; it is not a server.
 *
 *   cc -O2 -pthread -o rawecho rawecho.c -lcrypto && ./rawecho PORT
 * It prints "listening on 127.0.0.1:PORT" once ready (PORT 0 picks one).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static int read_full(int fd, void *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r <= 0) return -1;
        got += (size_t)r;
    }
    return 0;
}

static int write_full(int fd, const void *buf, size_t n) {
    size_t put = 0;
    while (put < n) {
        ssize_t w = write(fd, (const char *)buf + put, n - put);
        if (w <= 0) return -1;
        put += (size_t)w;
    }
    return 0;
}

static int handshake(int fd) {
    char head[8192];
    size_t len = 0;
    while (len < sizeof head - 1) {
        ssize_t r = read(fd, head + len, sizeof head - 1 - len);
        if (r <= 0) return -1;
        len += (size_t)r;
        head[len] = 0;
        if (strstr(head, "\r\n\r\n")) break;
    }
    char *key = strcasestr(head, "Sec-WebSocket-Key:");
    if (!key) return -1;
    key += 18;
    while (*key == ' ') key++;
    size_t key_len = strcspn(key, "\r\n ");
    char material[128];
    if (key_len > 64) return -1;
    snprintf(material, sizeof material, "%.*s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", (int)key_len, key);
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1((unsigned char *)material, strlen(material), digest);
    char accept[64];
    EVP_EncodeBlock((unsigned char *)accept, digest, SHA_DIGEST_LENGTH);
    char response[256];
    int n = snprintf(response, sizeof response,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", accept);
    return write_full(fd, response, (size_t)n);
}

static void *serve(void *arg) {
    int fd = (int)(intptr_t)arg;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    unsigned char *buf = NULL;
    size_t cap = 0;
    if (handshake(fd) != 0) goto done;
    for (;;) {
        unsigned char h[14];
        if (read_full(fd, h, 2)) break;
        int opcode = h[0] & 0x0f;
        uint64_t len = h[1] & 0x7f;
        if (len == 126) {
            if (read_full(fd, h + 2, 2)) break;
            len = ((uint64_t)h[2] << 8) | h[3];
        } else if (len == 127) {
            if (read_full(fd, h + 2, 8)) break;
            len = 0;
            for (int i = 0; i < 8; i++) len = (len << 8) | h[2 + i];
        }
        unsigned char mask[4] = {0, 0, 0, 0};
        if ((h[1] & 0x80) && read_full(fd, mask, 4)) break;
        if (len + 10 > cap) {
            cap = len + 10;
            unsigned char *grown = realloc(buf, cap);
            if (!grown) break;
            buf = grown;
        }
        unsigned char *payload = buf + 10;
        if (read_full(fd, payload, len)) break;
        for (uint64_t i = 0; i < len; i++) payload[i] ^= mask[i & 3];
        if (opcode == 0xA) continue;            /* pong: nothing to do */
        int out_opcode = opcode == 0x9 ? 0xA : opcode;  /* ping -> pong, others echoed */
        size_t hl;
        unsigned char *frame;
        if (len < 126) {
            hl = 2; frame = payload - 2; frame[1] = (unsigned char)len;
        } else if (len < 65536) {
            hl = 4; frame = payload - 4; frame[1] = 126; frame[2] = (unsigned char)(len >> 8); frame[3] = (unsigned char)len;
        } else {
            hl = 10; frame = payload - 10; frame[1] = 127;
            for (int i = 0; i < 8; i++) frame[2 + i] = (unsigned char)(len >> (56 - 8 * i));
        }
        frame[0] = (unsigned char)((h[0] & 0x80) | out_opcode);
        if (write_full(fd, frame, hl + len)) break;
        if (opcode == 0x8) break;
    }
done:
    free(buf);
    close(fd);
    return NULL;
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 0;
    int server = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(server, (struct sockaddr *)&addr, sizeof addr) || listen(server, 4096)) {
        perror("rawecho: bind/listen");
        return 1;
    }
    socklen_t addr_len = sizeof addr;
    getsockname(server, (struct sockaddr *)&addr, &addr_len);
    printf("listening on 127.0.0.1:%d\n", ntohs(addr.sin_port));
    fflush(stdout);
    for (;;) {
        int fd = accept(server, NULL, NULL);
        if (fd < 0) continue;
        pthread_t thread;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 64 * 1024);
        if (pthread_create(&thread, &attr, serve, (void *)(intptr_t)fd)) close(fd);
        pthread_attr_destroy(&attr);
    }
}
