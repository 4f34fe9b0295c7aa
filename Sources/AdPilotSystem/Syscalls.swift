#if canImport(Glibc)
import Glibc
#endif
internal import CPosix
internal import Synchronization

/// An operating-system error: which call, on what, and errno. What a user reads says all
/// three, e.g. `fdatasync /var/lib/adpilot/journal/...: No space left on device (ENOSPC)`.
package struct SystemError: Error, Equatable, Sendable, CustomStringConvertible {
    package let errno: Int32
    package let operation: String
    package let path: String?

    package init(errno: Int32, operation: String, path: String?) {
        self.errno = errno
        self.operation = operation
        self.path = path
    }

    package var name: String { SystemError.names[errno] ?? "errno \(errno)" }

    /// strerror(3) of `errno`.
    package var message: String { String(cString: strerror(errno)) }

    package var description: String { "\(operation)\(path.map { " \($0)" } ?? ""): \(message) (\(name))" }

    package var isNoSpace: Bool { errno == ENOSPC || errno == EDQUOT }
    package var isIO: Bool { errno == EIO }

    static let names: [Int32: String] = [
        EPERM: "EPERM", ENOENT: "ENOENT", EINTR: "EINTR", EIO: "EIO", EBADF: "EBADF", EAGAIN: "EAGAIN",
        EACCES: "EACCES", EEXIST: "EEXIST", ENOTDIR: "ENOTDIR", EISDIR: "EISDIR", EINVAL: "EINVAL",
        EMFILE: "EMFILE", EFBIG: "EFBIG", ENOSPC: "ENOSPC", EROFS: "EROFS", EDQUOT: "EDQUOT",
        ENAMETOOLONG: "ENAMETOOLONG", ENOTEMPTY: "ENOTEMPTY",
    ]
}

/// A file descriptor, owned by whoever opened it.
package struct FileDescriptor: Hashable, Sendable {
    package let rawValue: Int32
    package init(rawValue: Int32) { self.rawValue = rawValue }
}

/// Every file syscall AdPilot's persistence makes goes through one of these. Production
/// uses `PosixFileIO`; tests wrap it in `FaultInjectingFileIO` to make writes, syncs and
/// space fail on cue. Each call retries EINTR and maps errno to `SystemError`.
package protocol FileIO: Sendable {
    func open(_ path: String, flags: Int32, mode: UInt32) throws(SystemError) -> FileDescriptor
    func close(_ fd: FileDescriptor)
    /// One write(2); may be short.
    func write(_ fd: FileDescriptor, _ bytes: UnsafeRawBufferPointer, path: String) throws(SystemError) -> Int
    func pread(
        _ fd: FileDescriptor, into: UnsafeMutableRawBufferPointer, at offset: Int64, path: String
    ) throws(SystemError) -> Int
    func fdatasync(_ fd: FileDescriptor, path: String) throws(SystemError)
    func fsync(_ fd: FileDescriptor, path: String) throws(SystemError)
    func ftruncate(_ fd: FileDescriptor, length: Int64, path: String) throws(SystemError)
    func size(_ fd: FileDescriptor, path: String) throws(SystemError) -> Int64
    /// flock(2). Returns false when `nonBlocking` and another holder has it.
    func flock(_ fd: FileDescriptor, exclusive: Bool, nonBlocking: Bool, path: String) throws(SystemError) -> Bool
    func rename(_ from: String, _ to: String) throws(SystemError)
    func unlink(_ path: String) throws(SystemError)
    func mkdir(_ path: String, mode: UInt32) throws(SystemError)
    func listDirectory(_ path: String) throws(SystemError) -> [String]
    func exists(_ path: String) -> Bool
    /// lstat(2): 0 when an entry of any kind exists at `path` (a link is not followed, so a
    /// dangling or looping link exists), otherwise the errno. Callers that must fail closed
    /// tell "no such entry" (ENOENT) from "cannot tell" (EACCES, EIO, ...).
    func probe(_ path: String) -> Int32
    /// Owner and modification time of `path` itself (lstat(2): a link is not followed).
    func status(_ path: String) throws(SystemError) -> FileStatus
    /// Which file `path` names (stat(2), links followed): to notice it being replaced.
    func identity(at path: String) throws(SystemError) -> FileIdentity
    /// Which file `fd` is open on (fstat(2)); `links` 0 means it was removed.
    func identity(of fd: FileDescriptor, path: String) throws(SystemError) -> FileIdentity
    /// fchown(2): hands an open file to another user (root writing for the daemon).
    func changeOwner(_ fd: FileDescriptor, uid: UInt32, gid: UInt32, path: String) throws(SystemError)
}

