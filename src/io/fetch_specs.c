/* fetch_specs.c — where each dataset `locus data fetch` knows comes from, its official checksums and sizes,
 * and the folder layout the readers expect (spec data-formats.md §3–§5).
 *
 * Sources of the checksums (all public):
 *  - CIFAR-10 / CIFAR-100 binary versions: the MD5 sums printed on the dataset's page,
 *    https://www.cs.toronto.edu/~kriz/cifar.html ("CIFAR-10 binary version (suitable for C programs)
 *    162 MB c32a1d4ab5d03f1284b67883e8d87530"; "CIFAR-100 binary version 161 MB
 *    03b5dce01913d631647c71ecec9e9cb8"). Archive sizes 170,052,171 and 168,513,733 bytes as reported by
 *    other projects that pin the same files (torchvision itself uses the python versions of CIFAR).
 *  - SVHN: torchvision/datasets/svhn.py, SVHN.split_list (train e26dedcc434d2e4c54c9b2d4a06d8373, test
 *    eb5a983be6a315427106f1b164d9cef3); sizes from data-formats.md §4.1.
 *  - STL-10: torchvision/datasets/stl10.py, STL10.tgz_md5 = 91f7769df0f17e558f3565bffb0c7dfb; size
 *    2,640,397,119 bytes (torchvision's own download progress for that URL).
 * SVHN's extra_32x32.mat (1.3 GB, md5 a93ce644f1a588dc4d68dda5feec44a7 in the same torchvision table) is
 * not fetched: the readers use train and test only. */
#include <stddef.h>
#include <string.h>

#include "locus/fetch.h"

static const FetchSpec specs[] = {
    {.name = "cifar10",
     .base_url = "https://www.cs.toronto.edu/~kriz/",
     .folder = "cifar-10-batches-bin",
     .is_archive = 1,
     .n_files = 1,
     .files = {{"cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530", 170052171ull}},
     .contents = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
                  "data_batch_5.bin", "test_batch.bin", "batches.meta.txt", NULL}},
    {.name = "cifar100",
     .base_url = "https://www.cs.toronto.edu/~kriz/",
     .folder = "cifar-100-binary",
     .is_archive = 1,
     .n_files = 1,
     .files = {{"cifar-100-binary.tar.gz", "03b5dce01913d631647c71ecec9e9cb8", 168513733ull}},
     .contents = {"train.bin", "test.bin", "coarse_label_names.txt", "fine_label_names.txt", NULL}},
    {.name = "svhn",
     .base_url = "http://ufldl.stanford.edu/housenumbers/",
     .folder = "svhn",
     .is_archive = 0,
     .n_files = 2,
     .files = {{"train_32x32.mat", "e26dedcc434d2e4c54c9b2d4a06d8373", 182040794ull},
               {"test_32x32.mat", "eb5a983be6a315427106f1b164d9cef3", 64275384ull}},
     .contents = {"train_32x32.mat", "test_32x32.mat", NULL}},
    {.name = "stl10",
     .base_url = "http://ai.stanford.edu/~acoates/stl10/",
     .folder = "stl10_binary",
     .is_archive = 1,
     .n_files = 1,
     .files = {{"stl10_binary.tar.gz", "91f7769df0f17e558f3565bffb0c7dfb", 2640397119ull}},
     .contents = {"train_X.bin", "train_y.bin", "test_X.bin", "test_y.bin", "class_names.txt", NULL}},
};

const FetchSpec *fetch_spec_at(int i) {
    return i >= 0 && i < (int)(sizeof specs / sizeof specs[0]) ? &specs[i] : NULL;
}

const FetchSpec *fetch_spec_find(const char *name) {
    for (int i = 0; fetch_spec_at(i); i++)
        if (!strcmp(specs[i].name, name)) return &specs[i];
    return NULL;
}
