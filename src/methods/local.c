/* local.c — supervised local learning (spec local-learning.md §0.4, §1): the network is cut into K
 * modules; each module but the last trains on its own auxiliary loss, the last on the network's
 * cross-entropy; a barrier after each module stops the gradient and frees the module's activations, so
 * only one module (plus its auxiliary heads) is alive at a time. One optimizer step follows all local
 * backwards (the shared loop does it).
 *
 *   greedy   aux = GAP + linear, CE                                   (spec §1.2)
 *   dgl      aux = DGL's MLP-SR head (AugLocal port; --aux dgl-orig: original), CE      (§1.3)
 *   infopro  aux = decoder (BCE against the de-normalised augmented image) weighted lambda1
 *              + classifier 1c2f (--aux 2c2f) with SupCon (contrast) or CE (softmax) weighted lambda2,
 *              lambdas linear in the module's position r (lambda.h: the InfoPro, HPFF or MAN convention)  (§1.4)
 *   pff      InfoPro with the decoder replaced by PFF's four quadrant decoders (the HPFF authors' code;
 *              spec §2.4), backpropagated one quadrant at a time (--no-pff-sequential: all at once)
 *   man      MAN (spec §3.2-3.3): the heads read y = LB(x) + EMA(x), copies of the next module's first block
 *              (momentum.h); InfoPro heads (decoder + 2c2f, CE, as the authors' README) or, with --aux dgl, a DGL
 *              head (CE only); lambdas in the MAN convention (r = stage of the next block / (K-2)); cuts in the
 *              HPFF/MAN convention (stem merged); the EMA copy follows its block after the module's backward
 *   man++    MAN++ (§3.4): y = s*LB(x) + (2-s)*EMA(x), and the stem as a module of its own whose classifier is
 *              1c2f with SupCon (lambdas at r = 0); for the ViT: heads LB_1 -> LayerNorm -> Linear on the CLS token
 * Evaluation uses only the backbone and its classifier (model_forward).
 *
 * Pipelines (src/dist) run a range of the blocks in each process (cfg.pipe_first, cfg.pipe_count): the
 * first trained block then reads s->stage_in (the previous rank's output), and the output of the last
 * trained block is copied to s->stage_out. s->param_block says which block owns each parameter. MAN and
 * MAN++ are refused there: an EMA copy follows a block that another rank trains. */
#include <stdlib.h>
#include <string.h>

#include "layers/crop.h"
#include "layers/loss.h"
#include "locus/method.h"
#include "methods/common.h"
#include "methods/cuts.h"
#include "methods/lambda.h"
#include "methods/momentum.h"
#include "methods/pff.h"
#include "models/aux_heads.h"

typedef enum LocalKind { LOCAL_GREEDY, LOCAL_DGL, LOCAL_INFOPRO, LOCAL_PFF, LOCAL_MAN, LOCAL_MANPP } LocalKind;

typedef struct LocalBlock {
    int first, last;  /* units */
    AuxHead *cls;     /* classifier / projection head (NULL for the last module) */
    AuxHead *dec;     /* InfoPro decoder (NULL otherwise) */
    AuxHead *qdec[4]; /* PFF: one decoder per quadrant of the module's output */
    Crop2d qcrop[4];  /* PFF: the quadrants of the module's output */
    float lam_rec, lam_y;
    int supcon;       /* the classifier's loss: SupCon on a 128-d projection (else CE on class logits) */
    int has_momentum; /* MAN / MAN++: the heads read momentum_aux_forward(x) */
    MomentumAux momentum;
    int has_vit_head; /* MAN++ on a ViT: this head instead of cls */
    MomentumVitHead vit_head;
} LocalBlock;

