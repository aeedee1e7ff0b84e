/* mpi_link.c — bounded queues between pipeline neighbours (see mpi_internal.h), and the message layout. */
#include <string.h>
#include <time.h>

#include "dist/mpi_internal.h"
#include "train/progress.h"

MsgLayout msg_layout(int batch, size_t act_per_row, size_t img_per_row) {
    MsgLayout m;
    m.labels = 5;
    m.act = m.labels + (size_t)batch;
    m.img = m.act + (size_t)batch * act_per_row;
    m.floats = m.img + (size_t)batch * img_per_row;
    return m;
}

Status link_open(Link *l, int peer, int depth, size_t floats, int sending, MemTracker *mt, ErrorMsg *err) {
    memset(l, 0, sizeof *l);
    CHECK(depth >= 1 && depth <= DIST_MAX_QUEUE, "queue depth %d", depth);
    l->peer = peer, l->depth = depth, l->floats = floats, l->sending = sending, l->mt = mt;
    l->buf = mem_alloc(mt, MEM_TAG_DATA, link_bytes(depth, floats));
    if (!l->buf) {
        char b[32];
        return status_fail(err, LOCUS_ERR_OOM, "cannot allocate %s for the pipeline queue to rank %d\nhint: "
                           "lower --dist-queue or --batch", mem_format(link_bytes(depth, floats), b, sizeof b), peer);
    }
    for (int i = 0; i < depth; i++) l->req[i] = MPI_REQUEST_NULL;
    return LOCUS_OK;
}

void link_close(Link *l) {
    if (!l->buf) return;
    for (int i = 0; i < l->depth; i++)
        if (l->req[i] != MPI_REQUEST_NULL) MPI_Cancel(&l->req[i]), MPI_Request_free(&l->req[i]);
    mem_free(l->mt, MEM_TAG_DATA, l->buf, link_bytes(l->depth, l->floats));
    memset(l, 0, sizeof *l);
}

void dist_wait(MPI_Request *r, double *waited) {
    double t0 = progress_now();
    long ns = 20000;
    for (int done = 0;;) {
        MPI_Test(r, &done, MPI_STATUS_IGNORE);
        if (done) break;
        struct timespec ts = {0, ns};
        nanosleep(&ts, NULL);
        if (ns < 1000000) ns *= 2;
    }
    if (waited) *waited += progress_now() - t0;
}

void link_wait(Link *l, int i) {
    if (l->req[i] != MPI_REQUEST_NULL) dist_wait(&l->req[i], &l->wait_s);
}

void link_send(Link *l, int i) {
    MPI_Issend(link_slot(l, i), (int)l->floats, MPI_FLOAT, l->peer, 1, MPI_COMM_WORLD, &l->req[i]);
}

void link_post_recv(Link *l, int i) {
    MPI_Irecv(link_slot(l, i), (int)l->floats, MPI_FLOAT, l->peer, 1, MPI_COMM_WORLD, &l->req[i]);
}

void link_drain(Link *l) {
    for (int i = 0; i < l->depth; i++) link_wait(l, i);
}
