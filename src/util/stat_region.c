/* The files of the live view: creation with O_EXCL, read-only mapping, and the reclaim of those
   a dead process left (stat_region.h). Init-time and tool-time code: never on a poll's path. */
#include "util/stat_region.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

const char *et_stat_region_create(const char *dir, int pid, size_t size, void **map, char *path,
                                  uint32_t *n)
{
    *map = NULL;
    int fd = -1;
    for (uint32_t i = 0; i < ET_STAT_MAX_N && fd < 0; i++) {
        snprintf(path, ET_STAT_PATH_MAX, "%s/" ET_STAT_PREFIX "%d-%u", dir, pid, i);
        /* 0644 despite the umask of the process: the tool may run as another user (root). */
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0 && errno != EEXIST) return "stat: cannot create the region in " ET_STAT_DIR;
        *n = i;
    }
    if (fd < 0) return "stat: every region number of this process is taken";
    (void)fchmod(fd, 0644);
    /* Reserved, not only sized: tmpfs allocates a page when it is first touched, and a full
       /dev/shm answers that touch with SIGBUS, not with an error here. */
    if (ftruncate(fd, (off_t)size) != 0 || posix_fallocate(fd, 0, (off_t)size) != 0) {
        close(fd);
        unlink(path);
        return "stat: cannot size the region (is " ET_STAT_DIR " full?)";
    }
    void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED) {
        unlink(path);
        return "stat: cannot map the region";
    }
    *map = m;
    return NULL;
}

void et_stat_region_destroy(void *map, size_t size, const char *path)
{
    if (map) munmap(map, size);
    if (path && *path) unlink(path);
}

const void *et_stat_region_map_ro(const char *path, size_t min_len, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return NULL;
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || (size_t)sb.st_size < min_len) {
        close(fd);
        return NULL;
    }
    void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED) return NULL;
    *len = (size_t)sb.st_size;
    return m;
}

bool et_stat_region_parse_name(const char *name, int *pid, uint32_t *n)
{
    size_t plen = strlen(ET_STAT_PREFIX);
    if (strncmp(name, ET_STAT_PREFIX, plen) != 0) return false;
    const char *p = name + plen;
    char *end;
    if (*p < '0' || *p > '9') return false;
    long v = strtol(p, &end, 10);
    if (*end != '-' || v <= 0 || v > 0x7fffffffL) return false;
    p = end + 1;
    if (*p < '0' || *p > '9') return false;
    unsigned long k = strtoul(p, &end, 10);
    if (*end || k >= ET_STAT_MAX_N) return false;
    *pid = (int)v;
    *n = (uint32_t)k;
    return true;
}

bool et_stat_pid_alive(int pid)
{
    /* EPERM: it exists but belongs to someone else. */
    return kill(pid, 0) == 0 || errno == EPERM;
}

/* A dead process's file that is ours to remove: empty, or a region (its magic). */
static bool is_orphan_region(int dfd, const char *name, uint64_t magic)
{
    int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return false;
    struct stat sb;
    uint64_t head = 0;
    bool ok = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
              (sb.st_size == 0 ||
               (pread(fd, &head, sizeof(head), 0) == (ssize_t)sizeof(head) && head == magic));
    close(fd);
    return ok;
}

int et_stat_region_reclaim(const char *dir, uint64_t magic)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        int pid;
        uint32_t n;
        if (!et_stat_region_parse_name(e->d_name, &pid, &n) || et_stat_pid_alive(pid)) continue;
        if (is_orphan_region(dirfd(d), e->d_name, magic) && unlinkat(dirfd(d), e->d_name, 0) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}