typedef struct LocalState {
    LocalKind kind;
    float ema_decay;          /* MAN: EMA momentum m */
    int needs_image;          /* some module has a decoder: build the reconstruction target */
    LocalBlock blocks[LOCUS_MAX_BLOCKS];
    SoftmaxCE ce;
    SigmoidBCE bce;
    SupCon supcon;
    Crop2d img_crop[4];       /* PFF: the quadrants of the reconstruction target */
    int pff_sequential;       /* PFF: backward each quadrant right away (one quadrant alive at a time) */
    float mean[3], std[3];    /* to de-normalise the input into the reconstruction target */
    int *param_block;         /* ps.count entries: owning block of each parameter, -1 none */
} LocalState;

/* InfoPro's (lambda1 first -> last ; lambda2 first -> last) for ResNet-32 on CIFAR-10 (spec §1.4 c);
 * a K not in the table takes the nearest K's values. */
static void infopro_default_lambdas(int k, double out[4]) {
    static const struct { int k; double v[4]; } t[] = {
        {2, {5, 5, 1, 1}}, {4, {6, 1, 0, 2}}, {8, {5, 0, 0, 2}}, {16, {5, 0.2, 0.05, 0.5}}};
    int best = 0;
    for (int i = 1; i < 4; i++)
        if (abs(t[i].k - k) < abs(t[best].k - k)) best = i;
    memcpy(out, t[best].v, sizeof t[best].v);
}

/* MAN++ trains the stem as a module of its own: a cut after unit 0 unless the cut list has one. */
static void ensure_stem_cut(int *last_unit, int *n) {
    if (last_unit[0] == 0 || *n >= LOCUS_MAX_BLOCKS) return;
    memmove(last_unit + 1, last_unit, sizeof *last_unit * (size_t)*n);
    last_unit[0] = 0;
    (*n)++;
}

/* The heads of one local module (b < n-1) reading a C x h x w map u (the module's output, or for MAN the
 * output shape of the next block). */
static Status open_heads(Session *s, LocalState *st, LocalBlock *lb, int b, const ModelUnit *u, AuxKind cls_kind,
                         int with_decoder, ErrorMsg *err) {
    const Model *m = &s->model;
    AuxSpec as = {cls_kind, u->out_c, u->out_h, u->out_w, lb->supcon ? 128 : m->classes, m->in_c, m->in_h, m->in_w};
    char prefix[64];
    snprintf(prefix, sizeof prefix, "aux.%d.cls", b);
    Status r = aux_head_create(&lb->cls, &as, &s->ps, prefix, err);
    if (r) return r;
    if (st->kind == LOCAL_PFF) {
        pff_quadrants(lb->qcrop, "pff.q", u->out_h, u->out_w);
        for (int q = 0; q < 4; q++) {
            const Crop2d *ic = &st->img_crop[q];
            AuxSpec qs = {AUX_DECODER, u->out_c, lb->qcrop[q].h, lb->qcrop[q].w, 0, m->in_c, ic->h, ic->w};
            snprintf(prefix, sizeof prefix, "aux.%d.dec.q%d", b, q);
            if ((r = aux_head_create(&lb->qdec[q], &qs, &s->ps, prefix, err))) return r;
        }
    } else if (with_decoder) {
        as.kind = AUX_DECODER;
        snprintf(prefix, sizeof prefix, "aux.%d.dec", b);
        if ((r = aux_head_create(&lb->dec, &as, &s->ps, prefix, err))) return r;
    }
    return LOCUS_OK;
}

/* Which block owns each parameter: the block's units (the model's per-unit ranges) and its heads. */
static Status local_own_params(Session *s, LocalState *st, const int *aux_lo, const int *aux_hi, ErrorMsg *err) {
    const Model *m = &s->model;
    st->param_block = malloc(sizeof *st->param_block * (size_t)(s->ps.count ? s->ps.count : 1));
    if (!st->param_block) return status_fail(err, LOCUS_ERR_OOM, "out of memory");
    for (int h = 0; h < s->ps.count; h++) st->param_block[h] = -1;
    for (int b = 0; b < s->n_blocks; b++) {
        const LocalBlock *lb = &st->blocks[b];
        int lo = m->units[lb->first].param_first, hi = m->units[lb->last].param_first + m->units[lb->last].param_count;
        for (int h = lo; h < hi; h++) st->param_block[h] = b;
        for (int h = aux_lo[b]; h < aux_hi[b]; h++) st->param_block[h] = b;
    }
    s->param_block = st->param_block;
    return LOCUS_OK;
}

