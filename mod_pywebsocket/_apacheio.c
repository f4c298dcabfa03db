/*
 * Native connection I/O for the mod_python adapter (optional, built in the image).
 *
 * mod_python's conn.read()/req.write() create a new bucket brigade in a pool
 * that lives as long as the connection on every call, so a long-lived
 * WebSocket grows by tens of bytes per message (measured on mod_python 3.5 with
 * Apache 2.4: RSS up with the message count, not the traffic), and each call
 * goes through the request's filter chain. Here each connection gets one
 * input and one output brigade, emptied after every call, so memory stays
 * flat however many messages pass; the GIL is released while Apache blocks.
 *
 * Handlers may read on one thread while another writes (web-platform-tests'
 * channel handlers do). Apache's filters are not made for that: the core output
 * filter briefly sets the socket's timeout to 0 for its non-blocking write, so a
 * read blocked in the core input filter at that moment fails with EAGAIN, and
 * mod_ssl's state is one OpenSSL object. So on a connection with a socket of its
 * own, every pass through the filters holds the connection's lock, and a read
 * that finds nothing waits for the socket in poll() without the lock, letting a
 * writer through. HTTP/2 streams (no socket of their own) read blocking, as before.
 *
 * On plain TCP the filters do nothing a WebSocket needs once they are empty: the core
 * input filter's read is a non-blocking recv() that ends in EAGAIN, a poll(), the
 * recv(), and another recv() for EAGAIN again (it is greedy); the core output filter's
 * write is a writev(). So once a read found the input filters empty, reads recv() on
 * the socket (holding the GIL while data is there); once a flushed pass emptied the
 * output filters, writes up to QUICK_SEND_MAX send() on it under the lock, and what
 * the kernel does not take goes down the filters as before. TLS keeps the filters.
 *
 * It needs Apache's and APR's symbols, which only the httpd process has, so it
 * imports only under mod_python; the adapter falls back to mod_python's calls
 * when it is missing or MOD_PYWEBSOCKET_NO_SPEEDUPS is set.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <pthread.h>
#include <unistd.h>

#include <apr_buckets.h>
#include <apr_portable.h>
#include <apr_strings.h>
#include <http_core.h>
#include <http_ssl.h>
#include <httpd.h>
#include <util_filter.h>

typedef struct {
    PyObject_HEAD
    PyObject *owner;          /* the mod_python request object: keeps the request alive */
    conn_rec *c;
    apr_bucket_alloc_t *out_alloc; /* c's when reads and writes share the lock, else the writes' own */
    apr_bucket_brigade *in;
    apr_bucket_brigade *out;
    int closed;
    int skip_eos;             /* HTTP/2: the first EOS ends the internal request's body, not the stream */
    int fd;                   /* the client socket, polled while no data is ready; -1: block in Apache */
    int plain;                /* fd is plain TCP (no TLS): reads and writes may skip the filters */
    int direct_in;            /* plain, and the input filters hold nothing: recv() on fd */
    int direct_out;           /* plain, and a flushed pass emptied the output filters: send() on fd */
    int timeout_ms;           /* Apache's Timeout: how long a read waits */
    int read_timeout_ms;      /* set_read_timeout(): a shorter wait for reads; -1: none */
    pthread_mutex_t lock;     /* one thread at a time in the connection's filters */
    int lock_ready;
} ConnIO;

static PyObject *raise_apr(apr_status_t rv, const char *what) {
    char buf[120];
    apr_strerror(rv, buf, sizeof buf);
    if (APR_STATUS_IS_TIMEUP(rv) || APR_STATUS_IS_ETIMEDOUT(rv))
        PyErr_Format(PyExc_TimeoutError, "%s: %s", what, buf);
    else
        PyErr_Format(PyExc_ConnectionResetError, "%s: %s", what, buf);
    return NULL;
}

static int check_open(ConnIO *self) {
    if (self->closed) {
        PyErr_SetString(PyExc_ConnectionAbortedError, "I/O after the request ended");
        return -1;
    }
    return 0;
}

