/* The fast path of viewcount.eventbatch.decode_events, in C.
 *
 * scan(values, max_value_bytes) reads each record value at once, without building a Python
 * object for it, and answers for the values it can prove valid: their contract fields as
 * columns, and each one's fingerprint (ViewEvent.fingerprint: BLAKE2b, 8 bytes). Every other
 * value is left to viewcount.events.parse_event, which names the reason, and so is every value
 * this scanner cannot read with certainty. It reads only what is plainly one JSON object:
 *   - members whose keys and string values are printable ASCII without escapes (so the bytes are
 *     the text, and two keys are the same key exactly when their bytes are equal);
 *   - values that are such strings, numbers of RFC 8259's grammar, true, false or null (nothing
 *     nested);
 *   - no repeated key, at most MAX_MEMBERS members, JSON whitespace anywhere between tokens;
 *   - event times of the usual shape YYYY-MM-DDTHH:MM:SS.mmmZ.
 * For a value it accepts, the answer is the one parse_event gives; tests compare the two on
 * generated values of every shape near these edges. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_MEMBERS 32          /* more members go to parse_event */
#define MAX_NUMBER_CHARS 40     /* so does a longer number: Python's int() limits digits */
#define MAX_ID_CHARS 64
#define MAX_WATCH_MS 86400000
#define SCHEMA_VERSION 1
#define TIME_WIDTH 24           /* 2026-11-21T10:15:30.250Z */
#define FINGERPRINT_BYTES 8

typedef struct {
    const unsigned char *at;
    Py_ssize_t len;
} span_t;

enum kind { K_STRING, K_INTEGER, K_OTHER };   /* other: a fraction or exponent, true, false, null */

typedef struct {
    enum kind kind;
    span_t text;        /* a string's characters, without the quotes */
    int64_t integer;    /* an integer's value */
} value_t;

/* The contract's fields, in the order validate_object checks them. */
enum field { F_EVENT_ID, F_VIDEO_ID, F_CREATOR_ID, F_VIEWER_ID, F_EVENT_TIME, F_WATCH_MS, F_SCHEMA_VERSION,
             N_FIELDS };
static const char *const FIELD_NAMES[N_FIELDS] = {
    "event_id", "video_id", "creator_id", "viewer_id", "event_time", "watch_ms", "schema_version"};
static const Py_ssize_t FIELD_NAME_LENGTHS[N_FIELDS] = {8, 8, 10, 9, 10, 8, 14};
#define REQUIRED ((1 << F_SCHEMA_VERSION) - 1)

typedef struct {
    span_t id[4];           /* event, video, creator, viewer */
    int64_t event_time_ms;
    int64_t watch_ms;
} event_t;

/* ---- BLAKE2b (RFC 7693), unkeyed, 8-byte digest: what hashlib.blake2b(digest_size=8) gives ---- */

static const uint64_t BLAKE2B_IV[8] = {
    0x6A09E667F3BCC908ULL, 0xBB67AE8584CAA73BULL, 0x3C6EF372FE94F82BULL, 0xA54FF53A5F1D36F1ULL,
    0x510E527FADE682D1ULL, 0x9B05688C2B3E6C1FULL, 0x1F83D9ABFB41BD6BULL, 0x5BE0CD19137E2179ULL};

static const uint8_t SIGMA[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3}};

#define ROTR64(x, n) (((x) >> (n)) | ((x) << (64 - (n))))
#define G(a, b, c, d, x, y)                          \
    do {                                             \
        v[a] = v[a] + v[b] + (x);                    \
        v[d] = ROTR64(v[d] ^ v[a], 32);              \
        v[c] = v[c] + v[d];                          \
        v[b] = ROTR64(v[b] ^ v[c], 24);              \
        v[a] = v[a] + v[b] + (y);                    \
        v[d] = ROTR64(v[d] ^ v[a], 16);              \
        v[c] = v[c] + v[d];                          \
        v[b] = ROTR64(v[b] ^ v[c], 63);              \
    } while (0)

static void blake2b_compress(uint64_t h[8], const unsigned char block[128], uint64_t counter, int last)
{
    uint64_t v[16], m[16];
    for (int i = 0; i < 8; i++) {
        v[i] = h[i];
        v[i + 8] = BLAKE2B_IV[i];
    }
    v[12] ^= counter;           /* the counter's high word stays 0: inputs here are short */
    if (last)
        v[14] = ~v[14];
    for (int i = 0; i < 16; i++) {
        uint64_t word = 0;
        for (int b = 7; b >= 0; b--)
            word = (word << 8) | block[8 * i + b];
        m[i] = word;
    }
    for (int r = 0; r < 12; r++) {
        const uint8_t *s = SIGMA[r];
        G(0, 4, 8, 12, m[s[0]], m[s[1]]);
        G(1, 5, 9, 13, m[s[2]], m[s[3]]);
        G(2, 6, 10, 14, m[s[4]], m[s[5]]);
        G(3, 7, 11, 15, m[s[6]], m[s[7]]);
        G(0, 5, 10, 15, m[s[8]], m[s[9]]);
        G(1, 6, 11, 12, m[s[10]], m[s[11]]);
        G(2, 7, 8, 13, m[s[12]], m[s[13]]);
        G(3, 4, 9, 14, m[s[14]], m[s[15]]);
    }
    for (int i = 0; i < 8; i++)
        h[i] ^= v[i] ^ v[i + 8];
}