static Status local_open_kind(Session *s, LocalKind kind, ErrorMsg *err) {
    const TrainConfig *c = &s->cfg;
    Model *m = &s->model;
    const int momentum = kind >= LOCAL_MAN, vit = m->units[m->n_units - 2].out_w == 0;
    if (momentum && c->pipe_count)
        return status_fail(err, LOCUS_ERR_ARG, "--method %s cannot run as a --dist pipeline: each EMA copy follows "
                           "the next module's first block, which another rank trains\nhint: use --dist data, or "
                           "dgl/infopro/pff in a pipeline", c->method);
    if (vit && kind != LOCAL_MANPP)
        return status_fail(err, LOCUS_ERR_ARG, "--method %s needs a convolutional network (a ResNet); %s is not\n"
                           "hint: use --model resnet32, or --method man++ (which has a ViT variant)", c->method,
                           m->arch);
    LocalState *st = calloc(1, sizeof *st);
    if (!st) return status_fail(err, LOCUS_ERR_OOM, "out of memory");
    s->method_state = st;
    st->kind = kind;
    st->ema_decay = (float)c->ema_decay;
    int last_unit[LOCUS_MAX_BLOCKS], n = 0;
    const char *cut_conv = cuts_convention(c->k_convention, momentum ? "hpff" : "infopro");
    Status r = cuts_resolve(m, c->cuts, (int)c->k, cut_conv, last_unit, &n, LOCUS_MAX_BLOCKS, err);
    if (r) return r;
    if (kind == LOCAL_MANPP && !vit) ensure_stem_cut(last_unit, &n);
    s->n_blocks = n;
    softmax_ce_init(&st->ce, "loss", (float)c->label_smoothing);
    sigmoid_bce_init(&st->bce, "loss.rec");
    supcon_init(&st->supcon, "loss.supcon", 0.07f, 0.07f);
    DataPreset p;
    if ((r = data_preset(c->data, 1, &p, err))) return r;
    memcpy(st->mean, p.mean, sizeof st->mean);
    memcpy(st->std, p.std, sizeof st->std);

    /* classifier kind; InfoPro-style heads (a decoder and lambdas) for the infopro family, CE-only otherwise */
    AuxKind cls_kind = kind == LOCAL_GREEDY ? AUX_GREEDY : kind == LOCAL_DGL ? AUX_DGL
                     : momentum ? AUX_INFOPRO_2C2F : AUX_INFOPRO_1C2F;
    st->pff_sequential = c->pff_sequential;
    pff_quadrants(st->img_crop, "pff.img", m->in_h, m->in_w);
    if (strcmp(c->aux, "default") && !(momentum && !strcmp(c->aux, "infopro")) && aux_kind_parse(c->aux, &cls_kind))
        return status_fail(err, LOCUS_ERR_ARG, "unknown --aux '%s'\nhint: %s", c->aux,
                           momentum ? "infopro (decoder + 2c2f), 1c2f, 2c2f, dgl, dgl-orig or greedy"
                                    : "greedy, dgl, dgl-orig, 1c2f or 2c2f");
    const int infopro_heads = kind == LOCAL_INFOPRO || kind == LOCAL_PFF ||
                              (momentum && (cls_kind == AUX_INFOPRO_1C2F || cls_kind == AUX_INFOPRO_2C2F));
    st->needs_image = infopro_heads && !vit;
    LambdaConvention conv = momentum ? LAMBDA_MAN : LAMBDA_INFOPRO;
    if (strcmp(c->lambda_convention, "auto") && lambda_convention_parse(c->lambda_convention, &conv))
        return status_fail(err, LOCUS_ERR_ARG, "unknown --lambda-convention '%s'", c->lambda_convention);
    /* lambdas: InfoPro's table for K, or the MAN README's ixx_1 5, ixx_2 0, ixy_1 0.5, ixy_2 0 */
    double lam[4] = {c->ixx1, c->ixx2, c->ixy1, c->ixy2}, def[4] = {5, 0, 0.5, 0};
    if (!momentum) infopro_default_lambdas(n, def);
    for (int i = 0; i < 4; i++)
        if (lam[i] < 0) lam[i] = def[i];
    int first = 0, aux_lo[LOCUS_MAX_BLOCKS] = {0}, aux_hi[LOCUS_MAX_BLOCKS] = {0};
    for (int b = 0; b < n; b++) {
        LocalBlock *lb = &st->blocks[b];
        aux_lo[b] = aux_hi[b] = s->ps.count;
        lb->first = first;
        lb->last = last_unit[b];
        first = lb->last + 1;
        session_block_name(s, b, lb->first, lb->last);
        if (b == n - 1) break;
        const int next = lb->last + 1;
        char prefix[64];
        if (momentum) {
            snprintf(prefix, sizeof prefix, "aux.%d.man", b);
            if ((r = momentum_aux_create(&lb->momentum, m, next, &s->ps, prefix, kind == LOCAL_MANPP, err)))
                return r;
            lb->has_momentum = 1;
        }
        lb->lam_rec = 0, lb->lam_y = 1;
        if (vit) { /* MAN++ ViT: y -> LB_1 (the second block of the next module if it has one) -> LN -> CLS -> fc */
            int lb1_unit = next + 1 < m->n_units - 1 ? next + 1 : next;
            snprintf(prefix, sizeof prefix, "aux.%d.head", b);
            if ((r = momentum_vit_head_create(&lb->vit_head, m, lb1_unit, &s->ps, prefix, err))) return r;
            lb->has_vit_head = 1;
            aux_hi[b] = s->ps.count;
            continue;
        }
        const int stem_module = kind == LOCAL_MANPP && b == 0;
        lb->supcon = (kind == LOCAL_INFOPRO || kind == LOCAL_PFF) ? !strcmp(c->infopro_mode, "contrast")
                   : stem_module && infopro_heads;
        AuxKind kb = stem_module && infopro_heads ? AUX_INFOPRO_1C2F : cls_kind;
        if ((r = open_heads(s, st, lb, b, &m->units[momentum ? next : lb->last], kb, infopro_heads, err))) return r;
        if (infopro_heads) {
            int next_stage = m->units[next].name[0] - '0';
            double rr = stem_module ? 0.0 : lambda_position(conv, b, n, (int)c->k, next_stage);
            lambda_weights(lam, rr, &lb->lam_rec, &lb->lam_y);
            if (lb->lam_rec == 0.0f && lb->lam_y == 0.0f && momentum)
                return status_fail(err, LOCUS_ERR_ARG,
                                   "--method %s: module %d (%s) gets loss weights 0 and 0 under the %s lambda "
                                   "convention at r = %.2f (MAN's r = stage/(K-2) reaches 1 for K < 8)\nhint: use "
                                   "--k 8 or more, or give the last modules weight (e.g. --ixx2 1 --ixy2 1)",
                                   c->method, b, s->blocks[b].units, conv == LAMBDA_MAN ? "man" : "chosen", rr);
        }
        aux_hi[b] = s->ps.count;
    }
    return local_own_params(s, st, aux_lo, aux_hi, err);
}

