import AdPilotControl
import AdPilotCore
import AdPilotJournal
import AdPilotPlatforms
import AdPilotService
import AdPilotSystem
import AdPilotTestSupport
import Foundation
import Testing

/// Issue 15, item 5: one campaign's rejections opened the platform breaker and every
/// campaign held. A campaign's own failures count against its breaker only.
@Suite(.serialized) struct BreakerScopeTests {
    static let log = Log(identifier: "test", toJournald: false)

    /// The embedded market, except that some campaigns' budget writes are refused (as a
    /// platform refuses a budget below its minimum or on a campaign it will not change) and
    /// some are reported as not controllable.
    final class ShapedMarket: AdPlatform {
        let market: EmbeddedMarket
        let refused: Set<CampaignID>
        let notControllable: [CampaignID: String]
        init(_ market: EmbeddedMarket, refusing: Set<CampaignID> = [], notControllable: [CampaignID: String] = [:]) {
            (self.market, refused, self.notControllable) = (market, refusing, notControllable)
        }
        var name: String { market.name }
        func listCampaigns() throws(PlatformError) -> [PlatformCampaign] {
            try market.listCampaigns().map {
                PlatformCampaign(
                    id: $0.id, name: $0.name, currency: $0.currency, dailyBudgetMicros: $0.dailyBudgetMicros,
                    status: $0.status, notControllable: notControllable[$0.id])
            }
        }
        func hourlyMetrics(campaign: CampaignID, from: Instant, to: Instant) throws(PlatformError) -> MetricsWindow {
            try market.hourlyMetrics(campaign: campaign, from: from, to: to)
        }
        func setDailyBudget(campaign: CampaignID, budgetMicros: Micros) throws(PlatformError) {
            guard !refused.contains(campaign) else {
                throw .rejected(code: "40002", detail: "budget must exceed $20 (request_id r-1)")
            }
            try market.setDailyBudget(campaign: campaign, budgetMicros: budgetMicros)
        }
        func setStatus(campaign: CampaignID, _ status: PlatformCampaign.Status) throws(PlatformError) {
            try market.setStatus(campaign: campaign, status)
        }
        func campaign(_ id: CampaignID) throws(PlatformError) -> PlatformCampaign { try market.campaign(id) }
    }

    /// Half the campaigns refused: enough failures that a platform breaker counting them
    /// would open (and did, before), holding the other half too.
    @Test func campaignsRejectionsOpenOnlyTheirOwnBreakers() throws {
        let dir = TempDir("breaker-scope")
        var refused: Set<CampaignID> = []
        let run = try InProcess(dir, campaigns: 6) { market in
            refused = Set(try market.listCampaigns().prefix(3).map(\.id))
            return ShapedMarket(market, refusing: refused)
        }
        let controller = run.controller
        var refusals = 0, confirmedOthers = 0
        for _ in 0..<40 {
            let before = try EmbeddedMarket.writes(directory: dir.path + "/simulator").count
            let r = controller.tick(log: Self.log)
            refusals += r.writeFailures
            confirmedOthers += try EmbeddedMarket.writes(directory: dir.path + "/simulator").count - before
            usleep(100_000)  // six simulated minutes at 3,600x
        }
        let status = controller.status()
        #expect(refusals >= 15, "the refused campaigns were written to only \(refusals) times")
        #expect(status.breakers.platform == .closed, "campaigns' refusals opened the platform breaker")
        // Open, or half-open once the wait has passed (the simulated clock runs at 3,600x).
        for c in status.campaigns where refused.contains(c.id) {
            #expect(c.breaker == .open || c.breaker == .halfOpen, "\(c.id): \(c.breaker)")
        }
        #expect(status.breakers.campaigns["closed"] == 3, "\(status.breakers)")
        #expect(confirmedOthers > 20, "the other campaigns wrote \(confirmedOthers) budgets")
        // The platform's explanation is kept in the journal.
        var explained = false
        try JournalReader(directory: dir.journal).records(matching: RecordFilter(kinds: ["apply_result"])) { r in
            explained = explained || String(decoding: r.dataBytes, as: UTF8.self).contains("budget must exceed $20")
            return !explained
        }
        #expect(explained)
        controller.shutdown(reason: "test", log: Self.log)
    }

    /// Issue 15, item 3: observed, shown in status with the reason, counted in the account
    /// cap at the budget it reports, and never written.
    @Test func aCampaignThatIsNotControllableIsNeverWritten() throws {
        let dir = TempDir("not-controllable")
        let why = "budget_mode BUDGET_MODE_INFINITE: AdPilot controls daily ad group budgets only"
        var held = CampaignID("")
        let run = try InProcess(dir, campaigns: 4) { market in
            held = try #require(try market.listCampaigns().first?.id)
            return ShapedMarket(market, notControllable: [held: why])
        }
        let controller = run.controller
        for _ in 0..<20 {
            controller.tick(log: Self.log)
            usleep(100_000)
        }
        let writes = try EmbeddedMarket.writes(directory: dir.path + "/simulator")
        #expect(!writes.isEmpty && !writes.contains { $0.campaign == held }, "\(writes.count) writes")
        let shown = controller.status().campaigns.first { $0.id == held }
        #expect(shown?.control == "not controlled: " + why, "\(String(describing: shown))")
        var decided = false
        try JournalReader(directory: dir.journal).records(matching: RecordFilter(kinds: ["decision"])) { r in
            decided = String(decoding: r.dataBytes, as: UTF8.self).contains(#""campaign":"\#(held)""#)
            return !decided
        }
        #expect(!decided, "a decision was made for a campaign AdPilot does not control")
        // Issue 15, item 9: each decision says when its observation was read (after the
        // tick began, never before).
        var stamped = 0
        try JournalReader(directory: dir.journal).records(matching: RecordFilter(kinds: ["decision"])) { r in
            let d = try RecordCoding.decoder().decode(DecisionRecord.self, from: Data(r.dataBytes))
            if let read = d.observation.observedAt, read >= d.at { stamped += 1 }
            else { Issue.record("decision \(r.seq): observed at \(String(describing: d.observation.observedAt))") }
            return true
        }
        #expect(stamped > 0)
        controller.shutdown(reason: "test", log: Self.log)
    }
}
