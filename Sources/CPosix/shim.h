#ifndef ADPILOT_CPOSIX_SHIM_H
#define ADPILOT_CPOSIX_SHIM_H
#include <sys/file.h>

/* Swift's Glibc import resolves `flock` to struct flock (fcntl.h); this names the call. */
static inline int adpilot_flock(int fd, int operation) { return flock(fd, operation); }
#endif
