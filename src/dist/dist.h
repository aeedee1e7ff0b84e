/* dist.h — distributed training under mpirun (issue 7): `--dist pipeline` puts the blocks of local
 * learning on ranks (activations flow forward, no gradient flows back), `--dist data` gives each rank a
 * shard of every batch and sums gradients with MPI_Allreduce; `--dist pipeline --dist-replicas N` does both:
 * N copies of the pipeline, each on a shard of every batch, gradients summed over the copies of each stage.
 *
 * The MPI parts (mpi_*.c) are compiled only when MPI is present (make MPI=1, auto-detected); otherwise
 * nompi.c answers every entry point with a clear "built without MPI" error. partition.c has no MPI and
 * is always built (and unit-tested). */
#ifndef LOCUS_DIST_H
#define LOCUS_DIST_H

#include "locus/train.h"

#define DIST_MAX_RANKS 64
#define DIST_MAX_QUEUE 64

/* 1 when this build can run --dist. */
int dist_available(void);

/* The whole distributed run (every rank calls it): like train_run. Initialises MPI if needed. */
Status dist_train_run(const TrainConfig *cfg, const char *resume_dir, ErrorMsg *err);

/* Called by the CLI once a command is over: exit_code != 0 takes the whole job down (MPI_Abort, so no
 * rank waits forever for a dead one); 0 leaves MPI cleanly. No-op when MPI was never started. */
void dist_shutdown(int exit_code);

/* The number of ranks mpirun started this process with (from its environment; 1 when not under
 * mpirun). Lets a plain `locus train` refuse to run as N independent copies. */
int dist_launch_size(void);

/* Splits n_blocks contiguous blocks over `ranks` ranks: first[r], count[r] (every rank >= 1 block).
 * map: "" = minimise the largest rank's predicted FLOPs (flops[b] per block), ties broken by the largest
 * rank's queue bytes (out_bytes[b]: the size of block b's output batch; a rank receives the output of the
 * block before its first and sends its last block's); else blocks per rank, e.g. "3,1", which must add
 * up to n_blocks. Errors (LOCUS_ERR_ARG): more ranks than blocks, a bad map. */
Status dist_partition(const double *flops, const double *out_bytes, int n_blocks, int ranks, const char *map, int *first,
                      int *count, ErrorMsg *err);

/* Shard `part` of `parts` of a batch of n rows: rows [*lo, *lo + *rows). The first n % parts shards hold one
 * row more than the others, so a shard of a smaller batch (the epoch's last) is never larger than the same
 * shard of a full one: the memory planned for the full batch covers every step. */
void dist_shard(int n, int parts, int part, int *lo, int *rows);

#endif
