#ifndef RFS_SYSTEM_H
#define RFS_SYSTEM_H

// Process and descriptor helpers that Swift's Glibc module does not expose (GNU extensions such
// as posix_spawn_file_actions_addclosefrom_np and ppoll) or that must run between fork and exec.

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

/// One descriptor the child gets: `parent_fd` is dup'ed onto `child_fd`.
typedef struct {
    int parent_fd;
    int child_fd;
} rfs_fd_mapping;

/// Starts `path` with `argv`/`envp` (NULL-terminated) in a new process group, its descriptors
/// exactly `mappings` (everything else closed, stdin from /dev/null unless mapped), default
/// dispositions for SIGINT, SIGTERM, SIGPIPE and SIGCHLD and an empty signal mask. The copies
/// are made in order, so no `parent_fd` may be a `child_fd` of an earlier mapping.
/// Returns 0 and sets `*pid`, or an errno value.
int rfs_spawn(const char *path, char *const argv[], char *const envp[],
              const rfs_fd_mapping *mappings, int mapping_count, pid_t *pid);

/// Writes all `count` bytes to `fd`, retrying after EINTR and short writes. Returns 0, or an
/// errno value (EPIPE, EBADF, ...) when the descriptor cannot take them.
int rfs_write_all(int fd, const void *bytes, size_t count);

/// socketpair(AF_UNIX, SOCK_STREAM) with both ends close-on-exec. Returns 0 or an errno value.
int rfs_socketpair(int fds[2]);

/// pipe2(O_CLOEXEC). Returns 0 or an errno value.
int rfs_pipe(int fds[2]);

/// Waits until `fd` is readable, `wake_fd` (an eventfd, or -1) is readable, or a signal handler
/// interrupts the wait (EINTR). Wake-ups that must not be missed go through `wake_fd`, which
/// stays readable until drained; signals only make the wait end sooner. Returns 1 when `fd` is
/// readable (or at EOF or in error), 2 when `wake_fd` is, 0 on a signal, -1 with errno on failure.
int rfs_wait_readable(int fd, int wake_fd);

/// eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); -1 with errno on failure.
int rfs_eventfd(void);
/// Adds 1 to an eventfd; never blocks.
void rfs_eventfd_signal(int fd);
/// Resets an eventfd to 0; never blocks.
void rfs_eventfd_drain(int fd);

/// Unblocks every signal in the calling thread (the mask a process's main thread starts with).
void rfs_thread_unblock_all_signals(void);

/// Blocks (`block` != 0) or unblocks `signal` in the calling thread.
void rfs_thread_mask_signal(int signal, int block);

/// Sends `signal` to thread `thread` of this process (pthread_kill). Returns 0 or an errno value.
int rfs_thread_kill(unsigned long thread, int signal);

/// The calling thread's pthread_t as an integer.
unsigned long rfs_thread_self(void);

/// Waits until process `pid` (any process, not only a child) has exited, at most `timeout_ms`
/// milliseconds (-1: no limit), with a pidfd (Linux 5.3+). Returns 1 when it has exited (or
/// never existed), 0 on timeout, -1 with errno when pidfds are not available.
int rfs_wait_process_exit(pid_t pid, int timeout_ms);

/// Resident set size of process `pid` in bytes (from /proc/<pid>/statm), or -1.
int64_t rfs_process_rss(pid_t pid);

#endif
