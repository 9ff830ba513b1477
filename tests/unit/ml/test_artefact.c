/* test_artefact.c — versions, manifest checksums, the atomic switch,
 * retention, and failed builds that leave the active version alone. */
#include "ml_fixture.h"

#include <dirent.h>
#include <jansson.h>

static int count_versions(const char *data_dir)
{
    char root[512];
    snprintf(root, sizeof root, "%s/ml", data_dir);
    DIR *d = opendir(root);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.' && strncmp(e->d_name, "current", 7) != 0;
    closedir(d);
    return n;
}

static void artefact_commit_switches_and_keeps_three(void **state)
{
    (void)state;
    char data[256], dir[ARTEFACT_PATH_MAX], version[ARTEFACT_VERSION_MAX];
    fixture_tmpdir(data, sizeof data);
    assert_int_equal(artefact_current(data, dir, version, NULL), SM_ENOTFOUND);
    char last[ARTEFACT_VERSION_MAX] = "";
    for (int i = 0; i < 5; i++) {
        artefact_build b;
        assert_int_equal(artefact_build_begin(data, &b, NULL), 0);
        fixture_write(b.dir, fixture_catalogue, FIXTURE_N);
        json_t *counts = json_pack("{si}", "products", (int)FIXTURE_N);
        assert_int_equal(artefact_build_commit(&b, counts, NULL, NULL), 0);
        json_decref(counts);
        assert_int_equal(artefact_current(data, dir, version, NULL), 0);
        assert_string_equal(version, b.version);
        assert_string_not_equal(version, last);
        snprintf(last, sizeof last, "%s", version);
        assert_int_equal(artefact_verify(dir, NULL), 0);
    }
    assert_int_equal(count_versions(data), ARTEFACT_KEEP);
    /* the manifest names every file with its size and checksum */
    char path[ARTEFACT_PATH_MAX];
    assert_int_equal(artefact_path(dir, "manifest.json", path, NULL), 0);
    json_t *m = json_load_file(path, 0, NULL);
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(m, "version")), version);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(m, "counts"), "products")),
                     FIXTURE_N);
    json_t *files = json_object_get(m, "files");
    assert_int_equal(json_object_size(files), 3);
    assert_int_equal(
        strlen(json_string_value(json_object_get(json_object_get(files, "lexical.bin"), "sha256"))),
        64);
    json_decref(m);
    /* tampering is detected */
    assert_int_equal(artefact_path(dir, "docs.bin", path, NULL), 0);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, 40, SEEK_SET);
    fputc('X', f);
    fclose(f);
    assert_int_equal(artefact_verify(dir, NULL), SM_EINVAL);
    fixture_rmdir(data);
}

static void artefact_abort_leaves_current_untouched(void **state)
{
    (void)state;
    char data[256], dir[ARTEFACT_PATH_MAX], v1[ARTEFACT_VERSION_MAX], v2[ARTEFACT_VERSION_MAX];
    fixture_tmpdir(data, sizeof data);
    fixture_publish(data, fixture_catalogue, FIXTURE_N);
    assert_int_equal(artefact_current(data, dir, v1, NULL), 0);
    artefact_build b;
    assert_int_equal(artefact_build_begin(data, &b, NULL), 0);
    fixture_write(b.dir, fixture_catalogue, 3); /* half-written, then a failure */
    artefact_build_abort(&b);
    assert_int_equal(access(b.dir, F_OK), -1);
    assert_int_equal(artefact_current(data, dir, v2, NULL), 0);
    assert_string_equal(v1, v2);
    assert_int_equal(count_versions(data), 1);
    fixture_rmdir(data);
}

static void artefact_map_refuses_missing_files(void **state)
{
    (void)state;
    artefact_map m;
    sm_error err = {0};
    assert_int_equal(artefact_map_file("/nonexistent", "x.bin", &m, &err), SM_EIO);
    assert_null(m.data);
    char longdir[ARTEFACT_PATH_MAX + 10];
    memset(longdir, 'a', sizeof longdir - 1);
    longdir[sizeof longdir - 1] = '\0';
    assert_int_equal(artefact_map_file(longdir, "x.bin", &m, &err), SM_ETOOLARGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(artefact_commit_switches_and_keeps_three),
        cmocka_unit_test(artefact_abort_leaves_current_untouched),
        cmocka_unit_test(artefact_map_refuses_missing_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
