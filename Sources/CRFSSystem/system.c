#define _GNU_SOURCE
#include "rfs_system.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

int rfs_spawn(const char *path, char *const argv[], char *const envp[],
              const rfs_fd_mapping *mappings, int mapping_count, pid_t *pid) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    int status = posix_spawn_file_actions_init(&actions);
    if (status != 0) return status;
    status = posix_spawnattr_init(&attributes);
    if (status != 0) {
        posix_spawn_file_actions_destroy(&actions);
        return status;
    }
    int highest = 2;
    int stdin_mapped = 0;
    for (int i = 0; i < mapping_count; i++) {
        if (mappings[i].child_fd > highest) highest = mappings[i].child_fd;
        if (mappings[i].child_fd == 0) stdin_mapped = 1;
    }
    // dup2 onto child descriptors: if a parent descriptor number collides with a child slot
    // handled earlier, dup2 order matters; our callers' parent descriptors are all above the
    // child slots (fresh pipes and sockets), so a single pass is enough. dup2 clears CLOEXEC.
    for (int i = 0; i < mapping_count && status == 0; i++) {
        status = posix_spawn_file_actions_adddup2(&actions, mappings[i].parent_fd, mappings[i].child_fd);
    }
    if (status == 0 && !stdin_mapped) {
        status = posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    }
    if (status == 0) {
        status = posix_spawn_file_actions_addclosefrom_np(&actions, highest + 1);
    }
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGCHLD);
    sigaddset(&defaults, SIGQUIT);
    sigset_t empty;
    sigemptyset(&empty);
    if (status == 0) status = posix_spawnattr_setsigdefault(&attributes, &defaults);
    if (status == 0) status = posix_spawnattr_setsigmask(&attributes, &empty);
    if (status == 0) status = posix_spawnattr_setpgroup(&attributes, 0);
    if (status == 0) {
        status = posix_spawnattr_setflags(
            &attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    }
    if (status == 0) status = posix_spawn(pid, path, &actions, &attributes, argv, envp);
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    return status;
}

int rfs_write_all(int fd, const void *bytes, size_t count) {
    const char *cursor = bytes;
    while (count > 0) {
        ssize_t written = write(fd, cursor, count);
        if (written < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (written == 0) return EIO;
        cursor += written;
        count -= (size_t)written;
    }
    return 0;
}

int rfs_socketpair(int fds[2]) {
    return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0 ? 0 : errno;
}

int rfs_pipe(int fds[2]) { return pipe2(fds, O_CLOEXEC) == 0 ? 0 : errno; }

int rfs_wait_readable(int fd, int wake_fd) {
    struct pollfd fds[2] = {{.fd = fd, .events = POLLIN}, {.fd = wake_fd, .events = POLLIN}};
    int count = wake_fd >= 0 ? 2 : 1;
    int result = poll(fds, count, -1);
    if (result < 0) return errno == EINTR ? 0 : -1;
    if (fds[0].revents != 0) return 1;
    if (count == 2 && fds[1].revents != 0) return 2;
    return 0;
}

int rfs_eventfd(void) { return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }

void rfs_eventfd_signal(int fd) {
    uint64_t one = 1;
    ssize_t written;
    do {
        written = write(fd, &one, sizeof one);
    } while (written < 0 && errno == EINTR);
}

void rfs_eventfd_drain(int fd) {
    uint64_t value;
    ssize_t got;
    do {
        got = read(fd, &value, sizeof value);
    } while (got < 0 && errno == EINTR);
}

void rfs_thread_unblock_all_signals(void) {
    sigset_t empty;
    sigemptyset(&empty);
    pthread_sigmask(SIG_SETMASK, &empty, NULL);
}

void rfs_thread_mask_signal(int signal, int block) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signal);
    pthread_sigmask(block ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL);
}

int rfs_thread_kill(unsigned long thread, int signal) { return pthread_kill((pthread_t)thread, signal); }

unsigned long rfs_thread_self(void) { return (unsigned long)pthread_self(); }


int64_t rfs_process_rss(pid_t pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/statm", (int)pid);
    FILE *file = fopen(path, "re");
    if (file == NULL) return -1;
    long size = 0, resident = 0;
    int fields = fscanf(file, "%ld %ld", &size, &resident);
    fclose(file);
    if (fields != 2) return -1;
    return (int64_t)resident * (int64_t)sysconf(_SC_PAGESIZE);
}

int rfs_wait_process_exit(pid_t pid, int timeout_ms) {
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0) return errno == ESRCH ? 1 : -1;
    struct pollfd entry = {.fd = fd, .events = POLLIN};
    int result;
    do {
        result = poll(&entry, 1, timeout_ms);
    } while (result < 0 && errno == EINTR);
    close(fd);
    if (result < 0) return -1;
    return result > 0 ? 1 : 0;
}
