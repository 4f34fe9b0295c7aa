package import AdPilotSystem
#if canImport(Glibc)
package import Glibc
#endif

/// The state directory's layout (SPEC §4): journal, halt flag, snapshot, embedded market.
package struct StateDirectory: Sendable {
    package let path: String
    package let io: any FileIO

    package init(_ path: String, io: any FileIO = PosixFileIO()) {
        self.path = path
        self.io = io
    }

    package var journal: String { path + "/journal" }
    package var haltFlag: String { path + "/HALT" }
    package var snapshot: String { path + "/controller-state.json" }
    package var anomalySnapshot: String { path + "/anomaly-state.json" }
    package var market: String { path + "/simulator" }
    package var policies: String { path + "/policies" }
    package var defaultMetrics: String { path + "/adpilot.prom" }

    package func prepare() throws(SystemError) {
        try io.makeDirectories(path, mode: 0o750)
        try io.makeDirectories(journal, mode: 0o750)
        for target in [haltFlag, haltReserve, snapshot, anomalySnapshot, defaultMetrics] { removeStaleTemporaries(of: target) }
    }

    // MARK: The halt flag

    /// The persisted kill switch: while it exists nothing writes to a platform. Only a
    /// definite "no such file" counts as absent: a flag that cannot be checked (EACCES,
    /// EIO) counts as raised.
    package var isHalted: Bool {
        if access(haltFlag, F_OK) == 0 { return true }
        return errno != ENOENT
    }

    /// A flag written in advance: when the disk is too full to create the flag, it is
    /// renamed into place instead (a rename needs no new space), so a halt forced by a full
    /// disk still outlives a restart.
    package var haltReserve: String { path + "/HALT.reserve" }
    static let reserveNote = "halted: the disk holding this directory was full when the halt was raised; "
        + "the reason is in the daemon's log (journalctl -u adpilotd)\n"

    /// Creates the flag durably (file and directory entry synced) with who and why inside.
    /// On a full disk, the reserve takes its place (with a generic note).
    package func raiseHaltFlag(note: String, owner: (uid: uid_t, gid: gid_t)? = nil) throws(SystemError) {
        do {
            try writeAtomically(haltFlag, Array((note + "\n").utf8), mode: 0o640, owner: owner)
        } catch {
            if error.isNoSpace && io.exists(haltReserve) {
                do {
                    try io.rename(haltReserve, haltFlag)
                    try io.syncDirectory(path)
                    return
                } catch {}
            }
            // Raised already (the reserve, earlier, or another writer at the same moment).
            if access(haltFlag, F_OK) == 0 { return }
            throw error
        }
    }

    /// Writes the reserve flag if it is missing (at start-up, and after a resume used it).
    package func prepareHaltReserve() throws(SystemError) {
        guard !io.exists(haltReserve) else { return }
        try writeAtomically(haltReserve, Array(Self.reserveNote.utf8), mode: 0o640)
    }

    /// Removes the flag durably, then replaces a reserve a full disk used up (best effort).
    package func clearHaltFlag() throws(SystemError) {
        do {
            try io.unlink(haltFlag)
        } catch where error.errno == ENOENT {
            return
        }
        try io.syncDirectory(path)
        try? prepareHaltReserve()
    }

    /// Writes `bytes` to `target` so that a crash leaves either the old or the new file:
    /// a temporary file, fsync, rename, fsync of the directory. The temporary has a name no
    /// other writer uses (pid and a random part) and is created fresh, never through a
    /// link: two writers of one target do not collide, and whoever can write the directory
    /// cannot aim a more privileged writer (root's `adpilotctl halt`) elsewhere. `owner`
    /// hands the file to another user before it appears (root writing for the daemon).
    package func writeAtomically(_ target: String, _ bytes: [UInt8], mode: UInt32 = 0o640,
                                owner: (uid: uid_t, gid: gid_t)? = nil) throws(SystemError) {
        let temporary = "\(target)\(Self.temporaryMarker)\(getpid()).\(String(UInt32.random(in: .min ... .max), radix: 16))"
        let fd = try io.open(temporary, flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode: mode)
        do throws(SystemError) {
            let written: Result<Void, SystemError> = bytes.withUnsafeBytes { b in
                Result { () throws(SystemError) in try io.writeAll(fd, b, path: temporary) }
            }
            try written.get()
            if let owner, fchown(fd.rawValue, owner.uid, owner.gid) != 0 {
                throw SystemError(errno: errno, operation: "fchown to uid \(owner.uid)", path: temporary)
            }
            try io.fsync(fd, path: temporary)
        } catch {
            io.close(fd)
            try? io.unlink(temporary)
            throw error
        }
        io.close(fd)
        do {
            try io.rename(temporary, target)
        } catch {
            try? io.unlink(temporary)
            throw error
        }
        let slash = target.lastIndex(of: "/").map { String(target[..<$0]) } ?? "."
        try io.syncDirectory(slash.isEmpty ? "/" : slash)
    }

    static let temporaryMarker = ".tmp."

    /// Removes the temporaries of `target` left by writers that died mid-write: their pid
    /// no longer exists and the file is over 10 minutes old (a writer in another PID
    /// namespace looks dead, but no write takes that long). Best effort.
    package func removeStaleTemporaries(of target: String) {
        let slash = target.lastIndex(of: "/")
        let dir = slash.map { String(target[..<$0]) } ?? "."
        let prefix = (slash.map { String(target[target.index(after: $0)...]) } ?? target) + Self.temporaryMarker
        guard let names = try? io.listDirectory(dir.isEmpty ? "/" : dir) else { return }
        for name in names where name.hasPrefix(prefix) {
            guard let pid = Int32(name.dropFirst(prefix.count).prefix { $0 != "." }), pid > 0 else { continue }
            var st = stat()
            let path = dir + "/" + name
            guard lstat(path, &st) == 0, time(nil) - st.st_mtim.tv_sec > 600 else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { try? io.unlink(path) }
        }
    }
}
