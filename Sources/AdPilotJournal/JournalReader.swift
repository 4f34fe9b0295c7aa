#if canImport(Glibc)
import Glibc
#endif
package import AdPilotCore
package import AdPilotSystem

/// Reads a segment's complete lines in large chunks (no line is ever held twice), calling
/// `visit(offset, line)` for each newline-terminated line; returns the offset just past the
/// last complete line (an incomplete last line is left for later) and the bytes seen in
/// all. An archived segment (`.gz`) is decompressed as it is read; offsets are then in its
/// decompressed bytes, which are the segment as written.
struct SegmentScanner {
    static let chunkBytes = 4 << 20

    let io: any FileIO
    let path: String

    struct End {
        /// Just past the last complete line.
        var end: Int64
        /// Whether `visit` stopped the scan.
        var stopped: Bool
        /// Every byte seen (past `end`: an incomplete last line); only meaningful when not stopped.
        var total: Int64
        /// The file read: the segment's, or its archive's (`FileIO.openSegment`).
        var path: String
    }

    /// Every complete line from `start` on, in order: `visit` gets its file offset and its
    /// bytes without the newline, and returns false to stop.
    func scan(from start: Int64, _ visit: (Int64, UnsafeRawBufferPointer) throws -> Bool) throws -> End {
        try scanChunks(from: start) { offset, lines in
            let base = lines.baseAddress!
            var consumed = 0
            while consumed < lines.count {
                let nl = base.distance(to: UnsafeRawPointer(memchr(base + consumed, 0x0a, lines.count - consumed)!))
                let more = try visit(offset + Int64(consumed), UnsafeRawBufferPointer(rebasing: lines[consumed..<nl]))
                consumed = nl + 1
                if !more { return consumed }
            }
            return nil
        }
    }

    /// The complete lines a chunk read holds, a chunk at a time: `visit` gets the file offset
    /// of the first and their bytes, each line ended by its newline, and returns nil to go on,
    /// or how many of those bytes it consumed (whole lines) to stop there.
    func scanChunks(from start: Int64, _ visit: (Int64, UnsafeRawBufferPointer) throws -> Int?) throws -> End {
        let (fd, opened) = try io.openSegment(path)
        defer { io.close(fd) }
        let source = SegmentSource(io: io, fd: fd, path: opened, compressed: opened.hasSuffix(".gz"))
        var buffer = [UInt8](repeating: 0, count: SegmentScanner.chunkBytes + RecordFormat.lineBytesMax)
        var carried = 0  // bytes of an unfinished line at the front of the buffer
        var fileOffset = start  // file offset of buffer[0]
        while true {
            let n = try buffer.withUnsafeMutableBytes { b in
                try source.read(
                    into: UnsafeMutableRawBufferPointer(rebasing: b[carried..<(carried + SegmentScanner.chunkBytes)]),
                    at: fileOffset + Int64(carried))
            }
            if n == 0 {
                return End(end: fileOffset, stopped: false, total: fileOffset + Int64(carried), path: opened)
            }
            let filled = carried + n
            let (complete, stoppedAt) = try buffer.withUnsafeBytes { all -> (Int, Int?) in
                var complete = filled  // just past the last newline: at most a line back from the end
                while complete > 0 && all[complete - 1] != 0x0a { complete -= 1 }
                guard complete > 0 else { return (0, nil) }
                return (complete, try visit(fileOffset, UnsafeRawBufferPointer(rebasing: all[0..<complete])))
            }
            if let stoppedAt {
                return End(
                    end: fileOffset + Int64(stoppedAt), stopped: true, total: fileOffset + Int64(filled), path: opened)
            }
            carried = filled - complete
            if carried > RecordFormat.lineBytesMax {
                throw JournalError.corrupt(
                    seq: nil, segment: path, offset: fileOffset + Int64(complete),
                    problem: "a line longer than \(RecordFormat.lineBytesMax) bytes")
            }
            if complete > 0 {
                buffer.withUnsafeMutableBytes { b in
                    b.baseAddress!.copyMemory(from: b.baseAddress! + complete, byteCount: carried)
                }
                fileOffset += Int64(complete)
            }
        }
    }
}

/// A segment's bytes as written: read in place from a plain segment, decompressed from an
/// archived one (read forward only; an earlier offset than the last read is a bug).
final class SegmentSource {
    let io: any FileIO
    let fd: FileDescriptor
    let path: String
    private let inflater: Gzip.Inflater?
    private var input = [UInt8]()
    private var inputStart = 0, inputEnd = 0
    private var compressedOffset: Int64 = 0
    private var trailerChecked = false
    /// Decompressed bytes delivered (or skipped) so far.
    private var position: Int64 = 0

    init(io: any FileIO, fd: FileDescriptor, path: String, compressed: Bool) {
        self.io = io
        self.fd = fd
        self.path = path
        inflater = compressed ? Gzip.Inflater() : nil
        if compressed { input = [UInt8](repeating: 0, count: 1 << 20) }
    }

