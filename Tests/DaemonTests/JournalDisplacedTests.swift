import AdPilotJournal
import AdPilotTestSupport
import Foundation
import Testing

/// The journal directory removed or swapped under a running daemon (issue 14, item 6): the
/// daemon notices before its next journal write, halts fail-closed and exits; nothing is
/// written to the platform after that; and a restart refuses to begin a new journal at seq 1.
@Suite struct JournalDisplacedTests {
    @Test(arguments: ["removed", "replaced"])
    func aJournalTakenAwayHaltsTheDaemon(how: String) throws {
        let d = try DaemonUnderTest("displaced-\(how)")
        try d.start()
        #expect(d.waitForTicks(3) != nil)
        let journal = d.stateDir + "/journal"
        if how == "removed" {
            try FileManager.default.removeItem(atPath: journal)
        } else {
            try FileManager.default.moveItem(atPath: journal, toPath: d.stateDir + "/journal.elsewhere")
            try FileManager.default.createDirectory(atPath: journal, withIntermediateDirectories: false)
        }
        // The tick in flight may still write what it journaled before the swap; after the
        // daemon exits, nothing.
        #expect(d.waitForExit() == 1, "the daemon kept running with its journal \(how)\n\(d.stderr.suffix(2_000))")
        #expect(d.stderr.contains("halting (fail closed)"), "\(d.stderr.suffix(2_000))")
        #expect(FileManager.default.fileExists(atPath: d.stateDir + "/HALT"), "no halt flag")
        let segments = (try? FileManager.default.contentsOfDirectory(atPath: journal)) ?? []
        #expect(segments.filter { $0.hasSuffix(".jsonl") }.isEmpty, "a journal was started in its place: \(segments)")

        let writes = try d.platformWrites().count
        try d.start()
        #expect(d.waitForExit() == 1)
        #expect(d.stderr.contains("holds no journal, but"), "\(d.stderr.suffix(2_000))")
        #expect(try d.platformWrites().count == writes, "a refused restart wrote to the platform")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: journal)) ?? []).allSatisfy {
            !$0.hasSuffix(".jsonl")
        })
    }
}
