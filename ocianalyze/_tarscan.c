/* The hot loop of ocianalyze.tarwalk.TarWalker.feed, in C.
 *
 * Why: the Python walker costs a few microseconds per header and holds the GIL all that time,
 * which stalls the thread that inflates the next chunk. This loop does the same work for the
 * common headers only and stops, leaving the rest to Python, at anything else: a partial block,
 * a zero block, a PAX or GNU extended header, a type other than 0-7 or NUL, a checksum that is
 * not the plain unsigned one, a number that is not plain octal. So the Python walker stays the
 * one definition of what a header means, and tests run both walkers over the same archives.
 *
 * walk(buf, pos, skip, padding, entry_type) -> (pos, skip, padding, entries, counts, newest)
 *   buf: bytes; pos: where to start; skip: file data still to pass over; padding: how much of
 *   skip is padding. entry_type: the TarEntry class, or None to count without building entries.
 *   counts: (entries, files, dirs, symlinks, hardlinks, others, whiteouts, opaque_whiteouts,
 *   file_bytes, disk_bytes); newest: the largest mtime seen, or None.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define BLOCK 512
#define DISK_BLOCK 4096

static PyObject *kind_names[8]; /* indexed by typeflag - '0'; 0 and 7 are "file" */
static PyObject *empty_str, *dot_str, *wh_prefix, *wh_opaque;

/* A plain octal field: optional spaces, octal digits, optional spaces, then NUL or the end.
 * Returns 0 and sets *out, or -1 where Python's int() might read it differently (signs,
 * underscores, other whitespace, base-256): the caller leaves that header to Python. */
static int octal(const unsigned char *p, Py_ssize_t len, long long *out)
{
    Py_ssize_t i = 0;
    long long v = 0;
    int digits = 0, spaces = 0;
    while (i < len && p[i] == ' ') { i++; spaces = 1; }
    while (i < len && p[i] >= '0' && p[i] <= '7') {
        if (v > (LLONG_MAX >> 3)) return -1;
        v = (v << 3) | (p[i] - '0');
        i++; digits = 1;
    }
    while (i < len && p[i] == ' ') { i++; spaces = 1; }
    if (i < len && p[i] != '\0') return -1;
    if (!digits && spaces) return -1; /* int(b"  ", 8) raises */
    *out = v;
    return 0;
}

static Py_ssize_t field_len(const unsigned char *p, Py_ssize_t len)
{
    const unsigned char *nul = memchr(p, '\0', (size_t)len);
    return nul ? nul - p : len;
}

static PyObject *text(const unsigned char *p, Py_ssize_t len)
{
    return PyUnicode_DecodeUTF8((const char *)p, field_len(p, len), "surrogateescape");
}

/* Python's _normalise: drop leading "./" runs, then leading and trailing "/"; "" -> ".". */
static PyObject *normalise(PyObject *name)
{
    Py_ssize_t len = PyUnicode_GET_LENGTH(name), start = 0, end = len;
    int kind = PyUnicode_KIND(name);
    const void *d = PyUnicode_DATA(name);
#define CH(i) PyUnicode_READ(kind, d, (i))
    int lead = len > 0 && (CH(0) == '/' || (len > 1 && CH(0) == '.' && CH(1) == '/'));
    if (!lead && !(len > 0 && CH(len - 1) == '/')) {
        Py_INCREF(name);
        return name;
    }
    while (end - start >= 2 && CH(start) == '.' && CH(start + 1) == '/') start += 2;
    while (start < end && CH(start) == '/') start++;
    while (end > start && CH(end - 1) == '/') end--;
#undef CH
    if (start == end) {
        Py_INCREF(dot_str);
        return dot_str;
    }
    return PyUnicode_Substring(name, start, end);
}

