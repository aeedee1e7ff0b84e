/* cuts.c — see cuts.h. Tables transcribed from spec local-learning.md §1.1 and §2.1. */
#include "methods/cuts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct CutTable {
    const char *arch, *convention;
    int k;
    const char *cuts;
} CutTable;

static const CutTable tables[] = {
    {"resnet32", "infopro", 2, "2.1"},
    {"resnet32", "infopro", 4, "1.2,2.1,3.0"},
    {"resnet32", "infopro", 8, "1.0,1.2,1.4,2.1,2.3,3.0,3.2"},
    {"resnet32", "infopro", 16, "0.0,1.0,1.1,1.2,1.3,1.4,2.0,2.1,2.2,2.3,2.4,3.0,3.1,3.2,3.3"},
    {"resnet110", "infopro", 2, "2.8"},
    {"resnet110", "infopro", 4, "1.11,2.7,3.3"},
    {"resnet110", "infopro", 8, "1.4,1.11,2.0,2.7,2.14,3.3,3.10"},
    {"resnet110", "infopro", 16, "1.1,1.4,1.7,1.10,1.13,1.16,2.1,2.4,2.7,2.11,2.15,3.1,3.5,3.9,3.13"},
    {"resnet110", "infopro", 55, "*stem+blocks"}, /* AugLocal: stem alone, then one module per block */
    /* HPFF/MAN: K = 2, 4, 8 as InfoPro; K=16 of R-32 is 15 segments (stem merged), R-110 K=55 is 54 */
    {"resnet32", "hpff", 2, "2.1"},
    {"resnet32", "hpff", 4, "1.2,2.1,3.0"},
    {"resnet32", "hpff", 8, "1.0,1.2,1.4,2.1,2.3,3.0,3.2"},
    {"resnet32", "hpff", 16, "*blocks"},
    {"resnet110", "hpff", 32,
     "1.1,1.2,1.4,1.5,1.7,1.9,1.11,1.13,1.14,1.16,1.17,2.1,2.2,2.4,2.5,2.7,2.9,2.11,2.13,2.14,2.16,2.17,3.1,3.3,"
     "3.4,3.6,3.7,3.9,3.11,3.13,3.15"},
    {"resnet110", "hpff", 55, "*blocks"},
};

static int unit_index(const Model *m, const char *name) {
    for (int u = 0; u < m->n_units; u++)
        if (!strcmp(m->units[u].name, name)) return u;
    return -1;
}

/* Parses "a,b,c" into unit indices after which modules end. */
static Status parse_list(const Model *m, const char *cuts, int *last_unit, int *n, int max_blocks, ErrorMsg *err) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", cuts);
    *n = 0;
    int prev = -1;
    for (char *tok = strtok(buf, ", "); tok; tok = strtok(NULL, ", ")) {
        int u = unit_index(m, tok);
        if (u < 0)
            return status_fail(err, LOCUS_ERR_ARG,
                               "--cuts: %s has no unit '%s'\nhint: units are 0.0 (the stem) and stage.index, "
                               "e.g. 1.0 .. 3.%d",
                               m->arch, tok, (m->n_units - 2) / 3 - 1);
        if (u == m->n_units - 1 || u == m->n_units - 2)
            return status_fail(err, LOCUS_ERR_ARG,
                               "--cuts: a cut after %s would leave the classifier head alone\nhint: the last "
                               "module must hold at least one block",
                               tok);
        if (u <= prev)
            return status_fail(err, LOCUS_ERR_ARG, "--cuts: '%s' is not after the previous cut\nhint: list cuts "
                               "in network order, each once", tok);
        if (*n + 2 > max_blocks) return status_fail(err, LOCUS_ERR_ARG, "--cuts: more than %d modules", max_blocks);
        last_unit[(*n)++] = u;
        prev = u;
    }
    last_unit[(*n)++] = m->n_units - 1;
    return LOCUS_OK;
}

Status cuts_resolve(const Model *m, const char *cuts, int k, const char *convention, int *last_unit, int *n_blocks,
                    int max_blocks, ErrorMsg *err) {
    if (k > 0 && cuts && cuts[0])
        return status_fail(err, LOCUS_ERR_ARG, "both --k and --cuts are given\nhint: use one of them");
    if (k <= 0) return parse_list(m, cuts ? cuts : "", last_unit, n_blocks, max_blocks, err);
    int backbone = m->n_units - 1; /* stem + blocks; the head joins the last module */
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        const CutTable *t = &tables[i];
        if (strcmp(t->arch, m->arch) || strcmp(t->convention, convention) || t->k != k) continue;
        if (t->cuts[0] != '*') return parse_list(m, t->cuts, last_unit, n_blocks, max_blocks, err);
        /* "*stem+blocks": stem alone then every block; "*blocks": stem merged, then every block */
        int n = 0;
        for (int u = !strcmp(t->cuts, "*blocks") ? 1 : 0; u < backbone - 1; u++) last_unit[n++] = u;
        last_unit[n++] = m->n_units - 1;
        *n_blocks = n;
        return LOCUS_OK;
    }
    if (k > backbone - 1)
        return status_fail(err, LOCUS_ERR_ARG, "--k %d: %s has only %d units to split (stem and blocks)\nhint: "
                           "use --k %d or less", k, m->arch, backbone, backbone - 1);
    if (k > max_blocks) return status_fail(err, LOCUS_ERR_ARG, "--k %d: at most %d modules", k, max_blocks);
    /* balanced: module j holds units [round(j*U/k), round((j+1)*U/k)), the last also the head; the last
     * module always keeps at least one backbone unit, so no cut falls right before the head */
    for (int j = 0; j < k; j++) last_unit[j] = (int)(((long)(j + 1) * backbone + k / 2) / k) - 1;
    last_unit[k - 1] = m->n_units - 1;
    *n_blocks = k;
    return LOCUS_OK;
}

const char *cuts_convention(const char *cfg_value, const char *method_default) {
    return strcmp(cfg_value, "auto") ? cfg_value : method_default;
}