static void blake2b_8(const unsigned char *in, size_t len, unsigned char out[FINGERPRINT_BYTES])
{
    uint64_t h[8];
    unsigned char block[128];
    uint64_t counter = 0;
    memcpy(h, BLAKE2B_IV, sizeof h);
    h[0] ^= 0x01010000ULL ^ FINGERPRINT_BYTES;     /* depth 1, fanout 1, no key, digest length */
    while (len > 128) {                              /* the last block, even a full one, is final */
        counter += 128;
        blake2b_compress(h, in, counter, 0);
        in += 128;
        len -= 128;
    }
    memset(block, 0, sizeof block);
    memcpy(block, in, len);
    counter += len;
    blake2b_compress(h, block, counter, 1);
    for (int i = 0; i < FINGERPRINT_BYTES; i++)
        out[i] = (unsigned char)(h[0] >> (8 * i));
}

/* ---- one JSON object, read only as far as it is plain ---- */

static inline const unsigned char *skip_space(const unsigned char *p, const unsigned char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

static inline int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* A string of printable ASCII without escapes, p at its opening quote; NULL for anything else. */
static const unsigned char *read_string(const unsigned char *p, const unsigned char *end, span_t *out)
{
    const unsigned char *start = ++p;
    for (; p < end; p++) {
        unsigned char c = *p;
        if (c == '"') {
            out->at = start;
            out->len = p - start;
            return p + 1;
        }
        if (c < 0x20 || c >= 0x80 || c == '\\')
            return NULL;
    }
    return NULL;
}

/* A number of RFC 8259's grammar; an integer of at most 18 digits keeps its value. */
static const unsigned char *read_number(const unsigned char *p, const unsigned char *end, value_t *out)
{
    const unsigned char *start = p;
    int negative = 0, digits = 0;
    int64_t n = 0;
    if (*p == '-') {
        negative = 1;
        p++;
    }
    if (p >= end || !is_digit(*p))
        return NULL;
    if (*p == '0')
        p++;
    else
        for (; p < end && is_digit(*p); p++) {
            if (++digits > 18)
                return NULL;
            n = n * 10 + (*p - '0');
        }
    out->kind = K_INTEGER;
    if (p < end && *p == '.') {
        if (++p >= end || !is_digit(*p))
            return NULL;
        while (p < end && is_digit(*p))
            p++;
        out->kind = K_OTHER;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || !is_digit(*p))
            return NULL;
        while (p < end && is_digit(*p))
            p++;
        out->kind = K_OTHER;
    }
    if (p - start > MAX_NUMBER_CHARS)
        return NULL;
    out->integer = negative ? -n : n;
    return p;
}

static const unsigned char *read_literal(const unsigned char *p, const unsigned char *end, const char *word)
{
    size_t len = strlen(word);
    if ((size_t)(end - p) < len || memcmp(p, word, len) != 0)
        return NULL;
    return p + len;
}

static const unsigned char *read_value(const unsigned char *p, const unsigned char *end, value_t *out)
{
    switch (*p) {
    case '"':
        out->kind = K_STRING;
        return read_string(p, end, &out->text);
    case 't':
        out->kind = K_OTHER;
        return read_literal(p, end, "true");
    case 'f':
        out->kind = K_OTHER;
        return read_literal(p, end, "false");
    case 'n':
        out->kind = K_OTHER;
        return read_literal(p, end, "null");
    default:
        return (*p == '-' || is_digit(*p)) ? read_number(p, end, out) : NULL;
    }
}

static int field_of(span_t key)
{
    for (int f = 0; f < N_FIELDS; f++)
        if (key.len == FIELD_NAME_LENGTHS[f] && memcmp(key.at, FIELD_NAMES[f], key.len) == 0)
            return f;
    return -1;
}

