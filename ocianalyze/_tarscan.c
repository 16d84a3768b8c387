/* The hot loop of ocianalyze.tarwalk.TarWalker.feed, in C.
 *
 * Why: the Python walker costs a few microseconds per header and holds the GIL all that time,
 * which stalls the thread that inflates the next chunk. This loop does the same work for the
 * common headers only (ustar, GNU or V7 entry headers, each alone or after one PAX header whose
 * records are well formed) and stops, leaving the rest to Python, at anything else: a partial
 * block, a zero block, a header split across chunks, GNU long names, global or repeated PAX
 * headers, GNU sparse records, STAR headers, a type other than 0-7 or NUL, a checksum that is
 * not the plain unsigned one, a number that is not plain octal (or plain decimal in a PAX
 * record), an empty PAX value. So the Python walker (which reads headers as Go's archive/tar
 * does) stays the one definition of what a header means, and tests run both walkers over the
 * same archives.
 *
 * walk(buf, pos, skip, padding, entry_type[, stop_at_data]) -> (pos, skip, padding, entries,
 *                                                             counts, newest, screened)
 *   buf: bytes; pos: where to start; skip: file data still to pass over; padding: how much of
 *   skip is padding. entry_type: the TarEntry class, or None to count without building entries.
 *   stop_at_data: return right after the header of a file with data, so that the caller sees
 *   that data pass (to hash each file's content); off by default.
 *   counts: (entries, files, dirs, symlinks, hardlinks, others, whiteouts, opaque_whiteouts,
 *   file_bytes, disk_bytes); newest: the largest mtime seen, or None. screened: True when
 *   entries were built and none of them is one the safety checks look at one by one (a raw
 *   name starting with "/" or holding "..", a hardlink, a char or block device, a symlink
 *   whose target holds "..", a file with the setuid or setgid bit): safety.SafetyChecker then
 *   checks only the names, as it would after its own screening (_harmless), which costs
 *   Python time on the thread that also hashes the layer.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define BLOCK 512
#define DISK_BLOCK 4096

static PyObject *kind_names[8]; /* indexed by typeflag - '0'; 0 and 7 are "file" */
static PyObject *empty_str, *wh_prefix, *wh_opaque, *dotdot;
static PyObject *py_normalise; /* tarwalk._normalise, handed over by set_normalise() */

/* A plain octal field: spaces, octal digits, then only spaces and NULs to the end (no digits
 * at all reads 0), which Go's parseOctal reads the same way. Returns 0 and sets *out, or -1
 * for any other spelling (base-256, NULs before the digits, text after a NUL...): the caller
 * leaves that header to Python. */
