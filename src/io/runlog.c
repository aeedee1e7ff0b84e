/* runlog.c — a run folder's metrics.jsonl + summary.json (or config.json) read back into a RunLog
 * (see runlog.h for the keys). Every malformed line is an error that names the file and line: a plot made
 * from half-parsed data would be silently wrong. */
#include "locus/runlog.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "locus/fileutil.h"

static int number(const cJSON *o, const char *key, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) return 0;
    *out = v->valuedouble;
    return 1;
}

static void copy_string(const cJSON *o, const char *key, char *out, size_t n) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsString(v) && !out[0]) snprintf(out, n, "%s", v->valuestring);
}

static Status add_epoch(RunLog *r, const RunEpoch *e, int *cap, ErrorMsg *err) {
    for (int i = 0; i < r->n_epochs; i++)
        if (r->epochs[i].epoch == e->epoch) { /* logged again after a resume: the later line wins */
            r->epochs[i] = *e;
            return LOCUS_OK;
        }
    if (r->n_epochs == *cap) {
        int nc = *cap ? 2 * *cap : 64;
        RunEpoch *p = realloc(r->epochs, (size_t)nc * sizeof *p);
        if (!p) return status_fail(err, LOCUS_ERR_OOM, "out of memory reading metrics\nhint: free some memory");
        r->epochs = p, *cap = nc;
    }
    int at = r->n_epochs++;
    while (at > 0 && r->epochs[at - 1].epoch > e->epoch) r->epochs[at] = r->epochs[at - 1], at--;
    r->epochs[at] = *e;
    return LOCUS_OK;
}

static Status read_metrics(RunLog *r, ErrorMsg *err) {
    char path[1100];
    snprintf(path, sizeof path, "%s/metrics.jsonl", r->dir);
    struct stat sb;
    if (stat(path, &sb) != 0)
        return status_fail(err, LOCUS_ERR_IO, "%s: %s\nhint: is %s a run folder of `locus train`? (it holds "
                           "metrics.jsonl after the first epoch)", path, strerror(errno), r->dir);
    char *text = file_read_all(path, NULL, err);
    if (!text) return LOCUS_ERR_IO;
    Status st = LOCUS_OK;
    int cap = 0, line_no = 0;
    for (char *line = text, *next; line && *line && !st; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        line_no++;
        if (strspn(line, " \t\r") == strlen(line)) continue;
        cJSON *o = cJSON_Parse(line);
        RunEpoch e = {0};
        double ep = 0;
        if (!cJSON_IsObject(o))
            st = status_fail(err, LOCUS_ERR_FORMAT, "%s line %d: not a JSON object: %.80s\nhint: metrics.jsonl holds "
                             "one JSON object per line, as `locus train` writes it", path, line_no, line);
        else if (!number(o, "epoch", &ep) || ep < 0 || ep > 1e7 || ep != (int)ep || !number(o, "train_loss", &e.train_loss) ||
                 !number(o, "test_acc", &e.test_acc))
            st = status_fail(err, LOCUS_ERR_FORMAT, "%s line %d: expected a whole number \"epoch\" and numbers "
                             "\"train_loss\" and \"test_acc\", found: %.120s\nhint: is this a metrics.jsonl of "
                             "`locus train`?", path, line_no, line);
        if (!st) {
            e.epoch = (int)ep;
            number(o, "train_acc", &e.train_acc);
            number(o, "img_per_s", &e.img_per_s);
            st = add_epoch(r, &e, &cap, err);
        }
        cJSON_Delete(o);
    }
    free(text);
    if (!st && r->n_epochs == 0)
        st = status_fail(err, LOCUS_ERR_FORMAT, "%s: no epoch logged\nhint: the run has not finished its first epoch",
                         path);
    return st;
}

