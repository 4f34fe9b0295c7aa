import Foundation
import AdPilotTestSupport
import Testing
@testable import AdPilotJournal

/// docs/journal-format.md documents the hash and seal construction precisely enough that an auditor
/// can write a verifier; `Tests/fixtures/verify_journal.py` is such a verifier, written
/// from that page alone. It must agree with the Swift one.
@Suite struct IndependentVerifierTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fixtures/verify_journal.py").path

    func python(_ args: [String]) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", Self.script] + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = readToEnd(out.fileHandleForReading)
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func pythonVerifierAgreesWithSwift() throws {
        let t = TempDir("py")
        let keyFile = t.path + "/journal-key"
        #expect(FileManager.default.createFile(atPath: keyFile, contents: Data(key32)))
        try write(
            t.journal, 12_000, batch: 37, key: key32, segmentBytes: Int64(RecordFormat.lineBytesMax), interval: 100
        ).close()
        let swift = try verify(t.journal, key: key32).get()
        #expect(swift.segments > 1 && swift.seals >= 120)
        for args in [[t.journal], [t.journal, keyFile]] {
            let r = try python(args)
            #expect(r.status == 0, "\(r.output)")
            #expect(r.output == "ok \(swift.records) \(swift.head.seq) \(swift.head.hash.hex)\n", "\(r.output)")
        }
        // Archived segments (docs/journal-format.md#archived-segments) read the same to both.
        #expect(try JournalArchiver.archive(directory: t.journal, key: key32).count == swift.segments - 1)
        let r = try python([t.journal, keyFile])
        #expect(r.output == "ok \(swift.records) \(swift.head.seq) \(swift.head.hash.hex)\n", "\(r.output)")
    }

    @Test func pythonVerifierCatchesTampering() throws {
        let t = TempDir("py2")
        try write(t.journal, 300, batch: 10).close()
        let path = segmentPaths(t.journal)[0]
        var ls = lines(path)
        ls[150] = ls[150].replacingOccurrences(of: "record 150", with: "record 051")
        #expect(ls[150].contains("record 051"))
        writeLines(path, ls)
        let r = try python([t.journal])
        #expect(r.status == 1 && r.output.contains("hash mismatch"), "\(r.output)")
        if case .failure(let f) = verify(t.journal) {
            #expect(
                r.output.hasPrefix("\(f.segment) byte \(f.offset)"), "both name the same place: \(f) vs \(r.output)")
        } else {
            Issue.record("Swift verifier passed it")
        }
    }

    /// A keyed journal shorter than its seal interval, its seals stripped and its chain
    /// recomputed: both verifiers refuse it at seq 2, at the same place.
    @Test func pythonVerifierRefusesAStrippedShortJournal() throws {
        let t = TempDir("py3")
        try write(t.journal, 40, batch: 10, key: key32, interval: 1_000).close()
        try rechain(t.journal, drop: { _, kind in kind == "seal" })
        let keyFile = t.path + "/key"
        #expect(FileManager.default.createFile(atPath: keyFile, contents: Data(key32)))
        let r = try python([t.journal, keyFile])
        #expect(r.status == 1 && r.output.contains("seq 2 should be a seal"), "\(r.output)")
        guard case .failure(let f) = verify(t.journal, key: key32) else {
            Issue.record("Swift verifier passed it")
            return
        }
        #expect(r.output.hasPrefix("\(f.segment) byte \(f.offset)"), "both name the same place: \(f) vs \(r.output)")
    }
}
