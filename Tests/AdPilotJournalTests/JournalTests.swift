import Foundation
import AdPilotTestSupport
import Testing
@testable import AdPilotJournal
import AdPilotCore
import AdPilotSystem

@Suite struct JournalWriteReadTests {
    @Test func appendReopenAndVerify() throws {
        let t = TempDir()
        var w: JournalWriter? = try write(t.journal, 250)
        #expect(w?.head.seq == 250)
        try w?.close()
        w = nil
        let w2 = try JournalWriter.open(directory: t.journal, options: options())
        #expect(w2.head.seq == 250 && w2.tornTail == nil)
        let r = try w2.append(kind: "shutdown", data: Array(#"{"reason":"test"}"#.utf8))
        #expect(r.seq == 251)
        let report = try verify(t.journal).get()
        #expect(report.records == 251 && report.segments == 1 && report.head == r)
    }

    @Test func linesAreTheDocumentedFormat() throws {
        let t = TempDir()
        let w = try JournalWriter.open(directory: t.journal, options: options())
        let ref = try w.append(kind: "config", data: Array(#"{"digest":"abc"}"#.utf8))
        let line = lines(segmentPaths(t.journal)[0])[0]
        #expect(
            line.hasPrefix(
                #"{"seq":1,"time":"2026-11-21T19:40:29.000000Z","kind":"config","#
                    + #""prev":"0000000000000000000000000000000000000000000000000000000000000000","#
                    + #""data":{"digest":"abc"},"hash":""#
            ))
        // The hash is SHA-256 of everything before `,"hash":"`.
        let body = Array(line.utf8.dropLast(RecordFormat.hashSuffixBytes))
        #expect(Crypto.sha256(body) == ref.hash)
        #expect(line.hasSuffix(#""hash":"\#(ref.hash.hex)"}"#))
        // Every line is JSON that jq could read.
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        #expect(object?["seq"] as? Int == 1 && object?["kind"] as? String == "config")
    }

    @Test func rotationContinuesTheChainAcrossSegments() throws {
        let t = TempDir()
        try write(t.journal, 30_000, segmentBytes: Int64(RecordFormat.lineBytesMax))  // about 6 segments
        let report = try verify(t.journal).get()
        #expect(report.records == 30_000 && report.segments > 3, "\(report)")
        let names = try JournalReader(directory: t.journal).segments()
        #expect(names.first?.firstSeq == 1 && names.count == report.segments)
        // Every closed segment is near, never over, the limit.
        for p in segmentPaths(t.journal).dropLast() {
            let size = try FileManager.default.attributesOfItem(atPath: p)[.size] as! Int
            #expect(size <= RecordFormat.lineBytesMax && size > RecordFormat.lineBytesMax / 2, "\(p): \(size)")
        }
        // Reopening reads only the last segment and finds the head.
        let w = try JournalWriter.open(
            directory: t.journal, options: options(segmentBytes: Int64(RecordFormat.lineBytesMax)))
        #expect(w.head == report.head)
    }

    @Test func readerLastShowAndFilters() throws {
        let t = TempDir()
        let clock = ManualClock(testStart)
        let w = try JournalWriter.open(
            directory: t.journal, options: options(segmentBytes: Int64(RecordFormat.lineBytesMax), clock: clock))
        for i in 0..<12_000 {
            _ = try w.append(
                kind: i % 3 == 0 ? "anomaly" : "decision", data: data(i, campaign: i % 2 == 0 ? "even" : "odd"))
            if i == 6_000 { clock.advance(seconds: 3600) }
        }
        let reader = JournalReader(directory: t.journal)
        let last = try reader.last(5)
        #expect(last.map(\.seq) == [11_996, 11_997, 11_998, 11_999, 12_000])
        let anomalies = try reader.last(3, matching: RecordFilter(kinds: ["anomaly"]))
        #expect(anomalies.allSatisfy { $0.kind == "anomaly" } && anomalies.map(\.seq) == [11_992, 11_995, 11_998])
        let odd = try reader.last(2, matching: RecordFilter(campaign: "odd"))
        #expect(odd.map(\.seq) == [11_998, 12_000])
        var afterHour = 0
        try reader.records(matching: RecordFilter(since: clock.now())) { _ in
            afterHour += 1; return true
        }
        #expect(afterHour == 12_000 - 6_001)
        let shown = try #require(try reader.record(seq: 4_321))
        #expect(shown.seq == 4_321 && shown.text.contains(#""i":4320"#))
        #expect(try reader.record(seq: 99_999) == nil)
    }

    @Test func secondWriterIsRefusedNamingTheHolder() throws {
        let t = TempDir()
        let first = try JournalWriter.open(directory: t.journal, options: options())
        #expect(throws: JournalError.self) { try JournalWriter.open(directory: t.journal, options: options()) }
        do {
            _ = try JournalWriter.open(directory: t.journal, options: options())
        } catch {
            #expect(
                error.description.contains("locked by another writer (test pid \(getpid()) since 2026-"), "\(error)")
        }
        try first.close()
        _ = try JournalWriter.open(directory: t.journal, options: options())
    }

    @Test func shortKeysAreRefused() {
        let t = TempDir()
        #expect(throws: JournalError.self) {
            try JournalWriter.open(directory: t.journal, options: options(key: Array(repeating: 1, count: 31)))
        }
    }

    @Test func shortWritesAreCompleted() throws {
        let t = TempDir()
        let io = FaultInjectingFileIO()
        io.useShortWrites(true)
        let w = try JournalWriter.open(directory: t.journal, options: options(io: io))
        _ = try w.append((0..<50).map { JournalEntry(kind: "decision", data: data($0)) })
        #expect(io.calls(.write) > 50)
        #expect(try verify(t.journal).get().records == 50)
    }
}

@Suite struct JournalTamperTests {
    /// A journal of 3 segments, with the verifier's untouched verdict checked first.
    func journal(key: [UInt8]? = nil) throws -> TempDir {
        let t = TempDir("tamper")
        try write(
            t.journal, 15_000, batch: 500, key: key, segmentBytes: Int64(RecordFormat.lineBytesMax), interval: 100
        ).close()
        #expect(try verify(t.journal, key: key).get().records >= 15_000)
        return t
    }

