/*
 * Optional accelerator for the one loop pure Python cannot do fast: XOR-ing a
 * payload with the 4-byte WebSocket mask. core.frames.apply_mask falls back to a
 * big-integer XOR when this module is not built (or MOD_PYWEBSOCKET_NO_SPEEDUPS
 * is set); both give identical results, and the tests run both.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

/* Large payloads are masked without the GIL, so other connections keep running. */
#define RELEASE_GIL_ABOVE (64 * 1024)

static void mask_bytes(const unsigned char *in, unsigned char *out, Py_ssize_t n, const unsigned char key[4]) {
    uint64_t key64;
    unsigned char k8[8] = {key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]};
    memcpy(&key64, k8, 8);
    Py_ssize_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t word;
        memcpy(&word, in + i, 8);
        word ^= key64;
        memcpy(out + i, &word, 8);
    }
    for (; i < n; i++) out[i] = in[i] ^ key[i & 3];
}

static PyObject *apply_mask(PyObject *self, PyObject *args) {
    Py_buffer data, mask;
    if (!PyArg_ParseTuple(args, "y*y*:apply_mask", &data, &mask)) return NULL;
    if (mask.len != 4) {
        PyBuffer_Release(&data);
        PyBuffer_Release(&mask);
        PyErr_SetString(PyExc_ValueError, "the mask must be 4 bytes");
        return NULL;
    }
    PyObject *result = PyBytes_FromStringAndSize(NULL, data.len);
    if (result != NULL) {
        unsigned char *out = (unsigned char *)PyBytes_AS_STRING(result);
        const unsigned char *in = (const unsigned char *)data.buf;
        const unsigned char *key = (const unsigned char *)mask.buf;
        if (data.len > RELEASE_GIL_ABOVE) {
            Py_BEGIN_ALLOW_THREADS
            mask_bytes(in, out, data.len, key);
            Py_END_ALLOW_THREADS
        } else {
            mask_bytes(in, out, data.len, key);
        }
    }
    PyBuffer_Release(&data);
    PyBuffer_Release(&mask);
    return result;
}

/*
 * send_ready(fd, data) -> int: as many bytes as the socket takes now, without blocking and
 * without releasing the GIL (0 when it takes none: the caller then sends the usual way).
 *
 * A small frame's send() finds room in the socket buffer and returns in microseconds.
 * Releasing the GIL around it, as socket.send does, hands the GIL to one of the other
 * connections' threads, and this thread then waits its turn to take it back only to go
 * and block in recv(): one more GIL hand-off and context switch per message, which is
 * what makes many busy connections slow (measured: see docs/performance.md).
 */
static PyObject *send_ready(PyObject *self, PyObject *args) {
    int fd;
    Py_buffer data;
    if (!PyArg_ParseTuple(args, "iy*:send_ready", &fd, &data)) return NULL;
    ssize_t sent = send(fd, data.buf, (size_t)data.len, MSG_DONTWAIT | MSG_NOSIGNAL);
    int error = errno;
    PyBuffer_Release(&data);
    if (sent < 0) {
        if (error == EAGAIN || error == EWOULDBLOCK || error == EINTR) return PyLong_FromLong(0);
        errno = error;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    return PyLong_FromSsize_t(sent);
}

static PyMethodDef methods[] = {
    {"apply_mask", apply_mask, METH_VARARGS, "apply_mask(data, mask) -> bytes: XOR data with the repeated 4-byte mask."},
    {"send_ready", send_ready, METH_VARARGS, "send_ready(fd, data) -> int: bytes sent now, without blocking."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_speedups", "C helpers for mod_pywebsocket.", -1, methods};

PyMODINIT_FUNC PyInit__speedups(void) { return PyModule_Create(&module); }
