#if canImport(Glibc)
import Glibc
#endif
import AdPilotSystem

/// Opening a journal: the head from the last segment, and a torn tail moved aside.
extension JournalWriter {
    /// Finds the head from the last segment only (start-up cost is bounded by one
    /// segment), recovering a torn tail.
    static func openTail(
        _ directory: String, _ io: any FileIO
    ) throws(JournalError)
        -> (OpenSegment, RecordRef, Int, TornTail?)
    {
        let names = try io.segmentNames(directory)
        guard let last = names.last else {
            return (
                try createSegment(directory, firstSeq: 1, io), RecordRef(seq: 0, hash: RecordFormat.genesis), 0, nil
            )
        }
        guard !last.compressed else {
            throw JournalError.corrupt(
                seq: nil, segment: last.fileName, offset: 0,
                problem: "the newest segment is archived, so nothing can be appended to it (archives are only made "
                    + "of closed segments): restore it with gunzip, keeping the .gz until the journal verifies")
        }
        var start = RecordRef(seq: 0, hash: RecordFormat.genesis)
        if names.count > 1 {
            let previous = names[names.count - 2]
            guard let tail = try io.lastRecord(of: directory + "/" + previous.fileName) else {
                throw JournalError.corrupt(
                    seq: nil, segment: previous.fileName, offset: 0, problem: "a closed segment is empty")
            }
            start = RecordRef(seq: tail.seq, hash: tail.hash)
        }
        guard start.seq < UInt64.max, last.firstSeq == start.seq + 1 || names.count == 1 else {
            throw JournalError.corrupt(
                seq: start.seq + 1, segment: last.fileName, offset: 0,
                problem:
                    "segment starts at seq \(last.firstSeq) but seq \(start.seq + 1) was expected (a segment is "
                        + "missing)"
            )
        }
        let path = directory + "/" + last.fileName
        do {
            let bytes = try io.readFile(path, limit: Int(Int32.max))
            if names.count == 1 && last.firstSeq > 1 {
                start = try chainStart(bytes, last)
            }
            let scan = try TailScan.scan(bytes, segment: last.fileName, start: start)
            var torn: TornTail? = nil
            if let bad = scan.torn {
                torn = try moveAside(
                    bytes, from: bad.offset, problem: bad.problem, segmentPath: path,
                    segmentName: last.fileName, directory: directory, io: io)
            }
            let fd = try io.open(path, flags: O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC, mode: 0)
            return (
                OpenSegment(name: last, path: path, fd: fd, size: Int64(scan.goodEnd)), scan.head, scan.unsealed, torn
            )
        } catch {
            throw JournalError.from(any: error)
        }
    }

    /// Where the only segment's chain starts when the segments before it were archived,
    /// shipped and removed (Runbooks/archive-the-journal.md): its first record's seq - 1
    /// and `prev`. `verify --after` is what checks that link against the shipped head.
    private static func chainStart(_ bytes: [UInt8], _ segment: SegmentName) throws(JournalError) -> RecordRef {
        let end = bytes.firstIndex(of: UInt8(ascii: "\n")) ?? 0
        let ref = bytes.withUnsafeBytes { all -> RecordRef? in
            let line = UnsafeRawBufferPointer(rebasing: all[..<end])
            guard let h = LineHeader.parse(line), h.seq == segment.firstSeq,
                h.hashMatches(line, Crypto.SHA256Context()), let prev = h.digest(h.prev, in: line)
            else { return nil }
            return RecordRef(seq: h.seq - 1, hash: prev)
        }
        guard let ref else {
            throw JournalError.corrupt(
                seq: segment.firstSeq, segment: segment.fileName, offset: 0,
                problem: "the only segment starts at seq \(segment.firstSeq) (the ones before it were removed) and has "
                    + "no complete first record to continue the chain from: restore the newest archive beside it")
        }
        return ref
    }

    /// Copies the torn bytes to a side file (synced), then truncates the segment to its
    /// last good record (synced). Nothing is deleted.
    private static func moveAside(
        _ bytes: [UInt8], from offset: Int, problem: String, segmentPath: String,
        segmentName: String, directory: String, io: any FileIO
    ) throws -> TornTail {
        var side = "\(segmentPath).torn-at-\(offset)"
        var n = 1
        while io.exists(side) {
            n += 1
            side = "\(segmentPath).torn-at-\(offset).\(n)"
        }
        let sfd = try io.open(side, flags: O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode: 0o640)
        defer { io.close(sfd) }
        try bytes.withUnsafeBytes { all throws in
            try io.writeAll(sfd, UnsafeRawBufferPointer(rebasing: all[offset...]), path: side)
        }
        try io.fsync(sfd, path: side)
        try io.syncDirectory(directory)
        let fd = try io.open(segmentPath, flags: O_WRONLY | O_NOFOLLOW | O_CLOEXEC, mode: 0)
        defer { io.close(fd) }
        try io.ftruncate(fd, length: Int64(offset), path: segmentPath)
        try io.fsync(fd, path: segmentPath)
        return TornTail(
            segment: segmentName, offset: Int64(offset), bytes: bytes.count - offset,
            movedTo: String(side.split(separator: "/").last!), problem: problem)
    }
}