static Status greedy_open(Session *s, ErrorMsg *err) { return local_open_kind(s, LOCAL_GREEDY, err); }
static Status dgl_open(Session *s, ErrorMsg *err) { return local_open_kind(s, LOCAL_DGL, err); }
static Status infopro_open(Session *s, ErrorMsg *err) { return local_open_kind(s, LOCAL_INFOPRO, err); }
static Status pff_open(Session *s, ErrorMsg *err) { return local_open_kind(s, LOCAL_PFF, err); }
static Status man_open(Session *s, ErrorMsg *err) { return local_open_kind(s, LOCAL_MAN, err); }
static Status manpp_open(Session *s, ErrorMsg *err) { return local_open_kind(s, LOCAL_MANPP, err); }

static void local_init_weights(Session *s, Rng *rng) {
    LocalState *st = s->method_state;
    const int copy = !strcmp(s->cfg.man_init, "copy");
    for (int b = 0; b < s->n_blocks - 1; b++) {
        const LocalBlock *lb = &st->blocks[b];
        if (lb->has_momentum) momentum_aux_init_weights(&lb->momentum, &s->model, &s->ps, rng, copy);
        if (lb->has_vit_head) momentum_vit_head_init_weights(&lb->vit_head, &s->model, &s->ps, rng);
        if (lb->cls) aux_head_init_weights(lb->cls, &s->ps, rng);
        if (lb->dec) aux_head_init_weights(lb->dec, &s->ps, rng);
        for (int q = 0; q < 4; q++)
            if (lb->qdec[q]) aux_head_init_weights(lb->qdec[q], &s->ps, rng);
    }
}

