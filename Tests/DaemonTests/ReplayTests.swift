import AdPilotControl
import AdPilotCore
import AdPilotJournal
import AdPilotPlatforms
import AdPilotService
import AdPilotSystem
import AdPilotTestSupport
import Foundation
import Testing

/// "Replayable from the journal" (docs/journal-format.md): every decision a demo run
/// journaled decodes as a `DecisionRecord`, and deciding its recorded inputs again through
/// the core, with the configuration its `config_digest` cites and the proposal it recorded,
/// gives the identical decision: the same layers, reasons and amounts, byte for byte. The
/// bytes are also what Foundation's `JSONEncoder` writes for the decoded record.
@Suite(.serialized) struct ReplayTests {
    @Test func everyJournaledDecisionReplaysExactly() throws {
        let dir = TempDir("replay")
        let (controller, _) = try ControllerTests.start(dir, campaigns: 20)
        var ticks = 0
        while ticks < 8 {
            _ = controller.tick(log: ControllerTests.log)
            ticks += 1
            usleep(300_000)  // 18 simulated minutes at 3,600x: new hours, pacer and cooldown state
        }
        controller.shutdown(reason: "test", log: ControllerTests.log)

        let reader = JournalReader(directory: dir.journal)
        var configs: [String: ServiceConfig] = [:]
        var replayed = 0, applied = 0, slots = Set<Slot>(), cited = 0
        var deliveries = DeliveryResolver()
        try reader.records(from: 1, matching: RecordFilter(kinds: [RecordKind.config, RecordKind.decision])) { r in
            let bytes = Array(r.dataBytes)
            if r.kind == RecordKind.config {
                let o = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
                if o["accepted"] as? Bool == true, let digest = o["digest"] as? String, let c = o["config"] {
                    let json = try JSONSerialization.data(withJSONObject: c)
                    configs[digest] = try ServiceConfig.parse(bytes: Array(json))
                }
                return true
            }
            let stored = try RecordCoding.decoder().decode(DecisionRecord.self, from: Data(bytes))
            let resolved = deliveries.resolve(stored)
            let record = try #require(resolved, "seq \(r.seq) cites a profile no record carried")
            if stored.controller.deliveryAsOf != nil { cited += 1 }
            let config = try #require(configs[record.configDigest], "seq \(r.seq) cites a config the journal lacks")
            let input = record.replayInput(
                campaign: config.campaign(record.campaign, currency: record.observation.currency),
                account: config.tick.account, pacerConfig: config.tick.pacer)
            let decision = DecisionPipeline.decide(input) { _ in record.proposal }.decision
            let again = RecordCoding.bytes(
                DecisionRecord(decision, tick: record.tick, policyDigest: record.policyDigest,
                               configDigest: record.configDigest, exploration: record.exploration,
                               deliveryAsOf: record.controller.deliveryAsOf))
            #expect(again == bytes, Comment(rawValue: "seq \(r.seq) (\(record.campaign)) replays differently:\n"
                + "journal \(String(decoding: bytes, as: UTF8.self))\n"
                + "replay  \(String(decoding: again, as: UTF8.self))"))
            // The journal's encoder writes what Foundation's JSONEncoder writes (`RecordEncoder`).
            let foundation = Array(try RecordCoding.encoder().encode(stored))
            #expect(
                foundation == bytes, "seq \(r.seq): JSONEncoder writes \(String(decoding: foundation, as: UTF8.self))")
            // Format 2 lists the layers that did something; the rest are filled in exactly.
            #expect(record.format == DecisionRecord.currentFormat && record.layers.count < decision.layers.count)
            #expect(record.verdicts.map { [$0.layer.rawValue, $0.verdict.rawValue] }
                == decision.layers.map { [$0.layer.rawValue, $0.verdict.rawValue] }, "seq \(r.seq)")
            #expect(DecisionRecord.journaled(decision.layers) == record.layers && decision.action == record.action
                    && decision.reason == record.reason && decision.finalBudgetMicros == record.budgetAfterMicros)
            replayed += 1
            if record.action == .apply { applied += 1 }
            slots.insert(record.slot)
            return true
        }
        #expect(replayed >= 8 * 20, "only \(replayed) decisions journaled")
        #expect(applied > 0, "the run applied nothing: the replay proved less than it should")
        #expect(slots == [.live, .candidate], "both slots decide in the demo: \(slots)")
        // Profiles change with each hour; ticks within one cite the profile written before.
        #expect(cited > 0, "none of \(replayed) decisions cites its delivery profile: none replayed from a citation")
    }
}