/// The tail check of one segment's bytes.
struct TailScan {
    var head: RecordRef
    var goodEnd: Int
    var unsealed: Int
    var torn: (offset: Int, problem: String)?

    static func scan(_ bytes: [UInt8], segment: String, start: RecordRef) throws(JournalError) -> TailScan {
        do {
            return try bytes.withUnsafeBytes { try scan($0, segment: segment, start: start) }
        } catch {
            throw JournalError.from(any: error)
        }
    }

    private static func scan(_ all: UnsafeRawBufferPointer, segment: String, start: RecordRef) throws -> TailScan {
        let sha = Crypto.SHA256Context()
        var result = TailScan(head: start, goodEnd: 0, unsealed: 0, torn: nil)
        var pos = 0
        while pos < all.count {
            guard result.head.seq < UInt64.max else {
                throw JournalError.corrupt(
                    seq: nil, segment: segment, offset: Int64(pos), problem: "seq space exhausted")
            }
            let expected = result.head.seq + 1
            guard let nl = newline(all, from: pos) else {
                result.torn = (pos, "no newline at the end of the last record")
                break
            }
            let line = UnsafeRawBufferPointer(rebasing: all[pos..<nl])
            guard let h = LineHeader.parse(line) else {
                result.torn = (pos, "not a journal record")
                break
            }
            guard h.hashMatches(line, sha) else {
                result.torn = (pos, "hash mismatch")
                break
            }
            // A complete record with a good hash cannot be a torn write: if it does not
            // continue the chain, the journal was edited.
            guard h.seq == expected else {
                throw JournalError.corrupt(
                    seq: expected, segment: segment, offset: Int64(pos),
                    problem: "found seq \(h.seq), expected \(expected)")
            }
            guard result.head.hash.hexBytes.withUnsafeBytes({ h.prevMatches(line, $0) }) else {
                throw JournalError.corrupt(
                    seq: h.seq, segment: segment, offset: Int64(pos),
                    problem: "prev does not match the previous record's hash")
            }
            result.head = RecordRef(seq: h.seq, hash: h.digest(h.hash, in: line)!)  // hashMatches proved it is hex
            result.unsealed = h.kindIs("seal", in: line) ? 0 : result.unsealed + 1
            pos = nl + 1
            result.goodEnd = pos
        }
        // Damage followed by a verifiable record is not a torn tail: refuse.
        if let torn = result.torn {
            // Look for any verifiable record after the damage, wherever it starts: after a
            // newline, or glued to garbage (a zeroed extent, however long, then a record).
            var p = torn.offset + 1
            while p < all.count, let start = memchr(all.baseAddress! + p, Int32(UInt8(ascii: "{")), all.count - p) {
                let q = all.baseAddress!.distance(to: UnsafeRawPointer(start))
                let prefix = RecordFormat.seqPrefix
                // Only a real record start is worth a (line-bounded) search: linear overall.
                if q + prefix.utf8CodeUnitCount <= all.count,
                    memcmp(all.baseAddress! + q, prefix.utf8Start, prefix.utf8CodeUnitCount) == 0,
                    let nl = newline(all, from: q)
                {
                    let line = UnsafeRawBufferPointer(rebasing: all[q..<nl])
                    if let h = LineHeader.parse(line), h.hashMatches(line, sha) {
                        throw JournalError.corrupt(
                            seq: result.head.seq + 1, segment: segment, offset: Int64(torn.offset),
                            problem:
                                "\(torn.problem), and a valid record (seq \(h.seq)) follows at byte \(q): damage "
                                    + "before the tail"
                        )
                    }
                }
                p = q + 1
            }
        }
        return result
    }

    static func newline(
        _ b: UnsafeRawBufferPointer, from: Int, limit searchBytes: Int = RecordFormat.lineBytesMax
    ) -> Int? {
        guard from < b.count else { return nil }
        let limit = min(b.count, from + searchBytes)
        guard let base = b.baseAddress else { return nil }
        guard let p = memchr(base + from, 0x0a, limit - from) else { return nil }
        return base.distance(to: UnsafeRawPointer(p))
    }
}
