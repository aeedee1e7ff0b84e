/* nompi.c — the entry points of dist.h in a build without MPI: --dist answers with a clear error, and a
 * plain run still notices when mpirun started several copies of it. Compiled only when MPI=0. */
#include "dist/dist.h"

int dist_available(void) { return 0; }

Status dist_train_run(const TrainConfig *cfg, const char *resume_dir, ErrorMsg *err) {
    (void)resume_dir;
    return status_fail(err, LOCUS_ERR_ARG, "--dist %s: this locus was built without MPI\nhint: install "
                       "libopenmpi-dev openmpi-bin (tools/install-deps.sh) and rebuild with make MPI=1",
                       cfg->dist);
}

void dist_shutdown(int exit_code) { (void)exit_code; }
