#if canImport(Glibc)
package import Glibc
#endif

package enum AtomicFile {
    /// Between a target's name and its writer's pid in a temporary's name.
    package static let temporaryMarker = ".tmp."
    /// A temporary this old whose writer is gone is stale: no write takes that long.
    static let staleSeconds: Int64 = 600

    /// kill(2) with signal 0: no such process (ESRCH). A process we may not signal exists.
    package static func processIsGone(_ pid: Int32) -> Bool { kill(pid, 0) != 0 && errno == ESRCH }
}

extension FileIO {
    /// Writes `bytes` to `target` so that a crash leaves either the old or the new file:
    /// a temporary file, fsync, rename, fsync of the directory. The temporary has a name no
    /// other writer uses (pid and a random part) and is created fresh, never through a
    /// link: two writers of one target do not collide, and whoever can write the directory
    /// cannot aim a more privileged writer (root's `adpilotctl halt`) elsewhere. `owner`
    /// hands the file to another user before it appears (root writing for the daemon).
    package func writeAtomically(
        _ target: String, _ bytes: [UInt8], mode: UInt32 = 0o640,
        owner: (uid: uid_t, gid: gid_t)? = nil
    ) throws(SystemError) {
        let written: Result<Void, SystemError> = bytes.withUnsafeBytes { b in
            Result { () throws(SystemError) in try writeAtomically(target, raw: b, mode: mode, owner: owner) }
        }
        try written.get()
    }

    /// `writeAtomically(_:_:mode:owner:)` of bytes held elsewhere (a snapshot's buffer),
    /// without copying them into an array first.
    package func writeAtomically(
        _ target: String, raw bytes: UnsafeRawBufferPointer, mode: UInt32 = 0o640,
        owner: (uid: uid_t, gid: gid_t)? = nil
    ) throws(SystemError) {
        let temporary =
            "\(target)\(AtomicFile.temporaryMarker)\(getpid()).\(String(UInt32.random(in: .min ... .max), radix: 16))"
        let fd = try self.open(temporary, flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode: mode)
        do throws(SystemError) {
            try self.writeAll(fd, bytes, path: temporary)
            if let owner { try self.changeOwner(fd, uid: owner.uid, gid: owner.gid, path: temporary) }
            try self.fsync(fd, path: temporary)
        } catch {
            self.close(fd)
            try? self.unlink(temporary)
            throw error
        }
        self.close(fd)
        do {
            try self.rename(temporary, target)
        } catch {
            try? self.unlink(temporary)
            throw error
        }
        let slash = target.lastIndex(of: "/").map { String(target[..<$0]) } ?? "."
        try self.syncDirectory(slash.isEmpty ? "/" : slash)
    }

    /// Removes the temporaries of `target` left by writers that died mid-write: their pid
    /// no longer exists and the file is over 10 minutes old (a writer in another PID
    /// namespace looks dead, but no write takes that long). Best effort.
    package func removeStaleTemporaries(of target: String) {
        let slash = target.lastIndex(of: "/")
        let dir = slash.map { String(target[..<$0]) } ?? "."
        let prefix = (slash.map { String(target[target.index(after: $0)...]) } ?? target) + AtomicFile.temporaryMarker
        guard let names = try? self.listDirectory(dir.isEmpty ? "/" : dir) else { return }
        for name in names where name.hasPrefix(prefix) {
            guard let pid = Int32(name.dropFirst(prefix.count).prefix { $0 != "." }), pid > 0 else { continue }
            let path = dir + "/" + name
            guard let st = try? self.status(path),
                Int64(time(nil)) - st.modifiedSecondsSinceEpoch > AtomicFile.staleSeconds
            else { continue }
            if AtomicFile.processIsGone(pid) { try? self.unlink(path) }
        }
    }
}

/// `path` with links and `.`/`..` resolved (realpath(3)), or `path` itself when it cannot be
/// resolved (it does not exist yet): two spellings of one directory compare equal.
package func canonicalPath(_ path: String) -> String {
    guard let resolved = realpath(path, nil) else { return path }
    defer { free(resolved) }
    return String(cString: resolved)
}
