#ifndef ADPILOT_CPOSIX_SHIM_H
#define ADPILOT_CPOSIX_SHIM_H
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/signalfd.h>
#include <signal.h>
#include <unistd.h>
#include <malloc.h>
#include <sys/resource.h>
#include <sys/syscall.h>

/* Swift's Glibc import resolves `flock` to struct flock (fcntl.h); this names the call. */
static inline int adpilot_flock(int fd, int operation) { return flock(fd, operation); }

/* struct ucred needs _GNU_SOURCE, which Swift's Glibc module is not built with; this is
   the same layout (socket(7), SO_PEERCRED). */
struct adpilot_peer_credentials { int pid; unsigned int uid; unsigned int gid; };

static inline int adpilot_get_peer_credentials(int fd, struct adpilot_peer_credentials *out) {
    socklen_t length = sizeof *out;
    return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, out, &length);
}

/* signalfd(2) lives outside Swift's Glibc module. */
static inline int adpilot_signalfd(const sigset_t *mask) { return signalfd(-1, mask, SFD_CLOEXEC); }

/* Reads one signal from a signalfd; the signal number, or -1. */
static inline int adpilot_signalfd_read(int fd) {
    struct signalfd_siginfo info;
    ssize_t n = read(fd, &info, sizeof info);
    return n == (ssize_t)sizeof info ? (int)info.ssi_signo : -1;
}

/* Lowers the calling thread's scheduling priority (raises its nice value; Linux keeps one
   per thread). 0 or -1 with errno. */
static inline int adpilot_nice_this_thread(int nice) {
    return setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), nice);
}

/* Gives the pages of freed memory back to the kernel (malloc_trim(3)). */
static inline void adpilot_release_free_memory(void) { malloc_trim(0); }
#endif
