#if canImport(Glibc)
import Glibc
#endif
package import AdPilotSystem

/// Archiving closed segments (docs/journal-format.md#archived-segments): each segment but the
/// newest becomes `journal-<first seq>.jsonl.gz` beside it, gzip of exactly its bytes, so
/// readers and `verify` read archive and live segments as one chain, and `zcat` gives the
/// segment back. Safe beside a running daemon: the writer only appends to the newest
/// segment and never reads a closed one after its start-up, and a reader that listed a
/// segment before it was archived reads its archive instead (`SegmentScanner`).
package enum JournalArchiver {
    /// One segment archived.
    package struct Archived: Sendable, Equatable {
        package var segment: String
        package var bytes: Int64
        package var compressedBytes: Int64
    }

    /// Archives every closed segment not yet archived, oldest first, after verifying the whole
    /// journal (with `key`, its seals too): a damaged journal is never archived. Per segment:
    /// compress to a temporary file and sync it; decompress it again and compare its SHA-256
    /// with the segment's; rename it into place and sync the directory; only then remove the
    /// plain segment and sync again. A crash at any point leaves the plain segment, or both
    /// (listed once, plain), never neither.
    package static func archive(
        directory: String, key: [UInt8]? = nil, level: Int32 = 6, io: any FileIO = PosixFileIO()
    ) throws(JournalError) -> [Archived] {
        let lock = try lockArchiver(directory, io: io)
        defer { io.close(lock) }
        if case .failure(let f) = JournalVerifier.verify(directory: directory, key: key, io: io) {
            throw JournalError.corrupt(
                seq: f.seq, segment: f.segment, offset: f.offset,
                problem: f.problem + "; nothing was archived")
        }
        var done: [Archived] = []
        for name in try io.segmentNames(directory).dropLast() where !name.compressed {
            do {
                done.append(try archive(name, directory: directory, level: level, io: io))
            } catch {
                throw JournalError.from(any: error)
            }
        }
        return done
    }

    /// The archiver's own lock: an `flock` on the journal directory itself (the writer's is on
    /// `.lock` inside it, so the two never meet). Two archivers at once would write the same
    /// temporary file, and the one that renamed it first could leave the other still writing
    /// into the archive it just vouched for. A directory has no lock file to own: a run as
    /// root leaves nothing the service user's next run cannot open.
    private static func lockArchiver(_ directory: String, io: any FileIO) throws(JournalError) -> FileDescriptor {
        let path = directory
        let fd: FileDescriptor, held: Bool
        do {
            fd = try io.open(path, flags: O_RDONLY | O_DIRECTORY | O_CLOEXEC, mode: 0)
        } catch {
            throw JournalError.from(error)
        }
        do {
            held = try io.flock(fd, exclusive: true, nonBlocking: true, path: path)
        } catch {
            io.close(fd)
            throw JournalError.from(error)
        }
        guard held else {
            io.close(fd)
            throw JournalError.archiving(path: path)
        }
        return fd
    }

    private static func archive(
        _ name: SegmentName, directory: String, level: Int32, io: any FileIO
    ) throws -> Archived {
        let plain = directory + "/" + name.fileName
        let final = directory + "/" + name.archived.fileName
        let partial = directory + "/." + name.archived.fileName + ".partial"
        let owner = try io.status(plain)
        guard let last = try io.lastRecord(of: plain) else {
            throw JournalError.corrupt(
                seq: nil, segment: name.fileName, offset: 0, problem: "a closed segment is empty")
        }
        let bytes: Int64, digest: SHA256Digest, compressedBytes: Int64
        do {
            (bytes, digest, compressedBytes) = try compress(
                plain, to: partial, comment: lastRecordComment(last), owner: owner, level: level, io: io)
        } catch {
            try? io.unlink(partial)  // a full disk, say: nothing half-written stays behind
            throw error
        }
        let (readBack, readBackDigest) = try decompressedDigest(partial, io: io)
        guard readBack == bytes, readBackDigest == digest else {
            try? io.unlink(partial)
            throw JournalError.corrupt(
                seq: nil, segment: name.fileName, offset: 0,
                problem: "its archive does not decompress to the same bytes; nothing was changed")
        }
        try io.rename(partial, final)
        try io.syncDirectory(directory)
        try io.unlink(plain)
        try io.syncDirectory(directory)
        return Archived(segment: name.fileName, bytes: bytes, compressedBytes: compressedBytes)
    }

    /// The archive's header comment naming its last record, so that the writer's start-up
    /// need not decompress it (`verify` checks it against the content).
    static let lastRecordPrefix = "adpilot-last-record "

    static func lastRecordComment(_ r: TailRecord) -> String { lastRecordPrefix + "\(r.seq):\(r.hash.hex)" }

    /// The last record an archive's header names, if it names one.
    static func lastRecord(fromComment text: String?) -> TailRecord? {
        guard let text, text.hasPrefix(lastRecordPrefix) else { return nil }
        let parts = text.dropFirst(lastRecordPrefix.count).split(separator: ":")
        guard parts.count == 2, let seq = UInt64(parts[0]), let hash = SHA256Digest(hex: String(parts[1])) else {
            return nil
        }
        return TailRecord(seq: seq, hash: hash)
    }

    /// gzip of `plain` into `partial` (created or truncated, owned like the segment, synced),
    /// `comment` in its header: the plain length, its SHA-256, and the compressed length.
    private static func compress(
        _ plain: String, to partial: String, comment: String, owner: FileStatus, level: Int32, io: any FileIO
    ) throws -> (Int64, SHA256Digest, Int64) {
        let input = try io.open(plain, flags: O_RDONLY | O_CLOEXEC, mode: 0)
        defer { io.close(input) }
        let output = try io.open(partial, flags: O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode: 0o640)
        defer { io.close(output) }
        if owner.uid != getuid() || owner.gid != getgid() {
            try io.changeOwner(output, uid: owner.uid, gid: owner.gid, path: partial)
        }
        let deflater = Gzip.Deflater(level: level, comment: comment)
        var hasher = Crypto.SHA256Hasher()
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var offset: Int64 = 0, written: Int64 = 0
        while true {
            let n = try chunk.withUnsafeMutableBytes { try io.pread(input, into: $0, at: offset, path: plain) }
            try chunk.withUnsafeBytes { all in
                let piece = UnsafeRawBufferPointer(rebasing: all[..<n])
                hasher.update(piece)
                try deflater.compress(piece, finish: n == 0) { out in
                    try io.writeAll(output, out, path: partial)
                    written += Int64(out.count)
                }
            }
            if n == 0 { break }
            offset += Int64(n)
        }
        try io.fsync(output, path: partial)
        return (offset, hasher.finalize(), written)
    }

    /// The length and SHA-256 of what the gzip file at `path` decompresses to.
    private static func decompressedDigest(_ path: String, io: any FileIO) throws -> (Int64, SHA256Digest) {
        let fd = try io.open(path, flags: O_RDONLY | O_CLOEXEC, mode: 0)
        defer { io.close(fd) }
        let source = SegmentSource(io: io, fd: fd, path: path, compressed: true)
        var hasher = Crypto.SHA256Hasher()
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var total: Int64 = 0
        while true {
            let n = try chunk.withUnsafeMutableBytes { try source.read(into: $0, at: total) }
            if n == 0 { break }
            chunk.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[..<n])) }
            total += Int64(n)
        }
        return (total, hasher.finalize())
    }
}
