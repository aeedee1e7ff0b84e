/* detect.c — which dataset a folder holds, from the names (and for CIFAR the record sizes) of its files,
 * for `locus data info DIR` without --data. Each dataset is recognised where dataset_load looks for it:
 * DIR itself or its usual subfolder (cifar-10-batches-bin, cifar-100-binary, svhn, stl10_binary), and an
 * image folder by DIR/train holding class folders. Nothing is parsed here: the loader checks the bytes. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "locus/data.h"

static int exists_in(const char *dir, const char *sub, const char *file) {
    char p[4200];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s%s%s", dir, sub, *sub ? "/" : "", file);
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int has_class_folders(const char *dir) {
    char p[4200];
    snprintf(p, sizeof p, "%s/train", dir);
    DIR *d = opendir(p);
    if (!d) return 0;
    struct dirent *e;
    int found = 0;
    while (!found && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char q[4500];
        struct stat sb;
        snprintf(q, sizeof q, "%s/%s", p, e->d_name);
        found = stat(q, &sb) == 0 && S_ISDIR(sb.st_mode);
    }
    closedir(d);
    return found;
}

const char *dataset_detect(const char *dir) {
    if (exists_in(dir, "cifar-10-batches-bin", "data_batch_1.bin") || exists_in(dir, "", "data_batch_1.bin") ||
        exists_in(dir, "cifar-10-batches-bin", "test_batch.bin") || exists_in(dir, "", "test_batch.bin"))
        return "cifar10";
    if (exists_in(dir, "cifar-100-binary", "train.bin") || exists_in(dir, "cifar-100-binary", "test.bin") ||
        exists_in(dir, "", "fine_label_names.txt"))
        return "cifar100";
    if (exists_in(dir, "", "train_32x32.mat") || exists_in(dir, "svhn", "train_32x32.mat") ||
        exists_in(dir, "", "test_32x32.mat") || exists_in(dir, "svhn", "test_32x32.mat"))
        return "svhn";
    if (exists_in(dir, "stl10_binary", "train_X.bin") || exists_in(dir, "", "train_X.bin") ||
        exists_in(dir, "stl10_binary", "test_X.bin") || exists_in(dir, "", "test_X.bin"))
        return "stl10";
    if (exists_in(dir, "", "train-images-idx3-ubyte.gz") || exists_in(dir, "", "train-images-idx3-ubyte") ||
        exists_in(dir, "", "t10k-images-idx3-ubyte.gz") || exists_in(dir, "", "t10k-images-idx3-ubyte"))
        return "fashion-mnist";
    if (has_class_folders(dir)) return "imagefolder";
    if (exists_in(dir, "", "train.bin") || exists_in(dir, "", "test.bin")) return "cifar100";
    return NULL;
}
