import AdPilotCore
import AdPilotJournal
import AdPilotTestSupport
import Foundation
import Testing

/// Issue 15: `adpilotd` as a real process against the Meta double (live hourly insights
/// without action metrics, as an hourly breakdown returns them; one ad set under Advantage
/// campaign budget) with the Shopify double as the revenue source (orders by UTM, a
/// cancelled one in five, `Link` paging, a 429 with `Retry-After` first).
@Suite struct MetaShopifyEndToEndTests {
    @Test func theDaemonRunsOnMetaSpendAndShopifyRevenue() throws {
        let meta = try FakeMeta(adSets: 5, minorUnits: 10_000)
        let shop = try FakeShopify()
        defer {
            meta.server.stop()
            shop.server.stop()
        }
        meta.state.withLock {
            $0.live = true
            $0.campaignBudget = ["23855"]
            $0.parent = ["23851": "c1", "23852": "c1"]  // two ad sets of one campaign: never one batch
        }
        shop.state.withLock {
            $0.campaigns = ["23851", "23852", "23853", "23854"]
            $0.throttleNext = 1
        }
        let d = try DaemonUnderTest("meta-shopify-e2e") { c in
            c["clock"] = ["kind": "system"]
            c["tick_seconds"] = 1
            c["platform"] = [
                "kind": "meta", "ad_account_id": "1234", "currency": "USD", "token_credential": "meta-token",
                "base_url": meta.server.baseURL + "/v21.0",
            ]
            c["revenue"] = [
                "kind": "shopify", "shop_domain": "example.myshopify.com", "currency": "USD",
                "token_credential": "shopify-token", "base_url": shop.baseURL,
            ]
        }
        let credentials = try d.credentials(["meta-token": meta.token, "shopify-token": shop.token])
        try d.start(env: ["CREDENTIALS_DIRECTORY": credentials])
        let ran = d.waitForTicks(8, seconds: 120)
        #expect(ran != nil, "the daemon did not tick\n\(d.stderr.suffix(3_000))")
        #expect(d.stop() == 0)

        let verified = JournalVerifier.verify(directory: d.stateDir + "/journal")
        #expect((try? verified.get()) != nil, "\(verified)")
        var decided = Set<String>()
        var valued = 0
        var asked: [UInt64: (String, Int64)] = [:]
        var outcome: [UInt64: String] = [:]
        for r in try d.records(kinds: ["decision", "apply_result"]) {
            let data = d.data(r)
            if r.kind == "decision" {
                let campaign = data["campaign"] as! String
                decided.insert(campaign)
                let trailing = (data["observation"] as? [String: Any])?["trailing"] as? [String: Any]
                if ((trailing?["conversion_value_micros"] as? NSNumber)?.int64Value ?? 0) > 0 { valued += 1 }
                if data["action"] as? String == "apply" {
                    asked[r.seq] = (campaign, (data["budget_after_micros"] as! NSNumber).int64Value)
                }
            } else {
                outcome[(data["decision_seq"] as! NSNumber).uint64Value] = data["status"] as? String
            }
        }
        #expect(!decided.contains("23855"), "decided for an ad set under a campaign budget")
        #expect(decided == ["23851", "23852", "23853", "23854"], "\(decided)")
        // Meta's hourly insights carry no purchases: any value in a decision is the shop's.
        #expect(valued > 0, "no decision saw the shop's revenue\n\(d.stderr.suffix(3_000))")
        var confirmed: [String: [Int64]] = [:]
        for seq in asked.keys.sorted() where outcome[seq] == "confirmed" {
            confirmed[asked[seq]!.0, default: []].append(asked[seq]!.1 / 10_000)
        }
        var applied: [String: [Int64]] = [:]
        for (id, minor) in meta.state.withLock({ $0.applied }) { applied[id, default: []].append(minor) }
        #expect(applied == confirmed, "applied \(applied) vs journaled and confirmed \(confirmed)")
        let batches = meta.server.requests.filter { $0.method == "POST" && $0.path == "/v21.0/" }.count
        #expect(batches > 0, "the budget writes did not go in Graph API batches")
        let orderReads = shop.server.requests.filter { $0.query["page_info"] == nil }.count
        #expect(orderReads <= 8 + 2, "the shop was read \(orderReads) times for about 8 ticks")
        print("meta+shopify end to end: \(applied.values.joined().count) budget writes, \(valued) decisions valued")
    }
}
