package import AdPilotCore

/// Reading insights: hours and today's totals, many ad sets per request.
extension MetaAdapter {
    /// Ad sets named per insights request (`filtering` on `adset.id`).
    static let insightsIDsMax = 50

    /// Hourly insights of one ad set: `hourlyMetrics(campaigns:)` for one.
    package func hourlyMetrics(
        campaign id: CampaignID, from: Instant, to: Instant
    ) throws(PlatformError) -> MetricsWindow {
        try hourlyMetrics(campaigns: [id], from: from, to: to)[id]!.get()
    }

    /// The ad account's insights at ad set level with the hourly breakdown (advertiser time
    /// zone), many ad sets per request; money as decimal strings. A failed request fails
    /// its ad sets.
    package func hourlyMetrics(
        campaigns ids: [CampaignID], from: Instant, to: Instant
    ) -> [CampaignID: Result<MetricsWindow, PlatformError>] {
        let first = from.microsSinceEpoch / 3_600_000_000
        let end = (to.microsSinceEpoch + 3_599_999_999) / 3_600_000_000
        return PlatformReads.inChunks(ids, of: Self.insightsIDsMax) {
            (part: [CampaignID]) throws(PlatformError) -> [CampaignID: MetricsWindow] in
            let rows = try insights(part, since: localDay(from), until: localDay(to), hourly: true)
            var out: [CampaignID: MetricsWindow] = [:]
            for id in part {
                var hours: [HourlyMetrics] = []
                for row in rows[id.rawValue] ?? [] { hours.append(try hour(row)) }
                hours = hours.filter { $0.hour >= first && $0.hour < end }.sorted { $0.hour < $1.hour }
                let fresh = hours.last.map {
                    Instant(microsSinceEpoch: min(($0.hour + 1) * 3_600_000_000, to.microsSinceEpoch))
                }
                out[id] = MetricsWindow(campaign: id, hours: hours, freshThrough: fresh ?? from)
            }
            return out
        }
    }

    /// Today's totals: the same insights for the advertiser-local day of `now` without the
    /// hourly breakdown, one row per ad set (none: nothing delivered yet).
    package func todayTotals(
        campaigns ids: [CampaignID], now: Instant
    ) -> [CampaignID: Result<HourlyMetrics, PlatformError>]? {
        let day = LocalTime(now, utcOffsetSeconds: config.utcOffsetSeconds).day
        let dayStart = Instant(secondsSinceEpoch: day * Instant.secondsPerDay - config.utcOffsetSeconds)
        let firstHour = dayStart.microsSinceEpoch.floorDiv(3_600_000_000)
        return PlatformReads.inChunks(ids, of: Self.insightsIDsMax) {
            (part: [CampaignID]) throws(PlatformError) -> [CampaignID: HourlyMetrics] in
            let today = localDay(now)
            let rows = try insights(part, since: today, until: today, hourly: false)
            var out: [CampaignID: HourlyMetrics] = [:]
            for id in part {
                out[id] =
                    try rows[id.rawValue]?.first.map { (row: JSON) throws(PlatformError) in
                        try metrics(row, hour: firstHour, what: "insights row for \(id) today")
                    }
                    ?? HourlyMetrics(
                        hour: firstHour, spendMicros: .zero, impressions: 0, clicks: 0, conversions: 0,
                        conversionValueMicros: .zero)
            }
            return out
        }
    }

    /// The advertiser-local date (YYYY-MM-DD) of `t`.
    private func localDay(_ t: Instant) -> String {
        String(t.adding(seconds: config.utcOffsetSeconds).rfc3339.prefix(10))
    }

    /// `GET act_<id>/insights` at `level=adset` for the ad sets named (`filtering` on
    /// `adset.id`), one row per ad set and day (and hour, with `hourly`), every cursor page;
    /// rows by `adset_id`.
    private func insights(
        _ ids: [CampaignID], since: String, until: String, hourly: Bool
    ) throws(PlatformError) -> [String: [JSON]] {
        let filter = JSON.array([
            .object([
                ("field", .string("adset.id")), ("operator", .string("IN")),
                ("value", .array(ids.map { .string($0.rawValue) })),
            ])
        ]).encoded
        var rows: [String: [JSON]] = [:]
        var after: String? = nil
        for _ in 0..<MetaConfig.pagesMax {
            var query = [
                ("level", "adset"), ("fields", "adset_id,spend,impressions,clicks,actions,action_values"),
                ("filtering", filter), ("time_range", #"{"since":"\#(since)","until":"\#(until)"}"#),
                ("time_increment", "1"), ("limit", "500"),
            ]
            if hourly { query.append(("breakdowns", "hourly_stats_aggregated_by_advertiser_time_zone")) }
            if let after { query.append(("after", after)) }
            let page = try call("GET", "/act_\(config.adAccountID)/insights", query: query)
            for row in page["data"]?.array ?? [] {
                guard let id = row["adset_id"]?.string ?? row["adset_id"]?.int64.map(String.init) else {
                    throw .malformed(detail: "insights row without adset_id")
                }
                rows[id, default: []].append(row)
            }
            guard page["paging"]?["next"] != nil, let cursor = page["paging"]?["cursors"]?["after"]?.string else {
                return rows
            }
            after = cursor
        }
        throw .malformed(detail: "more than \(MetaConfig.pagesMax) pages of insights from \(since) to \(until)")
    }

    private func hour(_ row: JSON) throws(PlatformError) -> HourlyMetrics {
        guard let date = row["date_start"]?.string,
            let slot = row["hourly_stats_aggregated_by_advertiser_time_zone"]?.string,
            let start = Instant(rfc3339: "\(date)T\(slot.prefix(8))Z")
        else {
            throw .malformed(detail: "insights row without date_start and an hourly slot")
        }
        let hourStart = start.adding(seconds: -config.utcOffsetSeconds)
        return try metrics(
            row, hour: hourStart.microsSinceEpoch / 3_600_000_000, what: "insights row for \(date) \(slot)")
    }

    /// A row's spend, impressions, clicks and purchases (count and value), as `hour`.
    private func metrics(_ row: JSON, hour: Int64, what: String) throws(PlatformError) -> HourlyMetrics {
        guard let spend = row["spend"]?.decimalMicros,
            let impressions = row["impressions"]?.int64, let clicks = row["clicks"]?.int64
        else {
            throw .malformed(detail: "\(what) lacks spend, impressions or clicks")
        }
        func purchase(_ key: String) -> JSON? {
            row[key]?.array?.first {
                $0["action_type"]?.string == "purchase"
                    || $0["action_type"]?.string == "offsite_conversion.fb_pixel_purchase"
            }?["value"]
        }
        // Absent means none; present but inexact is nonsense, not zero revenue.
        var value = Micros.zero
        if let v = purchase("action_values") {
            guard let exact = v.decimalMicros, exact >= .zero else {
                throw .malformed(detail: "\(what): purchase value \(v.encoded.prefix(30)) is not an exact amount")
            }
            value = exact
        }
        guard let conversions = purchase("actions").map({ $0.double }) ?? 0, conversions.isFinite, conversions >= 0
        else {
            throw .malformed(detail: "\(what): purchase count is not a finite number")
        }
        return HourlyMetrics(
            hour: hour, spendMicros: spend, impressions: impressions, clicks: clicks, conversions: conversions,
            conversionValueMicros: value)
    }
}