/* Read the members of the object; 0 when it is not plain (see the top of this file). */
static int read_object(const unsigned char *p, const unsigned char *end, value_t fields[N_FIELDS], int *seen)
{
    span_t others[MAX_MEMBERS];
    int n_others = 0;
    *seen = 0;
    p = skip_space(p, end);
    if (p >= end || *p != '{')
        return 0;
    p = skip_space(p + 1, end);
    for (;;) {
        span_t key;
        value_t value;
        if (p >= end || *p != '"' || (p = read_string(p, end, &key)) == NULL)
            return 0;
        p = skip_space(p, end);
        if (p >= end || *p != ':')
            return 0;
        p = skip_space(p + 1, end);
        if (p >= end || (p = read_value(p, end, &value)) == NULL)
            return 0;
        int f = field_of(key);
        if (f >= 0) {
            if (*seen & (1 << f))
                return 0;
            *seen |= 1 << f;
            fields[f] = value;
        } else {
            for (int i = 0; i < n_others; i++)
                if (others[i].len == key.len && memcmp(others[i].at, key.at, key.len) == 0)
                    return 0;
            if (n_others == MAX_MEMBERS)
                return 0;
            others[n_others++] = key;
        }
        p = skip_space(p, end);
        if (p < end && *p == ',') {
            p = skip_space(p + 1, end);
            continue;
        }
        if (p < end && *p == '}')
            return skip_space(p + 1, end) == end;
        return 0;
    }
}

/* ---- the contract's rules, for the values that keep them all ---- */