/* Reads dir/name as a JSON object; *o = NULL (and OK) when the file does not exist. */
static Status read_optional_json(const RunLog *r, const char *name, cJSON **o, ErrorMsg *err) {
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", r->dir, name);
    *o = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0) return LOCUS_OK;
    char *text = file_read_all(path, NULL, err);
    if (!text) return LOCUS_ERR_IO;
    *o = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(*o)) {
        cJSON_Delete(*o);
        *o = NULL;
        return status_fail(err, LOCUS_ERR_FORMAT, "%s: not a JSON object\nhint: the file is damaged; `locus train` "
                           "writes it at the end of a run", path);
    }
    return LOCUS_OK;
}

static Status read_summary(RunLog *r, const cJSON *s, ErrorMsg *err) {
    r->has_summary = 1;
    copy_string(s, "model", r->model, sizeof r->model);
    copy_string(s, "method", r->method, sizeof r->method);
    copy_string(s, "dataset", r->dataset, sizeof r->dataset);
    number(s, "train_img_per_s", &r->img_per_s);
    const cJSON *blocks = cJSON_GetObjectItemCaseSensitive(s, "mem_peak_per_block");
    if (!blocks) return LOCUS_OK;
    int n = cJSON_GetArraySize(blocks);
    if (!cJSON_IsArray(blocks) || n > 100000)
        return status_fail(err, LOCUS_ERR_FORMAT, "%s/summary.json: mem_peak_per_block is not a list of blocks\n"
                           "hint: the file is damaged", r->dir);
    r->blocks = calloc(n ? (size_t)n : 1, sizeof *r->blocks);
    if (!r->blocks) return status_fail(err, LOCUS_ERR_OOM, "out of memory\nhint: free some memory");
    const cJSON *b;
    cJSON_ArrayForEach(b, blocks) {
        RunBlockMem *m = &r->blocks[r->n_blocks];
        if (!number(b, "total", &m->total_bytes) || !number(b, "act", &m->act_bytes))
            return status_fail(err, LOCUS_ERR_FORMAT, "%s/summary.json: mem_peak_per_block[%d] lacks numbers "
                               "\"total\" and \"act\"\nhint: the file is damaged", r->dir, r->n_blocks);
        copy_string(b, "units", m->units, sizeof m->units);
        r->n_blocks++;
    }
    return LOCUS_OK;
}

Status runlog_read(RunLog *r, const char *dir, ErrorMsg *err) {
    memset(r, 0, sizeof *r);
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return status_fail(err, LOCUS_ERR_IO, "%s: %s\nhint: pass run folders of `locus train` (runs/<name>)", dir,
                           stat(dir, &sb) != 0 ? strerror(errno) : "not a folder");
    if (strlen(dir) >= sizeof r->name)
        return status_fail(err, LOCUS_ERR_ARG, "%.100s...: path too long\nhint: use a shorter path", dir);
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    snprintf(r->name, sizeof r->name, "%s", dir);
    for (size_t n = strlen(r->name); n > 1 && r->name[n - 1] == '/';) r->name[--n] = 0;
    Status st = read_metrics(r, err);
    cJSON *o = NULL;
    if (!st) st = read_optional_json(r, "summary.json", &o, err);
    if (!st && o) st = read_summary(r, o, err);
    cJSON_Delete(o);
    o = NULL;
    if (!st && !r->has_summary && !(st = read_optional_json(r, "config.json", &o, err)) && o) {
        copy_string(o, "model", r->model, sizeof r->model);
        copy_string(o, "method", r->method, sizeof r->method);
        copy_string(o, "data", r->dataset, sizeof r->dataset);
    }
    cJSON_Delete(o);
    if (!st && r->img_per_s <= 0) { /* no summary yet: the mean of the logged epochs */
        double sum = 0;
        int n = 0;
        for (int i = 0; i < r->n_epochs; i++)
            if (r->epochs[i].img_per_s > 0) sum += r->epochs[i].img_per_s, n++;
        r->img_per_s = n ? sum / n : 0;
    }
    return st;
}

void runlog_free(RunLog *r) {
    free(r->epochs);
    free(r->blocks);
    r->epochs = NULL, r->blocks = NULL;
    r->n_epochs = r->n_blocks = 0;
}
