package import AdPilotSystem
#if canImport(Glibc)
import Glibc
#endif

/// A journal segment file: `journal-<first seq, 20 digits>.jsonl`, or, once archived,
/// the same bytes gzip-compressed as `journal-<first seq>.jsonl.gz` (`JournalArchiver`).
package struct SegmentName: Hashable, Comparable, Sendable, CustomStringConvertible {
    package let firstSeq: UInt64
    package let compressed: Bool

    package init(firstSeq: UInt64, compressed: Bool = false) {
        self.firstSeq = firstSeq
        self.compressed = compressed
    }

    package init?(fileName: String) {
        let compressed = fileName.hasSuffix(".jsonl.gz")
        guard fileName.hasPrefix("journal-"), compressed || fileName.hasSuffix(".jsonl") else { return nil }
        let digits = fileName.dropFirst(8).prefix(20)
        guard digits.count == 20, digits.allSatisfy({ $0 >= "0" && $0 <= "9" }), let v = UInt64(digits), v >= 1 else {
            return nil
        }
        firstSeq = v
        self.compressed = compressed
        guard self.fileName == fileName else { return nil }
    }

    package var fileName: String {
        let s = String(firstSeq)
        return "journal-" + String(repeating: "0", count: 20 - s.count) + s + (compressed ? ".jsonl.gz" : ".jsonl")
    }

    /// The same segment, archived.
    package var archived: SegmentName { SegmentName(firstSeq: firstSeq, compressed: true) }

    package var description: String { fileName }
    package static func < (a: SegmentName, b: SegmentName) -> Bool {
        (a.firstSeq, a.compressed ? 1 : 0) < (b.firstSeq, b.compressed ? 1 : 0)
    }
}

package enum JournalError: Error, CustomStringConvertible {
    /// Another process holds the writer lock.
    case locked(path: String, holder: String)
    /// Another `journal archive` holds the archiver's lock (on the journal directory).
    case archiving(path: String)
    case noSpace(SystemError)
    case io(SystemError)
    case system(SystemError)
    /// A write or sync failed earlier; nothing more is accepted until the journal is reopened.
    case poisoned(cause: String)
    /// The journal is damaged before its tail: refused, never repaired.
    case corrupt(seq: UInt64?, segment: String, offset: Int64, problem: String)
    case invalidKey(String)
    case tooLarge(String)
    /// The directory or the current segment is no longer the file the writer opened
    /// (removed, renamed, replaced): nothing more is written there.
    case displaced(String)

    /// Maps whatever a block of syscalls threw to a JournalError.
    static func from(any e: any Error) -> JournalError {
        if let j = e as? JournalError { return j }
        if let s = e as? SystemError { return from(s) }
        return .system(SystemError(errno: EIO, operation: "\(e)", path: nil))
    }

    static func from(_ e: SystemError) -> JournalError {
        if e.isNoSpace { return .noSpace(e) }
        if e.isIO { return .io(e) }
        return .system(e)
    }

    package var description: String {
        switch self {
        case .locked(let path, let holder):
            return "the journal is locked by another writer (\(holder)); lock file \(path). Stop that process, "
                + "or use the daemon's socket instead of writing directly"
        case .archiving(let path):
            return "another journal archive is running on \(path) (it holds the directory's flock); nothing was "
                + "archived. Wait for it to finish, then run this one again"
        case .noSpace(let e):
            return
                "journal: no space left: \(e). Free space in the state directory; the controller holds budgets until "
                    + "then"
        case .io(let e):
            return
                "journal: I/O error: \(e). Check the disk; the controller holds budgets until the journal is reopened"
        case .system(let e): return "journal: \(e)"
        case .poisoned(let cause):
            return
                "journal writer is poisoned after a failed write or sync (\(cause)); reopen it, which re-checks the "
                    + "tail"
        case .corrupt(let seq, let segment, let offset, let problem):
            return "journal corrupt at \(seq.map { "seq \($0), " } ?? "")\(segment) byte \(offset): \(problem). "
                + "Not repaired automatically: see Runbooks/journal-recovery.md"
        case .invalidKey(let problem): return "journal key: \(problem)"
        case .tooLarge(let what): return "journal: \(what)"
        case .displaced(let what):
            return "journal: \(what); nothing more is written until it is restored (see Runbooks/journal-recovery.md)"
        }
    }
}

