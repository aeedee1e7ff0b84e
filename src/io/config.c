/* config.c — the table-driven configuration system (see config.h for the syntax and storage rules).
 *
 * One path for every value: text -> set_value() -> parse, range/choice check, store. JSON numbers are
 * turned into text first (integers exactly, doubles with 17 significant digits, which round-trips), so
 * files, --set and --key accept and reject exactly the same things. Tables are validated (CHECK) on
 * every public call: a malformed table is a programming error, not a user error. */
#include "locus/config.h"

#include <cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "locus/fileutil.h"

/* ---------------------------------------------------------------- table and field access */

static void table_check(const CfgKey *keys) {
    CHECK(keys, "config table is NULL");
    for (int i = 0; keys[i].key; i++) {
        const CfgKey *k = &keys[i];
        switch (k->type) {
        case CFG_INT: CHECK(k->size == 8 || k->size == 4, "config key '%s': CFG_INT needs int64_t or int32_t", k->key); break;
        case CFG_FLOAT: CHECK(k->size == 8 || k->size == 4, "config key '%s': CFG_FLOAT needs double or float", k->key); break;
        case CFG_BOOL: CHECK(k->size == 4 || k->size == 1, "config key '%s': CFG_BOOL needs int or bool", k->key); break;
        case CFG_STRING: CHECK(k->size >= 1, "config key '%s': CFG_STRING needs a char buffer", k->key); break;
        default: CHECK(0, "config key '%s': unknown type %d", k->key, (int)k->type);
        }
        CHECK(!k->choices || k->type == CFG_STRING || k->type == CFG_INT,
              "config key '%s': choices apply to STRING and INT keys only", k->key);
        CHECK(strcmp(k->key, "config") && strcmp(k->key, "set") && strcmp(k->key, "help"),
              "config key '%s' is reserved for an option of its own", k->key);
        for (int j = 0; j < i; j++) CHECK(strcmp(keys[j].key, k->key), "config key '%s' appears twice", k->key);
    }
}

static int64_t get_int(const void *cfg, const CfgKey *k) {
    const char *p = (const char *)cfg + k->offset;
    if (k->size == 8) { int64_t v; memcpy(&v, p, 8); return v; }
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}
static double get_float(const void *cfg, const CfgKey *k) {
    const char *p = (const char *)cfg + k->offset;
    if (k->size == 8) { double v; memcpy(&v, p, 8); return v; }
    float v;
    memcpy(&v, p, 4);
    return v;
}
static int get_bool(const void *cfg, const CfgKey *k) {
    const char *p = (const char *)cfg + k->offset;
    if (k->size == 1) return *p != 0;
    int v;
    memcpy(&v, p, sizeof v);
    return v != 0;
}
static const char *get_string(const void *cfg, const CfgKey *k) { return (const char *)cfg + k->offset; }

const CfgKey *config_find(const CfgKey *keys, const char *key) {
    for (int i = 0; keys[i].key; i++)
        if (!strcmp(keys[i].key, key)) return &keys[i];
    return NULL;
}

/* ---------------------------------------------------------------- text helpers */

/* Fewest significant digits that read back as exactly v (as a double, or as a float when is_float). */
static const char *fmt_shortest(double v, int is_float, char *buf, size_t n) {
    if (v == floor(v) && fabs(v) < 1e15) { /* 10000, not 1e+04 */
        snprintf(buf, n, "%.0f", v);
        return buf;
    }
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, n, "%.*g", p, v);
        if (is_float ? strtof(buf, NULL) == (float)v : strtod(buf, NULL) == v) break;
    }
    return buf;
}

