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

    /// Revenue is what the shop kept (issue 15, item 12). Order fields from Shopify's own
    /// client (Shopify/shopify-api-js, rest/admin/2024-04/order.ts): `cancelled_at`, `test`,
    /// `financial_status` (voided, refunded, partially_refunded ...) and
    /// `current_total_price`, which reflects refunds and edits (Shopify's order docs).
    @Test func cancelledTestAndVoidedOrdersCountForNothingAndRefundsAreTakenOff() throws {
        let rows = [
            #"{"id":1,"created_at":"2026-11-23T10:00:00Z","total_price":"50.00","current_total_price":"50.00","#
                + #""currency":"USD","landing_site":"/?utm_campaign=ag1","cancelled_at":null,"test":false,"#
                + #""financial_status":"paid"}"#,
            #"{"id":2,"created_at":"2026-11-23T10:05:00Z","total_price":"40.00","current_total_price":"15.00","#
                + #""currency":"USD","landing_site":"/?utm_campaign=ag1","cancelled_at":null,"test":false,"#
                + #""financial_status":"partially_refunded"}"#,
            #"{"id":3,"created_at":"2026-11-23T10:10:00Z","total_price":"30.00","current_total_price":"30.00","#
                + #""currency":"USD","landing_site":"/?utm_campaign=ag1","cancelled_at":"2026-11-23T11:00:00Z","#
                + #""test":false,"financial_status":"voided"}"#,
            #"{"id":4,"created_at":"2026-11-23T10:15:00Z","total_price":"20.00","current_total_price":"20.00","#
                + #""currency":"USD","landing_site":"/?utm_campaign=ag1","cancelled_at":null,"test":true,"#
                + #""financial_status":"paid"}"#,
        ]
        let s = try LoopbackServer { _ in .json(#"{"orders":[\#(rows.joined(separator: ","))]}"#) }
        defer { s.stop() }
        let orders = try shop(s, sleeps: SleepLog()).orders(
            since: Instant(rfc3339: "2026-11-23")!, until: Instant(rfc3339: "2026-11-24")!)
        #expect(orders.map(\.id) == ["1", "2"], "\(orders.map(\.id))")
        #expect(orders.map(\.totalMicros) == [Micros(50_000_000), Micros(15_000_000)])
        let fields = s.requests.first?.query["fields"] ?? ""
        #expect(["current_total_price", "cancelled_at", "test", "financial_status"].allSatisfy(fields.contains))
    }

    /// The shop's orders replace the ad platform's own attribution, hour by hour; each
    /// order counts once; one read of the shop per window, however many campaigns.
    @Test func revenueReplacesTheAdPlatformsAttribution() throws {
        final class Ads: AdPlatform {
            var name: String { "ads" }
            func listCampaigns() throws(PlatformError) -> [PlatformCampaign] { [] }
            func hourlyMetrics(campaign: CampaignID, from: Instant, to: Instant) throws(PlatformError)
                -> MetricsWindow
            {
                let h = from.microsSinceEpoch / 3_600_000_000
                let hours = (h..<h + 2).map {
                    HourlyMetrics(hour: $0, spendMicros: Micros(5_000_000), impressions: 100, clicks: 3,
                                  conversions: 9, conversionValueMicros: Micros(999_000_000))
                }
                return MetricsWindow(campaign: campaign, hours: hours, freshThrough: to)
            }
            func setDailyBudget(campaign: CampaignID, budgetMicros: Micros) throws(PlatformError) {}
            func setStatus(campaign: CampaignID, _ status: PlatformCampaign.Status) throws(PlatformError) {}
            func campaign(_ id: CampaignID) throws(PlatformError) -> PlatformCampaign { throw .notFound(id) }
        }
        let s = try Self.server(orders: 30)  // 10:00-10:29 on 2026-11-23 (-05:00), ag0..ag4 and none
        defer { s.stop() }
        let attributed = RevenueAttributed(Ads(), revenue: shop(s, sleeps: SleepLog()))
        let from = Instant(rfc3339: "2026-11-23T15:00:00Z")!
        let to = from.adding(seconds: 7_200)
        let ag0 = try attributed.hourlyMetrics(campaign: CampaignID("ag0"), from: from, to: to)
        let ag2 = try attributed.hourlyMetrics(campaign: CampaignID("ag2"), from: from, to: to)
        #expect(s.requests.count == 1, "the shop was read \(s.requests.count) times for one window")
        // Orders i with i % 3 == 0 name ag(i % 5): ag0 gets i = 0, 15; ag2 gets i = 12, 27.
        #expect(ag0.hours.map(\.conversions) == [2, 0] && ag2.hours.map(\.conversions) == [2, 0])
        #expect(ag0.hours[0].conversionValueMicros == Micros(10_000_000 + 11_150_000), "\(ag0.hours[0])")
        #expect(ag0.hours[0].spendMicros == Micros(5_000_000), "spend stays the ad platform's")
        #expect(attributed.unattributedOrders == 20, "two orders in three name no campaign")
    }
}