    func failure(_ t: TempDir, key: [UInt8]? = nil) -> VerifyFailure? {
        if case .failure(let f) = verify(t.journal, key: key) { return f }
        Issue.record("verify passed a tampered journal")
        return nil
    }

    @Test func flippedByteInAMiddleRecord() throws {
        let t = try journal()
        let path = segmentPaths(t.journal)[1]
        var ls = lines(path)
        ls[100] = ls[100].replacingOccurrences(of: "record", with: "recorD")
        writeLines(path, ls)
        let f = try #require(failure(t))
        #expect(f.segment == (path as NSString).lastPathComponent && f.offset == offsetOfLine(path, 100))
        #expect(f.problem.contains("hash mismatch"))
    }

    @Test func deletedRecord() throws {
        let t = try journal()
        let path = segmentPaths(t.journal)[0]
        var ls = lines(path)
        let removedSeq = UInt64(501)
        ls.remove(at: 500)
        writeLines(path, ls)
        let f = try #require(failure(t))
        #expect(f.seq == removedSeq && f.offset == offsetOfLine(path, 500) && f.problem.contains("found seq 502"))
    }

    @Test func insertedForgedRecord() throws {
        let t = try journal()
        let path = segmentPaths(t.journal)[0]
        var ls = lines(path)
        // A forger copies a record's shape and fixes its hash, but cannot fix the chain.
        var forged: [UInt8] = []
        _ = RecordFormat.encode(
            seq: 301, time: testStart, kind: "decision", prev: RecordFormat.genesis,
            data: Array(#"{"campaign":"c1","forged":true}"#.utf8), into: &forged)
        ls.insert(String(decoding: forged.dropLast(), as: UTF8.self), at: 300)
        writeLines(path, ls)
        let f = try #require(failure(t))
        #expect(f.seq == 301 && f.offset == offsetOfLine(path, 300) && f.problem.contains("prev does not match"))
    }

    @Test func swappedRecords() throws {
        let t = try journal()
        let path = segmentPaths(t.journal)[2]
        var ls = lines(path)
        ls.swapAt(10, 11)
        writeLines(path, ls)
        let f = try #require(failure(t))
        #expect(f.offset == offsetOfLine(path, 10) && f.problem.contains("found seq"))
    }

    @Test func deletedMiddleSegment() throws {
        let t = try journal()
        let paths = segmentPaths(t.journal)
        try FileManager.default.removeItem(atPath: paths[1])
        let f = try #require(failure(t))
        #expect(
            f.segment == (paths[2] as NSString).lastPathComponent && f.offset == 0
                && f.problem.contains("a segment is missing"))
    }

    @Test func truncatedTailThenAWellFormedAppend() throws {
        let t = try journal()
        let path = segmentPaths(t.journal).last!
        var ls = lines(path)
        ls.removeLast()  // the empty string after the final newline
        let cut = ls.count - 1
        ls[cut] = String(ls[cut].prefix(40))  // a torn record ...
        var next: [UInt8] = []
        _ = RecordFormat.encode(
            seq: 99, time: testStart, kind: "decision", prev: RecordFormat.genesis, data: data(1), into: &next)
        ls.append(String(decoding: next.dropLast(), as: UTF8.self))  // ... no longer at the tail
        ls.append("")
        writeLines(path, ls)
        let f = try #require(failure(t))
        #expect(f.offset == offsetOfLine(path, cut) && f.problem.contains("not a journal record"))
        // The writer refuses to open it too, naming the place: damage before the tail is never repaired.
        let opened = Result {
            try JournalWriter.open(
                directory: t.journal, options: options(segmentBytes: Int64(RecordFormat.lineBytesMax)))
        }
        guard case .failure(let error) = opened,
            case .corrupt(_, let segment, let offset, let problem)? = error as? JournalError
        else {
            Issue.record("writer opened a journal damaged before its tail: \(opened)")
            return
        }
        #expect(segment == (path as NSString).lastPathComponent && offset == offsetOfLine(path, cut))
        #expect(problem.contains("damage before the tail"), "\(problem)")
    }

    @Test func chainRecomputedWithoutTheKeyFailsTheSeals() throws {
        let t = try journal(key: key32)
        // Rewrite every record of every segment with a valid chain and valid hashes, but
        // no key: a perfect forgery of everything except the seals.
        var prev = RecordFormat.genesis
        let time = testStart
        for path in segmentPaths(t.journal) {
            var out: [UInt8] = []
            for line in lines(path) where !line.isEmpty {
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
                let seq = UInt64(object["seq"] as! Int)
                let kind = object["kind"] as! String
                var fields = object["data"] as! [String: Any]
                if kind == "decision" { fields["note"] = "rigged" }
                // A careful forger even points each seal at the rewritten chain; only the MAC is beyond reach.
                if kind == "seal" { fields["sealed_hash"] = prev.hex }
                let d = try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
                prev = RecordFormat.encode(seq: seq, time: time, kind: kind, prev: prev, data: Array(d), into: &out)
            }
            #expect(FileManager.default.createFile(atPath: path, contents: Data(out)))
        }
        #expect(try verify(t.journal).get().records > 15_000, "without the key the forgery is consistent")
        let f = try #require(failure(t, key: key32))
        // The first seal (seq 2, right after the first record) is the first to fail.
        #expect(f.problem.contains("seal MAC does not verify") && f.seq == 2, "\(f)")
    }

    @Test func strippedSealsAreCaughtByTheirSpacing() throws {
        let t = TempDir("seals")
        try write(t.journal, 450, batch: 10, key: key32, interval: 100).close()
        // Seq 2 (the first record sealed at once), after every 100 records, and at close.
        #expect(try verify(t.journal, key: key32).get().seals == 6)
        // Remove every seal after the first and rebuild the chain without the key.
        var prev = RecordFormat.genesis
        var out: [UInt8] = []
        var seq: UInt64 = 0
        var seals = 0
        for line in lines(segmentPaths(t.journal)[0]) where !line.isEmpty {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            let kind = object["kind"] as! String
            if kind == "seal" { seals += 1 }
            if kind == "seal" && seals > 1 { continue }
            seq += 1
            let d = try JSONSerialization.data(withJSONObject: object["data"]!, options: [.sortedKeys])
            if kind == "seal" {
                out.append(contentsOf: Array(line.utf8) + [10]);
                prev = SHA256Digest(hex: String(line.suffix(66).prefix(64)))!; continue
            }
            prev = RecordFormat.encode(seq: seq, time: testStart, kind: kind, prev: prev, data: Array(d), into: &out)
        }
        #expect(FileManager.default.createFile(atPath: segmentPaths(t.journal)[0], contents: Data(out)))
        #expect(throws: Never.self) { try verify(t.journal).get() }
        let f = try #require(failure(t, key: key32))
        #expect(f.problem.contains("seals were removed"), "\(f)")
    }

    @Test func wrongKeyIsReported() throws {
        let t = TempDir("wrongkey")
        try write(t.journal, 250, key: key32, interval: 100).close()
        let f = try #require(failure(t, key: Array(repeating: 7, count: 32)))
        #expect(f.problem.contains("wrong key"))
    }

    /// `verify` hashes a chunk's lines on every core and then checks the chain in order: a byte
    /// changed anywhere in a segment of several chunks is reported at its own seq and offset:
    /// the first and last lines, the line across the first chunk boundary and the one after it,
    /// and seeded random lines (a byte of the body, or of the stored hash).
    @Test func aChangedByteIsReportedAtItsOwnLineAcrossChunks() throws {
        let t = TempDir("chunks")
        try write(t.journal, 60_000, batch: 1_000).close()
        let path = try #require(segmentPaths(t.journal).first)
        let clean = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(clean.count > 2 * SegmentScanner.chunkBytes, "one segment, several chunks")
        let ends = clean.withUnsafeBytes { b in  // the newlines, found the fast way (a debug build's loop is slow)
            var ends: [Int] = [], at = 0
            while at < b.count, let p = memchr(b.baseAddress! + at, 0x0a, b.count - at) {
                at = b.baseAddress!.distance(to: UnsafeRawPointer(p)) + 1
                ends.append(at - 1)
            }
            return ends
        }
        let across = try #require(ends.firstIndex { $0 >= SegmentScanner.chunkBytes })
        var random = SplitMix64(seed: 7)
        let seeded = (0..<4).map { _ in Int.random(in: 0..<ends.count, using: &random) }
        for (k, line) in ([0, ends.count - 1, across, across + 1] + seeded).enumerated() {
            let start = line == 0 ? 0 : ends[line - 1] + 1
            var tampered = clean
            tampered[k % 2 == 0 ? start + 20 : ends[line] - 10] ^= 0x01  // the body, or the stored hash
            try tampered.write(to: URL(fileURLWithPath: path))
            let f = try #require(
                { if case .failure(let f) = verify(t.journal) { return f } else { return nil } }(),
                "seed 7: verify passed line \(line) changed")
            #expect(f.seq == UInt64(line + 1) && f.offset == Int64(start), "seed 7: line \(line), \(f)")
            #expect(
                f.problem.contains("hash mismatch") || f.problem.contains("not a journal record"),
                "seed 7: \(f.problem)")
        }
    }

