import AdPilotCore
import Foundation
import Testing
@testable import AdPilotJournal

/// Decision records in both formats (docs/journal-format.md#decision-records): format 2
/// lists only the layers that did something and fills the rest in; a format-1 record, as
/// AdPilot 0.1.0 wrote it, still reads in full.
@Suite struct DecisionFormatTests {
    /// `data` of a decision written by AdPilot 0.1.0 (format 1): its demo's first tick.
    static let formatOne = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fixtures/decision-format-1.json")

    static func object(_ url: URL) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    static func decode(_ object: [String: Any]) throws -> DecisionRecord {
        try RecordCoding.decoder().decode(DecisionRecord.self, from: JSONSerialization.data(withJSONObject: object))
    }

    @Test func aFormatOneRecordStillReadsInFull() throws {
        let d = try Self.decode(Self.object(Self.formatOne))
        #expect(d.format == nil && d.tick == 1 && d.campaign == CampaignID("sim-00001"))
        #expect(d.pacer.recommendedBudgetMicros == Micros(362_176_320))
        #expect(d.layers.count == Layer.allCases.count && d.verdicts == d.layers)
        #expect(d.verdicts.filter { $0.verdict == .adjust }.map(\.layer) == [.pacer, .step])
    }

    @Test func formatTwoFillsInApprovalsAndTheSkipsAfterAVeto() throws {
        var o = try Self.object(Self.formatOne)
        o["format"] = 2
        o["layers"] = [
            ["layer": "pacer", "verdict": "adjust", "reason": "pacer.below_band", "in_micros": 1, "out_micros": 2],
            ["layer": "cooldown", "verdict": "veto", "reason": "cooldown.active", "in_micros": 2],
        ]
        let d = try Self.decode(o)
        let expected: [LayerVerdict.Kind] = [
            .approve, .adjust, .approve, .approve, .approve, .approve, .approve, .approve, .veto, .skipped, .skipped,
            .skipped,
        ]
        #expect(d.verdicts.map(\.layer) == Layer.allCases)
        #expect(d.verdicts.map(\.verdict) == expected)
        #expect(d.verdicts[1] == d.layers[0] && d.verdicts[8] == d.layers[1])
        #expect(d.verdicts[0].inMicros == nil && d.verdicts[0].outMicros == nil, "no amounts are made up")

        o["layers"] = (o["layers"] as! [Any]).reversed() as [Any]
        let outOfOrder = try Self.decode(o)
        #expect(outOfOrder.verdicts == outOfOrder.layers, "nothing listed is dropped")

        o["format"] = 3
        o["layers"] = [["layer": "pacer", "verdict": "adjust", "in_micros": 1, "out_micros": 2]]
        let newer = try Self.decode(o)
        #expect(newer.verdicts == newer.layers, "a newer format is not read as this one")
    }

    /// A proposal validity refuses (NaN, negative, the policy's error): the other eleven
    /// layers were skipped.
    @Test func afterValiditysVetoEveryOtherLayerWasSkipped() throws {
        var o = try Self.object(Self.formatOne)
        o["format"] = 2
        o["layers"] = [["layer": "validity", "verdict": "veto", "reason": "validity.non_finite"]]
        let d = try Self.decode(o)
        #expect(d.verdicts.map(\.layer) == Layer.allCases)
        #expect(d.verdicts.first?.verdict == .veto && d.verdicts.dropFirst().allSatisfy { $0.verdict == .skipped })
    }

    @Test func formatTwoKeepsEveryVerdictButPlainApprovalsAndSkips() {
        func v(_ layer: Layer, _ kind: LayerVerdict.Kind, detail: String? = nil) -> LayerVerdict {
            LayerVerdict(layer: layer, verdict: kind, reason: nil, inMicros: nil, outMicros: nil, detail: detail)
        }
        let all = [
            v(.validity, .approve), v(.pacer, .adjust), v(.bounds, .approve, detail: "floor 1.00"), v(.step, .veto),
            v(.dailyCap, .skipped),
        ]
        #expect(DecisionRecord.journaled(all) == [all[1], all[2], all[3]])
    }

    /// A decision citing its delivery profile (`delivery_as_of`) gets the one the named
    /// decision of its campaign and slot carried, and nothing when that one was not read.
    @Test func aCitedDeliveryProfileIsTheOneItsCarrierHeld() throws {
        var o = try Self.object(Self.formatOne)
        o["format"] = 2
        let carrier = try Self.decode(o)
        let profile = try #require(carrier.controller.delivery)
        var controller = try #require(o["controller"] as? [String: Any])
        controller["delivery"] = nil
        controller["delivery_as_of"] = carrier.at.microsSinceEpoch
        o["controller"] = controller
        o["at"] = carrier.at.microsSinceEpoch + 600_000_000
        let citing = try Self.decode(o)
        #expect(citing.controller.delivery == nil)

        var resolver = DeliveryResolver()
        let before = resolver.resolve(citing), carried = resolver.resolve(carrier), after = resolver.resolve(citing)
        #expect(before == nil, "no carrier read yet")
        #expect(carried?.controller.delivery == profile)
        let resolved = try #require(after)
        #expect(resolved.controller.delivery == profile && resolved.controller.deliveryAsOf == carrier.at)

        controller["delivery_as_of"] = carrier.at.microsSinceEpoch - 1
        o["controller"] = controller
        let elsewhen = resolver.resolve(try Self.decode(o))
        #expect(elsewhen == nil, "a carrier at another instant is not it")
        o["slot"] = "live"
        controller["delivery_as_of"] = carrier.at.microsSinceEpoch
        o["controller"] = controller
        let otherSlot = resolver.resolve(try Self.decode(o))
        #expect(otherSlot == nil, "the other slot's carrier is not it")
    }
}