/// A file's identity: device and inode, and how many names it has.
package struct FileIdentity: Hashable, Sendable {
    package var device: UInt64
    package var inode: UInt64
    package var links: UInt64

    /// The same file, whatever its link count.
    package func isSameFile(as other: FileIdentity) -> Bool { device == other.device && inode == other.inode }
}

/// What `FileIO.status` reports about a path.
package struct FileStatus: Hashable, Sendable {
    package var uid: UInt32
    package var gid: UInt32
    package var modifiedSecondsSinceEpoch: Int64

    package init(uid: UInt32, gid: UInt32, modifiedSecondsSinceEpoch: Int64) {
        self.uid = uid
        self.gid = gid
        self.modifiedSecondsSinceEpoch = modifiedSecondsSinceEpoch
    }
}

extension FileIO {
    /// write(2) until every byte is written or an error.
    package func writeAll(_ fd: FileDescriptor, _ bytes: UnsafeRawBufferPointer, path: String) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            let n = try write(fd, UnsafeRawBufferPointer(rebasing: bytes[offset...]), path: path)
            guard n > 0 else { throw SystemError(errno: EIO, operation: "write (no progress)", path: path) }
            offset += n
        }
    }

    /// pread(2) until `count` bytes or end of file; returns what was read.
    package func readAll(
        _ fd: FileDescriptor, count: Int, at offset: Int64, path: String
    ) throws(SystemError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        var failure: SystemError? = nil
        out.withUnsafeMutableBytes { b in
            while done < count {
                do {
                    let n = try pread(
                        fd, into: UnsafeMutableRawBufferPointer(rebasing: b[done...]), at: offset + Int64(done),
                        path: path)
                    if n == 0 { break }
                    done += n
                } catch {
                    failure = error as? SystemError ?? SystemError(errno: EIO, operation: "pread", path: path)
                    return
                }
            }
        }
        if let failure { throw failure }
        out.removeLast(count - done)
        return out
    }

    /// Reads a whole file (refusing one larger than `limit` bytes).
    package func readFile(_ path: String, limit: Int) throws(SystemError) -> [UInt8] {
        let fd = try open(path, flags: O_RDONLY | O_CLOEXEC, mode: 0)
        defer { close(fd) }
        let size = try self.size(fd, path: path)
        guard size <= Int64(limit) else {
            throw SystemError(errno: EFBIG, operation: "read (file larger than \(limit) bytes)", path: path)
        }
        return try readAll(fd, count: Int(size), at: 0, path: path)
    }

    /// A secret (a credential, a key file): its bytes without trailing newlines, which
    /// editors and `echo` add and which are never part of a key or token.
    package func readSecret(_ path: String, limit: Int) throws(SystemError) -> [UInt8] {
        var bytes = try readFile(path, limit: limit)
        while let last = bytes.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") { bytes.removeLast() }
        return bytes
    }

    /// fsync a directory, so that entries created or renamed in it survive a crash.
    package func syncDirectory(_ path: String) throws(SystemError) {
        let fd = try open(path, flags: O_RDONLY | O_DIRECTORY | O_CLOEXEC, mode: 0)
        defer { close(fd) }
        try fsync(fd, path: path)
    }

    /// mkdir -p, tolerating directories that already exist.
    package func makeDirectories(_ path: String, mode: UInt32) throws(SystemError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            let parent = prefix.isEmpty ? "/" : prefix
            prefix += "/" + part
            do {
                try mkdir(prefix, mode: mode)
                // A new directory entry survives a power loss only once its parent is synced.
                try syncDirectory(parent)
            } catch  where error.errno == EEXIST {
                continue
            }
        }
    }
}