    /// Hashing spread over cores gives what one core gives, line for line, and a damaged
    /// chunk (a run of newlines) is split no further than its first line too short to be a
    /// record.
    @Test(arguments: [1, 2, 3, 8]) func lineHashesAgreeOnAnyNumberOfCores(cores: Int) throws {
        let t = TempDir("cores")
        try write(t.journal, 5_000, batch: 1_000).close()
        let bytes = try Data(contentsOf: URL(fileURLWithPath: try #require(segmentPaths(t.journal).first)))
        var tampered = bytes
        tampered[bytes.count / 2] ^= 0x01
        let hashes = LineHashes(cores: cores)
        for data in [bytes, tampered] {
            let (one, many) = data.withUnsafeBytes { chunk in
                let reference = LineHashes(cores: 1)
                reference.check(chunk)
                hashes.check(chunk)
                return (reference.lines.map { "\($0.range) \($0.header?.seq ?? 0) \($0.hashMatches)" },
                        hashes.lines.map { "\($0.range) \($0.header?.seq ?? 0) \($0.hashMatches)" })
            }
            #expect(one.count == 5_000 && many == one, "\(cores) cores")
            #expect(
                hashes.lines.filter { !$0.hashMatches }.count == (data == bytes ? 0 : 1), "\(cores) cores")
        }
        let damage = Data(bytes.prefix(1_000)) + Data(repeating: 0x0a, count: 1 << 20)
        let whole = damage.prefix(through: damage.lastIndex(of: 0x0a)!)
        whole.withUnsafeBytes { hashes.check($0) }
        #expect(hashes.lines.count < 10, "\(hashes.lines.count) lines kept of a run of newlines")
    }

    @Test func hundredThousandRecordsVerify() throws {
        let t = TempDir("big")
        try write(t.journal, 100_000, batch: 1_000).close()
        let report = try verify(t.journal).get()
        #expect(report.records == 100_000 && report.incompleteTailBytes == 0)
    }
}

@Suite struct JournalRecoveryTests {
    @Test func tornTailIsMovedAsideAndRecorded() throws {
        for (name, tear) in [
            ("no newline", { (s: String) in String(s.dropLast(1 + 30)) }),
            ("garbage", { (s: String) in s + "{\"seq\":garbage\n" }),
            ("bad hash", { (s: String) in s.replacingOccurrences(of: "record 99", with: "record 98") }),
        ]
            as [(String, (String) -> String)]
        {
            let t = TempDir("torn")
            try write(t.journal, 100, batch: 10).close()
            let path = segmentPaths(t.journal)[0]
            let before = try String(contentsOfFile: path, encoding: .utf8)
            try tear(before).write(toFile: path, atomically: false, encoding: .utf8)
            let w = try JournalWriter.open(directory: t.journal, options: options())
            let torn = try #require(w.tornTail, "\(name)")
            #expect(FileManager.default.fileExists(atPath: t.journal + "/" + torn.movedTo), "\(name)")
            let moved = try String(contentsOfFile: t.journal + "/" + torn.movedTo, encoding: .utf8)
            #expect(moved.utf8.count == torn.bytes && torn.bytes > 0, "\(name): nothing is deleted")
            let recovered = try #require(try JournalReader(directory: t.journal).last(1).first)
            #expect(recovered.kind == "recovered" && recovered.text.contains(torn.movedTo), "\(name)")
            #expect(try verify(t.journal).get().records == w.head.seq, "\(name)")
        }
    }

