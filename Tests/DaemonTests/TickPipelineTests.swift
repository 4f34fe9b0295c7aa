import AdPilotControl
import AdPilotCore
import AdPilotJournal
import AdPilotService
import AdPilotSystem
import AdPilotTestSupport
import Foundation
import Testing

/// How a tick hands its work to other threads: decisions journaled in blocks while the
/// next block encodes, and the snapshot written behind the tick. Neither may change what
/// the journal says or when a write may start.
@Suite(.serialized) struct TickPipelineTests {
    /// Decisions in blocks of 7 (a partial block last): every decision journaled once, in
    /// the order decided, before any write; each apply result names the decision of its
    /// own campaign, which asked to apply.
    /// With 1, 2 and 8 encoder threads: 8 is more threads than decisions in the last block
    /// (46 = 6 x 7 + 4), whose empty parts must be skipped.
    @Test(arguments: [1, 2, 8]) func decisionsJournaledInBlocksKeepTheirOrderAndOutcomes(encoders: Int) throws {
        let dir = TempDir("blocks")
        let (controller, _) = try ControllerTests.start(dir, campaigns: 23)
        controller.decisionBlock = 7
        controller.blockEncoders = (0..<encoders).map { _ in BackgroundWorker(name: "test-encode") }
        var decided = 0
        for _ in 0..<3 {
            let r = controller.tick(log: ControllerTests.log)
            #expect(r.error == nil, "\(r.error ?? "")")
            decided += r.decisions
            usleep(300_000)
        }
        controller.shutdown(reason: "test", log: ControllerTests.log)
        #expect(decided == 3 * 2 * 23)

        var decisions: [UInt64: (campaign: String, action: String, tick: UInt64)] = [:]
        var order: [(tick: UInt64, slot: String, campaign: String)] = []
        var outcomes = 0
        try JournalReader(directory: dir.journal).records(
            from: 1, matching: RecordFilter(kinds: [RecordKind.decision, RecordKind.applyResult])
        ) { r in
            let o = try #require(try JSONSerialization.jsonObject(with: Data(r.dataBytes)) as? [String: Any])
            let campaign = try #require(o["campaign"] as? String)
            if r.kind == RecordKind.decision {
                let tick = try #require((o["tick"] as? NSNumber)?.uint64Value)
                decisions[r.seq] = (campaign, try #require(o["action"] as? String), tick)
                order.append((tick, try #require(o["slot"] as? String), campaign))
                return true
            }
            let seq = try #require((o["decision_seq"] as? NSNumber)?.uint64Value)
            let d = try #require(decisions[seq], "apply result at seq \(r.seq) names seq \(seq), no decision before it")
            #expect(d.campaign == campaign && d.action == "apply", "seq \(r.seq) names \(d) for \(campaign)")
            outcomes += 1
            return true
        }
        #expect(decisions.count == decided, "\(decisions.count) decision records for \(decided) decisions")
        #expect(outcomes > 0, "nothing was applied: the outcomes prove nothing")
        // Within a tick and slot, campaigns in the platform's order (sim-00001, ...). A
        // block journaled out of order, twice or not at all would break it.
        for key in Set(order.map { "\($0.tick) \($0.slot)" }) {
            let campaigns = order.filter { "\($0.tick) \($0.slot)" == key }.map(\.campaign)
            #expect(campaigns == (1...23).map { String(format: "sim-%05d", $0) }, "tick and slot \(key): \(campaigns)")
        }
    }

    /// The tick does not wait for its snapshot; shutdown does, so a clean stop leaves the
    /// snapshot and the anomaly history at the last record before `shutdown`.
    @Test func theSnapshotIsWrittenBehindTheTickAndShutdownWaitsForIt() throws {
        let dir = TempDir("snapshot-behind")
        let (controller, _) = try ControllerTests.start(dir, campaigns: 10)
        controller.snapshots.delayMillis.with { $0 = 1_000 }
        let state = dir.path + "/controller-state.json", anomaly = dir.path + "/anomaly-state.json"
        controller.tick(log: ControllerTests.log)
        #expect(!FileManager.default.fileExists(atPath: state), "the tick waited for its snapshot")
        controller.shutdown(reason: "test", log: ControllerTests.log)
        let head = try JournalVerifier.verify(directory: dir.journal).get().head.seq
        for path in [state, anomaly] {
            let o = try #require(
                try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
            #expect((o["journalSeq"] as? NSNumber)?.uint64Value == head - 1, "\(path) is not at seq \(head - 1)")
        }
    }

    /// A clean stop right after a tick finds that tick's snapshot, anomaly history included,
    /// at the head, and does not write it again (at 100,000 campaigns that would double the
    /// stop's time).
    @Test func aCleanStopRightAfterATickWritesNoSecondSnapshot() throws {
        let dir = TempDir("snapshot-once")
        let (controller, _) = try ControllerTests.start(dir, campaigns: 10)
        controller.snapshots.drain()
        let atStart = controller.snapshots.written.current
        controller.tick(log: ControllerTests.log)
        let submitted = try #require(controller.snapshots.lastSubmitted.current)
        #expect(submitted.anomaly, "the first tick ingests hours: its snapshot carries the history")
        controller.snapshots.drain()
        #expect(controller.snapshots.written.current == atStart + 1)
        controller.shutdown(reason: "test", log: ControllerTests.log)
        #expect(controller.snapshots.written.current == atStart + 1, "the stop wrote the same snapshot again")
    }

    /// A decision cites its delivery profile (`delivery_as_of`) only from a decision less
    /// than an hour older: with the configured profile for every campaign (it never
    /// changes), each campaign writes its profile again every hour, so shipping old segments
    /// away strands at most an hour of citations, however large the journal.
    @Test func aCitedDeliveryProfileIsLessThanAnHourOld() throws {
        let dir = TempDir("delivery-hour")
        let (controller, _) = try ControllerTests.start(
            dir, campaigns: 10, overlays: [#"{"pacer": {"profile_mode": "fixed"}}"#])
        for _ in 0..<14 {
            controller.tick(log: ControllerTests.log)
            usleep(250_000)  // 15 simulated minutes and more: three hours or so in all
        }
        controller.shutdown(reason: "test", log: ControllerTests.log)
        var carried: [String: Instant] = [:], carriedCount: [String: Int] = [:]
        var cited = 0, first: Instant? = nil, last: Instant? = nil
        try JournalReader(directory: dir.journal).records(from: 1, matching: RecordFilter(kinds: ["decision"])) { r in
            let d = try RecordCoding.decoder().decode(DecisionRecord.self, from: Data(r.dataBytes))
            let key = "\(d.campaign) \(d.slot.rawValue)"
            first = first ?? d.at
            last = d.at
            guard let asOf = d.controller.deliveryAsOf else {
                carried[key] = d.at
                carriedCount[key, default: 0] += 1
                return true
            }
            #expect(carried[key] == asOf, "seq \(r.seq) cites \(asOf), not the last profile written")
            let age = d.at.microsSinceEpoch - asOf.microsSinceEpoch
            #expect(age < 3_600_000_000, "seq \(r.seq) cites a profile written \(age / 1_000_000) s before")
            cited += 1
            return true
        }
        let span = (last?.microsSinceEpoch ?? 0) - (first?.microsSinceEpoch ?? 0)
        #expect(span > 2 * 3_600_000_000, "the run covered only \(span / 1_000_000) simulated s")
        #expect(cited > 0 && carriedCount.values.allSatisfy { $0 >= 2 }, "\(cited) cited; carried \(carriedCount)")
    }
}