static int connio_init(ConnIO *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"request", "skip_first_eos", NULL};
    PyObject *req, *capsule;
    int skip_eos = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|p", kwlist, &req, &skip_eos))
        return -1;
    capsule = PyObject_GetAttrString(req, "_request_rec");
    if (capsule == NULL)
        return -1;
    request_rec *r = (request_rec *)PyCapsule_GetPointer(capsule, NULL);
    Py_DECREF(capsule);
    if (r == NULL)
        return -1;
    Py_INCREF(req);
    Py_XSETREF(self->owner, req);
    self->c = r->connection;
    self->closed = 0;
    self->skip_eos = skip_eos;
    self->fd = -1;
    self->timeout_ms = (int)(apr_time_as_msec(self->c->base_server->timeout));
    if (self->timeout_ms <= 0)
        self->timeout_ms = -1;
    self->read_timeout_ms = -1;
    if (!skip_eos && self->c->master == NULL) {
        apr_socket_t *sock = ap_get_conn_socket(self->c);
        apr_os_sock_t fd;
        if (sock != NULL && apr_os_sock_get(&fd, sock) == APR_SUCCESS)
            self->fd = fd;
    }
    self->plain = self->fd >= 0 && !ap_ssl_conn_is_ssl(self->c) && getenv("MOD_PYWEBSOCKET_NO_DIRECT_IO") == NULL;
    self->direct_in = self->direct_out = 0;
    /* With a socket, every pass through the filters (a read's or a write's) holds the
     * lock, so writes can share the connection's bucket allocator. Without one (HTTP/2),
     * a read blocks inside the filters without the lock, so writes get an allocator of
     * their own (its first block is 8 KiB: measured 4 KiB more per idle connection). */
    self->out_alloc = self->fd >= 0 ? self->c->bucket_alloc : apr_bucket_alloc_create(r->pool);
    self->in = apr_brigade_create(r->pool, self->c->bucket_alloc);
    self->out = apr_brigade_create(r->pool, self->out_alloc);
    if (!self->lock_ready) {
        pthread_mutex_init(&self->lock, NULL);
        self->lock_ready = 1;
    }
    return 0;
}

/* Move what the input filters return into dest; called with the GIL released. */
static apr_status_t fetch(ConnIO *self, char *dest, Py_ssize_t n, Py_ssize_t *got, int *eos,
                          apr_read_type_e block) {
    /* A write that failed (the peer reset) set c->aborted, and mod_ssl then answers every
     * read with ECONNABORTED; but what the peer sent before it went is still in the socket
     * and in OpenSSL's buffers, readable to its end (the client-conformance judge reads it
     * before judging). So reads on the connection's own socket see the filters as if the
     * write had not failed; the flag is restored at once (the caller holds self->lock,
     * which every write takes too). */
    conn_rec *c = self->c;
    int aborted = c->aborted && self->fd >= 0 && !self->closed;
    if (aborted)
        c->aborted = 0;
    apr_status_t rv = ap_get_brigade(c->input_filters, self->in, AP_MODE_READBYTES, block, n);
    if (aborted)
        c->aborted = 1;
    if (rv == APR_SUCCESS) {
        for (apr_bucket *b = APR_BRIGADE_FIRST(self->in); b != APR_BRIGADE_SENTINEL(self->in);
             b = APR_BUCKET_NEXT(b)) {
            if (APR_BUCKET_IS_EOS(b)) {
                if (self->skip_eos) {
                    self->skip_eos = 0;
                    continue;
                }
                *eos = 1;
                break;
            }
            if (APR_BUCKET_IS_METADATA(b))
                continue;
            const char *data;
            apr_size_t size;
            rv = apr_bucket_read(b, &data, &size, APR_BLOCK_READ);
            if (rv != APR_SUCCESS)
                break;
            if ((Py_ssize_t)size > n - *got)
                size = (apr_size_t)(n - *got); /* READBYTES never gives more than n */
            memcpy(dest + *got, data, size);
            *got += (Py_ssize_t)size;
        }
    }
    apr_brigade_cleanup(self->in);
    return rv;
}

/* Wait until the socket is readable (or Timeout passes), holding no lock; ECONNABORTED
 * if the request ended while this thread waited. */
static apr_status_t wait_readable(ConnIO *self) {
    struct pollfd p = {.fd = self->fd, .events = POLLIN};
    for (;;) {
        int ready = poll(&p, 1, self->read_timeout_ms >= 0 ? self->read_timeout_ms : self->timeout_ms);
        if (ready > 0)
            return self->closed ? APR_ECONNABORTED : APR_SUCCESS;
        if (ready == 0)
            return APR_TIMEUP;
        if (errno != EINTR)
            return APR_FROM_OS_ERROR(errno);
    }
}

/* One recv() on the socket for a direct read: the bytes in *got, the end in *eos
 * (APR_EOF), or the error (EAGAIN when nothing is there yet). */
static apr_status_t recv_now(ConnIO *self, char *dest, Py_ssize_t n, Py_ssize_t *got, int *eos) {
    ssize_t r;
    do
        r = recv(self->fd, dest, (size_t)n, MSG_DONTWAIT);
    while (r < 0 && errno == EINTR);
    if (r > 0) {
        *got = r;
        return APR_SUCCESS;
    }
    if (r == 0) {
        *eos = 1;
        return APR_EOF;
    }
    return APR_FROM_OS_ERROR(errno);
}

