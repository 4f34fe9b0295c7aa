package import AdPilotCore

/// An ad platform whose conversions and conversion value come from a revenue source (the
/// shop's orders) instead of the platform's own attribution. Spend, impressions, clicks,
/// budgets and writes are the ad platform's. Each order counts once, in the hour it was
/// created, for the campaign its landing page names; orders naming no campaign count for
/// none (`unattributedOrders` says how many the last read had). The orders are read once per
/// window, so one tick reads the shop once however many campaigns it has.
package final class RevenueAttributed: AdPlatform {
    package let base: any AdPlatform
    package let revenue: any RevenueSource
    private var cached: (from: Instant, to: Instant, byCampaign: [CampaignID: [Int64: (Int, Micros)]])?
    package private(set) var unattributedOrders = 0

    package init(_ base: any AdPlatform, revenue: any RevenueSource) {
        self.base = base
        self.revenue = revenue
    }

    package var name: String { base.name + "+shopify" }

    package func listCampaigns() throws(PlatformError) -> [PlatformCampaign] { try base.listCampaigns() }

    package func hourlyMetrics(
        campaign: CampaignID, from: Instant, to: Instant
    ) throws(PlatformError) -> MetricsWindow {
        try attributed(try base.hourlyMetrics(campaign: campaign, from: from, to: to), from: from, to: to)
    }

    package func hourlyMetrics(
        campaigns: [CampaignID], from: Instant, to: Instant
    ) -> [CampaignID: Result<MetricsWindow, PlatformError>] {
        base.hourlyMetrics(campaigns: campaigns, from: from, to: to).mapValues { result in
            result.flatMap { window in
                Result { () throws(PlatformError) in try attributed(window, from: from, to: to) }
            }
        }
    }

    /// `window` with the shop's orders in place of the ad platform's attribution.
    private func attributed(
        _ window: MetricsWindow, from: Instant, to: Instant
    ) throws(PlatformError) -> MetricsWindow {
        let campaign = window.campaign
        let orders = try ordersByHour(from: from, to: to)[campaign] ?? [:]
        var hours = window.hours.map { h -> HourlyMetrics in
            var h = h
            let (count, value) = orders[h.hour] ?? (0, .zero)
            h.conversions = Double(count)
            h.conversionValueMicros = value
            return h
        }
        // Revenue in an hour the ad platform reported nothing for still counts.
        let reported = Set(window.hours.map(\.hour))
        for (hour, (count, value)) in orders where !reported.contains(hour) {
            hours.append(
                HourlyMetrics(
                    hour: hour, spendMicros: .zero, impressions: 0, clicks: 0, conversions: Double(count),
                    conversionValueMicros: value))
        }
        hours.sort { $0.hour < $1.hour }
        return MetricsWindow(campaign: campaign, hours: hours, freshThrough: window.freshThrough)
    }

    /// Orders in `from..<to`, per campaign and hour: (count, value).
    private func ordersByHour(
        from: Instant, to: Instant
    ) throws(PlatformError) -> [CampaignID: [Int64: (Int, Micros)]] {
        if let c = cached, c.from == from, c.to == to { return c.byCampaign }
        var out: [CampaignID: [Int64: (Int, Micros)]] = [:]
        var unattributed = 0
        for order in try revenue.orders(since: from, until: to) {
            guard let campaign = order.campaign else {
                unattributed += 1
                continue
            }
            let hour = order.createdAt.microsSinceEpoch.floorDiv(3_600_000_000)
            let (count, value) = out[campaign]?[hour] ?? (0, .zero)
            out[campaign, default: [:]][hour] = (count + 1, value.saturatingAdding(order.totalMicros))
        }
        unattributedOrders = unattributed
        cached = (from, to, out)
        return out
    }

    package func setDailyBudget(campaign: CampaignID, budgetMicros: Micros) throws(PlatformError) {
        try base.setDailyBudget(campaign: campaign, budgetMicros: budgetMicros)
    }

    package var budgetBatchMax: Int { base.budgetBatchMax }

    package func setDailyBudgets(
        _ writes: [(CampaignID, Micros)]
    ) throws(PlatformError) -> [CampaignID: Result<Void, PlatformError>] {
        try base.setDailyBudgets(writes)
    }

    package func setStatus(campaign: CampaignID, _ status: PlatformCampaign.Status) throws(PlatformError) {
        try base.setStatus(campaign: campaign, status)
    }

    package func campaign(_ id: CampaignID) throws(PlatformError) -> PlatformCampaign { try base.campaign(id) }

    package func abandonRetries(when condition: @escaping @Sendable () -> Bool) {
        base.abandonRetries(when: condition)
        (revenue as? ShopifyRevenue)?.http.abandon = condition
    }
}