    /// Reads into `buffer` the segment's bytes from `offset`; 0 at the end.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws -> Int {
        guard let inflater else { return try io.pread(fd, into: buffer, at: offset, path: path) }
        precondition(offset >= position, "an archived segment is read forward only")
        var skip = [UInt8]()
        while position < offset {  // a scan that starts past 0: decompress up to it
            if skip.isEmpty { skip = [UInt8](repeating: 0, count: 1 << 16) }
            let want = Int(min(Int64(skip.count), offset - position))
            let n = try skip.withUnsafeMutableBytes {
                try inflate(inflater, into: UnsafeMutableRawBufferPointer(rebasing: $0[..<want]))
            }
            guard n > 0 else { return 0 }
            position += Int64(n)
        }
        let n = try inflate(inflater, into: buffer)
        position += Int64(n)
        return n
    }

    /// Fills `buffer` as far as the stream goes; 0 only at its end. A stream cut short is
    /// damage, never a quiet end of file.
    private func inflate(_ inflater: Gzip.Inflater, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var filled = 0
        while filled < buffer.count && !inflater.ended {
            if inputStart == inputEnd {
                let n = try input.withUnsafeMutableBytes {
                    try io.pread(fd, into: $0, at: compressedOffset, path: path)
                }
                guard n > 0 else {
                    throw JournalError.corrupt(
                        seq: nil, segment: path, offset: compressedOffset,
                        problem: "the archive ends before its gzip stream does (truncated)")
                }
                compressedOffset += Int64(n)
                inputStart = 0
                inputEnd = n
            }
            let (consumed, produced) = try input.withUnsafeBytes { inp in
                try inflater.inflate(
                    UnsafeRawBufferPointer(rebasing: inp[inputStart..<inputEnd]),
                    into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
            }
            inputStart += consumed
            filled += produced
        }
        if inflater.ended && !trailerChecked {  // the member ended: nothing may follow it
            trailerChecked = true
            let more = try inputStart < inputEnd
                || input.withUnsafeMutableBytes { try io.pread(fd, into: $0, at: compressedOffset, path: path) } > 0
            if more {
                throw JournalError.corrupt(
                    seq: nil, segment: path, offset: compressedOffset - Int64(inputEnd - inputStart),
                    problem: "bytes after the end of the gzip stream")
            }
        }
        return filled
    }
}

/// A record as read: the verbatim line and its fixed fields.
package struct JournalRecord: Sendable {
    package let seq: UInt64
    package let time: String
    package let kind: String
    /// The line exactly as stored, without its newline.
    package let line: [UInt8]
    let dataRange: Range<Int>

    init(_ line: UnsafeRawBufferPointer, _ h: LineHeader) {
        seq = h.seq
        time = h.string(h.time, in: line)
        kind = h.string(h.kind, in: line)
        self.line = Array(line)
        dataRange = h.data
    }

    package var text: String { String(decoding: line, as: UTF8.self) }
    /// The `data` object's bytes (a JSON object).
    package var dataBytes: ArraySlice<UInt8> { line[dataRange] }
    package var instant: Instant? { Instant(rfc3339: time) }
}

/// Which records a reader returns.
package struct RecordFilter: Sendable {
    package var kinds: Set<String> = []
    /// Matches records whose data has `"campaign":"<id>"`.
    package var campaign: String? = nil
    package var since: Instant? = nil

    package init(kinds: Set<String> = [], campaign: String? = nil, since: Instant? = nil) {
        self.kinds = kinds
        self.campaign = campaign
        self.since = since
    }

    package func matches(_ r: JournalRecord) -> Bool {
        if !kinds.isEmpty && !kinds.contains(r.kind) { return false }
        if let since, let t = r.instant, t < since { return false }
        if let campaign {
            // An exact byte match of the JSON member; campaign ids are plain strings.
            let needle = Array("\"campaign\":\"\(campaign)\"".utf8)
            guard r.dataBytes.firstRange(of: needle) != nil else { return false }
        }
        return true
    }
}

