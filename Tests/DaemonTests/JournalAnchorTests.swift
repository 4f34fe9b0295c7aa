import AdPilotJournal
import AdPilotTestSupport
import Foundation
import Testing

/// The daemon anchors every seal's head in the system log (structured fields), and
/// `journal verify --expect-head` detects a journal cut back past one (issue 14, item 9).
@Suite struct JournalAnchorTests {
    @Test func aSealedHeadLoggedByTheDaemonCatchesATruncatedJournal() throws {
        let d = try DaemonUnderTest("anchor") { c in
            var journal = c["journal"] as! [String: Any]
            journal["key_credential"] = "journal-key"
            journal["seal_interval"] = 50
            c["journal"] = journal
        }
        let credentials = try d.credentials(["journal-key": String(repeating: "k3y", count: 12)])
        let keyFile = credentials + "/journal-key"
        try d.start(env: ["CREDENTIALS_DIRECTORY": credentials])
        #expect(d.waitForTicks(3) != nil)
        #expect(d.stop() == 0)

        // What a journalctl query for ADPILOT_EVENT=journal_seal returns: the heads, in order.
        let heads = d.stderr.split(separator: "\n").compactMap { line -> String? in
            guard line.contains("ADPILOT_EVENT=journal_seal"),
                let field = line.split(separator: " ").first(where: { $0.hasPrefix("ADPILOT_HEAD=") })
            else { return nil }
            return String(field.dropFirst("ADPILOT_HEAD=".count).filter { $0 != "]" })
        }
        try #require(heads.count >= 2, "no seal heads logged:\n\(d.stderr.suffix(2_000))")
        let last = try #require(heads.last)
        let ok = try d.ctl(["journal", "verify", "--key-file", keyFile, "--expect-head", last])
        #expect(ok.status == 0 && ok.out.contains("anchors: 1 expected head found"), "\(ok)")
        #expect(ok.out.contains("head: seq \(last.split(separator: ":")[0]) hash \(last.split(separator: ":")[1])"))
        // Every --expect-head counts, not only the last one given.
        let both = try d.ctl([
            "journal", "verify", "--key-file", keyFile, "--expect-head", heads[0], "--expect-head", last,
        ])
        #expect(both.status == 0 && both.out.contains("anchors: 2"), "\(both)")
        let forged = String(heads[0].dropLast()) + (heads[0].hasSuffix("0") ? "1" : "0")
        let early = try d.ctl([
            "journal", "verify", "--key-file", keyFile, "--expect-head", forged, "--expect-head", last,
        ])
        #expect(early.status == 1, "a forged first anchor went unchecked: \(early)")

        // Cut the newest records off at a record boundary: the chain and the seals that
        // remain still verify, but the anchor does not.
        let segment = try #require(
            try FileManager.default.contentsOfDirectory(atPath: d.stateDir + "/journal").filter {
                $0.hasSuffix(".jsonl")
            }.sorted().last)
        let path = d.stateDir + "/journal/" + segment
        let kept = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").dropLast(3)
        try (kept.joined(separator: "\n") + "\n").write(toFile: path, atomically: false, encoding: .utf8)
        #expect(try d.ctl(["journal", "verify", "--key-file", keyFile]).status == 0)
        let cut = try d.ctl(["journal", "verify", "--key-file", keyFile, "--expect-head", last])
        #expect(cut.status == 1 && cut.out.contains("records were cut off the end"), "\(cut)")

        let bad = try d.ctl(["journal", "verify", "--expect-head", "12:nothex"])
        #expect(bad.status == 2 && bad.err.contains("expected SEQ:HASH"), "\(bad)")
    }
}
