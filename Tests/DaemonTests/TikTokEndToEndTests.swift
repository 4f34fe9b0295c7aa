import AdPilotCore
import AdPilotJournal
import AdPilotTestSupport
import Foundation
import Testing

/// Issue 15: `adpilotd` as a real process against the TikTok double, with the documented
/// quirks on: one-day hourly reports (40002 otherwise), the hour in progress, "-" rows,
/// throttling (40100) and system timeouts (50002) at intervals, an ad group stopped by its
/// campaign, one under a campaign budget, and a minimum budget. It must keep working,
/// never write to what it does not control, and never write what it did not journal.
@Suite struct TikTokEndToEndTests {
    @Test func theDaemonRunsAgainstTheDocumentedDouble() throws {
        let fake = try FakeTikTok(adGroups: 6, budget: "100.00")
        defer { fake.server.stop() }
        fake.state.withLock {
            $0.live = true
            $0.throttleEvery = 13
            $0.sysTimeoutEvery = 17
            $0.minimumBudget = 20
            $0.secondary["ag1"] = "ADGROUP_STATUS_CAMPAIGN_DISABLE"
            $0.budgetMode["ag2"] = "BUDGET_MODE_INFINITE"
        }
        let d = try DaemonUnderTest("tiktok-e2e") { c in
            c["clock"] = ["kind": "system"]
            c["tick_seconds"] = 1
            c["platform"] = [
                "kind": "tiktok", "advertiser_id": "7000001", "currency": "USD", "token_credential": "tiktok-token",
                "base_url": fake.server.baseURL + "/open_api/v1.3",
            ]
            var defaults = c["campaign_defaults"] as! [String: Any]
            var guardrails = defaults["guardrails"] as! [String: Any]
            guardrails["bounds"] = ["min_micros": 20_000_000, "max_micros": 500_000_000]
            defaults["guardrails"] = guardrails
            c["campaign_defaults"] = defaults
        }
        try d.start(env: ["CREDENTIALS_DIRECTORY": try d.credentials(["tiktok-token": fake.token])])
        let ran = d.waitForTicks(12, seconds: 120)
        #expect(ran != nil, "the daemon did not tick against the double\n\(d.stderr.suffix(3_000))")
        #expect(d.stop() == 0)

        let verified = JournalVerifier.verify(directory: d.stateDir + "/journal")
        #expect((try? verified.get()) != nil, "\(verified)")
        // Every report asked for one day.
        let reports = fake.server.requests.filter { $0.path.hasSuffix("/report/integrated/get/") }
        #expect(!reports.isEmpty && reports.allSatisfy { $0.query["start_date"] == $0.query["end_date"] })

        var confirmed: [String: [String]] = [:]
        var decided = Set<String>()
        var outcome: [UInt64: String] = [:]
        var asked: [UInt64: (String, Int64)] = [:]
        for r in try d.records(kinds: ["decision", "apply_result"]) {
            let data = d.data(r)
            if r.kind == "decision" {
                decided.insert(data["campaign"] as! String)
                if data["action"] as? String == "apply" {
                    asked[r.seq] = (data["campaign"] as! String, (data["budget_after_micros"] as! NSNumber).int64Value)
                }
            } else {
                outcome[(data["decision_seq"] as! NSNumber).uint64Value] = data["status"] as? String
            }
        }
        #expect(!decided.contains("ag1") && !decided.contains("ag2"), "decided for ad groups it does not control")
        #expect(decided.isSuperset(of: ["ag3", "ag4", "ag5", "ag6"]), "\(decided)")
        for seq in asked.keys.sorted() where outcome[seq] == "confirmed" {
            let (campaign, micros) = asked[seq]!
            confirmed[campaign, default: []].append(Micros(micros).decimalString())
        }
        // What the platform applied is exactly what the journal asked for and confirmed, in order.
        var applied: [String: [String]] = [:]
        for (id, text) in fake.state.withLock({ $0.applied }) { applied[id, default: []].append(text) }
        #expect(applied.keys.allSatisfy { !["ag1", "ag2"].contains($0) })
        #expect(applied == confirmed, "applied \(applied) vs journaled and confirmed \(confirmed)")
        #expect(applied.values.joined().count > 0, "no budget was written in 12 ticks")
        print("tiktok end to end: \(reports.count) report requests, \(applied.values.joined().count) budget writes")
    }
}
