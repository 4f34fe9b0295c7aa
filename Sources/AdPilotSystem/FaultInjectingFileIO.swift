#if canImport(Glibc)
import Glibc
#endif
internal import Synchronization

/// Wraps a `FileIO` and fails chosen calls, for tests of what happens when the disk says
/// no. Counts are per operation kind; `failWrite(after: 3, errno: ENOSPC)` lets three
/// writes through and fails every one after.
package final class FaultInjectingFileIO: FileIO {
    /// `create` is an open(2) with O_CREAT (what a full disk refuses); it counts as an
    /// `open` too.
    /// `access` fails `probe` (an entry that cannot be checked, e.g. the halt flag),
    /// `status` fails `status`; both are lstat(2) underneath.
    package enum Operation: Hashable, Sendable {
        case write, fdatasync, fsync, open, create, ftruncate, rename, access, status
    }

    private struct Plan {
        var failAfter: [Operation: (count: Int, errno: Int32)] = [:]
        var calls: [Operation: Int] = [:]
        var shortWrites = false
        var recordOwnerChanges = false
        var ownerChanges: [UInt32] = []
    }

    private let base: any FileIO
    private let plan = Mutex(Plan())
    private let beforeOpen: (@Sendable (String) -> Void)?
    private let afterRename: (@Sendable (String) -> Void)?

    /// `beforeOpen` sees each path before it is opened (a test plants a link there);
    /// `afterRename` sees each rename's target once it is in place (a test runs something
    /// in the moment after a file appeared).
    package init(
        base: any FileIO = PosixFileIO(), beforeOpen: (@Sendable (String) -> Void)? = nil,
        afterRename: (@Sendable (String) -> Void)? = nil
    ) {
        self.base = base
        self.beforeOpen = beforeOpen
        self.afterRename = afterRename
    }

    /// Record fchown calls (`ownerChanges`) instead of making them: a test need not be root.
    package func recordOwnerChangesOnly() { plan.withLock { $0.recordOwnerChanges = true } }

    /// The uids files were handed to, while `recordOwnerChangesOnly` is in force.
    package var ownerChanges: [UInt32] { plan.withLock { $0.ownerChanges } }

    /// Let `count` calls of `operation` succeed, then fail every later one with `errno`.
    package func fail(_ operation: Operation, after count: Int, errno: Int32) {
        plan.withLock { $0.failAfter[operation] = (count, errno) }
    }

    /// Make every write(2) write at most 7 bytes (exercises short-write handling).
    package func useShortWrites(_ on: Bool) { plan.withLock { $0.shortWrites = on } }

    package func heal() { plan.withLock { $0.failAfter = [:] } }

    package func calls(_ operation: Operation) -> Int { plan.withLock { $0.calls[operation, default: 0] } }

    private func check(_ op: Operation, _ name: String, _ path: String?) throws(SystemError) {
        let failure: Int32? = plan.withLock { p in
            let n = p.calls[op, default: 0]
            p.calls[op] = n + 1
            if let rule = p.failAfter[op], n >= rule.count { return rule.errno }
            return nil
        }
        if let e = failure { throw SystemError(errno: e, operation: name, path: path) }
    }

    package func open(_ path: String, flags: Int32, mode: UInt32) throws(SystemError) -> FileDescriptor {
        beforeOpen?(path)
        try check(.open, "open", path)
        if flags & O_CREAT != 0 { try check(.create, "open (O_CREAT)", path) }
        return try base.open(path, flags: flags, mode: mode)
    }

    package func close(_ fd: FileDescriptor) { base.close(fd) }

    package func write(_ fd: FileDescriptor, _ bytes: UnsafeRawBufferPointer, path: String) throws(SystemError) -> Int {
        try check(.write, "write", path)
        let short = plan.withLock { $0.shortWrites }
        return try base.write(fd, short ? UnsafeRawBufferPointer(rebasing: bytes.prefix(7)) : bytes, path: path)
    }

    package func pread(
        _ fd: FileDescriptor, into: UnsafeMutableRawBufferPointer, at offset: Int64, path: String
    ) throws(SystemError) -> Int {
        try base.pread(fd, into: into, at: offset, path: path)
    }

    package func fdatasync(_ fd: FileDescriptor, path: String) throws(SystemError) {
        try check(.fdatasync, "fdatasync", path)
        try base.fdatasync(fd, path: path)
    }

    package func fsync(_ fd: FileDescriptor, path: String) throws(SystemError) {
        try check(.fsync, "fsync", path)
        try base.fsync(fd, path: path)
    }

    package func ftruncate(_ fd: FileDescriptor, length: Int64, path: String) throws(SystemError) {
        try check(.ftruncate, "ftruncate", path)
        try base.ftruncate(fd, length: length, path: path)
    }

    package func size(_ fd: FileDescriptor, path: String) throws(SystemError) -> Int64 { try base.size(fd, path: path) }

    package func flock(
        _ fd: FileDescriptor, exclusive: Bool, nonBlocking: Bool, path: String
    ) throws(SystemError) -> Bool {
        try base.flock(fd, exclusive: exclusive, nonBlocking: nonBlocking, path: path)
    }

    package func rename(_ from: String, _ to: String) throws(SystemError) {
        try check(.rename, "rename", from)
        try base.rename(from, to)
        afterRename?(to)
    }

    package func unlink(_ path: String) throws(SystemError) { try base.unlink(path) }
    package func mkdir(_ path: String, mode: UInt32) throws(SystemError) { try base.mkdir(path, mode: mode) }
    package func listDirectory(_ path: String) throws(SystemError) -> [String] { try base.listDirectory(path) }
    package func exists(_ path: String) -> Bool { base.exists(path) }

    package func probe(_ path: String) -> Int32 {
        do { try check(.access, "access", path) } catch { return error.errno }
        return base.probe(path)
    }

    package func identity(at path: String) throws(SystemError) -> FileIdentity {
        try check(.status, "stat", path)
        return try base.identity(at: path)
    }

    package func identity(of fd: FileDescriptor, path: String) throws(SystemError) -> FileIdentity {
        try base.identity(of: fd, path: path)
    }

    package func status(_ path: String) throws(SystemError) -> FileStatus {
        try check(.status, "lstat", path)
        return try base.status(path)
    }

    package func changeOwner(_ fd: FileDescriptor, uid: UInt32, gid: UInt32, path: String) throws(SystemError) {
        let recordOnly = plan.withLock { p in
            if p.recordOwnerChanges { p.ownerChanges.append(uid) }
            return p.recordOwnerChanges
        }
        if !recordOnly { try base.changeOwner(fd, uid: uid, gid: gid, path: path) }
    }
}