static int edit_distance(const char *a, const char *b) {
    int la = (int)strnlen(a, 128), lb = (int)strnlen(b, 128);
    int row[129];
    for (int j = 0; j <= lb; j++) row[j] = j;
    for (int i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = i;
        for (int j = 1; j <= lb; j++) {
            int up = row[j];
            int best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* Is the closest candidate near enough to be worth suggesting? */
static int close_enough(const char *typed, int dist) { return dist <= 2 || dist <= (int)strlen(typed) / 3; }

static const char *closest_key(const CfgKey *keys, const char *name) {
    const char *best = NULL;
    int bd = 1 << 30;
    for (int i = 0; keys[i].key; i++) {
        int d = edit_distance(name, keys[i].key);
        if (d < bd) { bd = d; best = keys[i].key; }
    }
    return best && close_enough(name, bd) ? best : NULL;
}

/* The alternative of "a|b|c" closest to v, copied into buf, or NULL. */
static const char *closest_choice(const char *choices, const char *v, char *buf, size_t n) {
    int bd = 1 << 30;
    const char *best = NULL;
    size_t blen = 0;
    for (const char *p = choices; *p;) {
        size_t len = strcspn(p, "|");
        char c[128];
        snprintf(c, sizeof c, "%.*s", (int)len, p);
        int d = edit_distance(v, c);
        if (d < bd) { bd = d; best = p; blen = len; }
        p += len;
        if (*p) p++;
    }
    if (!best || !close_enough(v, bd)) return NULL;
    snprintf(buf, n, "%.*s", (int)blen, best);
    return buf;
}

static int choice_has_string(const char *choices, const char *v) {
    size_t vl = strlen(v);
    for (const char *p = choices;;) {
        size_t len = strcspn(p, "|");
        if (len == vl && !strncmp(p, v, len)) return 1;
        p += len;
        if (!*p) return 0;
        p++;
    }
}
static int choice_has_int(const char *choices, int64_t v) {
    for (const char *p = choices;;) {
        char *end;
        long long c = strtoll(p, &end, 10);
        if (end != p && (*end == '|' || !*end) && c == v) return 1;
        p += strcspn(p, "|");
        if (!*p) return 0;
        p++;
    }
}

/* Binary size suffix at s (K/M/G/T, optional "iB"): its shift, and *rest after it; 0 when none. */
static int size_suffix(const char *s, const char **rest) {
    int shift = 0;
    switch (*s) {
    case 'k': case 'K': shift = 10; break;
    case 'm': case 'M': shift = 20; break;
    case 'g': case 'G': shift = 30; break;
    case 't': case 'T': shift = 40; break;
    default: *rest = s; return 0;
    }
    s++;
    if (s[0] == 'i' && s[1] == 'B') s += 2;
    *rest = s;
    return shift;
}

/* NULL and *out on success, else why it is not an integer. */
static const char *parse_int(const char *s, int64_t *out) {
    if (!*s) return "it is empty";
    if (isspace((unsigned char)*s)) return "it starts with a space";
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end == '.' || *end == 'e' || *end == 'E') { /* 1e5, 3.0, 1.5G */
        double d = strtod(s, &end);
        if (end == s) return "it is not a number";
        const char *rest;
        int shift = size_suffix(end, &rest);
        if (*rest) return "it has trailing characters";
        if (!isfinite(d)) return "it is not a finite number";
        d = ldexp(d, shift);
        if (d != floor(d)) return "it is not a whole number";
        if (fabs(d) >= 9.2e18) return "it is too large";
        *out = (int64_t)d;
        return NULL;
    }
    if (errno == ERANGE) return "it is too large";
    const char *rest;
    int shift = size_suffix(end, &rest);
    if (*rest) return "it has trailing characters";
    if (shift) {
        long long lim = INT64_MAX >> shift;
        if (v > lim || v < -lim) return "it is too large";
        v *= (1LL << shift);
    }
    *out = v;
    return NULL;
}

static const char *parse_float(const char *s, double *out) {
    if (!*s) return "it is empty";
    if (isspace((unsigned char)*s)) return "it starts with a space";
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (end == s) return "it is not a number";
    if (*end) return "it has trailing characters";
    if (isnan(d)) return "NaN is not allowed";
    if (!isfinite(d)) return "it is not a finite number";
    *out = d;
    return NULL;
}

static const char *parse_bool(const char *s, int *out) {
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (!strcasecmp(s, yes[i])) { *out = 1; return NULL; }
        if (!strcasecmp(s, no[i])) { *out = 0; return NULL; }
    }
    return "use true/false, yes/no, on/off or 1/0";
}

/* "[0, 10]", ">= 1", "<= 5", or "" when there is no range. */
static const char *fmt_range(const CfgKey *k, char *buf, size_t n) {
    buf[0] = 0;
    if (!(k->min < k->max) || (k->type != CFG_INT && k->type != CFG_FLOAT)) return buf;
    char a[40], b[40];
    fmt_shortest(k->min, 0, a, sizeof a);
    fmt_shortest(k->max, 0, b, sizeof b);
    if (isinf(k->min) && isinf(k->max)) buf[0] = 0;
    else if (isinf(k->max)) snprintf(buf, n, ">= %s", a);
    else if (isinf(k->min)) snprintf(buf, n, "<= %s", b);
    else snprintf(buf, n, "in [%s, %s]", a, b);
    return buf;
}

/* "lr takes a number in [0, 10]" and the like, for hints. */
static const char *describe(const CfgKey *k, char *buf, size_t n) {
    char r[100];
    fmt_range(k, r, sizeof r);
    switch (k->type) {
    case CFG_INT:
        if (k->choices) snprintf(buf, n, "%s takes one of %s", k->key, k->choices);
        else snprintf(buf, n, "%s takes an integer%s%s (suffixes K/M/G/T allowed)", k->key, *r ? " " : "", r);
        break;
    case CFG_FLOAT: snprintf(buf, n, "%s takes a number%s%s", k->key, *r ? " " : "", r); break;
    case CFG_BOOL: snprintf(buf, n, "%s takes true or false", k->key); break;
    case CFG_STRING:
        if (k->choices) snprintf(buf, n, "%s takes one of %s", k->key, k->choices);
        else snprintf(buf, n, "%s takes a string of at most %zu bytes", k->key, k->size - 1);
        break;
    }
    return buf;
}

static int out_of_range(const CfgKey *k, double v) { return k->min < k->max && (v < k->min || v > k->max); }

/* ---------------------------------------------------------------- setting values */

/* Parses text for key k, checks it, stores it. The message names the value, not the source; callers
 * prepend where it came from. */
static Status set_value(void *cfg, const CfgKey *k, const char *v, ErrorMsg *err) {
    char *p = (char *)cfg + k->offset, d[256], r[100], sug[128];
    const char *why;
    switch (k->type) {
    case CFG_INT: {
        int64_t x = 0;
        if ((why = parse_int(v, &x)))
            return status_fail(err, LOCUS_ERR_ARG, "'%s' is not an integer: %s\nhint: %s", v, why, describe(k, d, sizeof d));
        if (out_of_range(k, (double)x) || (k->size == 4 && (x < INT32_MIN || x > INT32_MAX)))
            return status_fail(err, LOCUS_ERR_ARG, "%lld is out of range\nhint: %s%s", (long long)x,
                               describe(k, d, sizeof d), k->size == 4 && !*fmt_range(k, r, sizeof r) ? " (32-bit)" : "");
        if (k->choices && !choice_has_int(k->choices, x))
            return status_fail(err, LOCUS_ERR_ARG, "%lld is not one of %s\nhint: %s", (long long)x, k->choices,
                               describe(k, d, sizeof d));
        if (k->size == 8) memcpy(p, &x, 8);
        else { int32_t y = (int32_t)x; memcpy(p, &y, 4); }
        return LOCUS_OK;
    }
    case CFG_FLOAT: {
        double x = 0;
        if ((why = parse_float(v, &x)))
            return status_fail(err, LOCUS_ERR_ARG, "'%s' is not a number: %s\nhint: %s", v, why, describe(k, d, sizeof d));
        if (out_of_range(k, x) || (k->size == 4 && fabs(x) > FLT_MAX))
            return status_fail(err, LOCUS_ERR_ARG, "%s is out of range\nhint: %s", v, describe(k, d, sizeof d));
        if (k->size == 8) memcpy(p, &x, 8);
        else { float y = (float)x; memcpy(p, &y, 4); }
        return LOCUS_OK;
    }
    case CFG_BOOL: {
        int b = 0;
        if ((why = parse_bool(v, &b)))
            return status_fail(err, LOCUS_ERR_ARG, "'%s' is not a boolean\nhint: %s", v, why);
        if (k->size == 1) *p = (char)b;
        else memcpy(p, &b, sizeof b);
        return LOCUS_OK;
    }
    case CFG_STRING: {
        size_t len = strlen(v);
        if (len >= k->size)
            return status_fail(err, LOCUS_ERR_ARG, "'%.60s%s' is too long (%zu bytes)\nhint: %s", v,
                               len > 60 ? "..." : "", len, describe(k, d, sizeof d));
        if (k->choices && !choice_has_string(k->choices, v)) {
            if (closest_choice(k->choices, v, sug, sizeof sug))
                return status_fail(err, LOCUS_ERR_ARG, "'%s' is not one of %s\nhint: did you mean '%s'?", v, k->choices,
                                   sug);
            return status_fail(err, LOCUS_ERR_ARG, "'%s' is not one of %s\nhint: %s", v, k->choices,
                               describe(k, d, sizeof d));
        }
        memcpy(p, v, len + 1);
        return LOCUS_OK;
    }
    }
    CHECK(0, "unreachable");
    return LOCUS_ERR_INTERNAL;
}

static Status unknown_key_error(const CfgKey *keys, const char *key, ErrorMsg *err) {
    const char *near = closest_key(keys, key);
    if (near) return status_fail(err, LOCUS_ERR_ARG, "unknown key '%s'\nhint: did you mean '%s'?", key, near);
    return status_fail(err, LOCUS_ERR_ARG, "unknown key '%s'\nhint: run with --help to list the keys", key);
}

Status config_set(void *cfg, const CfgKey *keys, const char *key, const char *value, ErrorMsg *err) {
    table_check(keys);
    const CfgKey *k = config_find(keys, key);
    if (!k) return unknown_key_error(keys, key, err);
    Status s = set_value(cfg, k, value, err);
    if (s) status_wrap(err, s, "key '%s': ", key);
    return s;
}

Status config_validate(const void *cfg, const CfgKey *keys, ErrorMsg *err) {
    table_check(keys);
    char d[256];
    for (int i = 0; keys[i].key; i++) {
        const CfgKey *k = &keys[i];
        int bad = 0;
        if (k->type == CFG_INT) {
            int64_t x = get_int(cfg, k);
            bad = out_of_range(k, (double)x) || (k->choices && !choice_has_int(k->choices, x));
        } else if (k->type == CFG_FLOAT) {
            double x = get_float(cfg, k);
            bad = !isfinite(x) || out_of_range(k, x);
        } else if (k->type == CFG_STRING) {
            const char *s = get_string(cfg, k);
            bad = !memchr(s, 0, k->size) || (k->choices && !choice_has_string(k->choices, s));
        }
        if (bad) {
            char v[128];
            return status_fail(err, LOCUS_ERR_ARG, "key '%s' holds %s, which is not allowed\nhint: %s", k->key,
                               k->type == CFG_STRING && !memchr(get_string(cfg, k), 0, k->size)
                                   ? "an unterminated string"
                                   : config_format_value(cfg, k, v, sizeof v),
                               describe(k, d, sizeof d));
        }
    }
    return LOCUS_OK;
}

const char *config_format_value(const void *cfg, const CfgKey *k, char *buf, size_t bufsize) {
    switch (k->type) {
    case CFG_INT: snprintf(buf, bufsize, "%lld", (long long)get_int(cfg, k)); break;
    case CFG_FLOAT: fmt_shortest(get_float(cfg, k), k->size == 4, buf, bufsize); break;
    case CFG_BOOL: snprintf(buf, bufsize, "%s", get_bool(cfg, k) ? "true" : "false"); break;
    case CFG_STRING: snprintf(buf, bufsize, "%.*s", (int)strnlen(get_string(cfg, k), k->size), get_string(cfg, k)); break;
    }
    return buf;
}

/* ---------------------------------------------------------------- JSON */

static const char *json_type_name(const cJSON *j) {
    if (cJSON_IsNumber(j)) return "a number";
    if (cJSON_IsString(j)) return "a string";
    if (cJSON_IsBool(j)) return "a boolean";
    if (cJSON_IsNull(j)) return "null";
    if (cJSON_IsArray(j)) return "an array";
    if (cJSON_IsObject(j)) return "an object";
    return "something else";
}

/* Applies one JSON value to key k; messages are prefixed by the caller. */
static Status json_apply(void *cfg, const CfgKey *k, const cJSON *j, ErrorMsg *err) {
    char text[64];
    const char *want = NULL;
    switch (k->type) {
    case CFG_INT:
        if (cJSON_IsString(j)) return set_value(cfg, k, j->valuestring, err);
        if (!cJSON_IsNumber(j)) { want = "an integer"; break; }
        if (j->valuedouble != floor(j->valuedouble))
            return status_fail(err, LOCUS_ERR_ARG, "%s is not an integer\nhint: write a whole number",
                               fmt_shortest(j->valuedouble, 0, text, sizeof text));
        if (fabs(j->valuedouble) > 9007199254740992.0)
            return status_fail(err, LOCUS_ERR_ARG, "integer too large for a JSON number\n"
                               "hint: write integers beyond 2^53 as strings, e.g. \"%.0f\"", j->valuedouble);
        snprintf(text, sizeof text, "%.0f", j->valuedouble);
        return set_value(cfg, k, text, err);
    case CFG_FLOAT:
        if (cJSON_IsString(j)) return set_value(cfg, k, j->valuestring, err);
        if (!cJSON_IsNumber(j)) { want = "a number"; break; }
        snprintf(text, sizeof text, "%.17g", j->valuedouble);
        return set_value(cfg, k, text, err);
    case CFG_STRING:
        if (!cJSON_IsString(j)) { want = "a string"; break; }
        return set_value(cfg, k, j->valuestring, err);
    case CFG_BOOL:
        if (!cJSON_IsBool(j)) { want = "true or false"; break; }
        return set_value(cfg, k, cJSON_IsTrue(j) ? "true" : "false", err);
    }
    return status_fail(err, LOCUS_ERR_ARG, "expected %s, got %s\nhint: %s", want, json_type_name(j),
                       cJSON_IsNull(j) ? "remove the key to keep the default" : "fix the value's type");
}

Status config_load_json(void *cfg, const CfgKey *keys, const char *path, ErrorMsg *err) {
    table_check(keys);
    size_t n;
    char *text = file_read_all(path, &n, err);
    if (!text) return status_wrap(err, LOCUS_ERR_IO, "cannot load config: ");
    Status s = LOCUS_OK;
    cJSON *root = NULL;
    if (strlen(text) != n) {
        s = status_fail(err, LOCUS_ERR_ARG, "%s: contains a NUL byte; not a JSON text file\nhint: check the path", path);
        goto done;
    }
    const char *end = NULL;
    root = cJSON_ParseWithOpts(text, &end, 1);
    if (!root) {
        size_t at = end && end >= text && end <= text + n ? (size_t)(end - text) : 0;
        int line = 1, col = 1;
        for (size_t i = 0; i < at; i++) {
            if (text[i] == '\n') { line++; col = 1; }
            else col++;
        }
        char near[24];
        size_t m = 0;
        for (size_t i = at; i < n && m < 20 && text[i] != '\n'; i++) near[m++] = text[i];
        near[m] = 0;
        s = status_fail(err, LOCUS_ERR_ARG, "%s:%d:%d: invalid JSON%s%s%s\n"
                        "hint: look for a missing or trailing comma, an unquoted string or an unclosed brace",
                        path, line, col, m ? " near '" : (at >= n ? " (unexpected end of file)" : ""), near,
                        m ? "'" : "");
        goto done;
    }
    if (!cJSON_IsObject(root)) {
        s = status_fail(err, LOCUS_ERR_ARG, "%s: a config file must be one JSON object, got %s\n"
                        "hint: write {\"key\": value, ...}", path, json_type_name(root));
        goto done;
    }
    for (const cJSON *c = root->child; c; c = c->next) {
        for (const cJSON *p = root->child; p != c; p = p->next)
            if (!strcmp(p->string, c->string)) {
                s = status_fail(err, LOCUS_ERR_ARG, "%s: key '%s' appears twice\nhint: keep one of them", path, c->string);
                goto done;
            }
        const CfgKey *k = config_find(keys, c->string);
        if (!k) {
            const char *near = closest_key(keys, c->string);
            if (near)
                s = status_fail(err, LOCUS_ERR_ARG, "%s: unknown key '%s' (a config key nobody reads)\n"
                                "hint: did you mean '%s'?", path, c->string, near);
            else
                s = status_fail(err, LOCUS_ERR_ARG, "%s: unknown key '%s' (a config key nobody reads)\n"
                                "hint: run with --help to list the keys", path, c->string);
            goto done;
        }
        s = json_apply(cfg, k, c, err);
        if (s) {
            status_wrap(err, s, "%s: key '%s': ", path, k->key);
            goto done;
        }
    }
done:
    cJSON_Delete(root);
    free(text);
    return s;
}

char *config_to_json(const void *cfg, const CfgKey *keys) {
    table_check(keys);
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    int ok = 1;
    char buf[64];
    for (int i = 0; keys[i].key && ok; i++) {
        const CfgKey *k = &keys[i];
        cJSON *v = NULL;
        switch (k->type) {
        case CFG_INT: {
            int64_t x = get_int(cfg, k);
            if (x > 9007199254740992LL || x < -9007199254740992LL) {
                snprintf(buf, sizeof buf, "%lld", (long long)x);
                v = cJSON_CreateString(buf); /* exact, where a JSON number (double) would round */
            } else {
                v = cJSON_CreateNumber((double)x);
            }
            break;
        }
        case CFG_FLOAT:
            /* A float field goes through its shortest decimal form, so 0.1f prints as 0.1. */
            v = cJSON_CreateNumber(k->size == 4 ? strtod(fmt_shortest(get_float(cfg, k), 1, buf, sizeof buf), NULL)
                                                : get_float(cfg, k));
            break;
        case CFG_BOOL: v = cJSON_CreateBool(get_bool(cfg, k)); break;
        case CFG_STRING: {
            char *s = strndup(get_string(cfg, k), k->size);
            v = s ? cJSON_CreateString(s) : NULL;
            free(s);
            break;
        }
        }
        ok = v && cJSON_AddItemToObject(root, k->key, v);
        if (!ok) cJSON_Delete(v);
    }
    char *printed = ok ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!printed) return NULL;
    size_t n = strlen(printed);
    char *out = malloc(n + 2);
    if (out) {
        memcpy(out, printed, n);
        out[n] = '\n';
        out[n + 1] = 0;
    }
    cJSON_free(printed);
    return out;
}