    /// A zeroed extent longer than the 1 MiB line limit, followed by a valid record, is
    /// damage before the tail: refused, not "recovered" by moving the valid record aside.
    @Test func longZeroExtentBeforeValidRecordsIsRefused() throws {
        let t = TempDir("zeros")
        try write(t.journal, 50, batch: 10).close()
        let path = segmentPaths(t.journal)[0]
        let valid = lines(path)[10]
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(count: 1_600_000) + Data((valid + "\n").utf8))
        try handle.close()
        switch journalError({ try JournalWriter.open(directory: t.journal, options: options()) }) {
        case .corrupt(_, _, let offset, let problem)?:
            #expect(offset == offsetOfLine(path, 50) && problem.contains("damage before the tail"), "\(problem)")
        case let other:
            Issue.record("expected a refusal, got \(String(describing: other))")
        }
    }

    @Test func recoveryKeepsEveryCompleteRecord() throws {
        let t = TempDir("torn2")
        try write(t.journal, 10, batch: 10).close()
        let path = segmentPaths(t.journal)[0]
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"seq":11,"time":"2026"#.utf8))
        try handle.close()
        let w = try JournalWriter.open(directory: t.journal, options: options())
        #expect(w.head.seq == 11 && w.tornTail?.offset == offsetOfLine(path, 10))
    }
}

