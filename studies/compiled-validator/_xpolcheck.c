/* _xpolcheck: a prototype compiled fact validator for exportdsl's generated decide function.
 *
 * STUDY CODE (issue 13, option (a)); not part of the package.
 *
 *   spec = make_spec(decimal_type, decimal_small_size, facts)   once per compiled policy
 *   check(facts, spec) -> (d, v0, v1, ...) | None
 *
 * ``facts`` entries (one per declared fact, in the policy's order):
 *   (name: str, kind: int, required: bool, default, table, extra, decimal_bounds: tuple)
 * kinds: see enum below. ``table``: frozenset (enum, country), dict (date cache: str -> code;
 * set: element -> bit). ``extra``: date -> the new-date callable; set -> its ``other`` bit (int)
 * for a set of strings, None for a set whose unknown element is an error. ``decimal_bounds``:
 * number -> (tiny, huge, -huge, -tiny), percent -> (tiny, 100).
 *
 * check() returns None ("take the slow way", which validates and raises the exact error or
 * decides a non-canonical transaction) for anything it does not accept exactly as the
 * generated Python prologue would: exact built-in types only (Py_TYPE, never __class__), every
 * dict key an exact str, no unknown or missing key, the same numeric ranges.  It runs no Python
 * code of the caller's objects: exact str hashing/equality, exact list/tuple/set iteration and
 * int/float reads are all C.  The only Python-level calls are Decimal.__sizeof__ and Decimal
 * comparisons (C code of _decimal) and the policy's own new-date function.  An Exception raised
 * by those is cleared and the slow way taken (as the generated ``except Exception`` does); a
 * BaseException that is not an Exception (KeyboardInterrupt) propagates.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <float.h>
#include <stdint.h>

enum {
    K_BOOL = 0, K_INT = 1, K_NUMBER = 2, K_PERCENT = 3, K_DATE = 4, K_COUNTRY = 5,
    K_STRING = 6, K_ENUM = 7, K_SET = 8
};

#define FAST_INT 1000000000000000000LL   /* |int| < 10**18 takes the fast way */

typedef struct {
    PyObject *name;        /* interned exact str */
    int kind;
    int required;
    PyObject *deflt;       /* value of a missing optional fact (a set's: its mask) */
    PyObject *table;       /* frozenset / dict */
    PyObject *extra;       /* new_date callable / other bit / None */
    PyObject *bounds;      /* tuple of Decimal bounds (numbers, percents) */
    unsigned long long other_bit;
    int wide;              /* set bits beyond 63: python int arithmetic */
} FactSpec;

typedef struct {
    PyObject_HEAD
    Py_ssize_t n;
    Py_ssize_t n_required;
    PyObject *decimal_type;
    Py_ssize_t decimal_small;
    int layout;            /* read Decimals through _decimal's (private) object layout */
    FactSpec *facts;
} SpecObject;

/* _decimal's object layout on 64-bit CPython 3.x (Modules/_decimal/_decimal.c PyDecObject and
 * libmpdec's mpd_t, CONFIG_64). PRIVATE to CPython: used only when decimal_layout_ok() has
 * verified it on known values at spec-build time; otherwise the protocol path is used. */
typedef struct {
    uint8_t flags;
    int64_t exp;
    int64_t digits;
    int64_t len;
    int64_t alloc;
    uint64_t *data;
} MpdMimic;

typedef struct {
    PyObject_HEAD
    Py_hash_t hash;
    MpdMimic dec;
    uint64_t data[4];
} DecMimic;

#define MPD_NEG 1
#define MPD_SPECIAL 14   /* MPD_INF | MPD_NAN | MPD_SNAN */