/* The member's full name as Python builds it: the ustar prefix, "/", the name. */
static PyObject *full_name(const unsigned char *b)
{
    PyObject *name = text(b, 100);
    if (name == NULL || memcmp(b + 257, "ustar\0", 6) != 0 || b[345] == 0) return name;
    PyObject *prefix = text(b + 345, 155);
    PyObject *joined = NULL;
    if (prefix != NULL) {
        PyObject *slash = PyUnicode_FromString("/");
        PyObject *head = slash ? PyUnicode_Concat(prefix, slash) : NULL;
        joined = head ? PyUnicode_Concat(head, name) : NULL;
        Py_XDECREF(head);
        Py_XDECREF(slash);
    }
    Py_XDECREF(prefix);
    Py_DECREF(name);
    return joined;
}

typedef struct {
    long long n[10]; /* the counts, in the order of the docstring */
    long long newest;
    int have_newest;
} Counts;

enum { ENTRIES, FILES, DIRS, SYMLINKS, HARDLINKS, OTHERS, WHITEOUTS, OPAQUE, FBYTES, DBYTES };

/* TarStats.add for one entry; name is the normalised name. */
static void count(Counts *c, PyObject *name, int type, long long size, long long mtime)
{
    Py_ssize_t len = PyUnicode_GET_LENGTH(name);
    Py_ssize_t slash = PyUnicode_FindChar(name, '/', 0, len, -1);
    Py_ssize_t base = slash < 0 ? 0 : slash + 1;
    c->n[ENTRIES]++;
    if (!c->have_newest || mtime > c->newest) {
        c->newest = mtime;
        c->have_newest = 1;
    }
    if (PyUnicode_Tailmatch(name, wh_prefix, base, len, -1) == 1) {
        int opaque = len - base == 12 && PyUnicode_Tailmatch(name, wh_opaque, base, len, -1) == 1;
        c->n[opaque ? OPAQUE : WHITEOUTS]++;
    } else if (type == 0) {
        c->n[FILES]++;
        c->n[FBYTES] += size;
        c->n[DBYTES] += (size + DISK_BLOCK - 1) / DISK_BLOCK * DISK_BLOCK;
    } else if (type == 5) {
        c->n[DIRS]++;
        c->n[DBYTES] += DISK_BLOCK;
    } else if (type == 2) {
        c->n[SYMLINKS]++;
    } else if (type == 1) {
        c->n[HARDLINKS]++;
    } else {
        c->n[OTHERS]++;
    }
}

/* Parse the header at b. Returns 1 (entry made, *size and *typeflag set), 0 (leave it to
 * Python) or -1 (a Python error is set). *entry is NULL when entry_type is None. */
static int header(const unsigned char *b, PyObject *entry_type, Counts *c, PyObject **entry,
                  long long *size, int *typeflag)
{
    long long stored, sum = 0, mode, uid, gid, mtime;
    for (int i = 0; i < BLOCK; i++) sum += b[i];
    for (int i = 148; i < 156; i++) sum -= b[i];
    sum += 8 * ' ';
    if (octal(b + 148, 8, &stored) < 0 || stored != sum) return 0; /* base-256 fails too */
    int t = b[156];
    if (!(t == 0 || (t >= '0' && t <= '7'))) return 0;
    if (octal(b + 124, 12, size) < 0 || octal(b + 100, 8, &mode) < 0 ||
        octal(b + 108, 8, &uid) < 0 || octal(b + 116, 8, &gid) < 0 ||
        octal(b + 136, 12, &mtime) < 0)
        return 0;
    *typeflag = t;
    int type = t == 0 || t == '7' ? 0 : t - '0'; /* index into kind_names */
    PyObject *raw = full_name(b);
    if (raw == NULL) return -1;
    Py_ssize_t rlen = PyUnicode_GET_LENGTH(raw);
    if (type == 0 && rlen > 0 && PyUnicode_READ_CHAR(raw, rlen - 1) == '/') type = 5;
    PyObject *name = normalise(raw);
    if (name == NULL) {
        Py_DECREF(raw);
        return -1;
    }
    long long esize = type == 0 ? *size : 0;
    count(c, name, type, esize, mtime);
    *entry = NULL;
    if (entry_type == Py_None) {
        Py_DECREF(name);
        Py_DECREF(raw);
        return 1;
    }
    PyObject *link = b[157] ? text(b + 157, 100) : (Py_INCREF(empty_str), empty_str);
    PyObject *t9 = link ? Py_BuildValue("(NOLLLLLNN)", name, kind_names[type], esize, mode, uid,
                                        gid, mtime, link, raw)
                        : NULL;
    if (t9 == NULL) {
        if (link == NULL) {
            Py_DECREF(name);
            Py_DECREF(raw);
        }
        return -1;
    }
    PyObject *args = PyTuple_Pack(1, t9);
    Py_DECREF(t9);
    if (args == NULL) return -1;
    *entry = PyTuple_Type.tp_new((PyTypeObject *)entry_type, args, NULL);
    Py_DECREF(args);
    return *entry ? 1 : -1;
}

