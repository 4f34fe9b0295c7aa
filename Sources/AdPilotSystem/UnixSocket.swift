#if canImport(Glibc)
import Glibc
#endif
internal import CPosix

/// Why a listening socket could not be set up, by step (each says what to do differently).
package enum ListenError: Error, Sendable {
    /// Something other than a socket is at the path.
    case notASocket
    /// A live process answers at the path (its pid, from its credentials, when known).
    case inUse(pid: Int32?)
    case socket(SystemError)
    case bind(SystemError)
    /// chmod(2) or listen(2).
    case setUp(SystemError)
}

/// Every socket call the control channel makes, on Unix stream sockets: production uses
/// `PosixSockets`; a test can put another in its place. EINTR is retried; errors carry
/// errno. Paths longer than `sun_path` are refused before any call (`fits`).
package protocol SocketIO: Sendable {
    /// Listens at `path` with `mode` (the umask keeps it closed until then) and, where we
    /// may set it, `group`. A stale socket at `path` (nobody accepts on it) is replaced; a
    /// socket a live process serves, or anything else, is refused.
    func listen(path: String, mode: UInt32, group: UInt32?, backlog: Int32) throws(ListenError) -> FileDescriptor
    /// The next connection, close-on-exec.
    func accept(_ listener: FileDescriptor) throws(SystemError) -> FileDescriptor
    func connect(path: String, timeoutSeconds: Int) throws(SystemError) -> FileDescriptor
    /// Reads until newline or end of file, at most `limit` bytes, all within `timeoutMillis`
    /// in total (a peer trickling a byte at a time cannot stretch it); ETIMEDOUT after that.
    func readLine(_ fd: FileDescriptor, limit: Int, timeoutMillis: Int) throws(SystemError) -> [UInt8]
    func writeAll(_ fd: FileDescriptor, _ bytes: [UInt8]) throws(SystemError)
    func setTimeouts(_ fd: FileDescriptor, seconds: Int)
    /// Who is on the other end (SO_PEERCRED).
    func peer(_ fd: FileDescriptor) -> Peer?
    /// Wakes a thread blocked in `accept` on this listener.
    func shutdown(_ fd: FileDescriptor)
    func close(_ fd: FileDescriptor)
    /// Removes the socket file (best effort).
    func remove(path: String)
}

extension SocketIO {
    /// Whether `path` fits a Unix socket address (at most 107 bytes).
    package func fits(_ path: String) -> Bool { unixAddress(path) != nil }
}

