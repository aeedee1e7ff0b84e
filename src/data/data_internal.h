/* data_internal.h — what src/data's files share and nothing else sees. */
#ifndef LOCUS_DATA_INTERNAL_H
#define LOCUS_DATA_INTERNAL_H

#include "locus/data.h"

/* Scans DIR/train (train = 1) or DIR/val (else DIR/test) into ds->files (DATA): classes from DIR/train's
 * sorted subfolders, files with an image extension sorted within each class; limit > 0 keeps the first
 * limit. ds gets n, c = 3, h = w = the image size, classes. */
Status imagefolder_load(Dataset *ds, const char *dir, int train, int limit, const DataOptions *opt, MemTracker *mt,
                        ErrorMsg *err);
void imagefolder_release(Dataset *ds);
/* The output side and decoded-pixel cap options give, after defaults. */
int imagefolder_size(const DataOptions *opt);
int64_t imagefolder_max_pixels(const DataOptions *opt);

#endif