static int octal(const unsigned char *p, Py_ssize_t len, long long *out)
{
    Py_ssize_t i = 0;
    long long v = 0;
    while (i < len && p[i] == ' ') i++;
    while (i < len && p[i] >= '0' && p[i] <= '7') {
        if (v > (LLONG_MAX >> 3)) return -1;
        v = (v << 3) | (p[i] - '0');
        i++;
    }
    while (i < len && (p[i] == ' ' || p[i] == '\0')) i++;
    if (i < len) return -1;
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

/* Whether the name is already what Go's filepath.Clean makes of it, relative: no leading "/",
   "./" or "../", no trailing "/", "/." or "/..", no "//", "/./" or "/../", not "", "." or "..". */
static int is_clean(PyObject *name)
{
    Py_ssize_t len = PyUnicode_GET_LENGTH(name), i;
    int kind = PyUnicode_KIND(name);
    const void *d = PyUnicode_DATA(name);
#define CH(i) PyUnicode_READ(kind, d, (i))
    if (len == 0 || CH(0) == '/' || CH(len - 1) == '/') return 0;
    if (CH(0) == '.' && (len == 1 || CH(1) == '/' || (CH(1) == '.' && (len == 2 || CH(2) == '/'))))
        return 0;
    for (i = 0; i < len; i++) {
        if (CH(i) != '/') continue;
        /* a component after this slash: empty, "." or ".." */
        if (i + 1 < len && CH(i + 1) == '/') return 0;
        if (i + 1 < len && CH(i + 1) == '.') {
            if (i + 2 == len || CH(i + 2) == '/') return 0;
            if (CH(i + 2) == '.' && (i + 3 == len || CH(i + 3) == '/')) return 0;
        }
    }
#undef CH
    return 1;
}

/* Python's _normalise (tarwalk.py): the name itself when it is clean (nearly always), else
   that function's result, called from here: one rule, one place. */
static PyObject *normalise(PyObject *name)
{
    if (is_clean(name)) {
        Py_INCREF(name);
        return name;
    }
    if (py_normalise == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_tarscan.set_normalise() was not called");
        return NULL;
    }
    return PyObject_CallOneArg(py_normalise, name);
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
    long long n[10];  /* the counts, in the order of the docstring */
    PyObject *newest; /* the largest mtime seen (int or float, as the entry has it), or NULL */
} Counts;

enum { ENTRIES, FILES, DIRS, SYMLINKS, HARDLINKS, OTHERS, WHITEOUTS, OPAQUE, FBYTES, DBYTES };

/* TarStats.add for one entry; name is the normalised name. */
static int count(Counts *c, PyObject *name, int type, long long size, PyObject *mtime)
{
    Py_ssize_t len = PyUnicode_GET_LENGTH(name);
    Py_ssize_t slash = PyUnicode_FindChar(name, '/', 0, len, -1);
    Py_ssize_t base = slash < 0 ? 0 : slash + 1;
    c->n[ENTRIES]++;
    int newer = c->newest == NULL ? 1 : PyObject_RichCompareBool(mtime, c->newest, Py_GT);
    if (newer < 0) return -1;
    if (newer) {
        Py_INCREF(mtime);
        Py_XSETREF(c->newest, mtime);
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
    return 0;
}

/* What a PAX extended header says about the next entry, as _pax_records and _merge_pax read
 * it (a later record of a key replacing an earlier one). */
typedef struct {
    PyObject *path, *linkpath;            /* owned str, or NULL */
    int has_size, has_uid, has_gid, has_mtime;
    long long size, uid, gid, mtime;
} Over;

static void over_clear(Over *o)
{
    Py_CLEAR(o->path);
    Py_CLEAR(o->linkpath);
    memset(o, 0, sizeof *o);
}

/* Plain decimal digits (up to 18), as Go's ParseInt reads them; -1 for anything else. */
static int decimal(const unsigned char *p, Py_ssize_t len, long long *out)
{
    long long v = 0;
    if (len < 1 || len > 18) return -1;
    for (Py_ssize_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') return -1;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 0;
}

/* A PAX time as tarwalk._pax_time reads it (Go's parsePAXTime, in whole seconds rounded
 * down), for the plain spellings: an optional '-', up to 18 digits, an optional '.' and
 * digits. -1 for anything else (Python then decides). */
static int pax_time(const unsigned char *p, Py_ssize_t len, long long *out)
{
    int neg = len > 0 && p[0] == '-';
    const unsigned char *dot = memchr(p, '.', (size_t)len);
    Py_ssize_t whole = dot ? dot - p : len;
    long long secs;
    if (decimal(p + neg, whole - neg, &secs) < 0) return -1;
    int frac_nonzero = 0;
    for (Py_ssize_t i = whole + 1; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') return -1;
        if (p[i] != '0' && i - whole <= 9) frac_nonzero = 1;
    }
    *out = neg ? -secs - frac_nonzero : secs;
    return 0;
}

static int keyis(const unsigned char *k, Py_ssize_t klen, const char *want)
{
    return (size_t)klen == strlen(want) && memcmp(k, want, (size_t)klen) == 0;
}

static int set_text(PyObject **slot, const unsigned char *v, Py_ssize_t vlen)
{
    PyObject *s = PyUnicode_DecodeUTF8((const char *)v, vlen, "surrogateescape");
    if (s == NULL) return -1;
    Py_XSETREF(*slot, s);
    return 1;
}

/* Parse PAX records ("<len> <key>=<value>\n") into o. Returns 1, 0 where Python might read
 * them differently (a malformed record, a number int() might read another way) or -1. */
static int pax(const unsigned char *d, Py_ssize_t len, Over *o)
{
    Py_ssize_t pos = 0;
    while (pos < len) {
        Py_ssize_t i = pos;
        long long length = 0;
        while (i < len && i - pos < 9 && d[i] >= '0' && d[i] <= '9') length = length * 10 + (d[i++] - '0');
        if (i == pos || i >= len || d[i] != ' ' || length < 5 || length <= i + 1 - pos) return 0;
        Py_ssize_t end = pos + (Py_ssize_t)length;
        if (end > len || d[end - 1] != '\n') return 0;
        const unsigned char *kv = d + i + 1, *eq = memchr(kv, '=', (size_t)(d + end - 1 - kv));
        if (eq == NULL) return 0;
        const unsigned char *v = eq + 1;
        Py_ssize_t klen = eq - kv, vlen = d + end - 1 - v;
        long long ignored;
        int r = 1;
        /* Go skips empty values, refuses NULs in places, and reads GNU.sparse.* as sparse
         * maps: all rare, all left to Python */
        if (klen == 0 || vlen == 0 || memchr(d + pos, '\0', (size_t)length) != NULL ||
            (klen >= 11 && memcmp(kv, "GNU.sparse.", 11) == 0))
            return 0;
        if (keyis(kv, klen, "path")) r = set_text(&o->path, v, vlen);
        else if (keyis(kv, klen, "linkpath")) r = set_text(&o->linkpath, v, vlen);
        else if (keyis(kv, klen, "mtime")) r = (o->has_mtime = pax_time(v, vlen, &o->mtime) == 0);
        else if (keyis(kv, klen, "atime") || keyis(kv, klen, "ctime"))
            r = pax_time(v, vlen, &ignored) == 0;
        else if (keyis(kv, klen, "size")) r = (o->has_size = decimal(v, vlen, &o->size) == 0);
        else if (keyis(kv, klen, "uid")) r = (o->has_uid = decimal(v, vlen, &o->uid) == 0);
        else if (keyis(kv, klen, "gid")) r = (o->has_gid = decimal(v, vlen, &o->gid) == 0);
        if (r <= 0) return r;
        pos = end;
    }
    return 1;
}

/* The numbers of a plain header at b, checked as tarwalk._read_header checks them: the
 * checksum (plain unsigned), size, mode, uid, gid, mtime, and for ustar and GNU headers the
 * device numbers. 0 where Python should look: base-256 numbers, signed checksums, STAR
 * headers, GNU headers with access or change times (Go may read those as a prefix). */
static int checked(const unsigned char *b, long long *size, long long *mode, long long *uid,
                   long long *gid, long long *mt)
{
    long long stored, sum = 0, dev;
    for (int i = 0; i < BLOCK; i++) sum += b[i];
    for (int i = 148; i < 156; i++) sum -= b[i];
    sum += 8 * ' ';
    if (octal(b + 148, 8, &stored) < 0 || stored != sum || octal(b + 124, 12, size) < 0 ||
        octal(b + 100, 8, mode) < 0 || octal(b + 108, 8, uid) < 0 ||
        octal(b + 116, 8, gid) < 0 || octal(b + 136, 12, mt) < 0)
        return 0;
    if (memcmp(b + 257, "ustar\0", 6) == 0) {
        if (memcmp(b + 508, "tar\0", 4) == 0) return 0; /* STAR */
    } else if (memcmp(b + 257, "ustar  \0", 8) == 0) {
        if (b[345] || b[357]) return 0;
    } else {
        return 1; /* V7: no more fields */
    }
    return octal(b + 329, 8, &dev) == 0 && octal(b + 337, 8, &dev) == 0;
}

static PyObject *make_entry(PyObject *entry_type, PyObject *name, int type, long long size,
                            long long mode, long long uid, long long gid, PyObject *mtime,
                            PyObject *link, PyObject *raw)
{
    PyObject *t9 = Py_BuildValue("(OOLLLLOOO)", name, kind_names[type], size, mode, uid, gid,
                                 mtime, link, raw);
    if (t9 == NULL) return NULL;
    PyObject *args = PyTuple_Pack(1, t9);
    Py_DECREF(t9);
    if (args == NULL) return NULL;
    PyObject *entry = PyTuple_Type.tp_new((PyTypeObject *)entry_type, args, NULL);
    Py_DECREF(args);
    return entry;
}

/* An ordinary entry header at b, with what a PAX header said before it (o). Returns 1 (*entry
 * made unless entry_type is None; *size set, and *data when file data follows the header), 0
 * (leave it to Python) or -1 (a Python error is set). */
/* Whether the safety checks look at this entry one by one (see walk's screened); -1 on a
 * Python error. type is the index into kind_names. */
static int singled_out(PyObject *raw, int type, long long mode, PyObject *link)
{
    Py_ssize_t rlen = PyUnicode_GET_LENGTH(raw), at;
    if (type == 1 || type == 3 || type == 4) return 1;      /* hardlink, char, block */
    if (type == 0 && (mode & 06000)) return 1;              /* setuid or setgid file */
    if (rlen > 0 && PyUnicode_READ_CHAR(raw, 0) == '/') return 1;
    if ((at = PyUnicode_Find(raw, dotdot, 0, rlen, 1)) != -1) return at == -2 ? -1 : 1;
    if (type == 2 && (at = PyUnicode_Find(link, dotdot, 0, PY_SSIZE_T_MAX, 1)) != -1)
        return at == -2 ? -1 : 1;
    return 0;
}

static int entry_at(const unsigned char *b, const Over *o, PyObject *entry_type, Counts *c,
                    PyObject **entry, long long *size, int *data, int *singled)
{
    long long mode, uid, gid, mt;
    int t = b[156];
    if (!(t == 0 || (t >= '0' && t <= '7')) || !checked(b, size, &mode, &uid, &gid, &mt))
        return 0;
    PyObject *raw = NULL, *name = NULL, *mtime = NULL, *link = NULL;
    int result = -1;
    /* as _merge_pax: PAX values win */
    if (o->has_size) *size = o->size;
    if (o->has_uid) uid = o->uid;
    if (o->has_gid) gid = o->gid;
    if (o->has_mtime) mt = o->mtime;
    mtime = PyLong_FromLongLong(mt);
    raw = o->path ? (Py_INCREF(o->path), o->path) : full_name(b);
    if (mtime == NULL || raw == NULL) goto done;
    int type = t == 0 || t == '7' ? 0 : t - '0'; /* index into kind_names */
    Py_ssize_t rlen = PyUnicode_GET_LENGTH(raw);
    /* Go: only the legacy NUL type with a trailing slash is a directory */
    if (t == 0 && rlen > 0 && PyUnicode_READ_CHAR(raw, rlen - 1) == '/') type = 5;
    long long esize = type == 0 ? *size : 0;
    if ((name = normalise(raw)) == NULL || count(c, name, type, esize, mtime) < 0) goto done;
    *entry = NULL;
    if (entry_type != Py_None) {
        if (o->linkpath && PyUnicode_GET_LENGTH(o->linkpath) > 0)
            link = (Py_INCREF(o->linkpath), o->linkpath);
        else
            link = b[157] ? text(b + 157, 100) : (Py_INCREF(empty_str), empty_str);
        if (link == NULL) goto done;
        int one = singled_out(raw, type, mode, link);
        if (one < 0) goto done;
        *singled |= one;
        *entry = make_entry(entry_type, name, type, esize, mode, uid, gid, mtime, link, raw);
        if (*entry == NULL) goto done;
    }
    *data = type == 0; /* as tarwalk: types 1-6 (and NUL made a directory) carry no data */
    result = 1;
done:
    Py_XDECREF(raw);
    Py_XDECREF(name);
    Py_XDECREF(mtime);
    Py_XDECREF(link);
    return result;
}

#define MAX_SPECIAL (1 << 20) /* as tarwalk.MAX_SPECIAL */

/* One member at data[pos:]: an entry header, or a PAX header and the entry header it
 * describes. Returns the offset just past the header(s), or 0 to leave this member to Python,
 * or -1 on a Python error. Sets *follow (file data and padding after the headers) and *pad
 * (the padding part, or -1 where the walker's padding stays as it was), as tarwalk does. */
static Py_ssize_t member(const unsigned char *data, Py_ssize_t pos, Py_ssize_t n,
                         PyObject *entry_type, Counts *c, PyObject **entry, long long *follow,
                         long long *pad, int *singled)
{
    Over o;
    memset(&o, 0, sizeof o);
    const unsigned char *b = data + pos;
    Py_ssize_t at = pos;
    long long size, mode, uid, gid, mt;
    if (b[156] == 'x') {
        if (!checked(b, &size, &mode, &uid, &gid, &mt) || size > MAX_SPECIAL) return 0;
        Py_ssize_t next = pos + BLOCK + (Py_ssize_t)((size + BLOCK - 1) / BLOCK * BLOCK);
        if (next + BLOCK > n) return 0;
        int r = pax(b + BLOCK, (Py_ssize_t)size, &o);
        if (r <= 0) {
            over_clear(&o);
            return r;
        }
        at = next;
    }
    int has_data = 0;
    int r = entry_at(data + at, &o, entry_type, c, entry, &size, &has_data, singled);
    over_clear(&o);
    if (r <= 0) return r;
    *pad = has_data ? (BLOCK - size % BLOCK) % BLOCK : at != pos ? 0 : -1;
    *follow = has_data ? size + *pad : 0;
    return at + BLOCK;
}

static PyObject *walk(PyObject *self, PyObject *args)
{
    Py_buffer buf;
    Py_ssize_t pos;
    long long skip, padding;
    PyObject *entry_type;
    int stop_at_data = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*nLLO|p", &buf, &pos, &skip, &padding, &entry_type,
                          &stop_at_data))
        return NULL;
    if (entry_type != Py_None && !PyType_Check(entry_type)) {
        PyBuffer_Release(&buf);
        PyErr_SetString(PyExc_TypeError, "entry_type must be a tuple subclass or None");
        return NULL;
    }
    const unsigned char *data = buf.buf;
    Py_ssize_t n = buf.len;
    Counts c;
    memset(&c, 0, sizeof c);
    int singled = 0; /* some entry is singled out for the safety checks */
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
        long long follow = 0, pad = -1;
        Py_ssize_t next = member(data, pos, n, entry_type, &c, &entry, &follow, &pad, &singled);
        if (next < 0) goto fail;
        if (next == 0) break;
        if (entry != NULL) {
            int bad = PyList_Append(entries, entry);
            Py_DECREF(entry);
            if (bad) goto fail;
        }
        pos = next;
        skip = follow;
        if (pad >= 0) padding = pad;
        if (stop_at_data && skip > padding) break;
    }
    PyBuffer_Release(&buf);
    PyObject *newest = c.newest ? c.newest : (Py_INCREF(Py_None), Py_None);
    PyObject *screened = entry_type != Py_None && !singled ? Py_True : Py_False;
    return Py_BuildValue("(nLLN(LLLLLLLLLL)NO)", pos, skip, padding, entries, c.n[0], c.n[1],
                         c.n[2], c.n[3], c.n[4], c.n[5], c.n[6], c.n[7], c.n[8], c.n[9], newest,
                         screened);
fail:
    Py_XDECREF(entries);
    Py_XDECREF(c.newest);
    PyBuffer_Release(&buf);
    return NULL;
}

static PyObject *set_normalise(PyObject *self, PyObject *fn)
{
    if (!PyCallable_Check(fn)) {
        PyErr_SetString(PyExc_TypeError, "set_normalise takes a callable");
        return NULL;
    }
    Py_XSETREF(py_normalise, Py_NewRef(fn));
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"walk", walk, METH_VARARGS, "Walk the common tar headers of buf from pos; see the source."},
    {"set_normalise", set_normalise, METH_O, "The function that cleans a name that is not clean."},
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
    wh_prefix = PyUnicode_InternFromString(".wh.");
    wh_opaque = PyUnicode_InternFromString(".wh..wh..opq");
    dotdot = PyUnicode_InternFromString("..");
    if (!empty_str || !wh_prefix || !wh_opaque || !dotdot) return NULL;
    return PyModule_Create(&module);
}
