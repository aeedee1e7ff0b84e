/* launch.c — how many ranks mpirun started, read from the environment the launcher sets (Open MPI:
 * OMPI_COMM_WORLD_SIZE; MPICH/Hydra and Slurm: PMI_SIZE). No MPI call, so every build has it. */
#include <stdlib.h>

#include "dist/dist.h"

int dist_launch_size(void) {
    const char *v = getenv("OMPI_COMM_WORLD_SIZE");
    if (!v) v = getenv("PMI_SIZE");
    int n = v ? atoi(v) : 1;
    return n >= 1 ? n : 1;
}
