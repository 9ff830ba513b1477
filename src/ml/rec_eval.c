/* rec_eval.c — held-out evaluation of the recommenders (see rec_eval.h).
 *
 * The training set is rebuilt as order lines without the held-out orders
 * and goes through rec_data_build(), rec_build_models() and
 * rec_model_open() exactly as a production build does, so what is
 * measured is what is served — file format and blending included. Each
 * method is the production query with other models' weights at zero. */
#include "ml/rec_eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "ml/rec_model.h"
#include "ml/recommend.h"

#define TARGETS_MAX 64

void rec_eval_params_init(rec_eval_params *p)
{
    p->sample_users = 2000;
    p->k = 10;
    p->tmp_dir = "/tmp";
    rec_build_params_init(&p->build);
}

enum { M_POPULAR, M_COPURCHASE, M_ALS, M_BLEND, METHODS };
static const char *const method_names[METHODS] = {"popular", "co-purchase", "als", "blend"};

typedef struct tally {
    double hr, ndcg;
    int users;
} tally;

static bool has_id(const int64_t *ids, int n, int64_t id)
{
    for (int i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

static void score(tally *t, const rec_item *out, int n, const int64_t *targets, int nt, int k)
{
    double dcg = 0, ideal = 0;
    bool hit = false;
    for (int r = 0; r < n && r < k; r++)
        if (has_id(targets, nt, out[r].product_id)) {
            dcg += 1.0 / log2(r + 2.0);
            hit = true;
        }
    for (int r = 0; r < nt && r < k; r++)
        ideal += 1.0 / log2(r + 2.0);
    t->hr += hit;
    t->ndcg += ideal > 0 ? dcg / ideal : 0;
    t->users++;
}

/* Runs every method for one customer and adds to `t` (one per method). */
static void run_methods(const rec_model *m, int64_t user, const int64_t *hist, int nh,
                        const int64_t *targets, int nt, int k, tally t[METHODS])
{
    rec_item out[REC_LIMIT_MAX];
    rec_weights w[METHODS];
    for (int q = 0; q < METHODS; q++)
        rec_weights_init(&w[q]);
    w[M_COPURCHASE].als = 0, w[M_COPURCHASE].popular = 0;
    w[M_ALS].copurchase = 0, w[M_ALS].popular = 0;
    int n = rec_popular(m, hist, nh, k, out, NULL);
    score(&t[M_POPULAR], out, n, targets, nt, k);
    for (int q = M_COPURCHASE; q < METHODS; q++) {
        n = rec_for_user(m, &w[q], user, hist, nh, k, out, NULL);
        score(&t[q], out, n < 0 ? 0 : n, targets, nt, k);
    }
}

/* Training lines: every order of `rd` but the held-out ones. */
static int train_data(const rec_data *rd, const uint8_t *held, rec_data **out, sm_error *err)
{
    rec_product *p = malloc(((size_t)rd->n_items + 1) * sizeof *p);
    rec_line *l = malloc(((size_t)rd->n_lines + 1) * sizeof *l);
    size_t nl = 0;
    int rc;
    if (!p || !l) {
        rc = sm_error_set(err, SM_ENOMEM, "out of memory");
        goto done;
    }
    for (int32_t i = 0; i < rd->n_items; i++)
        p[i] = (rec_product){rd->item_ids[i], rd->item_category[i], rd->item_active[i] != 0};
    for (int64_t o = 0; o < rd->n_orders; o++) {
        if (held[o])
            continue;
        for (int64_t q = rd->order_lines[o]; q < rd->order_lines[o + 1]; q++)
            l[nl++] = (rec_line){o, rd->user_ids[rd->order_user[o]], rd->order_time[o],
                                 rd->item_ids[rd->line_item[q]]};
    }
    rc = rec_data_build(p, (size_t)rd->n_items, l, nl, out, err);
done:
    free(p);
    free(l);
    return rc;
}

/* The customer's training purchases, most recent first, into hist. */
static int history_of(const rec_data *tr, int64_t user, int64_t *hist, int cap)
{
    int32_t u = rec_data_user(tr, user);
    int n = 0;
    if (u < 0)
        return 0;
    for (int64_t o = tr->user_orders[u + 1] - 1; o >= tr->user_orders[u] && n < cap; o--)
        for (int64_t q = tr->order_lines[o]; q < tr->order_lines[o + 1] && n < cap; q++)
            hist[n++] = tr->item_ids[tr->line_item[q]];
    return n;
}

int rec_evaluate(const rec_data *rd, const rec_eval_params *p, rec_eval_row rows[REC_EVAL_ROWS],
                 double *train_s, sm_error *err)
{
    if (p->sample_users < 1 || p->k < 1 || p->k > REC_LIMIT_MAX)
        return sm_error_set(err, SM_EINVAL, "invalid evaluation parameters");
    int32_t eligible = 0;
    for (int32_t u = 0; u < rd->n_users; u++)
        eligible += rd->user_orders[u + 1] - rd->user_orders[u] >= 2;
    if (eligible == 0)
        return sm_error_set(err, SM_EINVAL, "no customer has two orders to evaluate on");
    int32_t stride = eligible > p->sample_users ? eligible / p->sample_users : 1;
    uint8_t *held = calloc((size_t)rd->n_orders + 1, 1);
    int32_t *sample = malloc(((size_t)p->sample_users + 1) * sizeof *sample);
    rec_data *tr = NULL;
    rec_model *m = NULL;
    char path[4096] = "";
    int ns = 0, rc;
    if (!held || !sample) {
        rc = sm_error_set(err, SM_ENOMEM, "out of memory");
        goto done;
    }
    for (int32_t u = 0, seen = 0; u < rd->n_users && ns < p->sample_users; u++) {
        if (rd->user_orders[u + 1] - rd->user_orders[u] < 2)
            continue;
        if (seen++ % stride == 0) {
            sample[ns++] = u;
            held[rd->user_orders[u + 1] - 1] = 1;
        }
    }
    uint64_t t0 = clock_mono_ns();
    if ((rc = train_data(rd, held, &tr, err)) < 0)
        goto done;
    snprintf(path, sizeof path, "%s/sm-rec-eval-%ld.bin", p->tmp_dir, (long)getpid());
    if ((rc = rec_build_models(tr, &p->build, path, NULL, err)) < 0 ||
        (rc = rec_model_open(path, &m, err)) < 0)
        goto done;
    if (train_s)
        *train_s = (double)(clock_mono_ns() - t0) / 1e9;

    tally next[METHODS] = {0}, basket[METHODS] = {0};
    for (int s = 0; s < ns; s++) {
        int32_t u = sample[s];
        int64_t o = rd->user_orders[u + 1] - 1, user = rd->user_ids[u];
        int64_t hist[REC_HISTORY_MAX], targets[TARGETS_MAX];
        int nh = history_of(tr, user, hist + 1, REC_HISTORY_MAX - 1), nt = 0;
        for (int64_t q = rd->order_lines[o]; q < rd->order_lines[o + 1] && nt < TARGETS_MAX; q++) {
            int64_t id = rd->item_ids[rd->line_item[q]];
            if (!has_id(hist + 1, nh, id))
                targets[nt++] = id;
        }
        if (nt == 0)
            continue;
        run_methods(m, user, hist + 1, nh, targets, nt, p->k, next);
        if (nt >= 2) {
            hist[0] = targets[0]; /* the product page / cart item */
            run_methods(m, user, hist, nh + 1, targets + 1, nt - 1, p->k, basket);
        }
    }
    for (int q = 0; q < METHODS; q++) {
        rows[q] = (rec_eval_row){"next-order", method_names[q],
                                 next[q].users ? next[q].hr / next[q].users : 0,
                                 next[q].users ? next[q].ndcg / next[q].users : 0, next[q].users};
        rows[METHODS + q] = (rec_eval_row){
            "basket", method_names[q], basket[q].users ? basket[q].hr / basket[q].users : 0,
            basket[q].users ? basket[q].ndcg / basket[q].users : 0, basket[q].users};
    }
done:
    rec_model_close(m);
    if (path[0])
        unlink(path);
    rec_data_free(tr);
    free(held);
    free(sample);
    return rc;
}
