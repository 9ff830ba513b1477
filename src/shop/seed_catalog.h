/* seed_catalog.h — the vocabulary of the demo data generator (seed.c).
 *
 * Static, read-only tables: top-level categories with their subcategories,
 * the product-name templates, brands, description sentences and attribute
 * kinds of each; the bundle templates (groups of complementary
 * subcategories that real customers buy together: phone + case + charger,
 * coffee maker + coffee + mug, tent + sleeping bag + lamp…); and the first
 * and last names used for customers. French and English mixed, with
 * accents, as a French marketplace would show them. */
#ifndef SM_SHOP_SEED_CATALOG_H
#define SM_SHOP_SEED_CATALOG_H

#include <stdint.h>

/* Which attributes a product of a subcategory carries (JSON object). */
typedef enum seed_attr_kind {
    SEED_ATTR_NONE,       /* {"material": …} */
    SEED_ATTR_COLOR,      /* {"color": …} */
    SEED_ATTR_COLOR_SIZE, /* {"color": …, "size": "XS".."XXL"} */
    SEED_ATTR_SHOE,       /* {"color": …, "size": 36..46} */
    SEED_ATTR_STORAGE,    /* {"color": …, "storage": <variant>} */
    SEED_ATTR_CAPACITY,   /* {"capacity": <variant or litres>} */
    SEED_ATTR_PAGES,      /* {"pages": n, "language": "fr"|"en", "format": …} */
    SEED_ATTR_VOLUME,     /* {"volume_ml": n} */
    SEED_ATTR_WEIGHT,     /* {"weight_g": n} */
    SEED_ATTR_AGE,        /* {"age_min": n, "players": "2-4"} */
} seed_attr_kind;

typedef struct seed_subcategory {
    const char *name;
    const char *slug;            /* unique across all categories */
    const char *const *nouns;    /* NULL-terminated product-name bases */
    const char *const *variants; /* NULL-terminated, or NULL: no variant */
    int64_t median_cents;        /* typical price */
    seed_attr_kind attr;
} seed_subcategory;

typedef struct seed_category {
    const char *name;
    const char *slug;
    const char *const *brands;  /* NULL-terminated */
    const char *const *pitches; /* NULL-terminated description sentences */
    const seed_subcategory *subs;
    int nsubs;
} seed_category;

#define SEED_BUNDLE_MAX 4

/* A group of complementary subcategories (slugs), NULL-terminated. A slug
 * may repeat (two kinds of dog food bought together). */
typedef struct seed_bundle_template {
    const char *slugs[SEED_BUNDLE_MAX + 1];
} seed_bundle_template;

extern const seed_category seed_categories[];
extern const int seed_category_count;

extern const seed_bundle_template seed_bundle_templates[];
extern const int seed_bundle_template_count;

/* Sentences any description may end with, NULL-terminated. */
extern const char *const seed_generic_sentences[];
/* Model suffixes ("Pro", "Lite", …) and colours, NULL-terminated. */
extern const char *const seed_models[];
extern const char *const seed_colors[];
extern const char *const seed_materials[];

/* Customer names: `display` with accents, `ascii` for the email address. */
typedef struct seed_name {
    const char *display;
    const char *ascii;
} seed_name;

extern const seed_name seed_first_names[];
extern const int seed_first_name_count;
extern const seed_name seed_last_names[];
extern const int seed_last_name_count;

/* Number of entries of a NULL-terminated string table. */
int seed_count_strings(const char *const *table);

#endif
