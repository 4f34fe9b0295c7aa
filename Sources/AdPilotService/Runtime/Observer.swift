import AdPilotControl
import AdPilotJournal
package import AdPilotCore
import AdPilotPlatforms
import AdPilotSystem

/// What the controller keeps per campaign between ticks, persisted in the snapshot.
package struct CampaignMemory: Codable, Sendable {
    package var control = CampaignControl()
    /// The newest completed hour already shown to the anomaly detector.
    package var lastIngestedHour: Int64? = nil

    package init() {}
}

/// docs/decision-pipeline.md step 1: reads every campaign from the platform into the values the pure core
/// decides on.
enum Observer {
    /// Trailing window for efficiency (ROAS, CPA) and the no-conversion check.
    static let trailingHours: Int64 = 72
    /// Hours after which a platform has reported an hour's conversions in full.
    static let settleHours: Int64 = 2

    struct Observed {
        var campaigns: [TickCampaign] = []
        /// Per campaign (same order): the newly completed hours' raw count, spend and
        /// conversion value, for the canary's cohort comparison.
        var fresh: [(hours: Int, spendMicros: Int64, valueMicros: Int64)] = []
        /// Campaigns that could not be read this tick: they hold (no decision, no write).
        var failures: [(campaign: CampaignID, error: PlatformError)] = []
    }

    static func observe(
        _ platform: any AdPlatform, config: ServiceConfig, now: Instant, mode: Mode,
        memory: [CampaignID: CampaignMemory]
    ) throws(PlatformError) -> Observed {
        var list = try platform.listCampaigns()
        list.sort { $0.id < $1.id }
        // Computed in every mode: status shows which campaigns a canary would control.
        let scope = canaryScope(config: config, campaigns: list)
        var out = Observed()
        out.campaigns.reserveCapacity(list.count)
        let hourMicros = Instant.secondsPerHour * Instant.microsPerSecond
        let local = LocalTime(now, utcOffsetSeconds: config.account.utcOffsetSeconds)
        let dayStartHour = (now.microsSinceEpoch - local.secondOfDay * Instant.microsPerSecond) / hourMicros
        // Paused campaigns are read too: their spend today counts toward the account cap.
        for c in list {
            let window: MetricsWindow
            do {
                window = try platform.hourlyMetrics(
                    campaign: c.id, from: now.adding(seconds: -trailingHours * Instant.secondsPerHour), to: now)
            } catch {
                out.failures.append((c.id, error))
                continue
            }
            var spendToday = Micros.zero, spend = Micros.zero, value = Micros.zero
            var conversions = 0.0
            var withoutConversion = 0
            var streakOpen = true
            for h in window.hours.reversed() {
                spend = spend.saturatingAdding(h.spendMicros)
                value = value.saturatingAdding(h.conversionValueMicros)
                conversions += h.conversions
                if h.hour >= dayStartHour { spendToday = spendToday.saturatingAdding(h.spendMicros) }
                if streakOpen {
                    if h.conversions > 0 { streakOpen = false } else if h.spendMicros > .zero { withoutConversion += 1 }
                }
            }
            let ageSeconds = max(
                0, (now.microsSinceEpoch - window.freshThrough.microsSinceEpoch) / Instant.microsPerSecond)
            let observation = Observation(
                campaign: c.id, currency: c.currency, currentBudgetMicros: c.dailyBudgetMicros,
                spendTodayMicros: spendToday,
                trailing: TrailingStats(spendMicros: spend, conversions: conversions, conversionValueMicros: value),
                hoursWithoutConversion: withoutConversion, dataAgeSeconds: ageSeconds)
            let last = memory[c.id]?.lastIngestedHour
            let campaignConfig = config.campaign(c.id, currency: c.currency)
            let rawNew = window.hours.filter { last == nil || $0.hour > last! }
            // Cohort evidence counts an hour once its conversions are all in (two hours
            // later: they are reported with delay), so both cohorts compare like with like.
            var settled: [HourlyMetrics] = []
            if let last, let newest = window.hours.last?.hour {
                settled = window.hours.filter { $0.hour > last - settleHours && $0.hour <= newest - settleHours }
            }
            out.fresh.append(
                (
                    settled.count, settled.reduce(Micros.zero) { $0.saturatingAdding($1.spendMicros) }.rawValue,
                    settled.reduce(Micros.zero) { $0.saturatingAdding($1.conversionValueMicros) }.rawValue
                ))
            let newHours = rawNew.map {
                perUnitBudget($0, budget: c.dailyBudgetMicros, reference: campaignConfig.dailyTargetMicros)
            }
            out.campaigns.append(
                TickCampaign(
                    config: campaignConfig, observation: observation,
                    newHours: newHours, inCanaryScope: scope.contains(c.id), paused: c.status == .paused))
        }
        return out
    }

    /// The anomaly detector sees delivery per unit of budget: an hour's counts scaled by
    /// (daily target / budget in force). Without this every budget move the controller makes
    /// would look like a spike or a collapse to a detector that compares against the same
    /// hour on previous days. The budget in force is the one observed when the hour is first
    /// read, which is exact except for a change in the hour's last minutes (one step, at most
    /// the step limit).
    static func perUnitBudget(_ m: HourlyMetrics, budget: Micros, reference: Micros) -> HourlyMetrics {
        guard budget > .zero, reference > .zero else { return m }
        let f = reference.statistic / budget.statistic
        func scaled(_ v: Micros) -> Micros { Micros.fromStatistic(v.statistic * f, rounding: .down) ?? Micros(.max) }
        // Counts round up, so the consistency checks (conversions <= clicks <= impressions,
        // no spend without impressions) hold after scaling exactly when they held before.
        func count(_ v: Int64) -> Int64 { Int64(max(-9e18, min((Double(v) * f).rounded(.up), 9e18))) }
        return HourlyMetrics(
            hour: m.hour, spendMicros: scaled(m.spendMicros), impressions: count(m.impressions),
            clicks: count(m.clicks), conversions: m.conversions * f,
            conversionValueMicros: scaled(m.conversionValueMicros))
    }

    /// The canary scope: the configured ids, or campaigns in a fixed pseudo-random order
    /// (by SHA-256 of the id, so the choice does not follow naming) until their daily
    /// targets reach the configured fraction of all targets. Either way capped so the
    /// scope's targets stay within `max_spend_at_risk_micros`.
    static func canaryScope(config: ServiceConfig, campaigns: [PlatformCampaign]) -> Set<CampaignID> {
        let cap = Int128(config.account.maxSpendAtRiskMicros.rawValue)
        func target(_ c: PlatformCampaign) -> Int128 {
            Int128(config.campaign(c.id, currency: c.currency).dailyTargetMicros.rawValue)
        }
        let ordered: [PlatformCampaign]
        var budget: Int128
        switch config.canary {
        case .campaigns(let ids):
            let wanted = Set(ids)
            ordered = campaigns.filter { wanted.contains($0.id) }
            budget = cap
        case .budgetFraction(let f):
            ordered = campaigns.map { (Crypto.sha256(Array($0.id.rawValue.utf8)).hex, $0) }.sorted { $0.0 < $1.0 }.map(
                \.1)
            let total = campaigns.reduce(Int128(0)) { $0 + target($1) }
            budget = min(cap, Int128((Double(total) * f).rounded(.down)))
        }
        var scope = Set<CampaignID>()
        for c in ordered {
            let t = target(c)
            guard t <= budget else { break }
            budget -= t
            scope.insert(c.id)
        }
        return scope
    }
}