/* 1 when the Decimal type's objects have the layout above, checked on known values. */
static int decimal_layout_ok(PyObject *decimal_type) {
    static const struct { const char *text; int neg, special; int64_t exp, digits, len; uint64_t msword; } known[] = {
        {"1.23E+5", 0, 0, 3, 3, 1, 123}, {"-0.00", 1, 0, -2, 1, 1, 0}, {"100", 0, 0, 0, 3, 1, 100},
        {"1234567890123456789012345", 0, 0, 0, 25, 2, 123456}, {"-4.5E-7", 1, 0, -8, 2, 1, 45},
        {"NaN", 0, 1, 0, 0, 0, 0}, {"-Infinity", 1, 1, 0, 0, 0, 0}, {"sNaN", 0, 1, 0, 0, 0, 0},
    };
    if (sizeof(void *) != 8 || !PyType_Check(decimal_type) ||
        ((PyTypeObject *)decimal_type)->tp_basicsize != (Py_ssize_t)sizeof(DecMimic))
        return 0;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        PyObject *text = PyUnicode_FromString(known[i].text);
        if (text == NULL) { PyErr_Clear(); return 0; }
        PyObject *value = PyObject_CallOneArg(decimal_type, text);
        Py_DECREF(text);
        if (value == NULL) { PyErr_Clear(); return 0; }
        MpdMimic *m = &((DecMimic *)value)->dec;
        int ok = Py_TYPE(value) == (PyTypeObject *)decimal_type && ((m->flags & MPD_NEG) != 0) == known[i].neg
                 && ((m->flags & MPD_SPECIAL) != 0) == known[i].special;
        if (ok && !known[i].special)
            ok = m->exp == known[i].exp && m->digits == known[i].digits && m->len == known[i].len
                 && m->len >= 1 && m->alloc >= m->len && m->data[m->len - 1] == known[i].msword;
        Py_DECREF(value);
        if (!ok) return 0;
    }
    return 1;
}

/* The layout path: 1 ok, 0 slow way. Same acceptance as the protocol path below, or narrower. */
static int decimal_ok_layout(int percent, PyObject *v) {
    const MpdMimic *m = &((DecMimic *)v)->dec;
    if (m->flags & MPD_SPECIAL) return 0;                  /* NaN, sNaN, infinities */
    if (m->digits > 30 || m->len < 1) return 0;            /* long: the slow way checks it */
    if (m->data[m->len - 1] == 0) return 1;                /* every zero (-0, 0E-500) */
    int64_t adjusted = m->exp + m->digits - 1;             /* 10**adjusted <= |x| < 10**(adjusted+1) */
    if (!percent) return adjusted >= -30 && adjusted <= 29;    /* 1e-30 <= |x| < 1e30 */
    if ((m->flags & MPD_NEG) || adjusted < -30) return 0;
    if (adjusted <= 1) return 1;                           /* below 100 */
    if (adjusted == 2 && m->len == 1) {                    /* 100 <= x < 1000: only 100 itself */
        uint64_t power = 1;
        for (int64_t i = 1; i < m->digits; i++) power *= 10;
        return m->data[0] == power;
    }
    return 0;
}

static PyObject *str_sizeof;   /* "__sizeof__" */

static int spec_traverse(SpecObject *self, visitproc visit, void *arg) {
    Py_VISIT(self->decimal_type);
    for (Py_ssize_t i = 0; self->facts && i < self->n; i++) {
        FactSpec *f = &self->facts[i];
        Py_VISIT(f->name); Py_VISIT(f->deflt); Py_VISIT(f->table); Py_VISIT(f->extra); Py_VISIT(f->bounds);
    }
    return 0;
}

static int spec_clear(SpecObject *self) {
    Py_CLEAR(self->decimal_type);
    for (Py_ssize_t i = 0; self->facts && i < self->n; i++) {
        FactSpec *f = &self->facts[i];
        Py_CLEAR(f->name); Py_CLEAR(f->deflt); Py_CLEAR(f->table); Py_CLEAR(f->extra); Py_CLEAR(f->bounds);
    }
    return 0;
}

