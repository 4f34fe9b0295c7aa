package import AdPilotCore

/// Shopify Admin API: orders as the revenue source.
package struct ShopifyConfig: Sendable {
    /// e.g. `https://example.myshopify.com/admin/api/2024-10`.
    package var baseURL: String
    package var currency: Currency
    /// The query parameter in an order's `landing_site` that names the campaign.
    package var campaignParameter = "utm_campaign"
    package var pageSize = 250
    package static let pagesMax = 400

    package init(shopDomain: String, currency: Currency, apiVersion: String = "2024-10") {
        baseURL = "https://\(shopDomain)/admin/api/\(apiVersion)"
        self.currency = currency
    }
}

package final class ShopifyRevenue: RevenueSource {
    package let config: ShopifyConfig
    package let http: HTTPClient
    private let token: String
    /// Backs off when the leaky bucket (`X-Shopify-Shop-Api-Call-Limit: used/size`) is this full.
    static let bucketFullShare = 0.8

    package init(config: ShopifyConfig, token: String, httpConfig: HTTPClientConfig = HTTPClientConfig()) {
        self.config = config
        self.token = token
        http = HTTPClient(config: httpConfig, secrets: [token])
    }

    static func classify(_ r: HTTPResponse) -> ResponseVerdict {
        switch r.status {
        case 200: return .ok
        case 429:
            // Retry-After may be fractional ("2.0"): round up. Nonsense (negative, NaN, huge)
            // is no hint at all.
            let after = r.header("Retry-After").flatMap(Double.init).flatMap {
                $0.isFinite && $0 >= 0 && $0 <= 86_400 ? Int($0.rounded(.up)) : nil
            }
            return .retry(afterSeconds: after, .throttled(retryAfterSeconds: after, detail: "HTTP 429 from Shopify"))
        case 401, 403: return .fail(.unauthorized(detail: "HTTP \(r.status) from Shopify"))
        case 500...: return .retry(afterSeconds: nil, .unavailable(detail: "HTTP \(r.status) from Shopify"))
        default:
            return .fail(
                .rejected(code: "HTTP \(r.status)", detail: String(decoding: r.body.prefix(65_536), as: UTF8.self)))
        }
    }

    /// The `rel="next"` URL of a Link header, if any.
    static func nextLink(_ header: String?) -> String? {
        guard let header else { return nil }
        for part in header.split(separator: ",") where part.contains(#"rel="next""#) {
            guard let open = part.firstIndex(of: "<"), let close = part.firstIndex(of: ">"), open < close else {
                continue
            }
            return String(part[part.index(after: open)..<close])
        }
        return nil
    }

    /// The campaign a landing page was reached from: `utm_campaign` in its query.
    func campaign(fromLandingSite site: String?) -> CampaignID? {
        guard let site, let q = site.firstIndex(of: "?") else { return nil }
        for pair in site[site.index(after: q)...].split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            if kv.count == 2, kv[0] == config.campaignParameter, !kv[1].isEmpty { return CampaignID(String(kv[1])) }
        }
        return nil
    }

    package func orders(since: Instant, until: Instant) throws(PlatformError) -> [Order] {
        var url: String? =
            config.baseURL + "/orders.json"
            + URLQuery.encode([
                ("status", "any"), ("created_at_min", Self.wholeSeconds(since)),
                ("created_at_max", Self.wholeSeconds(until)),
                ("limit", String(config.pageSize)),
                ("fields", "id,created_at,total_price,current_total_price,currency,landing_site,cancelled_at,test,"
                    + "financial_status"),
            ])
        var out: [Order] = []
        var pages = 0
        while let next = url {
            pages += 1
            guard pages <= ShopifyConfig.pagesMax else {
                throw .malformed(detail: "more than \(ShopifyConfig.pagesMax) pages of orders")
            }
            // Follow pagination only under the configured shop's API path: a Link elsewhere
            // (another host, a longer host name, user@host) would carry the token there.
            guard next.hasPrefix(config.baseURL + "/") || next.hasPrefix(config.baseURL + "?") else {
                throw .malformed(detail: "pagination link leaves \(config.baseURL)")
            }
            let r = try http.send(
                HTTPRequest(method: "GET", url: next, headers: [("X-Shopify-Access-Token", token)]),
                classify: Self.classify)
            guard let orders = try r.json()["orders"]?.array else {
                throw .malformed(detail: "response without orders")
            }
            for o in orders {
                guard let id = o["id"]?.int64.map(String.init) ?? o["id"]?.string,
                    let created = o["created_at"]?.string.flatMap(Instant.init(rfc3339:)),
                    let total = (o["current_total_price"] ?? o["total_price"])?.decimalMicros
                else {
                    throw .malformed(detail: "order without id, created_at or an exact total_price")
                }
                // Revenue is what the shop kept: cancelled, voided and test orders count for
                // nothing; `current_total_price` already has refunds and edits taken off.
                if o["cancelled_at"]?.string != nil || o["test"]?.bool == true
                    || o["financial_status"]?.string == "voided"
                {
                    continue
                }
                guard let code = o["currency"]?.string, code == config.currency.code else {
                    throw .malformed(
                        detail:
                            "order \(id) is in \(o["currency"]?.string ?? "?"), the shop is configured for "
                                + "\(config.currency)"
                    )
                }
                out.append(
                    Order(
                        id: id, createdAt: created, totalMicros: total, currency: config.currency,
                        campaign: campaign(fromLandingSite: o["landing_site"]?.string)))
            }
            url = Self.nextLink(r.header("Link"))
            if url != nil, let limit = r.header("X-Shopify-Shop-Api-Call-Limit"), let (used, size) = Self.bucket(limit),
                Double(used) >= Double(size) * Self.bucketFullShare
            {
                http.pause(1_000)  // the bucket drains at about 2 calls per second
            }
        }
        return out
    }

    /// ISO 8601 to the second, as Shopify's examples write times ("2014-04-25T16:15:47Z").
    static func wholeSeconds(_ t: Instant) -> String {
        let text = t.rfc3339  // "...T16:15:47.123456Z"
        guard let dot = text.lastIndex(of: ".") else { return text }
        return String(text[..<dot]) + "Z"
    }

    static func bucket(_ header: String) -> (Int, Int)? {
        let parts = header.split(separator: "/")
        guard parts.count == 2, let used = Int(parts[0]), let size = Int(parts[1]), size > 0 else { return nil }
        return (used, size)
    }
}
