package import AdPilotPlatforms
import Foundation
import Synchronization

/// A fake Shopify Admin REST API on loopback: `orders.json` from the wall clock. Behaviours
/// from Shopify's public documentation: `Link` header pagination with `page_info`, with
/// only `limit` and `fields` alongside it (shopify.dev, REST pagination); 429 with a
/// `Retry-After` header in seconds (admin-rest usage/rate-limits); money as strings,
/// `current_total_price`, `cancelled_at`, `financial_status` (Shopify/shopify-api-js
/// order.ts).
package final class FakeShopify: Sendable {
    package struct State {
        /// The campaigns (ad set or ad group ids) orders are attributed to, one order each
        /// per hour at minute 10, worth `orderValue`; every fifth is cancelled.
        package var campaigns: [String] = []
        package var orderValue = "30.00"
        /// The next request answered 429 with `Retry-After: 1`.
        package var throttleNext = 0
        package var pageSize = 50
    }

    package let state = Mutex(State())
    package let server: LoopbackServer
    package let token: String
    private let box = Mutex<String>("")

    package init(token: String = "shpat-SECRET-0123456789") throws {
        self.token = token
        server = try LoopbackServer { _ in .json("{}") }
        box.withLock { $0 = server.baseURL }
        server.setHandler { [self] r in self.handle(r) }
    }

    package var baseURL: String { server.baseURL + "/admin/api/2024-10" }

    func handle(_ r: LoopbackServer.Request) -> LoopbackServer.Response {
        guard r.headers["x-shopify-access-token"] == token else {
            return .json(#"{"errors":"[API] Invalid API key or access token"}"#, status: 401)
        }
        return state.withLock { s -> LoopbackServer.Response in
            if s.throttleNext > 0 {
                s.throttleNext -= 1
                return .json(
                    #"{"errors":"Exceeded 2 calls per second for api client."}"#, status: 429,
                    headers: [("Retry-After", "1")])
            }
            guard r.path == "/admin/api/2024-10/orders.json" else {
                return .json(#"{"errors":"Not Found"}"#, status: 404)
            }
            // page_info carries the window and the offset; nothing else may come with it.
            let cursor = r.query["page_info"].flatMap(Self.unhex)
            if cursor != nil && r.query["status"] != nil {
                return .json(#"{"errors":"status cannot be passed when page_info is present"}"#, status: 400)
            }
            let parts = (cursor ?? "\(r.query["created_at_min"] ?? "")|\(r.query["created_at_max"] ?? "")|0")
                .split(separator: "|").map(String.init)
            guard parts.count == 3, let offset = Int(parts[2]) else {
                return .json(#"{"errors":"bad page_info"}"#, status: 400)
            }
            let all = orders(from: parts[0], to: parts[1], s)
            let page = Array(all.dropFirst(offset).prefix(s.pageSize))
            var headers: [(String, String)] = [("X-Shopify-Shop-Api-Call-Limit", "1/40")]
            if offset + s.pageSize < all.count {
                let next = Self.hex("\(parts[0])|\(parts[1])|\(offset + s.pageSize)")
                let url = "\(baseURL)/orders.json?limit=\(s.pageSize)&page_info=\(next)"
                headers.append(("Link", #"<\#(url)>; rel="next""#))
            }
            return .json(#"{"orders":[\#(page.joined(separator: ","))]}"#, headers: headers)
        }
    }

    /// page_info is opaque to the client; here, the window and offset in hex.
    static func hex(_ s: String) -> String { s.utf8.map { String(format: "%02x", $0) }.joined() }

    static func unhex(_ s: String) -> String? {
        var bytes: [UInt8] = []
        var i = s.startIndex
        while i < s.endIndex {
            let j = s.index(i, offsetBy: 2, limitedBy: s.endIndex) ?? s.endIndex
            guard let b = UInt8(s[i..<j], radix: 16) else { return nil }
            bytes.append(b)
            i = j
        }
        return String(bytes: bytes, encoding: .utf8)
    }

    /// One order per campaign per hour (minute 10) created in `from...to` and before now.
    func orders(from: String, to: String, _ s: State) -> [String] {
        let iso = ISO8601DateFormatter()
        guard let start = iso.date(from: from)?.timeIntervalSince1970,
            let end = iso.date(from: to)?.timeIntervalSince1970
        else { return [] }
        let now = Date().timeIntervalSince1970
        var out: [String] = []
        var hour = (start / 3_600).rounded(.down) * 3_600
        var n = 0
        while hour <= end {
            let created = hour + 600
            if created >= start && created <= end && created <= now {
                for c in s.campaigns {
                    n += 1
                    let cancelled = n % 5 == 0 ? #""2026-01-01T00:00:00Z""# : "null"
                    let at = iso.string(from: Date(timeIntervalSince1970: created))
                    out.append(
                        #"{"id":\#(Int(hour / 3_600) * 1_000 + n % 1_000),"created_at":"\#(at)","#
                            + #""total_price":"\#(s.orderValue)","current_total_price":"\#(s.orderValue)","#
                            + #""currency":"USD","landing_site":"/p?utm_campaign=\#(c)","cancelled_at":\#(cancelled),"#
                            + #""test":false,"financial_status":"paid"}"#)
                }
            }
            hour += 3_600
        }
        return out
    }
}