static void spec_dealloc(SpecObject *self) {
    PyObject_GC_UnTrack(self);
    spec_clear(self);
    PyMem_Free(self->facts);
    self->facts = NULL;
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject SpecType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "_xpolcheck.Spec",
    .tp_basicsize = sizeof(SpecObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_traverse = (traverseproc)spec_traverse,
    .tp_clear = (inquiry)spec_clear,
    .tp_dealloc = (destructor)spec_dealloc,
    .tp_doc = "A policy's fact specification for check().",
};

static PyObject *make_spec(PyObject *module, PyObject *args) {
    PyObject *decimal_type, *facts;
    Py_ssize_t decimal_small;
    int layout = 0;
    if (!PyArg_ParseTuple(args, "O!nO!|p", &PyType_Type, &decimal_type, &decimal_small, &PyTuple_Type, &facts,
                          &layout))
        return NULL;
    layout = layout && decimal_layout_ok(decimal_type);
    Py_ssize_t n = PyTuple_GET_SIZE(facts);
    SpecObject *spec = PyObject_GC_New(SpecObject, &SpecType);
    if (spec == NULL) return NULL;
    spec->n = 0;
    spec->n_required = 0;
    spec->decimal_small = decimal_small;
    spec->layout = layout;
    spec->decimal_type = Py_NewRef(decimal_type);
    spec->facts = PyMem_Calloc(n ? n : 1, sizeof(FactSpec));
    if (spec->facts == NULL) { Py_DECREF(spec); return PyErr_NoMemory(); }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *entry = PyTuple_GET_ITEM(facts, i), *name, *deflt, *table, *extra, *bounds;
        int kind, required;
        if (!PyTuple_Check(entry) ||
            !PyArg_ParseTuple(entry, "UipOOOO!", &name, &kind, &required, &deflt, &table, &extra,
                              &PyTuple_Type, &bounds)) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "a fact entry must be a tuple");
            Py_DECREF(spec);
            return NULL;
        }
        if (kind < K_BOOL || kind > K_SET || !PyUnicode_CheckExact(name)) {
            PyErr_SetString(PyExc_ValueError, "bad fact kind or name");
            Py_DECREF(spec);
            return NULL;
        }
        FactSpec *f = &spec->facts[i];
        spec->n = i + 1;   /* from here on, dealloc releases this entry */
        Py_INCREF(name);
        PyUnicode_InternInPlace(&name);
        f->name = name;
        f->kind = kind;
        f->required = required;
        f->deflt = Py_NewRef(deflt);
        f->table = Py_NewRef(table);
        f->extra = Py_NewRef(extra);
        f->bounds = Py_NewRef(bounds);
        spec->n_required += required;
        if ((kind == K_ENUM || kind == K_COUNTRY) && !PyFrozenSet_CheckExact(table)) goto bad_table;
        if ((kind == K_DATE || kind == K_SET) && !PyDict_CheckExact(table)) goto bad_table;
        if (kind == K_DATE && !PyCallable_Check(extra)) goto bad_table;
        if ((kind == K_NUMBER && PyTuple_GET_SIZE(bounds) != 4) || (kind == K_PERCENT && PyTuple_GET_SIZE(bounds) != 2))
            goto bad_table;
        if (kind == K_SET) {
            /* narrow when every bit (and the other bit) fits in 63 bits */
            f->wide = 0;
            Py_ssize_t pos = 0;
            PyObject *key, *bit;
            while (PyDict_Next(table, &pos, &key, &bit)) {
                if (!PyLong_CheckExact(bit)) goto bad_table;
                int overflow;
                long long b = PyLong_AsLongLongAndOverflow(bit, &overflow);
                if (overflow || b < 0 || b > (1LL << 62)) f->wide = 1;
            }
            if (extra != Py_None) {
                if (!PyLong_CheckExact(extra)) goto bad_table;
                int overflow;
                long long b = PyLong_AsLongLongAndOverflow(extra, &overflow);
                if (overflow || b < 0 || b > (1LL << 62)) f->wide = 1;
                else f->other_bit = (unsigned long long)b;
            }
        }
        continue;
    bad_table:
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "bad table, extra or bounds for this kind");
        Py_DECREF(spec);
        return NULL;
    }
    PyObject_GC_Track(spec);
    return (PyObject *)spec;
}

/* 1: an int within the fast range (into *out), 0: not (slow way). Exact int only. */
static int small_int(PyObject *v, long long *out) {
    int overflow;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (overflow || x <= -FAST_INT || x >= FAST_INT) return 0;   /* -1 with no overflow is a value */
    *out = x;
    return 1;
}

/* Same checks as the generated prologue's Decimal branch. 1 ok, 0 slow way, -1 error. */
static int decimal_ok(SpecObject *spec, FactSpec *f, PyObject *v) {
    if (spec->layout)
        return decimal_ok_layout(f->kind == K_PERCENT, v);
    if (spec->decimal_small) {
        PyObject *size = PyObject_CallMethodNoArgs(v, str_sizeof);
        if (size == NULL) return -1;
        Py_ssize_t s = PyLong_AsSsize_t(size);
        Py_DECREF(size);
        if (s == -1 && PyErr_Occurred()) return -1;
        if (s != spec->decimal_small) return 0;
    } else {
        PyObject *text = PyObject_Str(v);
        if (text == NULL) return -1;
        Py_ssize_t len = PyUnicode_GET_LENGTH(text);
        Py_DECREF(text);
        if (len > 30) return 0;
    }
    int r, nonzero;
    PyObject **b = &PyTuple_GET_ITEM(f->bounds, 0);
    /* percent: ok when tiny <= x <= 100 or x is zero */
    /* number:  ok when tiny <= x < huge or -huge < x <= -tiny or x is zero */
    r = PyObject_RichCompareBool(b[0], v, Py_LE);
    if (r < 0) return -1;
    if (r) {
        r = PyObject_RichCompareBool(v, b[1], f->kind == K_PERCENT ? Py_LE : Py_LT);
        if (r < 0) return -1;
        if (r) return 1;
    }
    if (f->kind == K_NUMBER) {
        r = PyObject_RichCompareBool(b[2], v, Py_LT);
        if (r < 0) return -1;
        if (r) {
            r = PyObject_RichCompareBool(v, b[3], Py_LE);
            if (r < 0) return -1;
            if (r) return 1;
        }
    }
    nonzero = PyObject_IsTrue(v);
    if (nonzero < 0) return -1;
    return nonzero ? 0 : 1;
}