@Suite struct JournalFaultTests {
    @Test(arguments: [
        (FaultInjectingFileIO.Operation.write, ENOSPC), (.write, EIO), (.fdatasync, EIO), (.fdatasync, ENOSPC),
    ])
    func failedWriteOrSyncPoisonsTheWriter(operation: FaultInjectingFileIO.Operation, errno: Int32) throws {
        let t = TempDir("fault")
        let io = FaultInjectingFileIO()
        let w = try JournalWriter.open(directory: t.journal, options: options(io: io))
        _ = try w.append(kind: "decision", data: data(0))
        io.fail(operation, after: io.calls(operation), errno: errno)
        switch journalError({ try w.append(kind: "decision", data: data(1)) }) {
        case .noSpace(let e)?: #expect(errno == ENOSPC && e.errno == ENOSPC)
        case .io(let e)?: #expect(errno == EIO && e.errno == EIO)
        case let other: Issue.record("expected a typed ENOSPC/EIO error, got \(String(describing: other))")
        }
        // Poisoned: even after the disk heals, nothing more is accepted ...
        io.heal()
        #expect(w.isPoisoned)
        switch journalError({ try w.append(kind: "decision", data: data(2)) }) {
        case .poisoned(let cause)?: #expect(cause.contains(operation == .write ? "write" : "fdatasync"))
        case let other: Issue.record("a poisoned writer did not refuse: \(String(describing: other))")
        }
        // ... until it is reopened, which re-checks the tail.
        try w.close()
        let reopened = try JournalWriter.open(directory: t.journal, options: options(io: io))
        #expect(reopened.head.seq >= 1)
        _ = try reopened.append(kind: "decision", data: data(3))
        #expect(try verify(t.journal).get().records == reopened.head.seq)
    }