static Status local_step(Session *s, Tensor *x, Tensor *labels, StepResult *r, ErrorMsg *err) {
    LocalState *st = s->method_state;
    Tape *t = &s->tape;
    Model *m = &s->model;
    memset(r, 0, sizeof *r);
    int b_first = s->cfg.pipe_count ? s->cfg.pipe_first : 0;
    int b_end = s->cfg.pipe_count ? s->cfg.pipe_first + s->cfg.pipe_count : s->n_blocks;
    CHECK(b_first >= 0 && b_first < b_end && b_end <= s->n_blocks, "blocks [%d, %d) of %d", b_first, b_end,
          s->n_blocks);
    TapeMark m0 = tape_mark(t);
    Tensor *img01 = st->needs_image && b_first < s->n_blocks - 1 ? method_image01(t, x, st->mean, st->std) : NULL;
    Tensor *h = x;
    if (b_first > 0) {
        const ModelUnit *u = &m->units[st->blocks[b_first].first - 1];
        h = s->stage_in ? s->stage_in : tape_wrap(t, shape4(x->shape.d[0], u->out_c, u->out_h, u->out_w), NULL, 0);
    }
    Status status = LOCUS_OK;
    const TapeMark base = tape_mark(t); /* each block's input lives here: the barrier replaces it by the output */
    for (int b = b_first; b < b_end && !status; b++) {
        const LocalBlock *lb = &st->blocks[b];
        session_block_begin(s);
        TapeMark mb = tape_mark(t);
        for (int u = lb->first; u <= lb->last; u++) h = m->unit_forward(m, t, u, h);
        Tensor *loss[6];
        float scale[6];
        int nl = 0;
        if (b == s->n_blocks - 1) {
            loss[nl] = tape_call2(t, &st->ce.base, h, labels), scale[nl++] = 1.0f;
        } else {
            if (lb->qdec[0] && lb->lam_rec != 0.0f) /* first, so no other head is alive meanwhile */
                status = pff_losses(t, &st->bce.base, lb->qdec, lb->qcrop, st->img_crop, h, img01, lb->lam_rec,
                                    st->pff_sequential, loss, scale, &nl, err);
            const Layer *ly = lb->supcon ? &st->supcon.base : &st->ce.base;
            if (lb->has_momentum || lb->has_vit_head) { /* the heads share the momentum branch's output */
                Tensor *a = lb->has_momentum ? momentum_aux_forward(&lb->momentum, m, t, h) : h;
                Tensor *z = lb->has_vit_head ? momentum_vit_head_forward(&lb->vit_head, m, t, a)
                                             : aux_head_forward(lb->cls, t, a);
                if (lb->lam_y != 0.0f) loss[nl] = tape_call2(t, ly, z, labels), scale[nl++] = lb->lam_y;
                if (lb->dec && lb->lam_rec != 0.0f) {
                    Tensor *rec = aux_head_forward(lb->dec, t, a);
                    loss[nl] = tape_call2(t, &st->bce.base, rec, img01), scale[nl++] = lb->lam_rec;
                }
            } else { /* one head alive at a time: each sends its gradient into h, the block replays once */
                if (!status && lb->lam_y != 0.0f)
                    status = method_head_backward(t, lb->cls, ly, h, labels, lb->lam_y, err);
                if (!status && lb->dec && lb->lam_rec != 0.0f)
                    status = method_head_backward(t, lb->dec, &st->bce.base, h, img01, lb->lam_rec, err);
            }
        }
        for (int i = 0; i < nl && !status; i++) status = method_check_loss(t, loss[i], mb, err);
        /* also with no loss left (the heads already sent their gradients into h): replay the module */
        if (!status && (nl || h->grad_held) && (status = tape_backward(t, loss, scale, nl, mb)))
            status_fail(err, status, "%s", t->err.text);
        if (!status && b == s->n_blocks - 1) method_fill_result(loss[0], h, labels, r);
        /* MAN: the EMA copy follows the next block's current (pre-step) parameters (spec §3.3, §7 item 4) */
        if (!status && lb->has_momentum && !tape_is_plan(t))
            momentum_ema_update(&lb->momentum, m, &s->ps, st->ema_decay);
        if (!status && b < s->n_blocks - 1) {
            h = tape_barrier(t, h, base);
            if (!h) status = status_fail(err, t->status, "%s", t->err.text);
        }
        session_block_end(s, b);
    }
    if (!status && s->stage_out && h && h->data) memcpy(s->stage_out, h->data, tensor_bytes(h));
    tape_release(t, m0);
    return status;
}