/* A set fact's mask (new reference), NULL with no error set for the slow way, NULL with an error. */
static PyObject *set_mask(FactSpec *f, PyObject *v) {
    PyTypeObject *t = Py_TYPE(v);
    int is_seq = (t == &PyList_Type || t == &PyTuple_Type);
    if (!is_seq && t != &PySet_Type && t != &PyFrozenSet_Type) return NULL;
    unsigned long long m = 0;
    PyObject *wide = NULL, *iter = NULL, *e = NULL;
    if (f->wide) { wide = PyLong_FromLong(0); if (wide == NULL) return NULL; }
    if (!is_seq) { iter = PyObject_GetIter(v); if (iter == NULL) goto fail; }
    for (Py_ssize_t i = 0;; i++) {
        if (is_seq) {
            /* sizes re-read at each step; no Python code runs in this loop, so the list cannot change */
            Py_ssize_t size = t == &PyList_Type ? PyList_GET_SIZE(v) : PyTuple_GET_SIZE(v);
            if (i >= size) break;
            e = t == &PyList_Type ? PyList_GET_ITEM(v, i) : PyTuple_GET_ITEM(v, i);
            Py_INCREF(e);
        } else {
            e = PyIter_Next(iter);
            if (e == NULL) { if (PyErr_Occurred()) goto fail; break; }
        }
        if (!PyUnicode_CheckExact(e)) goto slow;
        PyObject *bit = PyDict_GetItemWithError(f->table, e);   /* borrowed */
        if (bit == NULL) {
            if (PyErr_Occurred()) goto fail;
            if (f->extra == Py_None) goto slow;        /* not a valid element */
            bit = f->extra;                             /* a string the rules do not name */
        }
        if (f->wide) {
            PyObject *next = PyNumber_Or(wide, bit);
            if (next == NULL) goto fail;
            Py_SETREF(wide, next);
        } else {
            m |= (unsigned long long)PyLong_AsLongLong(bit);   /* checked small in make_spec */
        }
        Py_CLEAR(e);
    }
    Py_XDECREF(iter);
    return f->wide ? wide : PyLong_FromUnsignedLongLong(m);
slow:
    Py_XDECREF(e); Py_XDECREF(iter); Py_XDECREF(wide);
    return NULL;
fail:
    Py_XDECREF(e); Py_XDECREF(iter); Py_XDECREF(wide);
    return NULL;
}