extension FileIO {
    /// Segment names in the journal directory, oldest first. Other files are ignored. A
    /// segment present both plain and archived (an archive interrupted after its rename) is
    /// listed once, plain: the two hold the same bytes.
    func segmentNames(_ directory: String) throws(JournalError) -> [SegmentName] {
        do {
            var out: [SegmentName] = []
            for name in try listDirectory(directory).compactMap(SegmentName.init(fileName:)).sorted() {
                if let last = out.last, last.firstSeq == name.firstSeq { continue }
                out.append(name)
            }
            return out
        } catch {
            throw JournalError.from(any: error)
        }
    }
}

/// The last complete record of a segment, read from its end (bounded by the line limit).
struct TailRecord {
    let seq: UInt64
    let hash: SHA256Digest
}

extension FileIO {
    /// Opens a segment for reading; a plain one that `journal archive` replaced since its
    /// reader listed the directory (a daemon reading its journal back, `journal show`, a
    /// `tail`, a start-up beside an archive) is opened as its archive, which decompresses to
    /// the same bytes at the same offsets. Returns the path opened. Neither there: the plain
    /// segment's error.
    func openSegment(_ path: String) throws(SystemError) -> (FileDescriptor, String) {
        do {
            return (try open(path, flags: O_RDONLY | O_CLOEXEC, mode: 0), path)
        } catch where error.errno == ENOENT && !path.hasSuffix(".gz") {
            let archived = path + ".gz"
            guard let fd = try? open(archived, flags: O_RDONLY | O_CLOEXEC, mode: 0) else { throw error }
            return (fd, archived)
        }
    }

    /// The last record of a closed segment: read from the end of a plain one; for an archived
    /// one, as its header names it (`verify` checks that name against the content), else by
    /// decompressing it whole (bounded by the segment size).
    func lastRecord(of listed: String) throws(JournalError) -> TailRecord? {
        let path: String
        do {
            let (fd, opened) = try openSegment(listed)
            close(fd)
            path = opened
        } catch {
            throw JournalError.from(any: error)
        }
        if path.hasSuffix(".gz"), let named = try? archiveHeaderLastRecord(path) { return named }
        do {
            let (bytes, size, window) = try lastLineWindow(path)
            guard let last = bytes.last else { return nil }
            guard last == UInt8(ascii: "\n") else {
                throw JournalError.corrupt(
                    seq: nil, segment: path, offset: size, problem: "a closed segment ends without a newline")
            }
            let end = bytes.count - 1
            let start = (bytes[..<end].lastIndex(of: UInt8(ascii: "\n")) ?? -1) + 1
            return try bytes.withUnsafeBytes { all throws(JournalError) -> TailRecord in
                let line = UnsafeRawBufferPointer(rebasing: all[start..<end])
                guard let h = LineHeader.parse(line), h.hashMatches(line, Crypto.SHA256Context()) else {
                    throw JournalError.corrupt(
                        seq: nil, segment: path, offset: size - window + Int64(start),
                        problem: "the last record of a closed segment does not verify")
                }
                return TailRecord(seq: h.seq, hash: h.digest(h.hash, in: line)!)  // hashMatches proved it is hex
            }
        } catch {
            throw JournalError.from(any: error)
        }
    }

    /// The last record an archive's gzip header names (`JournalArchiver`), or nil.
    func archiveHeaderLastRecord(_ path: String) throws -> TailRecord? {
        let fd = try open(path, flags: O_RDONLY | O_CLOEXEC, mode: 0)
        defer { close(fd) }
        let head = try readAll(fd, count: 4_096, at: 0, path: path)
        let comment = head.withUnsafeBytes { Gzip.comment(ofStreamStartingWith: $0) }
        return JournalArchiver.lastRecord(fromComment: comment)
    }

    /// The tail of a segment's bytes holding at least its last line: the bytes, the
    /// segment's length, and the window's length.
    private func lastLineWindow(_ path: String) throws -> (bytes: [UInt8], size: Int64, window: Int64) {
        guard path.hasSuffix(".gz") else {
            let fd = try open(path, flags: O_RDONLY | O_CLOEXEC, mode: 0)
            defer { close(fd) }
            let size = try self.size(fd, path: path)
            let window = min(size, Int64(RecordFormat.lineBytesMax + 1))
            return (try readAll(fd, count: Int(window), at: size - window, path: path), size, window)
        }
        var last: [UInt8] = []
        let scan = try SegmentScanner(io: self, path: path).scan(from: 0) { _, line in
            last = Array(line)
            return true
        }
        guard scan.total == scan.end else {
            throw JournalError.corrupt(
                seq: nil, segment: path, offset: scan.total, problem: "a closed segment ends without a newline")
        }
        guard !last.isEmpty || scan.end > 0 else { return ([], 0, 0) }
        return (last + [UInt8(ascii: "\n")], scan.end, Int64(last.count + 1))
    }
}
