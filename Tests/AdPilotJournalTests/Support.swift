import Foundation
import Testing
@testable import AdPilotCore
@testable import AdPilotJournal
import AdPilotSystem
import AdPilotTestSupport

/// Every journal in these tests starts at this time. Each writer gets its own clock, so
/// tests running in parallel never move each other's time.
let testStart = Instant(secondsSinceEpoch: 1_795_290_029)

func options(
    key: [UInt8]? = nil, segmentBytes: Int64 = JournalOptions.segmentBytesDefault, interval: Int = 1_000,
    io: any FileIO = PosixFileIO(), clock: ManualClock = ManualClock(testStart)
) -> JournalOptions {
    var o = JournalOptions(clock: clock)
    o.sealKey = key
    o.segmentBytesMax = segmentBytes
    o.sealInterval = interval
    o.io = io
    o.holder = "test pid \(getpid())"
    return o
}

func data(_ i: Int, campaign: String = "c1") -> [UInt8] {
    Array(#"{"campaign":"\#(campaign)","i":\#(i),"note":"record \#(i)"}"#.utf8)
}

/// Writes `count` records with group commits of `batch`.
@discardableResult
func write(
    _ dir: String, _ count: Int, batch: Int = 100, key: [UInt8]? = nil,
    segmentBytes: Int64 = JournalOptions.segmentBytesDefault,
    interval: Int = 1_000
) throws -> JournalWriter {
    let w = try JournalWriter.open(
        directory: dir, options: options(key: key, segmentBytes: segmentBytes, interval: interval))
    var i = 0
    while i < count {
        let n = min(batch, count - i)
        _ = try w.append((i..<(i + n)).map { JournalEntry(kind: "decision", data: data($0)) })
        i += n
    }
    return w
}

func verify(
    _ dir: String, key: [UInt8]? = nil, anchors: [RecordRef] = []
) -> Result<VerifyReport, VerifyFailure> {
    JournalVerifier.verify(directory: dir, key: key, anchors: anchors)
}

func segmentPaths(_ dir: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".jsonl") }.sorted().map {
        dir + "/" + $0
    }
}

func lines(_ path: String) -> [String] {
    let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    return text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
}

func writeLines(_ path: String, _ lines: [String]) {
    precondition(
        FileManager.default.createFile(atPath: path, contents: Data(lines.joined(separator: "\n").utf8)),
        "cannot write \(path)")
}

/// Byte offset of line `index` (0-based) in a file.
func offsetOfLine(_ path: String, _ index: Int) -> Int64 {
    Int64(lines(path).prefix(index).reduce(0) { $0 + $1.utf8.count + 1 })
}

let key32 = Array("0123456789abcdef0123456789abcdef".utf8)

/// The JournalError `body` threw, or nil when it succeeded.
func journalError<T>(_ body: () throws -> T) -> JournalError? {
    do {
        _ = try body()
        return nil
    } catch {
        return (error as? JournalError) ?? .tooLarge("not a JournalError: \(error)")
    }
}

/// Runs blocking work (a follower's poll loop) on its own thread. Blocking inside a Task
/// would hold one of the cooperative pool's threads, of which a 2-core machine has two.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

/// Rewrites every segment in place with a freshly computed chain (same seqs, so the same
/// segment names), letting `edit` change a record's kind and data on the way: what a
/// forger without the key can do. Returns each rewritten line's segment and byte offset.
@discardableResult
func rechain(
    _ dir: String, drop: (UInt64, String) -> Bool = { _, _ in false },
    edit: (UInt64, String, [String: Any]) -> (String, [String: Any])? = { _, _, _ in nil }
) throws -> [UInt64: (segment: String, offset: Int)] {
    var prev = RecordFormat.genesis
    var seq: UInt64 = 0
    var at: [UInt64: (segment: String, offset: Int)] = [:]
    for path in segmentPaths(dir) {
        var out: [UInt8] = []
        for line in lines(path) where !line.isEmpty {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            let original = UInt64(object["seq"] as! Int)
            var kind = object["kind"] as! String
            if drop(original, kind) { continue }
            var fields = object["data"] as! [String: Any]
            if let (k, f) = edit(original, kind, fields) { (kind, fields) = (k, f) }
            if kind == "seal" { fields["sealed_hash"] = prev.hex }
            seq += 1
            at[seq] = ((path as NSString).lastPathComponent, out.count)
            let d = try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
            prev = RecordFormat.encode(seq: seq, time: testStart, kind: kind, prev: prev, data: Array(d), into: &out)
        }
        #expect(FileManager.default.createFile(atPath: path, contents: Data(out)))
    }
    return at
}
