import Foundation
import Testing
@testable import AdPilotCore
@testable import AdPilotJournal
import AdPilotSystem
import AdPilotTestSupport

/// Archiving closed segments (docs/journal-format.md#archived-segments): gzip of exactly the
/// segment's bytes, read by every reader and `verify` as the segment itself, made crash-safe,
/// refused on a damaged journal, and checked when tampered with.
@Suite struct ArchiveTests {
    static let segmentBytes = Int64(RecordFormat.lineBytesMax)

    /// A journal of several segments (seal every 100 records with the key), and the bytes of
    /// each segment before archiving, by file name.
    static func journal(_ t: TempDir, records: Int = 20_000) throws -> [String: Data] {
        try write(t.journal, records, key: key32, segmentBytes: segmentBytes, interval: 100).close()
        var before: [String: Data] = [:]
        for p in segmentPaths(t.journal) {
            before[(p as NSString).lastPathComponent] = try Data(contentsOf: URL(fileURLWithPath: p))
        }
        #expect(before.count >= 3, "\(before.keys.sorted())")
        return before
    }

    /// The seq and hash of a segment's `n`th record from its end (1: the last).
    static func record(_ segment: Data, fromEnd n: Int) -> TailRecord? {
        let line = Array(segment.split(separator: UInt8(ascii: "\n")).dropLast(n - 1).last ?? [])
        return line.withUnsafeBytes { raw in
            LineHeader.parse(raw).flatMap { h in h.digest(h.hash, in: raw).map { TailRecord(seq: h.seq, hash: $0) } }
        }
    }