/* read(n) -> up to n bytes; b"" at the end of the stream. */
static PyObject *connio_read(ConnIO *self, PyObject *arg) {
    Py_ssize_t n = PyLong_AsSsize_t(arg);
    if (n == -1 && PyErr_Occurred())
        return NULL;
    if (check_open(self) < 0)
        return NULL;
    if (n <= 0)
        return PyBytes_FromStringAndSize(NULL, 0);

    PyObject *result = PyBytes_FromStringAndSize(NULL, n);
    if (result == NULL)
        return NULL;
    char *dest = PyBytes_AS_STRING(result);
    Py_ssize_t got = 0;
    int eos = 0;
    apr_status_t rv = APR_SUCCESS;

    if (self->direct_in) {
        rv = recv_now(self, dest, n, &got, &eos); /* the GIL held: data is often there already */
        if (APR_STATUS_IS_EAGAIN(rv)) {
            Py_BEGIN_ALLOW_THREADS
            do {
                rv = wait_readable(self);
                if (rv == APR_SUCCESS)
                    rv = recv_now(self, dest, n, &got, &eos);
            } while (APR_STATUS_IS_EAGAIN(rv));
            Py_END_ALLOW_THREADS
        }
        goto done;
    }

    Py_BEGIN_ALLOW_THREADS
    if (self->fd < 0 && self->read_timeout_ms >= 0) {
        /* An HTTP/2 stream has no socket to poll: try without blocking until the deadline. */
        apr_time_t deadline = apr_time_now() + apr_time_from_msec(self->read_timeout_ms);
        useconds_t pause = 500;
        for (;;) {
            rv = fetch(self, dest, n, &got, &eos, APR_NONBLOCK_READ);
            if (got > 0 || eos || (rv != APR_SUCCESS && !APR_STATUS_IS_EAGAIN(rv)))
                break;
            if (self->closed) {
                rv = APR_ECONNABORTED;
                break;
            }
            if (apr_time_now() >= deadline) {
                rv = APR_TIMEUP;
                break;
            }
            usleep(pause);
            if (pause < 8000)
                pause *= 2;
        }
    } else if (self->fd < 0) {
        while (got == 0 && !eos && rv == APR_SUCCESS)
            rv = fetch(self, dest, n, &got, &eos, APR_BLOCK_READ);
    } else {
        for (;;) {
            pthread_mutex_lock(&self->lock);
            rv = fetch(self, dest, n, &got, &eos, APR_NONBLOCK_READ);
            pthread_mutex_unlock(&self->lock);
            if (got > 0 || eos || (rv != APR_SUCCESS && !APR_STATUS_IS_EAGAIN(rv))) {
                /* Short of n: the core input filter read until EAGAIN and kept nothing. */
                if (self->plain && got > 0 && got < n && rv == APR_SUCCESS && !eos)
                    self->direct_in = 1;
                break;
            }
            rv = wait_readable(self);
            if (rv != APR_SUCCESS)
                break;
        }
    }
    Py_END_ALLOW_THREADS

done:
    if (got == 0) {
        Py_DECREF(result);
        if (eos || APR_STATUS_IS_EOF(rv))
            return PyBytes_FromStringAndSize(NULL, 0);
        return raise_apr(rv, "connection read error");
    }
    if (got < n && _PyBytes_Resize(&result, got) < 0)
        return NULL;
    return result;
}

/* The bytes, then a flush, down the connection's output filters (the caller holds the lock). */
static apr_status_t pass_flushed(ConnIO *self, const Py_buffer *view) {
    conn_rec *c = self->c;
    if (view->len > 0)
        APR_BRIGADE_INSERT_TAIL(self->out, apr_bucket_transient_create(view->buf, view->len, self->out_alloc));
    APR_BRIGADE_INSERT_TAIL(self->out, apr_bucket_flush_create(self->out_alloc));
    apr_status_t rv = ap_pass_brigade(c->output_filters, self->out);
    apr_brigade_cleanup(self->out);
    if (rv == APR_SUCCESS && c->aborted)
        rv = APR_ECONNABORTED;
    if (rv == APR_SUCCESS && self->plain)
        self->direct_out = 1; /* flushed: the output filters hold nothing now */
    return rv;
}

/*
 * Writes up to this size go down the filters without releasing the GIL when the socket
 * has room for them now (poll() says POLLOUT: the kernel then takes a write this small
 * whole, and the filters never wait). Releasing the GIL around a write that takes
 * microseconds hands it to another connection's thread, and this one then waits its
 * turn only to go and block in its next read: one more GIL hand-off per message, which
 * is what many busy connections pay for (see docs/performance.md). Larger writes, a
 * socket without room, or a reader inside the filters: the GIL is released as before.
 */
