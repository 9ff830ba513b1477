/* test_als.c — implicit ALS: the loss decreases, a planted two-group
 * structure is recovered, per-user top lists exclude what was bought. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "ml/als.h"
#include "ml/rec_data.h"

#define USERS 40
#define ITEMS 20

/* Users 0..19 buy only from items 0..9, users 20..39 only from 10..19;
 * each user buys 6 consecutive items (mod 10) of their group from a
 * different start, so every item sells and every user has four unbought
 * items of their own group left to predict. */
static rec_data *planted(void)
{
    rec_product p[ITEMS];
    rec_line l[USERS * 6];
    size_t n = 0;
    for (int i = 0; i < ITEMS; i++)
        p[i] = (rec_product){.id = 100 + i, .category_id = 0, .active = true};
    for (int u = 0; u < USERS; u++) {
        int base = u < USERS / 2 ? 0 : 10;
        for (int t = 0; t < 6; t++)
            l[n++] = (rec_line){.order_id = u * 10 + t % 3,
                                .user_id = 1000 + u,
                                .time_ms = t % 3,
                                .product_id = 100 + base + (u * 3 + t) % 10};
    }
    rec_data *rd = NULL;
    sm_error err = {0};
    assert_int_equal(rec_data_build(p, ITEMS, l, n, &rd, &err), 0);
    return rd;
}

static void als_loss_decreases_every_iteration(void **state)
{
    (void)state;
    rec_data *rd = planted();
    als_params p;
    als_params_init(&p);
    p.factors = 4;
    p.iterations = 6;
    double loss[6];
    als_model *m = NULL;
    sm_error err = {0};
    assert_int_equal(als_train(rd, &p, &m, loss, &err), 0);
    for (int i = 1; i < 6; i++)
        assert_true(loss[i] <= loss[i - 1] + 1e-3 * fabs(loss[i - 1]));
    assert_true(loss[5] < loss[0]);
    /* The closed-form loss agrees with the one recorded by training. */
    assert_float_equal(als_loss(m, rd, p.reg, p.alpha), loss[5], 1e-3 * fabs(loss[5]));
    als_model_free(m);
    rec_data_free(rd);
}

static void als_recovers_planted_groups(void **state)
{
    (void)state;
    rec_data *rd = planted();
    als_params p;
    als_params_init(&p);
    p.factors = 4;
    p.iterations = 10;
    p.threads = 3;
    als_model *m = NULL;
    sm_error err = {0};
    assert_int_equal(als_train(rd, &p, &m, NULL, &err), 0);
    int32_t items[USERS * 3];
    float scores[USERS * 3];
    assert_int_equal(als_top_items(m, rd, 3, items, scores, &err), 0);
    for (int u = 0; u < USERS; u++) {
        int32_t ui = rec_data_user(rd, 1000 + u);
        int base = u < USERS / 2 ? 0 : 10;
        for (int t = 0; t < 3; t++) {
            int32_t it = items[ui * 3 + t];
            assert_true(it >= 0);
            /* the best two are from the user's own group; none was bought */
            if (t < 2)
                assert_true(rd->item_ids[it] - 100 >= base && rd->item_ids[it] - 100 < base + 10);
            for (int64_t o = rd->user_orders[ui]; o < rd->user_orders[ui + 1]; o++)
                for (int64_t q = rd->order_lines[o]; q < rd->order_lines[o + 1]; q++)
                    assert_int_not_equal(rd->line_item[q], it);
        }
        assert_true(scores[ui * 3] >= scores[ui * 3 + 1]);
    }
    als_model_free(m);
    rec_data_free(rd);
}

static void als_is_deterministic_across_threads(void **state)
{
    (void)state;
    rec_data *rd = planted();
    als_params p;
    als_params_init(&p);
    p.factors = 4;
    p.iterations = 3;
    als_model *a = NULL, *b = NULL;
    sm_error err = {0};
    p.threads = 1;
    assert_int_equal(als_train(rd, &p, &a, NULL, &err), 0);
    p.threads = 4;
    assert_int_equal(als_train(rd, &p, &b, NULL, &err), 0);
    for (int k = 0; k < ITEMS * 4; k++)
        assert_float_equal(a->item[k], b->item[k], 1e-6);
    als_model_free(a);
    als_model_free(b);
    p.reg = 0;
    assert_int_equal(als_train(rd, &p, &a, NULL, &err), SM_EINVAL);
    rec_data_free(rd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(als_loss_decreases_every_iteration),
        cmocka_unit_test(als_recovers_planted_groups),
        cmocka_unit_test(als_is_deterministic_across_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
