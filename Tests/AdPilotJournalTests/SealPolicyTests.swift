import Foundation
import Testing
@testable import AdPilotCore
@testable import AdPilotJournal
import AdPilotSystem
import AdPilotTestSupport

/// The seal policy travels inside the journal (issue 14, item 8): the first record is sealed
/// at once, every seal carries its interval under the MAC, and `verify` needs nothing else.
@Suite struct SealPolicyTests {
    /// Fewer records than the interval used to mean no seal at all: stripping nothing and
    /// recomputing the chain verified "through seq 0". Now seq 2 is a seal, so it fails.
    @Test func aShortKeyedJournalCannotLoseItsSeals() throws {
        let t = TempDir("short-seals")
        let w = try write(t.journal, 50, batch: 10, key: key32, interval: 1_000)
        #expect(try verify(t.journal, key: key32).get().sealedThrough == 2, "the first record is sealed at once")
        try w.close()
        try rechain(
            t.journal, drop: { _, kind in kind == "seal" },
            edit: { seq, _, fields in
                seq == 20 ? ("decision", fields.merging(["note": "rigged"]) { _, b in b }) : nil
            })
        #expect((try? verify(t.journal).get()) != nil, "without the key the forgery is consistent")
        let f = try #require(failure(t.journal, key: key32))
        #expect(f.seq == 2 && f.problem.contains("seq 2 must be a seal"), "\(f)")
    }

    /// An interval above the old 1,000 default verifies from the journal alone.
    @Test func anyIntervalVerifiesWithoutBeingTold() throws {
        let t = TempDir("wide-seals")
        try write(t.journal, 4_000, batch: 500, key: key32, interval: 5_000).close()
        let report = try verify(t.journal, key: key32).get()
        #expect(report.seals == 2 && report.sealedThrough == report.head.seq, "\(report)")
    }

    /// The interval may change between runs (the config's `journal.seal_interval`): each
    /// writer seals what it found at open, so its own interval starts from a seal.
    @Test func anIntervalChangedBetweenRunsVerifies() throws {
        let t = TempDir("changed-seals")
        for interval in [300, 50, 2_000, 100] {
            try write(t.journal, 700, batch: 70, key: key32, interval: interval).close()
        }
        let report = try verify(t.journal, key: key32).get()
        #expect(report.records > 2_800 && report.sealedThrough == report.head.seq, "\(report)")
    }

    /// A seal turned into an ordinary record in the third of several segments: the failure
    /// names that segment and the byte where the seal should be, not the last segment.
    @Test func aMissingSealIsReportedWhereItShouldBe() throws {
        let t = TempDir("gap-seals")
        let segmentBytes = Int64(RecordFormat.lineBytesMax)
        try write(t.journal, 26_000, batch: 500, key: key32, segmentBytes: segmentBytes, interval: 500).close()
        let segments = segmentPaths(t.journal)
        try #require(segments.count >= 5, "\(segments.count) segments")
        let third = lines(segments[2]).compactMap { line -> UInt64? in
            guard line.contains(#""kind":"seal""#),
                let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            else { return nil }
            return UInt64(o["seq"] as! Int)
        }
        // A seal from the interval (not the one closing the segment before rotation).
        let target = try #require(third.first, "no seal in \(segments[2])")
        let at = try rechain(
            t.journal,
            edit: { seq, kind, _ in seq == target && kind == "seal" ? ("note", ["text": "not a seal"]) : nil })
        let f = try #require(failure(t.journal, key: key32))
        let expected = try #require(at[target])
        #expect(f.seq == target && f.problem.contains("should be a seal"), "\(f)")
        #expect(f.segment == expected.segment && f.offset == Int64(expected.offset), "\(f) expected \(expected)")
    }

    func failure(_ dir: String, key: [UInt8]) -> VerifyFailure? {
        if case .failure(let f) = verify(dir, key: key) { return f }
        Issue.record("verify passed a tampered journal")
        return nil
    }
}

/// Anchors: heads recorded outside the journal (issue 14, item 9).
@Suite struct AnchorTests {
    /// Every seal is reported once it is durable, and the reports are the journal's seals.
    @Test func everyDurableSealIsReported() throws {
        let t = TempDir("on-seal")
        let seen = Guarded<[RecordRef]>([])
        var o = options(key: key32, interval: 100)
        o.onSeal = { ref in seen.with { $0.append(ref) } }
        let w = try JournalWriter.open(directory: t.journal, options: o)
        for i in 0..<25 { _ = try w.append((0..<10).map { JournalEntry(kind: "decision", data: data(i * 10 + $0)) }) }
        try w.close()
        let report = try verify(t.journal, key: key32).get()
        let reported = seen.current
        #expect(reported.count == report.seals && reported.last == report.head, "\(reported) vs \(report)")
        #expect((try? verify(t.journal, key: key32, anchors: reported).get()) != nil)
    }

    /// Cut at a record boundary, the chain is still perfect: only an anchor past the new end
    /// shows what was lost.
    @Test func truncationIsCaughtByAnAnchor() throws {
        let t = TempDir("anchor-cut")
        try write(t.journal, 300, batch: 10, key: key32, interval: 100).close()
        let anchor = try verify(t.journal, key: key32).get().head
        let path = segmentPaths(t.journal)[0]
        writeLines(path, Array(lines(path).prefix(250)) + [""])
        #expect((try? verify(t.journal, key: key32).get()) != nil, "a clean cut verifies without an anchor")
        guard case .failure(let f) = verify(t.journal, key: key32, anchors: [anchor]) else {
            Issue.record("verify passed a journal cut short of its anchor")
            return
        }
        #expect(f.seq == 251 && f.problem.contains("seq \(anchor.seq) was anchored"), "\(f)")
    }

    /// A journal rewritten (by someone with the key, say) from before an anchor: the record
    /// at the anchored seq no longer carries the anchored hash.
    @Test func aRewriteBeforeAnAnchorIsCaught() throws {
        let t = TempDir("anchor-rewrite")
        try write(t.journal, 120, batch: 10).close()
        let anchor = try verify(t.journal).get().head
        let at = try rechain(
            t.journal,
            edit: { seq, kind, fields in seq == 60 ? (kind, fields.merging(["note": "rigged"]) { _, b in b }) : nil })
        guard case .failure(let f) = verify(t.journal, anchors: [anchor]) else {
            Issue.record("verify passed a journal rewritten before its anchor")
            return
        }
        #expect(f.seq == anchor.seq && f.problem.contains("not the anchored"), "\(f)")
        #expect(f.segment == at[anchor.seq]?.segment && f.offset == Int64(at[anchor.seq]?.offset ?? -1))
    }
}