/* ---------------------------------------------------------------- printing */

void config_print(FILE *f, const void *cfg, const CfgKey *keys) {
    table_check(keys);
    int w = 0;
    for (int i = 0; keys[i].key; i++)
        if ((int)strlen(keys[i].key) > w) w = (int)strlen(keys[i].key);
    char v[1024];
    for (int i = 0; keys[i].key; i++)
        fprintf(f, "%-*s = %s\n", w, keys[i].key, config_format_value(cfg, &keys[i], v, sizeof v));
}

static const char *dashed(const char *key, char *buf, size_t n) {
    snprintf(buf, n, "%s", key);
    for (char *p = buf; *p; p++)
        if (*p == '_') *p = '-';
    return buf;
}

static void help_line(FILE *f, const char *left, const char *right) {
    enum { COL = 30 };
    if ((int)strlen(left) + 2 <= COL) fprintf(f, "  %-*s %s\n", COL - 2, left, right);
    else fprintf(f, "  %s\n  %-*s %s\n", left, COL - 2, "", right);
}

void config_print_help(FILE *f, const void *defaults, const CfgKey *keys) {
    table_check(keys);
    help_line(f, "--config FILE", "load a JSON config file (options after it override it)");
    help_line(f, "--set KEY=VALUE", "set any key below, e.g. --set lr=0.1");
    for (int i = 0; keys[i].key; i++) {
        const CfgKey *k = &keys[i];
        char name[160], left[512], right[1024], extra[600], v[256], r[100];
        dashed(k->key, name, sizeof name);
        const char *meta = k->choices ? k->choices
                         : k->type == CFG_INT ? "N" : k->type == CFG_FLOAT ? "X" : "STR";
        if (k->type == CFG_BOOL) snprintf(left, sizeof left, "--%s, --no-%s", name, name);
        else snprintf(left, sizeof left, "--%s %s", name, meta);
        size_t m = 0;
        extra[0] = 0;
        if (defaults) {
            config_format_value(defaults, k, v, sizeof v);
            m += (size_t)snprintf(extra + m, sizeof extra - m, "default: %s", *v ? v : "\"\"");
        }
        if (*fmt_range(k, r, sizeof r) && m < sizeof extra)
            m += (size_t)snprintf(extra + m, sizeof extra - m, "%s%s", m ? "; " : "", r);
        if (k->type == CFG_INT && !k->choices && m < sizeof extra)
            snprintf(extra + m, sizeof extra - m, "%sK/M/G/T suffixes", m ? "; " : "");
        snprintf(right, sizeof right, "%s%s%s%s", k->help ? k->help : "", *extra ? " (" : "", extra, *extra ? ")" : "");
        help_line(f, left, right);
    }
}

