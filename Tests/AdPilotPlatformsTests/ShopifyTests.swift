import AdPilotTestSupport
import Foundation
import Synchronization
import Testing
@testable import AdPilotCore
@testable import AdPilotPlatforms

@Suite struct ShopifyTests {
    static func server(orders: Int, throttleFirst: Bool = false) throws -> LoopbackServer {
        let calls = Atomic<Int>(0)
        let box = Mutex<LoopbackServer?>(nil)
        let s = try LoopbackServer { r in
            guard r.headers["x-shopify-access-token"] == token else {
                return .json(#"{"errors":"[API] Invalid API key or access token"}"#, status: 401)
            }
            if throttleFirst && calls.add(1, ordering: .relaxed).oldValue == 0 {
                return .json(
                    #"{"errors":"Exceeded 2 calls per second for api client."}"#, status: 429,
                    headers: [("Retry-After", "2.0")])
            }
            let page = Int(r.query["page_info"] ?? "0") ?? 0
            let size = 250
            let items = (page * size..<min(orders, (page + 1) * size)).map { i in
                let site =
                    i % 3 == 0
                    ? "/products/x?utm_source=tiktok&utm_campaign=ag\(i % 5)" : (i % 3 == 1 ? "/" : "/?ref=mail")
                return
                    #"{"id":\#(4_000_000 + i),"#
                        + #""created_at":"2026-11-23T10:\#(String(format: "%02d", i % 60)):00-05:00","#
                        + #""total_price":"\#(10 + i % 7).\#(String(format: "%02d", i % 100))","currency":"USD","#
                        + #""landing_site":"\#(site)"}"#
            }
            var headers = [("X-Shopify-Shop-Api-Call-Limit", "\(36 + page)/40")]
            if (page + 1) * size < orders {
                let base = box.withLock { $0!.baseURL }
                headers.append(
                    ("Link", #"<\#(base)/admin/api/2024-10/orders.json?limit=250&page_info=\#(page + 1)>; rel="next""#))
            }
            return .json(#"{"orders":[\#(items.joined(separator: ","))]}"#, headers: headers)
        }
        box.withLock { $0 = s }
        return s
    }

    func shop(_ s: LoopbackServer, sleeps: SleepLog) -> ShopifyRevenue {
        var config = ShopifyConfig(shopDomain: "example.myshopify.com", currency: .usd)
        config.baseURL = s.baseURL + "/admin/api/2024-10"
        let shop = ShopifyRevenue(config: config, token: token)
        shop.http.sleep = { sleeps.record($0) }
        return shop
    }

    @Test func ordersAcrossLinkPagesWithExactTotalsAndUTMAttribution() throws {
        let s = try Self.server(orders: 600)
        defer { s.stop() }
        let sleeps = SleepLog()
        let orders = try shop(s, sleeps: sleeps).orders(
            since: Instant(rfc3339: "2026-11-23")!, until: Instant(rfc3339: "2026-11-24")!)
        #expect(orders.count == 600 && s.requests.count == 3)
        #expect(orders[0].totalMicros == Micros(10_000_000) && orders[101].totalMicros == Micros(13_010_000))
        #expect(orders[0].createdAt == Instant(rfc3339: "2026-11-23T15:00:00Z"), "offsets are honoured")
        #expect(orders.filter { $0.campaign != nil }.count == 200 && orders[3].campaign == CampaignID("ag3"))
        #expect(sleeps.millis == [1_000, 1_000], "a nearly full call bucket slows paging down")
        #expect(s.requests.allSatisfy { !$0.path.contains(token) && !$0.query.values.contains(token) })
    }

    @Test func throttledWith429HonoursRetryAfter() throws {
        let s = try Self.server(orders: 10, throttleFirst: true)
        defer { s.stop() }
        let sleeps = SleepLog()
        #expect(
            try shop(s, sleeps: sleeps).orders(
                since: Instant(rfc3339: "2026-11-23")!, until: Instant(rfc3339: "2026-11-24")!
            ).count == 10)
        #expect(sleeps.millis == [2_000])
    }

    @Test func paginationNeverLeavesTheShop() throws {
        let s = try LoopbackServer { _ in
            .json(#"{"orders":[]}"#, headers: [("Link", #"<https://evil.example/steal?x=1>; rel="next""#)])
        }
        defer { s.stop() }
        do {
            _ = try shop(s, sleeps: SleepLog()).orders(
                since: Instant(rfc3339: "2026-11-23")!, until: Instant(rfc3339: "2026-11-24")!)
            Issue.record("followed a link off the shop")
        } catch {
            #expect(error.description.contains("pagination link leaves"))
        }
        #expect(s.requests.count == 1)
    }
}