/// Reads a journal directory without taking the writer lock (the writer only appends,
/// and readers never trust a line whose hash does not match).
package struct JournalReader: Sendable {
    package let directory: String
    let io: any FileIO

    package init(directory: String, io: any FileIO = PosixFileIO()) {
        self.directory = directory
        self.io = io
    }

    package func segments() throws(JournalError) -> [SegmentName] { try io.segmentNames(directory) }

    func path(_ s: SegmentName) -> String { directory + "/" + s.fileName }

    /// Calls `visit` for each valid record of `segment` at or after `fromSeq`; stops when
    /// it returns false. Returns the offset after the last complete line read.
    @discardableResult
    func forEach(
        in segment: SegmentName, from offset: Int64 = 0, fromSeq: UInt64 = 0,
        _ visit: (JournalRecord) throws -> Bool
    ) throws -> (end: Int64, stopped: Bool) {
        let sha = Crypto.SHA256Context()
        let scan = try SegmentScanner(io: io, path: path(segment)).scan(from: offset) { _, line in
            guard let h = LineHeader.parse(line), h.seq >= fromSeq else { return true }
            guard h.hashMatches(line, sha) else { return true }
            return try visit(JournalRecord(line, h))
        }
        return (scan.end, scan.stopped)
    }

    /// Records from `seq` on, oldest first, until `visit` returns false.
    package func records(
        from seq: UInt64 = 1, matching filter: RecordFilter = RecordFilter(),
        _ visit: (JournalRecord) throws -> Bool
    ) throws(JournalError) {
        do {
            let names = try segments()
            let startIndex = names.lastIndex { $0.firstSeq <= seq } ?? 0
            for name in names[startIndex...] {
                let (_, stopped) = try forEach(in: name, fromSeq: seq) { r in filter.matches(r) ? try visit(r) : true }
                if stopped { return }
            }
        } catch {
            throw JournalError.from(any: error)
        }
    }

    /// The last `count` matching records, oldest first. Reads segments newest first and
    /// stops as soon as it has enough.
    package func last(
        _ count: Int, matching filter: RecordFilter = RecordFilter()
    ) throws(JournalError) -> [JournalRecord] {
        guard count > 0 else { return [] }
        var out: [JournalRecord] = []
        do {
            for name in try segments().reversed() {
                var found: [JournalRecord] = []
                try forEach(in: name) { r in
                    if filter.matches(r) {
                        found.append(r)
                        if found.count > count { found.removeFirst(found.count - count) }
                    }
                    return true
                }
                out = found + out
                if out.count >= count { break }
            }
        } catch {
            throw JournalError.from(any: error)
        }
        return Array(out.suffix(count))
    }

    /// (Of an archive that replaced the segment meanwhile, its compressed size: smaller than
    /// any offset read, so the follower rescans it, skipping what it delivered by seq.)
    func segmentSize(_ segment: SegmentName) throws -> Int64 {
        let (fd, opened) = try io.openSegment(path(segment))
        defer { io.close(fd) }
        return try io.size(fd, path: opened)
    }

    package func record(seq: UInt64) throws(JournalError) -> JournalRecord? {
        var found: JournalRecord? = nil
        try records(from: seq) { r in
            if r.seq == seq { found = r }
            return false
        }
        return found
    }

    /// Follows the journal like `tail -f`: delivers every matching record from `seq` on,
    /// once and in order, across rotations, polling every `pollMillis` (at most 100) until
    /// `shouldStop` returns true.
    package func follow(
        from seq: UInt64, matching filter: RecordFilter = RecordFilter(), pollMillis: Int = 25,
        shouldStop: () -> Bool, _ deliver: (JournalRecord) throws -> Void
    ) throws(JournalError) {
        precondition(pollMillis >= 1 && pollMillis <= 100)
        var next = seq
        var current: SegmentName? = nil
        var offset: Int64 = 0
        var rescannedFor: UInt64? = nil  // the seq a full rescan was last needed for
        do {
            while !shouldStop() {
                let names = try segments()
                if current == nil || !names.contains(current!) {
                    current = names.last { $0.firstSeq <= next } ?? names.first
                    offset = 0
                }
                guard let segment = current else {
                    usleep(UInt32(pollMillis * 1000))
                    continue
                }
                // Recovery may have truncated a torn tail we had already read past and
                // written new records over it. Either shows as a shrunken file or a seq gap:
                // rescan the segment from its start (delivered records are skipped by seq).
                if offset > 0, try segmentSize(segment) < offset { offset = 0 }
                var progressed = false
                var gap = false
                let (end, _) = try forEach(in: segment, from: offset, fromSeq: next) { r in
                    guard r.seq == next else {  // never twice, never out of order
                        gap = r.seq > next
                        return !gap
                    }
                    next += 1
                    progressed = true
                    if filter.matches(r) { try deliver(r) }
                    return true
                }
                if gap {
                    // A gap that survives a rescan from the segment's start is damage (a
                    // record that does not verify), not a race with recovery: say so.
                    if rescannedFor == next {
                        throw JournalError.corrupt(
                            seq: next, segment: segment.fileName, offset: 0,
                            problem: "record \(next) is missing or does not verify; run adpilotctl journal verify")
                    }
                    rescannedFor = next
                    offset = 0
                    usleep(UInt32(pollMillis * 1000))
                    continue
                }
                offset = end
                if progressed { rescannedFor = nil; continue }
                // At the end of this segment: move on only once a newer one exists (the
                // writer creates it after the old one is complete and synced).
                if let newer = names.first(where: { $0.firstSeq > segment.firstSeq }), newer.firstSeq <= next {
                    current = newer
                    offset = 0
                    continue
                }
                usleep(UInt32(pollMillis * 1000))
            }
        } catch {
            throw JournalError.from(any: error)
        }
    }
}