static PyObject *walk(PyObject *self, PyObject *args)
{
    Py_buffer buf;
    Py_ssize_t pos;
    long long skip, padding;
    PyObject *entry_type;
    if (!PyArg_ParseTuple(args, "y*nLLO", &buf, &pos, &skip, &padding, &entry_type)) return NULL;
    if (entry_type != Py_None && !PyType_Check(entry_type)) {
        PyBuffer_Release(&buf);
        PyErr_SetString(PyExc_TypeError, "entry_type must be a tuple subclass or None");
        return NULL;
    }
    const unsigned char *data = buf.buf;
    Py_ssize_t n = buf.len;
    Counts c;
    memset(&c, 0, sizeof c);
    PyObject *entries = entry_type == Py_None ? (Py_INCREF(Py_None), Py_None) : PyList_New(0);
    if (entries == NULL) goto fail;
    while (pos < n) {
        if (skip) {
            long long step = skip < n - pos ? skip : n - pos;
            skip -= step;
            pos += step;
            continue;
        }
        if (n - pos < BLOCK) break;
        PyObject *entry = NULL;
        long long size;
        int typeflag;
        int r = header(data + pos, entry_type, &c, &entry, &size, &typeflag);
        if (r < 0) goto fail;
        if (r == 0) break;
        if (entry != NULL) {
            int bad = PyList_Append(entries, entry);
            Py_DECREF(entry);
            if (bad) goto fail;
        }
        pos += BLOCK;
        if (typeflag == 0 || typeflag == '0' || typeflag == '7') {
            padding = (BLOCK - size % BLOCK) % BLOCK;
            skip = size + padding;
        }
    }
    PyBuffer_Release(&buf);
    PyObject *newest = c.have_newest ? PyLong_FromLongLong(c.newest) : (Py_INCREF(Py_None), Py_None);
    return Py_BuildValue("(nLLN(LLLLLLLLLL)N)", pos, skip, padding, entries, c.n[0], c.n[1],
                         c.n[2], c.n[3], c.n[4], c.n[5], c.n[6], c.n[7], c.n[8], c.n[9], newest);
fail:
    Py_XDECREF(entries);
    PyBuffer_Release(&buf);
    return NULL;
}

static PyMethodDef methods[] = {
    {"walk", walk, METH_VARARGS, "Walk the common tar headers of buf from pos; see the source."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_tarscan", NULL, -1, methods};

PyMODINIT_FUNC PyInit__tarscan(void)
{
    static const char *names[8] = {"file", "hardlink", "symlink", "char",
                                   "block", "dir", "fifo", "file"};
    for (int i = 0; i < 8; i++) {
        kind_names[i] = PyUnicode_InternFromString(names[i]);
        if (kind_names[i] == NULL) return NULL;
    }
    empty_str = PyUnicode_InternFromString("");
    dot_str = PyUnicode_InternFromString(".");
    wh_prefix = PyUnicode_InternFromString(".wh.");
    wh_opaque = PyUnicode_InternFromString(".wh..wh..opq");
    if (!empty_str || !dot_str || !wh_prefix || !wh_opaque) return NULL;
    return PyModule_Create(&module);
}
