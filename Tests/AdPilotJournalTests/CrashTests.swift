import Foundation
import AdPilotTestSupport
import Testing
@testable import AdPilotJournal
import AdPilotCore

/// Real crashes: a child process appends continuously and prints each seq once `append`
/// has returned (after fdatasync); the parent SIGKILLs it at seeded random moments, then
/// reopens the journal (recovering any torn tail) and checks that every acknowledged seq is
/// there and the whole journal verifies.
@Suite struct CrashTests {
    static let binDir = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    static let kills = 200

    @Test func sigkillNeverLosesAnAcknowledgedRecord() throws {
        let t = TempDir("crash")
        let seed = UInt64(ProcessInfo.processInfo.environment["ADPILOT_CRASH_SEED"] ?? "") ?? 0xC8A5_4001
        var rng = SplitMix64(seed: seed)
        var acknowledged: UInt64 = 0
        var recoveries = 0
        for round in 0..<Self.kills {
            // Small segments so kills land around rotations too; batches so group commits tear.
            let child = Process()
            child.executableURL = Self.binDir.appendingPathComponent("adpilot-testkit")
            child.arguments = [
                "journal-append", t.journal, String(RecordFormat.lineBytesMax), String(1 + rng.next() % 20),
            ]
            let out = Pipe()
            child.standardOutput = out
            child.standardError = FileHandle.nullDevice
            try child.run()
            // Kill only once the child is appending, at a seeded moment within the next 20 ms.
            let first = readSome(out.fileHandleForReading)
            usleep(UInt32(rng.next() % 20_000))
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
            #expect(
                child.terminationReason == .uncaughtSignal, "round \(round) (seed \(seed)): the child exited on its own"
            )
            let printed = String(decoding: first + readToEnd(out.fileHandleForReading), as: UTF8.self)
            // The last line may be cut mid-number by the kill; only whole lines count.
            let seqs = printed.split(separator: "\n", omittingEmptySubsequences: false).dropLast().compactMap {
                UInt64($0)
            }
            if let last = seqs.last { acknowledged = max(acknowledged, last) }

            let writer = try JournalWriter.open(
                directory: t.journal, options: options(segmentBytes: Int64(RecordFormat.lineBytesMax)))
            if writer.tornTail != nil { recoveries += 1 }
            #expect(
                writer.head.seq >= acknowledged,
                "round \(round) (seed \(seed)): acknowledged \(acknowledged), head \(writer.head.seq)")
            try writer.close()
            switch JournalVerifier.verify(directory: t.journal) {
            case .success(let report):
                #expect(report.records >= acknowledged)
            case .failure(let f):
                Issue.record("round \(round) (seed \(seed)): \(f)")
                return
            }
        }
        #expect(acknowledged > 1_000, "the children made progress")
        // Seqs printed by every child are present in order: check the whole range once.
        var expected: UInt64 = 1
        try JournalReader(directory: t.journal).records { r in
            #expect(r.seq == expected)
            expected += 1
            return true
        }
        #expect(expected - 1 >= acknowledged)
        print(
            "crash test: \(Self.kills) SIGKILLs, \(acknowledged) acknowledged records, \(recoveries) torn tails "
                + "recovered (seed \(seed))"
        )
    }
}
