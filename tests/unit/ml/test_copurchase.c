/* test_copurchase.c — co-purchase neighbours on a tiny hand-made order set,
 * the purchase-history builder, popularity and the top-k heap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>

#include <cmocka.h>

#include "ml/copurchase.h"
#include "ml/popular.h"
#include "ml/rec_data.h"

#define DAY 86400000LL

/* Products 10..15. Baskets: {10,11,12} twice, {10,11}, {13,14}, {10,15},
 * {12} — so 11 is 10's best neighbour, 12 next, 15 last; 13↔14 only. */
static rec_data *tiny(void)
{
    rec_product p[] = {{10, 1, true}, {11, 1, true}, {12, 2, true},
                       {13, 2, true}, {14, 2, true}, {15, 0, false}};
    rec_line l[] = {
        {1, 100, 1 * DAY, 10}, {1, 100, 1 * DAY, 11}, {1, 100, 1 * DAY, 12},
        {2, 101, 2 * DAY, 12}, {2, 101, 2 * DAY, 11}, {2, 101, 2 * DAY, 10},
        {3, 100, 3 * DAY, 10}, {3, 100, 3 * DAY, 11}, {3, 100, 3 * DAY, 11}, /* repeat */
        {4, 102, 4 * DAY, 13}, {4, 102, 4 * DAY, 14}, {5, 101, 5 * DAY, 10},
        {5, 101, 5 * DAY, 15}, {6, 102, 6 * DAY, 12}, {7, 102, 7 * DAY, 999}, /* unknown */
    };
    rec_data *rd = NULL;
    sm_error err = {0};
    assert_int_equal(rec_data_build(p, 6, l, sizeof l / sizeof l[0], &rd, &err), 0);
    return rd;
}

static void rec_data_groups_orders_by_user_and_time(void **state)
{
    (void)state;
    rec_data *rd = tiny();
    assert_int_equal(rd->n_items, 6);
    assert_int_equal(rd->n_users, 3);
    assert_int_equal(rd->n_orders, 6); /* order 7 held only an unknown product */
    assert_int_equal(rd->n_lines, 13); /* the repeated line counts once */
    assert_int_equal(rec_data_user(rd, 101), 1);
    /* user 100: orders 1 then 3 */
    assert_int_equal(rd->user_orders[0], 0);
    assert_int_equal(rd->user_orders[1], 2);
    assert_true(rd->order_time[0] < rd->order_time[1]);
    assert_int_equal(rd->newest_ms, 6 * DAY);
    rec_data_free(rd);
}

static void copurchase_ranks_known_neighbours(void **state)
{
    (void)state;
    rec_data *rd = tiny();
    copurchase_params p;
    copurchase_params_init(&p);
    p.k = 4;
    p.shrink = 0;
    int32_t nbr[6 * 4];
    float sc[6 * 4];
    sm_error err = {0};
    assert_int_equal(copurchase_build(rd, &p, nbr, sc, &err), 0);
    int32_t i10 = rec_data_item(rd, 10), i11 = rec_data_item(rd, 11), i12 = rec_data_item(rd, 12);
    int32_t i13 = rec_data_item(rd, 13), i14 = rec_data_item(rd, 14), i15 = rec_data_item(rd, 15);
    /* 10: in 4 orders; with 11 three times (11 in 3), with 12 twice (12 in
     * 3), with 15 once (15 in 1): cosines 3/sqrt(12), 2/sqrt(12), 1/2. */
    assert_int_equal(nbr[i10 * 4 + 0], i11);
    assert_int_equal(nbr[i10 * 4 + 1], i12);
    assert_int_equal(nbr[i10 * 4 + 2], i15);
    assert_int_equal(nbr[i10 * 4 + 3], -1);
    assert_float_equal(sc[i10 * 4 + 0], 3.0 / sqrt(12.0), 1e-5);
    assert_float_equal(sc[i10 * 4 + 2], 0.5, 1e-5);
    assert_int_equal(nbr[i13 * 4 + 0], i14);
    assert_int_equal(nbr[i13 * 4 + 1], -1);
    assert_float_equal(sc[i13 * 4 + 0], 1.0, 1e-5);

    /* Shrinkage discounts the pair seen once more than the pair seen thrice. */
    p.shrink = 2;
    assert_int_equal(copurchase_build(rd, &p, nbr, sc, &err), 0);
    assert_float_equal(sc[i10 * 4 + 0], 3.0 / sqrt(12.0) * 3.0 / 5.0, 1e-5);
    assert_float_equal(sc[i13 * 4 + 0], 1.0 / 3.0, 1e-5);

    /* min_count 2 drops single co-occurrences; threads do not change results. */
    p.min_count = 2;
    p.threads = 3;
    assert_int_equal(copurchase_build(rd, &p, nbr, sc, &err), 0);
    assert_int_equal(nbr[i10 * 4 + 2], -1);
    assert_int_equal(nbr[i13 * 4 + 0], -1);
    /* 12 met 10 and 11 twice each; 11 sells less, so its cosine is higher. */
    assert_int_equal(nbr[i12 * 4 + 0], i11);
    assert_int_equal(nbr[i12 * 4 + 1], i10);
    (void)i15;
    rec_data_free(rd);
}

static void copurchase_rejects_bad_parameters(void **state)
{
    (void)state;
    rec_data *rd = tiny();
    copurchase_params p;
    copurchase_params_init(&p);
    p.k = 0;
    int32_t nbr[6];
    float sc[6];
    sm_error err = {0};
    assert_int_equal(copurchase_build(rd, &p, nbr, sc, &err), SM_EINVAL);
    rec_data_free(rd);
}

static void popular_weighs_recent_orders(void **state)
{
    (void)state;
    rec_data *rd = tiny();
    popular_params p;
    popular_params_init(&p);
    float score[6];
    int32_t rank[8];
    int32_t n = 0;
    sm_error err = {0};
    assert_int_equal(popular_build(rd, &p, score, rank, 8, &n, &err), 0);
    assert_int_equal(n, 6);
    assert_int_equal(rank[0], rec_data_item(rd, 10)); /* 4 orders */
    assert_int_equal(rank[6], -1);
    /* 12 and 11 both sold 3 times; 12 sold most recently, so it trends. */
    assert_true(score[rec_data_item(rd, 12)] > score[rec_data_item(rd, 11)]);
    p.trend_weight = 0;
    assert_int_equal(popular_build(rd, &p, score, rank, 8, &n, &err), 0);
    assert_float_equal(score[rec_data_item(rd, 12)], score[rec_data_item(rd, 11)], 1e-6);
    rec_data_free(rd);
}

static void topk_keeps_the_best_in_order(void **state)
{
    (void)state;
    int32_t it[3];
    float sc[3];
    rec_topk h = {.cap = 3, .item = it, .score = sc};
    float in[] = {0.5f, 0.9f, 0.1f, 0.7f, 0.9f, 0.3f};
    for (int i = 0; i < 6; i++)
        rec_topk_push(&h, i, in[i]);
    assert_int_equal(rec_topk_sort(&h), 3);
    assert_int_equal(it[0], 1);
    assert_int_equal(it[1], 4);
    assert_int_equal(it[2], 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rec_data_groups_orders_by_user_and_time),
        cmocka_unit_test(copurchase_ranks_known_neighbours),
        cmocka_unit_test(copurchase_rejects_bad_parameters),
        cmocka_unit_test(popular_weighs_recent_orders),
        cmocka_unit_test(topk_keeps_the_best_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