static PyObject *check(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || Py_TYPE(args[1]) != &SpecType) {
        PyErr_SetString(PyExc_TypeError, "check(facts, spec)");
        return NULL;
    }
    PyObject *facts = args[0];
    SpecObject *spec = (SpecObject *)args[1];
    if (!PyDict_CheckExact(facts)) Py_RETURN_NONE;
    Py_ssize_t size = PyDict_GET_SIZE(facts);
    if (size > spec->n || size < spec->n_required) Py_RETURN_NONE;
    {   /* every key an exact str: then no lookup below can run the caller's code, and no key can lie */
        Py_ssize_t pos = 0;
        PyObject *k, *ignored;
        while (PyDict_Next(facts, &pos, &k, &ignored))
            if (!PyUnicode_CheckExact(k)) Py_RETURN_NONE;
    }
    PyObject *out = PyTuple_New(spec->n + 1);
    if (out == NULL) return NULL;
    int d = 0;
    Py_ssize_t found = 0;
    for (Py_ssize_t i = 0; i < spec->n; i++) {
        FactSpec *f = &spec->facts[i];
        PyObject *v = PyDict_GetItemWithError(facts, f->name);   /* borrowed */
        PyObject *local = NULL;
        if (v == NULL) {
            if (PyErr_Occurred()) goto fail;
            if (f->required) goto slow;
            if (f->kind == K_SET) {            /* its default is already a mask */
                PyTuple_SET_ITEM(out, i + 1, Py_NewRef(f->deflt));
                continue;
            }
            v = f->deflt;                      /* checked like a given value, as the prologue does */
        } else {
            found++;
        }
        switch (f->kind) {
        case K_BOOL:
            if (v != Py_True && v != Py_False) goto slow;
            local = Py_NewRef(v);
            break;
        case K_INT: {
            long long x;
            if (!PyLong_CheckExact(v) || !small_int(v, &x)) goto slow;
            local = Py_NewRef(v);
            break;
        }
        case K_NUMBER:
        case K_PERCENT: {
            PyTypeObject *t = Py_TYPE(v);
            if (t == &PyFloat_Type) {
                double x = PyFloat_AS_DOUBLE(v);
                if (f->kind == K_PERCENT ? !(x >= 0.0 && x <= 100.0) : !(x >= -DBL_MAX && x <= DBL_MAX)) goto slow;
            } else if (t == &PyLong_Type) {
                long long x;
                if (!small_int(v, &x)) goto slow;
                if (f->kind == K_PERCENT && (x < 0 || x > 100)) goto slow;
            } else if ((PyObject *)t == spec->decimal_type) {
                int r = decimal_ok(spec, f, v);
                if (r < 0) goto fail;
                if (r == 0) goto slow;
                d = 1;
            } else {
                goto slow;
            }
            local = Py_NewRef(v);
            break;
        }
        case K_DATE: {
            if (!PyUnicode_CheckExact(v)) goto slow;
            local = PyDict_GetItemWithError(f->table, v);
            if (local != NULL) {
                Py_INCREF(local);
            } else {
                if (PyErr_Occurred()) goto fail;
                local = PyObject_CallOneArg(f->extra, v);   /* the policy's new-date: ValueError if invalid */
                if (local == NULL) goto fail;
            }
            break;
        }
        case K_COUNTRY:
        case K_ENUM: {
            if (!PyUnicode_CheckExact(v)) goto slow;
            int r = PySet_Contains(f->table, v);
            if (r < 0) goto fail;
            if (r == 0) goto slow;
            local = Py_NewRef(v);
            break;
        }
        case K_STRING:
            if (!PyUnicode_CheckExact(v)) goto slow;
            local = Py_NewRef(v);
            break;
        case K_SET:
            local = set_mask(f, v);
            if (local == NULL) { if (PyErr_Occurred()) goto fail; goto slow; }
            break;
        }
        PyTuple_SET_ITEM(out, i + 1, local);
    }
    if (found != size) goto slow;      /* a key that is no declared fact */
    PyTuple_SET_ITEM(out, 0, Py_NewRef(d ? Py_True : Py_False));
    return out;
slow:
    Py_DECREF(out);
    Py_RETURN_NONE;
fail:
    Py_DECREF(out);
    if (PyErr_ExceptionMatches(PyExc_Exception)) {   /* as the generated `except Exception: slow` */
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    return NULL;
}

static PyObject *uses_layout(PyObject *module, PyObject *spec) {
    if (Py_TYPE(spec) != &SpecType) { PyErr_SetString(PyExc_TypeError, "a Spec"); return NULL; }
    return PyBool_FromLong(((SpecObject *)spec)->layout);
}

static PyMethodDef methods[] = {
    {"uses_layout", uses_layout, METH_O, "uses_layout(spec) -> whether Decimals are read through _decimal's layout"},
    {"make_spec", make_spec, METH_VARARGS, "make_spec(decimal_type, decimal_small_size, facts, decimal_layout=False) -> Spec"},
    {"check", (PyCFunction)(void (*)(void))check, METH_FASTCALL, "check(facts, spec) -> tuple | None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "_xpolcheck", "Prototype compiled fact validator (study).", -1, methods,
};

PyMODINIT_FUNC PyInit__xpolcheck(void) {
    if (PyType_Ready(&SpecType) < 0) return NULL;
    str_sizeof = PyUnicode_InternFromString("__sizeof__");
    if (str_sizeof == NULL) return NULL;
    PyObject *m = PyModule_Create(&moduledef);
    if (m == NULL) return NULL;
    Py_INCREF(&SpecType);
    if (PyModule_AddObject(m, "Spec", (PyObject *)&SpecType) < 0) { Py_DECREF(&SpecType); Py_DECREF(m); return NULL; }
    return m;
}
