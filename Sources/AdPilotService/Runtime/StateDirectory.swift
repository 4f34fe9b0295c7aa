public import AdPilotSystem
#if canImport(Glibc)
import Glibc
#endif

/// The state directory's layout (SPEC §4): journal, halt flag, snapshot, embedded market.
public struct StateDirectory: Sendable {
    public let path: String
    public let io: any FileIO

    public init(_ path: String, io: any FileIO = PosixFileIO()) {
        self.path = path
        self.io = io
    }

    public var journal: String { path + "/journal" }
    public var haltFlag: String { path + "/HALT" }
    public var snapshot: String { path + "/controller-state.json" }
    public var anomalySnapshot: String { path + "/anomaly-state.json" }
    public var market: String { path + "/simulator" }
    public var policies: String { path + "/policies" }
    public var defaultMetrics: String { path + "/adpilot.prom" }

    public func prepare() throws(SystemError) {
        try io.makeDirectories(path, mode: 0o750)
        try io.makeDirectories(journal, mode: 0o750)
    }

    // MARK: The halt flag

    /// The persisted kill switch: while it exists nothing writes to a platform. Only a
    /// definite "no such file" counts as absent: a flag that cannot be checked (EACCES,
    /// EIO) counts as raised.
    public var isHalted: Bool {
        if access(haltFlag, F_OK) == 0 { return true }
        return errno != ENOENT
    }

    /// Creates the flag durably (file and directory entry synced) with who and why inside.
    public func raiseHaltFlag(note: String) throws(SystemError) {
        try writeAtomically(haltFlag, Array((note + "\n").utf8), mode: 0o640)
    }

    /// Removes the flag durably.
    public func clearHaltFlag() throws(SystemError) {
        do {
            try io.unlink(haltFlag)
        } catch where error.errno == ENOENT {
            return
        }
        try io.syncDirectory(path)
    }

    /// Writes `bytes` to `target` so that a crash leaves either the old or the new file:
    /// a temporary file, fsync, rename, fsync of the directory. The temporary is always a
    /// new file (a stale one is removed, a symlink is never followed), so whoever can write
    /// the directory cannot aim a more privileged writer (root's `adpilotctl halt`)
    /// elsewhere.
    public func writeAtomically(_ target: String, _ bytes: [UInt8], mode: UInt32 = 0o640) throws(SystemError) {
        let temporary = target + ".tmp"
        do {
            try io.unlink(temporary)
        } catch where error.errno == ENOENT {}
        let fd = try io.open(temporary, flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode: mode)
        do throws(SystemError) {
            let written: Result<Void, SystemError> = bytes.withUnsafeBytes { b in
                Result { () throws(SystemError) in try io.writeAll(fd, b, path: temporary) }
            }
            try written.get()
            try io.fsync(fd, path: temporary)
        } catch {
            io.close(fd)
            throw error
        }
        io.close(fd)
        try io.rename(temporary, target)
        let slash = target.lastIndex(of: "/").map { String(target[..<$0]) } ?? "."
        try io.syncDirectory(slash.isEmpty ? "/" : slash)
    }
}
