import AdPilotJournal
import AdPilotTestSupport
import Foundation
import Testing

/// `adpilotctl journal archive` beside a running daemon (issue 18, retention;
/// Runbooks/archive-the-journal.md): closed segments compressed while the daemon writes,
/// every reader and `verify` seeing one chain, and the daemon restarting on archives.
@Suite struct JournalArchiveTests {
    @Test func archivingBesideARunningDaemonKeepsOneChain() throws {
        let d = try DaemonUnderTest("archive") { c in
            var journal = c["journal"] as! [String: Any]
            journal["segment_bytes_max"] = 1 << 20  // the smallest: a new segment every few ticks
            c["journal"] = journal
        }
        let journalDir = d.stateDir + "/journal"
        func names() -> [String] {
            let all = (try? FileManager.default.contentsOfDirectory(atPath: journalDir)) ?? []
            return all.filter { $0.hasPrefix("journal-") }.sorted()
        }
        try d.start()
        #expect(d.waitUntilServing() != nil, "\(d.stderr.suffix(1_000))")
        #expect(WorkflowTests.wait(60) { names().count >= 4 }, "\(names())")
        // Twice while it writes: the second run archives what closed since.
        let first = try d.ctl(["journal", "archive"])
        #expect(first.status == 0 && first.out.contains("archived "), "\(first)")
        let count = names().count
        #expect(WorkflowTests.wait(60) { names().count >= count + 2 }, "\(names())")
        let second = try d.ctl(["journal", "archive", "--json"])
        let json = try JSONSerialization.jsonObject(with: Data(second.out.utf8)) as? [String: Any]
        let rows = json?["archived"] as? [[String: Any]] ?? []
        #expect(second.status == 0 && !rows.isEmpty, "\(second)")
        #expect(rows.allSatisfy { ($0["compressed_bytes"] as? Int ?? .max) * 4 < ($0["bytes"] as? Int ?? 0) })
        #expect(d.stop() == 0)

        let plain = names().filter { $0.hasSuffix(".jsonl") }
        #expect(plain.count >= 1 && names().filter { $0.hasSuffix(".gz") }.count >= count, "\(names())")
        let verified = try d.ctl(["journal", "verify"])
        #expect(verified.status == 0 && verified.out.contains("journal OK"), "\(verified)")
        // A record inside the first archive, shown in full.
        let shown = try d.ctl(["journal", "show", "3"])
        #expect(shown.status == 0 && shown.out.hasPrefix("seq   3\n"), "\(shown)")
        // The daemon restarts with archives behind its newest segment and goes on with the chain.
        try d.start()
        #expect(d.waitForTicks(2) != nil, "\(d.stderr.suffix(1_000))")
        #expect(d.stop() == 0)
        let again = try d.ctl(["journal", "verify"])
        #expect(again.status == 0, "\(again)")
        let nothing = try d.ctl(["journal", "archive"])
        #expect(nothing.status == 0, "\(nothing)")
    }
}