/// The sockets of this process, through libc.
package struct PosixSockets: SocketIO {
    package init() {}

    package func listen(path: String, mode: UInt32, group: UInt32?, backlog: Int32) throws(ListenError)
        -> FileDescriptor
    {
        guard let addr = unixAddress(path) else {
            throw .bind(SystemError(errno: ENAMETOOLONG, operation: "bind", path: path))
        }
        var st = stat()
        if lstat(path, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFSOCK else { throw .notASocket }
            if let live = try? connect(path: path, timeoutSeconds: 1) {
                let pid = peer(live)?.pid
                close(live)
                throw .inUse(pid: pid)
            }
            Glibc.unlink(path)
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .socket(SystemError(errno: errno, operation: "socket", path: nil)) }
        let oldMask = umask(0o777 & ~mode_t(mode))
        let bound = withSockaddr(addr) { bind(fd, $0, $1) }
        let bindErrno = errno
        umask(oldMask)
        guard bound == 0 else {
            Glibc.close(fd)
            throw .bind(SystemError(errno: bindErrno, operation: "bind", path: path))
        }
        // The group may operate; nobody else may even connect. (chown to a group we are
        // not in fails for an unprivileged demo; the socket then keeps our own group.)
        if let group { _ = chown(path, UInt32.max, group) }
        guard chmod(path, mode_t(mode)) == 0, Glibc.listen(fd, backlog) == 0 else {
            let e = errno
            Glibc.close(fd)
            throw .setUp(SystemError(errno: e, operation: "listen", path: path))
        }
        return FileDescriptor(rawValue: fd)
    }

    package func accept(_ listener: FileDescriptor) throws(SystemError) -> FileDescriptor {
        while true {
            let fd = Glibc.accept(listener.rawValue, nil, nil)
            if fd >= 0 {
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
                return FileDescriptor(rawValue: fd)
            }
            if errno != EINTR && errno != ECONNABORTED {
                throw SystemError(errno: errno, operation: "accept", path: nil)
            }
        }
    }

    package func connect(path: String, timeoutSeconds: Int) throws(SystemError) -> FileDescriptor {
        guard let addr = unixAddress(path) else {
            throw SystemError(errno: ENAMETOOLONG, operation: "connect", path: path)
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError(errno: errno, operation: "socket", path: nil) }
        setTimeouts(FileDescriptor(rawValue: fd), seconds: timeoutSeconds)
        var rc: Int32
        repeat { rc = withSockaddr(addr) { Glibc.connect(fd, $0, $1) } } while rc != 0 && errno == EINTR
        guard rc == 0 else {
            let e = errno
            Glibc.close(fd)
            throw SystemError(errno: e, operation: "connect", path: path)
        }
        return FileDescriptor(rawValue: fd)
    }

    package func readLine(_ fd: FileDescriptor, limit: Int, timeoutMillis: Int) throws(SystemError) -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        let deadline = monotonicMillis() + Int64(timeoutMillis)
        while out.count <= limit {
            let left = deadline - monotonicMillis()
            var pfd = pollfd(fd: fd.rawValue, events: Int16(POLLIN), revents: 0)
            let ready = left > 0 ? poll(&pfd, 1, Int32(clamping: left)) : 0
            if ready < 0 {
                if errno == EINTR { continue }
                throw SystemError(errno: errno, operation: "poll", path: nil)
            }
            if ready == 0 { throw SystemError(errno: ETIMEDOUT, operation: "read (\(timeoutMillis) ms)", path: nil) }
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd.rawValue, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError(errno: errno, operation: "read", path: nil)
            }
            if n == 0 { return out }
            if let nl = chunk[0..<n].firstIndex(of: UInt8(ascii: "\n")) {
                out += chunk[0..<nl]
                return out
            }
            out += chunk[0..<n]
        }
        throw SystemError(errno: EMSGSIZE, operation: "read (line longer than \(limit) bytes)", path: nil)
    }

    package func writeAll(_ fd: FileDescriptor, _ bytes: [UInt8]) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes {
                send(fd.rawValue, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError(errno: errno, operation: "send", path: nil)
            }
            offset += n
        }
    }

    package func setTimeouts(_ fd: FileDescriptor, seconds: Int) {
        var tv = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd.rawValue, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd.rawValue, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    package func peer(_ fd: FileDescriptor) -> Peer? { Peer.of(socket: fd.rawValue) }
    package func shutdown(_ fd: FileDescriptor) { _ = Glibc.shutdown(fd.rawValue, Int32(SHUT_RDWR)) }
    package func close(_ fd: FileDescriptor) { _ = Glibc.close(fd.rawValue) }
    package func remove(path: String) { _ = Glibc.unlink(path) }
}

/// CLOCK_MONOTONIC in milliseconds (deadlines only: never a time of day).
package func monotonicMillis() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000 + Int64(ts.tv_nsec) / 1_000_000
}

/// A Unix stream socket address, or nil when the path does not fit sun_path.
func unixAddress(_ path: String) -> sockaddr_un? {
    var addr = sockaddr_un()
    addr.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    let capacity = MemoryLayout.size(ofValue: addr.sun_path)
    guard !bytes.isEmpty, bytes.count < capacity else { return nil }
    withUnsafeMutableBytes(of: &addr.sun_path) { raw in
        for (i, b) in bytes.enumerated() { raw[i] = b }
    }
    return addr
}

func withSockaddr<R>(_ addr: sockaddr_un, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
    var a = addr
    return withUnsafePointer(to: &a) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
}

/// The daemon's signals, read from a signalfd so the loop can wait on them with a timeout.
package struct SignalChannel: Sendable {
    package let fd: FileDescriptor

    /// Blocks `signals` (read from the channel instead) and unblocks every other one (a
    /// parent may have left signals blocked: test runners do); SIGPIPE is ignored.
    package static func open(_ signals: [Int32]) throws(SystemError) -> SignalChannel {
        var set = sigset_t()
        sigemptyset(&set)
        for s in signals { sigaddset(&set, s) }
        pthread_sigmask(SIG_SETMASK, &set, nil)
        signal(SIGPIPE, SIG_IGN)
        let fd = adpilot_signalfd(&set)
        guard fd >= 0 else { throw SystemError(errno: errno, operation: "signalfd", path: nil) }
        return SignalChannel(fd: FileDescriptor(rawValue: fd))
    }

    /// The next signal, or nil when none arrives within `timeoutMillis`.
    package func wait(timeoutMillis: Int32) -> Int32? {
        var pfd = pollfd(fd: fd.rawValue, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, timeoutMillis) > 0 else { return nil }
        let signo = adpilot_signalfd_read(fd.rawValue)
        return signo > 0 ? signo : nil
    }
}
