/*
 * The replay driver: runs files (or every file of directories) through a fuzz target's
 * LLVMFuzzerTestOneInput without libFuzzer, so that any compiler's build runs the committed
 * corpus and every fixed bug's input as an ordinary test. A finding aborts, as under libFuzzer.
 * Usage: fuzz_TARGET_replay PATH...
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int n_run;

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return 1;
    }
    static uint8_t buf[1 << 20];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
    n_run++;
    return 0;
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A directory's files in name order, so that a run is the same everywhere; all of them (a
   campaign's corpus holds tens of thousands). */
static int run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return run_file(dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    int bad = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            char **more = realloc(names, cap * sizeof(*names));
            if (!more) {
                fprintf(stderr, "replay: out of memory listing %s\n", dir);
                bad = 1;
                break;
            }
            names = more;
        }
        if (!(names[n] = strdup(e->d_name))) {
            bad = 1;
            break;
        }
        n++;
    }
    closedir(d);
    if (n) qsort(names, n, sizeof(names[0]), cmp);
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) bad |= run_file(path);
        free(names[i]);
    }
    free(names);
    return bad;
}

int main(int argc, char **argv)
{
    int bad = 0;
    for (int i = 1; i < argc; i++) bad |= run_dir(argv[i]);
    printf("replay: %d inputs, %s\n", n_run, bad ? "FAILED" : "all passed");
    return bad || n_run == 0;
}
