/*
 * Optional accelerator for the one loop pure Python cannot do fast: XOR-ing a
 * payload with the 4-byte WebSocket mask. framing.apply_mask falls back to a
 * big-integer XOR when this module is not built (or MOD_PYWEBSOCKET_NO_SPEEDUPS
 * is set); both give identical results, and the tests run both.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

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

static PyMethodDef methods[] = {
    {"apply_mask", apply_mask, METH_VARARGS, "apply_mask(data, mask) -> bytes: XOR data with the repeated 4-byte mask."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_speedups", "C helpers for mod_pywebsocket.", -1, methods};

PyMODINIT_FUNC PyInit__speedups(void) { return PyModule_Create(&module); }