/* ---------------------------------------------------------------- command line */

static void undash(const char *s, size_t len, char *buf, size_t n) {
    if (len >= n) len = n - 1;
    for (size_t i = 0; i < len; i++) buf[i] = s[i] == '-' ? '_' : s[i];
    buf[len] = 0;
}

Status config_parse_args(void *cfg, const CfgKey *keys, int argc, char **argv, int *consumed_upto, ErrorMsg *err) {
    table_check(keys);
    int i = 0;
    Status s = LOCUS_OK;
    while (i < argc && !s) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) { i++; break; }
        if (a[0] != '-' || a[1] == 0 || !strcmp(a, "-h") || !strcmp(a, "--help")) break;
        if (a[1] != '-') {
            s = status_fail(err, LOCUS_ERR_ARG, "unknown option %s\nhint: options are long (--key value); see --help", a);
            break;
        }
        const char *opt = a + 2, *eq = strchr(opt, '=');
        size_t nlen = eq ? (size_t)(eq - opt) : strlen(opt);
        char name[160], dn[160];
        undash(opt, nlen, name, sizeof name);
        const char *inline_val = eq ? eq + 1 : NULL;
        i++;

        const CfgKey *k = config_find(keys, name);
        int is_no = 0;
        if (!k && !strncmp(name, "no_", 3) && strcmp(name, "config") && strcmp(name, "set")) {
            k = config_find(keys, name + 3);
            is_no = k != NULL;
        }
        int takes_value = !strcmp(name, "config") || !strcmp(name, "set") || (k && k->type != CFG_BOOL && !is_no);
        const char *val = inline_val;
        if (takes_value && !val) {
            if (i >= argc || !strncmp(argv[i], "--", 2)) {
                s = status_fail(err, LOCUS_ERR_ARG, "option --%.*s needs a value\nhint: write --%.*s VALUE or --%.*s=VALUE",
                                (int)nlen, opt, (int)nlen, opt, (int)nlen, opt);
                break;
            }
            val = argv[i++];
        }

        if (!strcmp(name, "config")) {
            s = config_load_json(cfg, keys, val, err);
        } else if (!strcmp(name, "set")) {
            const char *e = strchr(val, '=');
            if (!e || e == val) {
                s = status_fail(err, LOCUS_ERR_ARG, "--set %s: expected KEY=VALUE\nhint: e.g. --set lr=0.1", val);
                break;
            }
            char key[160];
            undash(val, (size_t)(e - val), key, sizeof key);
            s = config_set(cfg, keys, key, e + 1, err);
            if (s) status_wrap(err, s, "--set %s: ", val);
        } else if (!k) {
            const char *near = closest_key(keys, name);
            if (near)
                s = status_fail(err, LOCUS_ERR_ARG, "unknown option --%.*s\nhint: did you mean --%s?", (int)nlen, opt,
                                dashed(near, dn, sizeof dn));
            else
                s = status_fail(err, LOCUS_ERR_ARG, "unknown option --%.*s\nhint: see --help for the options", (int)nlen, opt);
        } else if (is_no) {
            if (k->type != CFG_BOOL)
                s = status_fail(err, LOCUS_ERR_ARG, "option --%.*s: only on/off keys have a --no- form\n"
                                "hint: write --%s VALUE", (int)nlen, opt, dashed(k->key, dn, sizeof dn));
            else if (inline_val)
                s = status_fail(err, LOCUS_ERR_ARG, "option --%.*s takes no value\nhint: write --no-%s or --%s=false",
                                (int)nlen, opt, dashed(k->key, dn, sizeof dn), dn);
            else
                s = set_value(cfg, k, "false", err);
        } else {
            s = set_value(cfg, k, val ? val : "true", err);
            if (s) status_wrap(err, s, "option --%.*s: ", (int)nlen, opt);
        }
    }
    if (consumed_upto) *consumed_upto = i;
    return s;
}