    /// The records of a failed fdatasync are cut from the file at once, so a reopen cannot
    /// adopt records the caller was told failed.
    @Test func failedSyncIsCutBackToTheDurableEnd() throws {
        let t = TempDir("fault3")
        let io = FaultInjectingFileIO()
        let w = try JournalWriter.open(directory: t.journal, options: options(io: io))
        let durable = try w.append(kind: "decision", data: data(0))
        io.fail(.fdatasync, after: io.calls(.fdatasync), errno: EIO)
        #expect(journalError({ try w.append((1...5).map { JournalEntry(kind: "decision", data: data($0)) }) }) != nil)
        io.heal()
        try w.close()
        let reopened = try JournalWriter.open(directory: t.journal, options: options())
        #expect(reopened.head == durable, "head \(reopened.head.seq): the failed batch must not come back")
    }

    @Test func invalidEntryRefusesTheWholeBatchBeforeAnyIO() throws {
        let t = TempDir("batch")
        let io = FaultInjectingFileIO()
        let w = try JournalWriter.open(directory: t.journal, options: options(io: io))
        let writes = io.calls(.write)
        #expect(
            journalError({
                try w.append([
                    JournalEntry(kind: "decision", data: data(1)),
                    JournalEntry(kind: "decision", data: Array("not json".utf8)),
                ])
            }) != nil)
        #expect(io.calls(.write) == writes && w.head.seq == 0 && !w.isPoisoned)
    }

    @Test func failedDirectorySyncOnRotationPoisons() throws {
        let t = TempDir("fault2")
        let io = FaultInjectingFileIO()
        let w = try JournalWriter.open(
            directory: t.journal, options: options(segmentBytes: Int64(RecordFormat.lineBytesMax), io: io))
        io.fail(.fsync, after: io.calls(.fsync), errno: EIO)
        #expect(throws: JournalError.self) {
            for i in 0..<20_000 { _ = try w.append(kind: "decision", data: data(i)) }
        }
        #expect(w.isPoisoned)
    }
}