static void local_close(Session *s) {
    LocalState *st = s->method_state;
    if (!st) return;
    for (int b = 0; b < LOCUS_MAX_BLOCKS; b++) {
        if (st->blocks[b].has_momentum) momentum_aux_free(&st->blocks[b].momentum);
        if (st->blocks[b].has_vit_head) momentum_vit_head_free(&st->blocks[b].vit_head);
        if (st->blocks[b].cls) aux_head_free(st->blocks[b].cls);
        if (st->blocks[b].dec) aux_head_free(st->blocks[b].dec);
        for (int q = 0; q < 4; q++)
            if (st->blocks[b].qdec[q]) aux_head_free(st->blocks[b].qdec[q]);
    }
    free(st->param_block);
    free(st);
    s->method_state = NULL;
    s->param_block = NULL;
}

const MethodOps method_greedy = {.name = "greedy", .help = "greedy supervised local learning (GAP + linear heads)",
                                 .open = greedy_open, .step = local_step, .init_weights = local_init_weights,
                                 .close = local_close};
const MethodOps method_dgl = {.name = "dgl", .help = "DGL: decoupled greedy learning with MLP-SR heads",
                              .open = dgl_open, .step = local_step, .init_weights = local_init_weights,
                              .close = local_close};
const MethodOps method_pff = {.name = "pff",
                              .help = "InfoPro heads with patch feature fusion: 4 quadrant decoders (HPFF's PFF)",
                              .open = pff_open, .step = local_step, .init_weights = local_init_weights,
                              .close = local_close};
const MethodOps method_infopro = {.name = "infopro", .help = "InfoPro: reconstruction + SupCon/CE local losses",
                                  .open = infopro_open, .step = local_step, .init_weights = local_init_weights,
                                  .close = local_close};
const MethodOps method_man = {.name = "man",
                              .help = "MAN: heads read LB(x) + EMA(x), copies of the next block (--aux infopro|dgl)",
                              .open = man_open, .step = local_step, .init_weights = local_init_weights,
                              .close = local_close};
const MethodOps method_manpp = {.name = "man++",
                                .help = "MAN++: s*LB(x) + (2-s)*EMA(x), the stem as its own module (ResNets, ViT)",
                                .open = manpp_open, .step = local_step, .init_weights = local_init_weights,
                                .close = local_close};
