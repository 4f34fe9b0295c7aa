import AdPilotCore
import AdPilotJournal
import AdPilotService
import AdPilotTestSupport
import Foundation
import Testing

/// The cooldown counts time, exactly, on the tick grid (docs/architecture.md, a tick): a
/// real daemon on an accelerated clock (its ticks wake with real jitter) stamps every
/// decision with its slot, and with `pace@1` wanting a change every tick, each campaign
/// changes exactly every 3,600 s, never 4,200 because a tick woke early.
@Suite(.serialized) struct CooldownTests {
    @Test func changesComeExactlyOneCooldownApart() throws {
        let d = try DaemonUnderTest("cooldown", campaigns: 6, speed: 3_600) { c in
            var defaults = c["campaign_defaults"] as! [String: Any]
            var guardrails = defaults["guardrails"] as! [String: Any]
            guardrails["cooldown_seconds"] = 3_600
            defaults["guardrails"] = guardrails
            c["campaign_defaults"] = defaults
        }
        try d.start()
        try #require(d.waitForTicks(60, seconds: 60) != nil, "\(d.stderr.suffix(1_000))")
        #expect(d.stop() == 0)
        let decoder = RecordCoding.decoder()
        var applies: [CampaignID: [Instant]] = [:]
        var offGrid: [Instant] = []
        for r in try d.records(kinds: [RecordKind.decision]) {
            let decision = try decoder.decode(DecisionRecord.self, from: Data(r.dataBytes))
            if decision.at.microsSinceEpoch % (600 * Instant.microsPerSecond) != 0 { offGrid.append(decision.at) }
            if decision.action == .apply { applies[decision.campaign, default: []].append(decision.at) }
        }
        #expect(offGrid.count == 0, "decisions off the 600 s grid, first: \(offGrid.prefix(5))")
        var gaps: [Double] = []
        for (_, times) in applies { gaps += zip(times.dropFirst(), times).map { $0.seconds(since: $1) } }
        #expect(gaps.count >= 12, "too few changes to judge: \(applies)")
        #expect(gaps.allSatisfy { $0 >= 3_600 }, "a change inside the cooldown: \(gaps.sorted().prefix(5))")
        let exact = gaps.filter { $0 == 3_600 }.count
        #expect(Double(exact) >= 0.9 * Double(gaps.count), "gaps \(gaps.sorted())")
        print("cooldown: \(exact) of \(gaps.count) consecutive changes exactly 3,600 s apart")
    }
}