    static func files(_ dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasPrefix("journal-") }.sorted()
    }

    /// What the system's gzip(1) decompresses a file to: the archive is plain gzip, not ours.
    static func gunzip(_ path: String) throws -> Data {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/gzip")
        p.arguments = ["-dc", path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "gzip -dc \(path)")
        return data
    }

    @Test func closedSegmentsBecomeGzipOfTheirBytesAndStillReadAsOneChain() throws {
        let t = TempDir()
        let before = try Self.journal(t)
        let head = try verify(t.journal, key: key32).get().head
        let seqs = try JournalReader(directory: t.journal).last(30_000).map(\.seq)
        let done = try JournalArchiver.archive(directory: t.journal, key: key32)
        let names = before.keys.sorted()
        #expect(done.map(\.segment) == Array(names.dropLast()), "the newest segment is never archived")
        #expect(Self.files(t.journal) == names.dropLast().map { $0 + ".gz" } + [names.last!])
        for a in done {
            #expect(try Self.gunzip(t.journal + "/" + a.segment + ".gz") == before[a.segment], "\(a.segment)")
            #expect(a.bytes == Int64(before[a.segment]!.count) && a.compressedBytes * 4 < a.bytes, "\(a)")
        }
        let report = try verify(t.journal, key: key32).get()
        #expect(report.head == head && report.records == 20_000 + UInt64(report.seals), "\(report)")
        #expect(try JournalReader(directory: t.journal).last(30_000).map(\.seq) == seqs)
        #expect(try JournalReader(directory: t.journal).record(seq: 5)?.seq == 5)
        #expect(try JournalArchiver.archive(directory: t.journal, key: key32).isEmpty, "nothing left to archive")
        // The writer reopens on an archived previous segment and goes on with the chain.
        let w = try JournalWriter.open(
            directory: t.journal, options: options(key: key32, segmentBytes: Self.segmentBytes))
        #expect(w.head.seq == head.seq || w.head.seq == head.seq + 1, "at most a seal over the unsealed tail")
        _ = try w.append(kind: "decision", data: data(1))
        try w.close()
        #expect(try verify(t.journal, key: key32).get().head.seq > head.seq)
    }

    /// `journal archive` beside a reader that listed the segments before it ran (the
    /// daemon reading its shadow sample back, `journal show`): each segment replaced since
    /// is read from its archive, every record once, in order.
    @Test func aReaderThatListedTheSegmentsBeforeAnArchiveReadsOn() throws {
        let t = TempDir()
        let before = try Self.journal(t)
        var seqs: [UInt64] = []
        var archived: [JournalArchiver.Archived] = []
        try JournalReader(directory: t.journal).records { r in
            if seqs.isEmpty { archived = try JournalArchiver.archive(directory: t.journal, key: key32) }
            seqs.append(r.seq)
            return true
        }
        #expect(archived.count == before.count - 1)
        #expect(seqs == Array(1...UInt64(seqs.count)) && seqs.count > 20_000, "\(seqs.count) records")
        // The writer's start-up, having listed the plain segment before it was archived,
        // reads the chain's tail from the archive; a segment gone altogether is named as it was.
        let first = before.keys.sorted()[0]
        let tail = try PosixFileIO().lastRecord(of: t.journal + "/" + first)
        #expect(tail?.seq == Self.record(before[first]!, fromEnd: 1)?.seq && tail?.seq != nil)
        try FileManager.default.removeItem(atPath: t.journal + "/" + first + ".gz")
        #expect(throws: JournalError.self) { try PosixFileIO().lastRecord(of: t.journal + "/" + first) }
        do {
            _ = try PosixFileIO().lastRecord(of: t.journal + "/" + first)
        } catch {
            #expect("\(error)".contains(first) && !"\(error)".contains(first + ".gz"), "\(error)")
        }
    }

    /// Each archive's gzip header names its last record (so the writer's start-up reads no
    /// more than the header); a header naming another record fails `verify` and the writer
    /// refuses to open on it.
    @Test func theHeaderNamesTheLastRecordAndVerifyHoldsItToThat() throws {
        let t = TempDir()
        let before = try Self.journal(t)
        let done = try JournalArchiver.archive(directory: t.journal)
        let io = PosixFileIO()
        for a in done {
            let plainLast = try #require(Self.record(before[a.segment]!, fromEnd: 1))
            let archive = t.journal + "/" + a.segment + ".gz"
            let head = try Data(contentsOf: URL(fileURLWithPath: archive)).prefix(4_096)
            let comment = Array(head).withUnsafeBytes { Gzip.comment(ofStreamStartingWith: $0) }
            #expect(comment == "adpilot-last-record \(plainLast.seq):\(plainLast.hash.hex)", "\(a.segment)")
            #expect(try io.lastRecord(of: archive).map { [$0.seq] } == [plainLast.seq])
        }
        // The newest archive rewritten with a header naming the record before its last one.
        let newest = try #require(done.last)
        let bytes = [UInt8](before[newest.segment]!)
        let earlier = try #require(Self.record(before[newest.segment]!, fromEnd: 2))
        var forged: [UInt8] = []
        let deflater = Gzip.Deflater(comment: JournalArchiver.lastRecordComment(earlier))
        bytes.withUnsafeBytes { deflater.compress($0, finish: true) { forged.append(contentsOf: $0) } }
        try Data(forged).write(to: URL(fileURLWithPath: t.journal + "/" + newest.segment + ".gz"))
        guard case .failure(let f) = verify(t.journal) else {
            Issue.record("a header naming the wrong record verified")
            return
        }
        #expect(f.segment == newest.segment + ".gz" && f.problem.contains("the header was changed"), "\(f)")
        #expect(journalError { try JournalWriter.open(directory: t.journal, options: options()) } != nil)
    }

    /// A crash after the archive's rename and before the segment's removal leaves both: read
    /// once (plain); the next archive finishes the job.
    @Test func anInterruptedArchiveIsListedOnceAndFinishedNextTime() throws {
        let t = TempDir()
        let before = try Self.journal(t)
        let first = before.keys.sorted().first!
        _ = try JournalArchiver.archive(directory: t.journal)
        try before[first]!.write(to: URL(fileURLWithPath: t.journal + "/" + first))  // as if never removed
        #expect(try JournalReader(directory: t.journal).segments().first == SegmentName(fileName: first))
        #expect(try verify(t.journal).get().records > 0)
        #expect(try JournalArchiver.archive(directory: t.journal).map(\.segment) == [first])
        #expect(!Self.files(t.journal).contains(first) && Self.files(t.journal).contains(first + ".gz"))
    }

    /// A changed byte in an archive, a cut-short archive, and bytes appended after its
    /// stream: each fails verification naming the archive.
    @Test func aTamperedArchiveFailsVerification() throws {
        for damage in ["flip", "truncate", "append"] {
            let t = TempDir()
            _ = try Self.journal(t)
            let done = try JournalArchiver.archive(directory: t.journal)
            let archive = t.journal + "/" + done[1].segment + ".gz"
            var bytes = try Data(contentsOf: URL(fileURLWithPath: archive))
            switch damage {
            case "flip": bytes[bytes.count / 2] ^= 0x40
            case "truncate": bytes.removeLast(bytes.count / 3)
            default: bytes.append(contentsOf: [0x1f, 0x8b, 0, 1, 2])
            }
            try bytes.write(to: URL(fileURLWithPath: archive))
            guard case .failure(let f) = verify(t.journal) else {
                Issue.record("\(damage): the damaged archive verified")
                continue
            }
            #expect(f.segment == done[1].segment + ".gz", "\(damage): \(f)")
        }
    }

    /// A journal that does not verify is never archived: nothing changes.
    @Test func aDamagedJournalIsNotArchived() throws {
        let t = TempDir()
        _ = try Self.journal(t)
        let first = segmentPaths(t.journal)[0]
        var ls = lines(first)
        ls[3] = ls[3].replacingOccurrences(of: "record", with: "RECORD")
        writeLines(first, ls)
        let filesBefore = Self.files(t.journal)
        let error = journalError { try JournalArchiver.archive(directory: t.journal) }
        #expect("\(error.map { "\($0)" } ?? "")".contains("nothing was archived"), "\(String(describing: error))")
        #expect(Self.files(t.journal) == filesBefore)
    }

    /// Two archivers at once would share the temporary file (one truncating what the other
    /// already checked): the second is refused by the archiver's lock, naming it, and touches
    /// nothing; once the lock is free it archives.
    @Test func aSecondArchiverIsRefusedWhileOneRuns() throws {
        let t = TempDir()
        let before = try Self.journal(t)
        let io = PosixFileIO()
        let holder = try io.open(t.journal, flags: O_RDONLY | O_DIRECTORY | O_CLOEXEC, mode: 0)  // another archiver
        #expect(try io.flock(holder, exclusive: true, nonBlocking: true, path: t.journal))
        let error = journalError { try JournalArchiver.archive(directory: t.journal, key: key32) }
        guard case .archiving(let path)? = error else {
            Issue.record("archived beside another archiver: \(String(describing: error))")
            return
        }
        #expect(path == t.journal && "\(error!)".contains("nothing was archived"), "\(error!)")
        #expect(Self.files(t.journal) == before.keys.sorted(), "the refused archiver changed the journal")
        io.close(holder)
        let done = try JournalArchiver.archive(directory: t.journal, key: key32)
        #expect(done.count == before.count - 1)
    }

    /// Every archive shipped off the machine and removed: the segment left verifies with
    /// `after` set to the head of what was shipped, and not without it, nor with another
    /// hash; the writer reopens on it alone.
    @Test func theRestVerifiesAfterTheShippedArchives() throws {
        let t = TempDir()
        _ = try Self.journal(t)
        let done = try JournalArchiver.archive(directory: t.journal)
        let shipped = TempDir("shipped")
        for a in done {
            try FileManager.default.moveItem(
                atPath: t.journal + "/" + a.segment + ".gz", toPath: shipped.path + "/" + a.segment + ".gz")
        }
        // The head of what was shipped: the record before the first one left, whose hash
        // the first one left names as its prev (and which verify printed over the archives).
        let firstLeft = try #require(try JournalReader(directory: t.journal).segments().first).firstSeq
        let record = try #require(try JournalReader(directory: t.journal).record(seq: firstLeft))
        let object = try JSONSerialization.jsonObject(with: Data(record.line)) as? [String: Any]
        let prev = try #require(object?["prev"] as? String)
        let after = RecordRef(seq: firstLeft - 1, hash: SHA256Digest(hex: prev)!)
        #expect(try verify(shipped.path).get().head == after, "the shipped archives verify alone, up to that head")
        guard case .failure(let f) = verify(t.journal) else { Issue.record("verified without --after"); return }
        #expect(f.problem.contains("expected 1"), "\(f)")
        #expect((try? JournalVerifier.verify(directory: t.journal, after: after).get()) != nil)
        let wrong = RecordRef(seq: after.seq, hash: Crypto.sha256(Array("not it".utf8)))
        guard case .failure(let g) = JournalVerifier.verify(directory: t.journal, after: wrong) else {
            Issue.record("verified after the wrong hash")
            return
        }
        #expect(g.problem.contains("chain is broken"), "\(g)")
        // The writer goes on from the one segment left; the chain still links to the shipped head.
        let w = try JournalWriter.open(directory: t.journal, options: options())
        _ = try w.append(kind: "decision", data: data(1))
        try w.close()
        #expect(try JournalVerifier.verify(directory: t.journal, after: after).get().head.seq > after.seq)
    }
}
