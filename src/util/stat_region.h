/*
 * The files of the live view (efvitcp-stat): one shared-memory file per instance, named
 * DIR/efvitcp-stat-PID-N, where PID is the process and N the lowest number that was free when
 * the instance was created (O_EXCL: no counter in the process, no lock between processes). This
 * module knows files, names and processes, not what the files hold (tcp/stat_format.h).
 */
#ifndef EFVITCP_UTIL_STAT_REGION_H
#define EFVITCP_UTIL_STAT_REGION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ET_STAT_DIR      "/dev/shm" /* where shm_open puts its objects on Linux */
#define ET_STAT_PREFIX   "efvitcp-stat-"
#define ET_STAT_MAX_N    100000u /* instances of one process at once */
#define ET_STAT_PATH_MAX 128

/* Creates DIR/efvitcp-stat-PID-N for the lowest N free, of size bytes, mode 0644, mapped
   read-write into *map (zero-filled); its path goes to path (ET_STAT_PATH_MAX bytes) and N to
   *n. NULL or what failed. */
const char *et_stat_region_create(const char *dir, int pid, size_t size, void **map, char *path,
                                  uint32_t *n);
/* Unmaps and removes a region made by et_stat_region_create. */
void et_stat_region_destroy(void *map, size_t size, const char *path);
/* Maps an existing region read-only (a reader cannot disturb the writer); its length goes to
 *len. NULL when it cannot be opened or is shorter than min_len (still being created). */
const void *et_stat_region_map_ro(const char *path, size_t min_len, size_t *len);
/* True when name is "efvitcp-stat-PID-N"; sets *pid and *n. */
bool et_stat_region_parse_name(const char *name, int *pid, uint32_t *n);
/* True while process pid exists (it may belong to another user). */
bool et_stat_pid_alive(int pid);
/* Removes every region of DIR whose process is dead and which is either empty (its creator died
   before sizing it) or starts with the 8 bytes magic (so that no other file is ever removed).
   Returns how many were removed. Regions of other users stay when the directory forbids it. */
int et_stat_region_reclaim(const char *dir, uint64_t magic);

#endif