/// The real syscalls.
package struct PosixFileIO: FileIO {
    /// False: `fdatasync` and `fsync` return at once, for files nothing needs to outlive a
    /// crash (`adpilotctl simulate`'s scratch journals). Everything else syncs.
    package let durable: Bool

    package init(durable: Bool = true) { self.durable = durable }

    @inline(__always)
    private func retry<T: BinaryInteger>(_ op: String, _ path: String?, _ call: () -> T) throws(SystemError) -> T {
        while true {
            let r = call()
            if r >= 0 { return r }
            let e = Glibc.errno
            if e != EINTR { throw SystemError(errno: e, operation: op, path: path) }
        }
    }

    package func open(_ path: String, flags: Int32, mode: UInt32) throws(SystemError) -> FileDescriptor {
        FileDescriptor(rawValue: try retry("open", path) { Glibc.open(path, flags, mode_t(mode)) })
    }

    package func close(_ fd: FileDescriptor) {
        // close(2) is not retried on EINTR on Linux: the descriptor is gone either way.
        _ = Glibc.close(fd.rawValue)
    }

    package func write(_ fd: FileDescriptor, _ bytes: UnsafeRawBufferPointer, path: String) throws(SystemError) -> Int {
        try retry("write", path) { Glibc.write(fd.rawValue, bytes.baseAddress, bytes.count) }
    }

    package func pread(
        _ fd: FileDescriptor, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64, path: String
    ) throws(SystemError) -> Int {
        try retry("pread", path) { Glibc.pread(fd.rawValue, buffer.baseAddress, buffer.count, Int(offset)) }
    }

    package func fdatasync(_ fd: FileDescriptor, path: String) throws(SystemError) {
        guard durable else { return }
        _ = try retry("fdatasync", path) { Glibc.fdatasync(fd.rawValue) }
    }

    package func fsync(_ fd: FileDescriptor, path: String) throws(SystemError) {
        guard durable else { return }
        _ = try retry("fsync", path) { Glibc.fsync(fd.rawValue) }
    }

    package func ftruncate(_ fd: FileDescriptor, length: Int64, path: String) throws(SystemError) {
        _ = try retry("ftruncate", path) { Glibc.ftruncate(fd.rawValue, Int(length)) }
    }

    package func size(_ fd: FileDescriptor, path: String) throws(SystemError) -> Int64 {
        var st = stat()
        _ = try retry("fstat", path) { fstat(fd.rawValue, &st) }
        return Int64(st.st_size)
    }

    package func flock(
        _ fd: FileDescriptor, exclusive: Bool, nonBlocking: Bool, path: String
    ) throws(SystemError) -> Bool {
        let op = (exclusive ? LOCK_EX : LOCK_SH) | (nonBlocking ? LOCK_NB : 0)
        while true {
            if adpilot_flock(fd.rawValue, op) == 0 { return true }
            let e = Glibc.errno
            if e == EINTR { continue }
            if e == EWOULDBLOCK && nonBlocking { return false }
            throw SystemError(errno: e, operation: "flock", path: path)
        }
    }

    package func rename(_ from: String, _ to: String) throws(SystemError) {
        _ = try retry("rename", "\(from) -> \(to)") { Glibc.rename(from, to) }
    }

    package func unlink(_ path: String) throws(SystemError) {
        _ = try retry("unlink", path) { Glibc.unlink(path) }
    }

    package func mkdir(_ path: String, mode: UInt32) throws(SystemError) {
        _ = try retry("mkdir", path) { Glibc.mkdir(path, mode_t(mode)) }
    }

    package func listDirectory(_ path: String) throws(SystemError) -> [String] {
        guard let dir = opendir(path) else { throw SystemError(errno: Glibc.errno, operation: "opendir", path: path) }
        defer { closedir(dir) }
        var names: [String] = []
        while true {
            Glibc.errno = 0
            guard let entry = readdir(dir) else {
                if Glibc.errno != 0 { throw SystemError(errno: Glibc.errno, operation: "readdir", path: path) }
                return names
            }
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
    }

    package func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    package func probe(_ path: String) -> Int32 {
        var st = stat()
        return lstat(path, &st) == 0 ? 0 : Glibc.errno
    }

    package func identity(at path: String) throws(SystemError) -> FileIdentity {
        var st = stat()
        _ = try retry("stat", path) { stat(path, &st) }
        return FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), links: UInt64(st.st_nlink))
    }

    package func identity(of fd: FileDescriptor, path: String) throws(SystemError) -> FileIdentity {
        var st = stat()
        _ = try retry("fstat", path) { fstat(fd.rawValue, &st) }
        return FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), links: UInt64(st.st_nlink))
    }

    package func status(_ path: String) throws(SystemError) -> FileStatus {
        var st = stat()
        _ = try retry("lstat", path) { lstat(path, &st) }
        return FileStatus(uid: st.st_uid, gid: st.st_gid, modifiedSecondsSinceEpoch: Int64(st.st_mtim.tv_sec))
    }

    package func changeOwner(_ fd: FileDescriptor, uid: UInt32, gid: UInt32, path: String) throws(SystemError) {
        _ = try retry("fchown to uid \(uid)", path) { fchown(fd.rawValue, uid, gid) }
    }
}