@Suite struct JournalFollowTests {
    /// How long a follower may wait for records that should arrive (a hang fails the test).
    static let followDeadlineSeconds: Int64 = 600

    /// A follower sees every record exactly once, in order, while the writer appends and
    /// rotates underneath it.
    @Test func followerSeesEveryRecordOnceAcrossRotations() async throws {
        let t = TempDir("follow")
        let total = 20_000
        let dir = t.journal
        let w = try JournalWriter.open(directory: dir, options: options(segmentBytes: Int64(RecordFormat.lineBytesMax)))
        let follower = Task {
            try await onThread { () -> [UInt64] in
                var seen: [UInt64] = []
                // A net against a hang, not a timing assertion: on a loaded 2-core machine the
                // 20,000 synced appends below have taken over a minute.
                let deadline = ContinuousClock.now.advanced(by: .seconds(Self.followDeadlineSeconds))
                try JournalReader(directory: dir).follow(
                    from: 1, pollMillis: 5,
                    shouldStop: { seen.count >= total + 1 || ContinuousClock.now > deadline }
                ) { r in
                    seen.append(r.seq)
                }
                return seen
            }
        }
        for i in 0..<total {
            _ = try w.append(kind: "decision", data: data(i))
            if i % 2_000 == 0 { try await Task.sleep(for: .milliseconds(2)) }
        }
        _ = try w.append(kind: "shutdown", data: Array("{}".utf8))
        let seen = try await follower.value
        #expect(seen == Array(1...UInt64(total + 1)))
        #expect(try JournalReader(directory: dir).segments().count > 3)
    }

    /// A follower that read past a torn (newline-terminated garbage) tail still sees the
    /// records appended after the writer's recovery truncated it.
    @Test func followerSurvivesTornTailRecovery() async throws {
        let t = TempDir("follow2")
        let dir = t.journal
        try write(dir, 100, batch: 10).close()
        let follower = Task {
            try await onThread { () -> [UInt64] in
                var seen: [UInt64] = []
                let deadline = ContinuousClock.now.advanced(by: .seconds(Self.followDeadlineSeconds))
                try JournalReader(directory: dir).follow(
                    from: 1, pollMillis: 5,
                    shouldStop: { seen.count >= 150 || ContinuousClock.now > deadline }
                ) { seen.append($0.seq) }
                return seen
            }
        }
        try await Task.sleep(for: .milliseconds(100))
        let path = segmentPaths(dir)[0]
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        // Shorter than the `recovered` record that replaces it, so the file never looks
        // shrunken to the follower: only the seq gap can tell it to rescan.
        try handle.write(contentsOf: Data("torn\n".utf8))
        try handle.close()
        try await Task.sleep(for: .milliseconds(100))  // the follower reads past the garbage
        let w = try JournalWriter.open(directory: dir, options: options())
        #expect(w.tornTail != nil)
        for i in 0..<49 { _ = try w.append(kind: "decision", data: data(i)) }
        let seen = try await follower.value
        #expect(seen == Array(1...150), "\(seen.suffix(5))")
    }
}