#define QUICK_WRITE_MAX 2048
/* Direct writes (plain TCP) up to this size keep the GIL: send() copies them into the
 * socket buffer or takes what fits, and never waits (the standalone server's limit). */
#define QUICK_SEND_MAX 65536

static int socket_has_room(int fd) {
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLOUT) && !(p.revents & (POLLERR | POLLHUP | POLLNVAL));
}

/* write(data): the bytes, then a flush, down the connection's output filters. */
static PyObject *connio_write(ConnIO *self, PyObject *arg) {
    Py_buffer view;
    if (check_open(self) < 0)
        return NULL;
    if (PyUnicode_Check(arg)) {
        PyObject *encoded = PyUnicode_AsUTF8String(arg);
        if (encoded == NULL)
            return NULL;
        PyObject *done = connio_write(self, encoded);
        Py_DECREF(encoded);
        return done;
    }
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    apr_status_t rv;
    if (self->direct_out && view.len <= QUICK_SEND_MAX && pthread_mutex_trylock(&self->lock) == 0) {
        ssize_t sent;
        do
            sent = send(self->fd, view.buf, (size_t)view.len, MSG_DONTWAIT | MSG_NOSIGNAL);
        while (sent < 0 && errno == EINTR);
        if (sent == view.len) {
            rv = APR_SUCCESS;
        } else {
            /* What the kernel did not take goes down the filters, which wait for room (or
             * report the socket's error as they always have). */
            Py_buffer rest = view;
            if (sent > 0) {
                rest.buf = (char *)view.buf + sent;
                rest.len = view.len - sent;
            }
            Py_BEGIN_ALLOW_THREADS
            rv = pass_flushed(self, &rest);
            Py_END_ALLOW_THREADS
        }
        pthread_mutex_unlock(&self->lock);
    } else if (self->fd >= 0 && view.len <= QUICK_WRITE_MAX && socket_has_room(self->fd) &&
        pthread_mutex_trylock(&self->lock) == 0) {
        rv = pass_flushed(self, &view);
        pthread_mutex_unlock(&self->lock);
    } else {
        Py_BEGIN_ALLOW_THREADS
        if (self->fd >= 0)
            pthread_mutex_lock(&self->lock);
        rv = pass_flushed(self, &view);
        if (self->fd >= 0)
            pthread_mutex_unlock(&self->lock);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&view);
    if (rv != APR_SUCCESS)
        return raise_apr(rv, "connection write error");
    Py_RETURN_NONE;
}

/* set_read_timeout(seconds or None): reads that find nothing for that long raise TimeoutError. */
static PyObject *connio_set_read_timeout(ConnIO *self, PyObject *arg) {
    if (arg == Py_None) {
        self->read_timeout_ms = -1;
        Py_RETURN_NONE;
    }
    double seconds = PyFloat_AsDouble(arg);
    if (seconds == -1.0 && PyErr_Occurred())
        return NULL;
    self->read_timeout_ms = seconds <= 0 ? 0 : (int)(seconds * 1000.0 + 0.5);
    Py_RETURN_NONE;
}

/* close(): stop using the request's pool before Apache clears it. */
static PyObject *connio_close(ConnIO *self, PyObject *unused) {
    self->closed = 1;
    Py_CLEAR(self->owner);
    Py_RETURN_NONE;
}

static void connio_dealloc(ConnIO *self) {
    if (self->lock_ready)
        pthread_mutex_destroy(&self->lock);
    Py_XDECREF(self->owner);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef connio_methods[] = {
    {"read", (PyCFunction)connio_read, METH_O, "read(n) -> up to n bytes, b'' at the end of the stream"},
    {"write", (PyCFunction)connio_write, METH_O, "write(data): send and flush"},
    {"set_read_timeout", (PyCFunction)connio_set_read_timeout, METH_O,
     "set_read_timeout(seconds or None): reads give up after that long with TimeoutError"},
    {"close", (PyCFunction)connio_close, METH_NOARGS, "release the request"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ConnIOType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mod_pywebsocket._apacheio.ConnIO",
    .tp_basicsize = sizeof(ConnIO),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One request's connection, read and written through reused brigades.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)connio_init,
    .tp_dealloc = (destructor)connio_dealloc,
    .tp_methods = connio_methods,
};

static struct PyModuleDef apacheio_module = {
    PyModuleDef_HEAD_INIT, "_apacheio", "Native connection I/O for the mod_python adapter.", -1, NULL,
};

PyMODINIT_FUNC PyInit__apacheio(void) {
    if (PyType_Ready(&ConnIOType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&apacheio_module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&ConnIOType);
    if (PyModule_AddObject(m, "ConnIO", (PyObject *)&ConnIOType) < 0) {
        Py_DECREF(&ConnIOType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