static int valid_id(const value_t *v)
{
    if (v->kind != K_STRING || v->text.len < 1 || v->text.len > MAX_ID_CHARS)
        return 0;
    for (Py_ssize_t i = 0; i < v->text.len; i++) {
        unsigned char c = v->text.at[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static inline int two_digits(const unsigned char *s) { return (s[0] - '0') * 10 + (s[1] - '0'); }

/* Epoch milliseconds of a YYYY-MM-DDTHH:MM:SS.mmmZ time that is a real instant, as
 * parse_rfc3339_ms reads it (T or t, Z or z; no year 0, no leap second). */
static int read_event_time(const value_t *v, int64_t *epoch_ms)
{
    static const int DIGITS[] = {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22};
    static const int MONTH_DAYS[] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const unsigned char *s = v->text.at;
    if (v->kind != K_STRING || v->text.len != TIME_WIDTH)
        return 0;
    for (size_t i = 0; i < sizeof DIGITS / sizeof DIGITS[0]; i++)
        if (!is_digit(s[DIGITS[i]]))
            return 0;
    if (s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':' ||
        s[19] != '.' || (s[23] != 'Z' && s[23] != 'z'))
        return 0;
    int64_t year = two_digits(s) * 100 + two_digits(s + 2);
    int month = two_digits(s + 5), day = two_digits(s + 8);
    int hour = two_digits(s + 11), minute = two_digits(s + 14), second = two_digits(s + 17);
    int millis = (s[20] - '0') * 100 + two_digits(s + 21);
    if (year < 1 || month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59)
        return 0;
    int leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    if (day < 1 || day > MONTH_DAYS[month] + (leap && month == 2))
        return 0;
    /* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
    int64_t y = year - (month <= 2);
    int64_t era = y / 400;                      /* y >= 0 here, so / is floor division */
    int64_t year_of_era = y - era * 400;
    int64_t day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    int64_t days = era * 146097 + year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year - 719468;
    *epoch_ms = ((days * 86400 + hour * 3600 + minute * 60 + second) * 1000) + millis;
    return 1;
}

static int read_event(const unsigned char *p, Py_ssize_t len, event_t *event)
{
    value_t fields[N_FIELDS];
    int seen;
    if (!read_object(p, p + len, fields, &seen) || (seen & REQUIRED) != REQUIRED)
        return 0;
    for (int f = F_EVENT_ID; f <= F_VIEWER_ID; f++) {
        if (!valid_id(&fields[f]))
            return 0;
        event->id[f] = fields[f].text;
    }
    if (!read_event_time(&fields[F_EVENT_TIME], &event->event_time_ms))
        return 0;
    const value_t *watch = &fields[F_WATCH_MS];
    if (watch->kind != K_INTEGER || watch->integer < 0 || watch->integer > MAX_WATCH_MS)
        return 0;
    event->watch_ms = watch->integer;
    if ((seen & (1 << F_SCHEMA_VERSION)) &&
        (fields[F_SCHEMA_VERSION].kind != K_INTEGER || fields[F_SCHEMA_VERSION].integer != SCHEMA_VERSION))
        return 0;
    return 1;
}

/* event_fingerprint's text: the fields joined by U+001F, the numbers in decimal. */
static void fingerprint_of(const event_t *event, unsigned char out[FINGERPRINT_BYTES])
{
    unsigned char text[4 * (MAX_ID_CHARS + 1) + 2 * 24];
    size_t at = 0;
    for (int f = 0; f < 4; f++) {
        memcpy(text + at, event->id[f].at, event->id[f].len);
        at += event->id[f].len;
        text[at++] = 0x1f;
    }
    at += (size_t)snprintf((char *)text + at, sizeof text - at, "%lld\x1f%lld", (long long)event->event_time_ms,
                           (long long)event->watch_ms);
    blake2b_8(text, at, out);
}

/* ---- the module ---- */

enum column { C_ROWS, C_EVENT_ID, C_VIDEO_ID, C_CREATOR_ID, C_VIEWER_ID, C_EVENT_TIME_MS, C_WATCH_MS, C_FINGERPRINT,
              C_DOUBTFUL, N_COLUMNS };

static int append(PyObject *list, PyObject *item)     /* takes the new reference */
{
    if (item == NULL)
        return -1;
    int failed = PyList_Append(list, item);
    Py_DECREF(item);
    return failed;
}

static int append_event(PyObject **columns, Py_ssize_t row, const event_t *event)
{
    unsigned char fingerprint[FINGERPRINT_BYTES];
    fingerprint_of(event, fingerprint);
    if (append(columns[C_ROWS], PyLong_FromSsize_t(row)))
        return -1;
    for (int f = 0; f < 4; f++)
        if (append(columns[C_EVENT_ID + f],
                   PyUnicode_FromKindAndData(PyUnicode_1BYTE_KIND, event->id[f].at, event->id[f].len)))
            return -1;
    if (append(columns[C_EVENT_TIME_MS], PyLong_FromLongLong(event->event_time_ms)) ||
        append(columns[C_WATCH_MS], PyLong_FromLongLong(event->watch_ms)) ||
        append(columns[C_FINGERPRINT], PyBytes_FromStringAndSize((const char *)fingerprint, FINGERPRINT_BYTES)))
        return -1;
    return 0;
}

PyDoc_STRVAR(scan_doc,
"scan(values, max_value_bytes) -> (rows, event_id, video_id, creator_id, viewer_id, event_time_ms,\n"
"                                   watch_ms, fingerprint, doubtful)\n\n"
"The values this scanner proves valid, as columns in input order (rows: their indices), and the\n"
"indices of every other value, for parse_event to answer.");

static PyObject *scan(PyObject *module, PyObject *args)
{
    PyObject *values, *sequence, *columns[N_COLUMNS] = {NULL}, *result = NULL;
    Py_ssize_t max_value_bytes;
    if (!PyArg_ParseTuple(args, "On:scan", &values, &max_value_bytes))
        return NULL;
    if ((sequence = PySequence_Fast(values, "scan() takes a sequence of values")) == NULL)
        return NULL;
    for (int c = 0; c < N_COLUMNS; c++)
        if ((columns[c] = PyList_New(0)) == NULL)
            goto done;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(sequence);
    PyObject **items = PySequence_Fast_ITEMS(sequence);
    for (Py_ssize_t i = 0; i < n; i++) {
        event_t event;
        PyObject *value = items[i];
        if (PyBytes_CheckExact(value) && PyBytes_GET_SIZE(value) <= max_value_bytes &&
            read_event((const unsigned char *)PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value), &event)) {
            if (append_event(columns, i, &event))
                goto done;
        } else if (append(columns[C_DOUBTFUL], PyLong_FromSsize_t(i))) {
            goto done;
        }
    }
    if ((result = PyTuple_New(N_COLUMNS)) == NULL)
        goto done;
    for (int c = 0; c < N_COLUMNS; c++) {
        PyTuple_SET_ITEM(result, c, columns[c]);
        columns[c] = NULL;
    }
done:
    for (int c = 0; c < N_COLUMNS; c++)
        Py_XDECREF(columns[c]);
    Py_DECREF(sequence);
    return result;
}

PyDoc_STRVAR(fingerprint_doc, "fingerprint(data) -> bytes\n\nBLAKE2b of data, 8 bytes, unkeyed (as hashlib.blake2b(data, digest_size=8)).");

static PyObject *fingerprint(PyObject *module, PyObject *arg)
{
    Py_buffer data;
    unsigned char out[FINGERPRINT_BYTES];
    if (PyObject_GetBuffer(arg, &data, PyBUF_SIMPLE) < 0)
        return NULL;
    blake2b_8(data.buf, (size_t)data.len, out);
    PyBuffer_Release(&data);
    return PyBytes_FromStringAndSize((const char *)out, FINGERPRINT_BYTES);
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS, scan_doc},
    {"fingerprint", fingerprint, METH_O, fingerprint_doc},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "viewcount._eventscan",
                                    "The fast path of viewcount.eventbatch.decode_events, in C.", -1, methods};

PyMODINIT_FUNC PyInit__eventscan(void) { return PyModule_Create(&module); }
