package import AdPilotSystem
#if canImport(Glibc)
package import Glibc
#endif

/// The state directory's layout (docs/operations.md): journal, halt flag, snapshot, embedded market.
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
        for target in [haltFlag, haltReserve, snapshot, anomalySnapshot, defaultMetrics] {
            removeStaleTemporaries(of: target)
        }
    }

    // MARK: The halt flag

    /// The persisted kill switch: while it exists nothing writes to a platform. Only a
    /// definite "no such file" counts as absent: a flag that cannot be checked (EACCES,
    /// EIO) counts as raised.
    package var isHalted: Bool { io.probe(haltFlag) != ENOENT }

    /// A flag written in advance: when the disk is too full to create the flag, it is
    /// renamed into place instead (a rename needs no new space), so a halt forced by a full
    /// disk still outlives a restart.
    package var haltReserve: String { path + "/HALT.reserve" }
    static let reserveNote =
        "halted: the disk holding this directory was full when the halt was raised; "
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
            if io.probe(haltFlag) == 0 { return }
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
        } catch  where error.errno == ENOENT {
            return
        }
        try io.syncDirectory(path)
        try? prepareHaltReserve()
    }

    /// See `FileIO.writeAtomically`.
    package func writeAtomically(
        _ target: String, _ bytes: [UInt8], mode: UInt32 = 0o640,
        owner: (uid: uid_t, gid: gid_t)? = nil
    ) throws(SystemError) {
        try io.writeAtomically(target, bytes, mode: mode, owner: owner)
    }

    package func writeAtomically(_ target: String, raw bytes: UnsafeRawBufferPointer) throws(SystemError) {
        try io.writeAtomically(target, raw: bytes)
    }

    package func removeStaleTemporaries(of target: String) { io.removeStaleTemporaries(of: target) }
}
