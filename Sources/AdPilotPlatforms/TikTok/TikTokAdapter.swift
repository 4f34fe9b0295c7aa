package import AdPilotCore

/// TikTok Marketing API v1.3, ad groups as campaigns.
package struct TikTokConfig: Sendable {
    package var baseURL = "https://business-api.tiktok.com/open_api/v1.3"
    package var advertiserID: String
    /// The advertiser account's currency (budgets and spend are decimal units of it).
    package var currency: Currency
    /// The advertiser's reporting timezone as a fixed UTC offset.
    package var utcOffsetSeconds: Int64 = 0
    package var pageSize = 100
    package static let pagesMax = 200

    package init(advertiserID: String, currency: Currency) {
        self.advertiserID = advertiserID
        self.currency = currency
    }
}

/// The TikTok adapter. The access token travels in the `Access-Token` header only.
package final class TikTokAdapter: AdPlatform {
    package let name = "tiktok"
    package let config: TikTokConfig
    package let http: HTTPClient
    private let token: String

    /// The envelope code TikTok uses for "too many requests", inside HTTP 200.
    static let throttleCode = "40100"
    /// Token and permission failures (not retried).
    static let authCodes: Set<String> = ["40001", "40102", "40104", "40105"]
    /// Documented transient failures, retried with backoff: 50000 SYS_ERROR, 50002
    /// SYS_TIMEOUT, 60001 MAINTENANCE (the official SDK's code list).
    static let transientCodes: Set<String> = ["50000", "50002", "60001"]

    package init(config: TikTokConfig, token: String, httpConfig: HTTPClientConfig = HTTPClientConfig()) {
        self.config = config
        self.token = token
        http = HTTPClient(config: httpConfig, secrets: [token])
    }

    // MARK: Transport

    /// Classifies a response by HTTP status and then by the `code/message/request_id` envelope.
    static func classify(_ r: HTTPResponse) -> ResponseVerdict {
        if r.status == 429 {
            return .retry(
                afterSeconds: r.header("Retry-After").flatMap { Int($0) },
                .throttled(retryAfterSeconds: nil, detail: "HTTP 429"))
        }
        if r.status >= 500 { return .retry(afterSeconds: nil, .unavailable(detail: "HTTP \(r.status)")) }
        if r.status == 401 || r.status == 403 { return .fail(.unauthorized(detail: "HTTP \(r.status)")) }
        guard r.status == 200 else {
            return .fail(
                .rejected(code: "HTTP \(r.status)", detail: String(decoding: r.body.prefix(65_536), as: UTF8.self)))
        }
        guard let envelope = try? JSON.parse(r.body), let code = envelope["code"]?.int64 else {
            return .fail(.malformed(detail: "not a TikTok envelope (\(r.body.count) bytes)"))
        }
        let message = envelope["message"]?.string ?? ""
        let requestID = envelope["request_id"]?.string ?? "?"
        switch String(code) {
        case "0": return .ok
        case throttleCode:
            return .retry(
                afterSeconds: nil,
                .throttled(retryAfterSeconds: nil, detail: "code 40100: \(message) (request_id \(requestID))"))
        case let c where transientCodes.contains(c):
            return .retry(afterSeconds: nil, .unavailable(detail: "code \(c): \(message) (request_id \(requestID))"))
        case let c where authCodes.contains(c):
            return .fail(.unauthorized(detail: "code \(c): \(message) (request_id \(requestID))"))
        case let c: return .fail(.rejected(code: c, detail: "\(message) (request_id \(requestID))"))
        }
    }

    private func call(
        _ method: String, _ path: String, query: [(String, String)] = [], body: JSON? = nil
    ) throws(PlatformError) -> JSON {
        var headers = [("Access-Token", token)]
        if body != nil { headers.append(("Content-Type", "application/json")) }
        let request = HTTPRequest(
            method: method, url: config.baseURL + path + URLQuery.encode(query), headers: headers,
            body: body.map { Array($0.encoded.utf8) })
        let response = try http.send(request, resendAmbiguous: method == "GET", classify: Self.classify)
        guard let data = try response.json()["data"] else {
            throw .malformed(detail: "envelope without data from \(path)")
        }
        return data
    }

    private func money(_ v: JSON?, _ what: String) throws(PlatformError) -> Micros {
        guard let m = v?.decimalMicros, m >= .zero, config.currency.isRepresentable(m) else {
            throw .malformed(
                detail: "\(what) \(v?.encoded.prefix(40) ?? "missing") is not an exact \(config.currency) amount")
        }
        return m
    }

    // MARK: Ad groups

    private func adGroup(_ item: JSON) throws(PlatformError) -> PlatformCampaign {
        guard let id = item["adgroup_id"]?.string ?? item["adgroup_id"]?.int64.map(String.init) else {
            throw .malformed(detail: "ad group without adgroup_id")
        }
        let status: PlatformCampaign.Status = item["operation_status"]?.string == "ENABLE" ? .active : .paused
        return PlatformCampaign(
            id: CampaignID(id), name: item["adgroup_name"]?.string ?? id, currency: config.currency,
            dailyBudgetMicros: try money(item["budget"] ?? .string("0"), "budget of ad group \(id)"), status: status,
            notControllable: Self.notControllable(item))
    }

    /// Ad group `secondary_status` values that mean its campaign, not the ad group, stops it.
    static let campaignStops: Set<String> = ["ADGROUP_STATUS_CAMPAIGN_DISABLE", "ADGROUP_STATUS_CAMPAIGN_DELETE"]

    /// Why an ad group's own daily budget is not what delivers, if it is not: its campaign is
    /// disabled (TikTok keeps `operation_status` ENABLE and says so in `secondary_status`), or
    /// its budget mode is not a daily ad group budget (`BUDGET_MODE_INFINITE` under campaign
    /// budget optimisation, `BUDGET_MODE_TOTAL`, `BUDGET_MODE_DYNAMIC_DAILY_BUDGET`).
    static func notControllable(_ item: JSON) -> String? {
        if let s = item["secondary_status"]?.string, campaignStops.contains(s) {
            return "its campaign is stopped (secondary_status \(s))"
        }
        let mode = item["budget_mode"]?.string ?? "missing"
        guard mode == "BUDGET_MODE_DAY" else {
            return "budget_mode \(mode): AdPilot controls daily ad group budgets only (a campaign budget, a lifetime "
                + "budget or a dynamic one is not)"
        }
        return nil
    }

    package func abandonRetries(when condition: @escaping @Sendable () -> Bool) { http.abandon = condition }

    package func listCampaigns() throws(PlatformError) -> [PlatformCampaign] {
        var out: [PlatformCampaign] = []
        var page = 1
        while page <= TikTokConfig.pagesMax {
            let data = try call(
                "GET", "/adgroup/get/",
                query: [
                    ("advertiser_id", config.advertiserID), ("page", String(page)),
                    ("page_size", String(config.pageSize)),
                ])
            for item in data["list"]?.array ?? [] { out.append(try adGroup(item)) }
            let totalPages = data["page_info"]?["total_page"]?.int64 ?? 1
            if Int64(page) >= totalPages { return out }
            page += 1
        }
        throw .malformed(detail: "more than \(TikTokConfig.pagesMax) pages of ad groups")
    }

    package func campaign(_ id: CampaignID) throws(PlatformError) -> PlatformCampaign {
        let filter = JSON.object([("adgroup_ids", .array([.string(id.rawValue)]))]).encoded
        let data = try call(
            "GET", "/adgroup/get/", query: [("advertiser_id", config.advertiserID), ("filtering", filter)])
        guard let item = data["list"]?.array?.first(where: { $0["adgroup_id"]?.string == id.rawValue }) else {
            throw .notFound(id)
        }
        return try adGroup(item)
    }

    package func setDailyBudget(campaign id: CampaignID, budgetMicros: Micros) throws(PlatformError) {
        guard budgetMicros > .zero, config.currency.isRepresentable(budgetMicros) else {
            throw .rejected(
                code: "inexact_budget",
                detail: "\(budgetMicros) is not a positive whole number of \(config.currency) minor units")
        }
        let body = JSON.object([
            ("advertiser_id", .string(config.advertiserID)),
            (
                "budget",
                .array([
                    .object([
                        ("adgroup_id", .string(id.rawValue)),
                        ("budget", .number(budgetMicros.decimalString())),
                    ])
                ])
            ),
        ])
        _ = try call("POST", "/adgroup/budget/update/", body: body)
    }

    package func setStatus(campaign id: CampaignID, _ status: PlatformCampaign.Status) throws(PlatformError) {
        let body = JSON.object([
            ("advertiser_id", .string(config.advertiserID)), ("adgroup_ids", .array([.string(id.rawValue)])),
            ("operation_status", .string(status == .active ? "ENABLE" : "DISABLE")),
        ])
        _ = try call("POST", "/adgroup/status/update/", body: body)
    }

    // MARK: Reports

    /// `report/integrated/get` at ad group level by `stat_time_hour`; metrics arrive as strings.
    /// TikTok allows one day per request with an hourly dimension (error 40002 otherwise),
    /// so the window is read one advertiser-local day at a time.
    package func hourlyMetrics(
        campaign id: CampaignID, from: Instant, to: Instant
    ) throws(PlatformError) -> MetricsWindow {
        try windows([id], from: from, to: to)[id]!
    }

    /// Ad groups named per report request (the `adgroup_ids` IN filter); rows come 1,000 a page.
    static let reportIDsMax = 100

    /// Many ad groups per report request (`reportIDsMax`), one local day each: far fewer
    /// requests than one per ad group, the same rows. A failed request fails its ad groups.
    package func hourlyMetrics(
        campaigns ids: [CampaignID], from: Instant, to: Instant
    ) -> [CampaignID: Result<MetricsWindow, PlatformError>] {
        PlatformReads.inChunks(ids, of: Self.reportIDsMax) { (part: [CampaignID]) throws(PlatformError) in
            try windows(part, from: from, to: to)
        }
    }

    /// Today's totals: the same report by `stat_time_day` for the advertiser-local day of
    /// `now`, one row per ad group (none: nothing spent yet), up to 100 ad groups a request.
    package func todayTotals(
        campaigns ids: [CampaignID], now: Instant
    ) -> [CampaignID: Result<HourlyMetrics, PlatformError>]? {
        let localDay = LocalTime(now, utcOffsetSeconds: config.utcOffsetSeconds).day
        let dayStart = Instant(secondsSinceEpoch: localDay * Instant.secondsPerDay - config.utcOffsetSeconds)
        let day = localDays(from: dayStart, to: dayStart.adding(seconds: 1))[0]
        let empty = HourlyMetrics(
            hour: dayStart.microsSinceEpoch / 3_600_000_000, spendMicros: .zero, impressions: 0, clicks: 0,
            conversions: 0, conversionValueMicros: .zero)
        return PlatformReads.inChunks(ids, of: Self.reportIDsMax) { (part: [CampaignID]) throws(PlatformError) in
            let rows = try reportDay(
                day, dimension: "stat_time_day", filter: Self.filter(part), from: dayStart,
                to: dayStart.adding(seconds: 86_400))
            return Dictionary(part.map { ($0, rows[$0]?.first ?? empty) }, uniquingKeysWith: { a, _ in a })
        }
    }

    /// The report's `filtering`: `adgroup_ids` IN the ad groups named.
    static func filter(_ ids: [CampaignID]) -> String {
        JSON.array([
            .object([
                ("field_name", .string("adgroup_ids")), ("filter_type", .string("IN")),
                ("filter_value", .string(JSON.array(ids.map { .string($0.rawValue) }).encoded)),
            ])
        ]).encoded
    }

    private func windows(
        _ ids: [CampaignID], from: Instant, to: Instant
    ) throws(PlatformError) -> [CampaignID: MetricsWindow] {
        let filter = Self.filter(ids)
        var hours: [CampaignID: [HourlyMetrics]] = [:]
        for day in localDays(from: from, to: to) {
            for (id, h) in try reportDay(day, dimension: "stat_time_hour", filter: filter, from: from, to: to) {
                hours[id, default: []] += h
            }
        }
        var out: [CampaignID: MetricsWindow] = [:]
        for id in ids {
            let h = (hours[id] ?? []).sorted { $0.hour < $1.hour }
            let fresh = h.last.map {
                Instant(microsSinceEpoch: min(($0.hour + 1) * 3_600_000_000, to.microsSinceEpoch))
            }
            out[id] = MetricsWindow(campaign: id, hours: h, freshThrough: fresh ?? from)
        }
        return out
    }

    /// The advertiser-local dates (YYYY-MM-DD) that `from..<to` touches, oldest first.
    func localDays(from: Instant, to: Instant) -> [String] {
        let daySeconds: Int64 = 86_400
        let first = (from.microsSinceEpoch / 1_000_000 + config.utcOffsetSeconds).floorDiv(daySeconds)
        let last = ((to.microsSinceEpoch - 1) / 1_000_000 + config.utcOffsetSeconds).floorDiv(daySeconds)
        guard first <= last else { return [] }
        return (first...last).map { String(Instant(secondsSinceEpoch: $0 * daySeconds).rfc3339.prefix(10)) }
    }

    /// One local day of rows by `dimension` (`stat_time_hour`: hourly, `stat_time_day`: the
    /// day), every page, keeping those that start in `from..<to`, by ad group.
    private func reportDay(
        _ day: String, dimension: String, filter: String, from: Instant, to: Instant
    ) throws(PlatformError) -> [CampaignID: [HourlyMetrics]] {
        var hours: [CampaignID: [HourlyMetrics]] = [:]
        var page = 1
        while page <= TikTokConfig.pagesMax {
            let data = try call(
                "GET", "/report/integrated/get/",
                query: [
                    ("advertiser_id", config.advertiserID), ("report_type", "BASIC"), ("data_level", "AUCTION_ADGROUP"),
                    ("dimensions", #"["adgroup_id","\#(dimension)"]"#),
                    ("metrics", #"["spend","impressions","clicks","conversion","total_purchase_value"]"#),
                    ("start_date", day), ("end_date", day), ("filtering", filter),
                    ("page", String(page)), ("page_size", "1000"),
                ])
            for row in data["list"]?.array ?? [] {
                guard let text = row["dimensions"]?[dimension]?.string,
                    let local = Instant(rfc3339: text.replacing(" ", with: "T") + "Z"),
                    let group = row["dimensions"]?["adgroup_id"].flatMap({ $0.string ?? $0.int64.map(String.init) })
                else {
                    throw .malformed(detail: "report row without an adgroup_id and a \(dimension)")
                }
                let start = local.adding(seconds: -config.utcOffsetSeconds)
                guard start >= from && start < to else { continue }
                // Values are strings; "-" means no data (zero), as TikTok reports it.
                let m = { (name: String) -> JSON? in
                    let v = row["metrics"]?[name]
                    return v?.string == "-" ? .string("0") : v
                }
                guard let impressions = m("impressions")?.int64, let clicks = m("clicks")?.int64,
                    let conversions = m("conversion")?.double
                else {
                    throw .malformed(detail: "report row for \(text) lacks impressions, clicks or conversion")
                }
                hours[CampaignID(group), default: []].append(
                    HourlyMetrics(
                        hour: start.microsSinceEpoch / 3_600_000_000,
                        spendMicros: try money(m("spend"), "spend"), impressions: impressions, clicks: clicks,
                        conversions: conversions,
                        conversionValueMicros: try money(m("total_purchase_value") ?? .string("0"), "purchase value")))
            }
            if Int64(page) >= data["page_info"]?["total_page"]?.int64 ?? 1 { return hours }
            page += 1
        }
        throw .malformed(detail: "more than \(TikTokConfig.pagesMax) pages of report rows for \(day)")
    }
}
