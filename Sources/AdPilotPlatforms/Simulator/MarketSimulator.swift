package import AdPilotCore
#if canImport(Glibc)
import Glibc
#endif

/// A seeded, deterministic market that answers the same protocol as the real platforms.
///
/// Per campaign and hour: the platform spends toward the daily budget following an hourly
/// demand curve (noisy, so a day may overspend by up to 25%, never more); spend buys
/// impressions on a concave curve (diminishing returns), scaled by hour-of-day and
/// day-of-week seasonality and cut by competitor shocks; clicks, conversions and order
/// value follow per-campaign CTR, CVR and order value with noise; conversions are reported
/// with delay (50% in the hour, 80% an hour later, all after two).
///
/// Time comes from a `TimeSource` (an `AcceleratedClock` for demos); every call first
/// simulates the hours completed since the last one. For a given seed and call sequence
/// the results are identical; each campaign has its own random stream, so which campaigns
/// are queried does not change the others.
package final class MarketSimulator: AdPlatform, RevenueSource {
    package let name = "simulator"
    package let config: SimulatorConfig
    package var faults = SimulatorFaults()
    /// How a latency fault waits (real time by default).
    package var sleep: (Int) -> Void = { usleep(UInt32(min(max(0, $0), 600_000)) * 1000) }

    private let clock: any TimeSource
    private let n: Int
    private let historyHours: Int

    // Per campaign (struct of arrays: the hourly loop touches few fields).
    private let ids: [CampaignID]
    private let cpmMicros: [Double]
    private let saturationMicros: [Double]
    private let ctr: [Double]
    private let cvr: [Double]
    private let orderValueMicros: [Double]
    private var budget: [Micros]
    private var paused: [Bool]
    private var spendToday: [Micros]
    private var rngs: [SplitMix64]
    private var shockFactor: [Double]
    private var shockUntil: [Int64]
    private var index: [CampaignID: Int] = [:]

    // History rings, [campaign * historyHours + hour % historyHours].
    private var hSpend: [Int64]
    private var hImpressions: [Int32]
    private var hClicks: [Int32]
    private var hConversions: [Float]
    private var hValue: [Int64]

    /// The next hour (hours since the epoch) not yet simulated.
    package private(set) var nextHour: Int64
    private let firstHour: Int64
    private var faultRNG: SplitMix64

    package static let hourShare: [Double] = {
        // Demand by local hour: low at night, peaks early afternoon and evening.
        let raw = (0..<24).map { h -> Double in
            let x = Double(h)
            return 0.25 + exp(-pow((x - 13) / 4, 2)) + 0.8 * exp(-pow((x - 20) / 2.5, 2))
        }
        let total = raw.reduce(0, +)
        return raw.map { $0 / total }
    }()
    static let hourFactor: [Double] = hourShare.map { $0 * 24 }  // mean 1
    static let dayFactor: [Double] = [1.0, 1.02, 1.04, 1.05, 1.1, 0.95, 0.84]  // Monday first
    static let overspendMax = 1.25

    package init(config: SimulatorConfig, clock: any TimeSource) {
        self.config = config
        self.clock = clock
        n = config.campaigns
        historyHours = config.historyHours
        var setup = SplitMix64(seed: config.seed)
        var ids: [CampaignID] = [], cpm: [Double] = [], sat: [Double] = [], ctr: [Double] = [], cvr: [Double] = []
        var aov: [Double] = [], budget: [Micros] = [], rngs: [SplitMix64] = []
        let step = config.currency.microsPerMinorUnit
        for i in 0..<n {
            let digits = String(i + 1)
            ids.append(CampaignID("sim-" + String(repeating: "0", count: max(0, 5 - digits.count)) + digits))
            cpm.append((4 + setup.unit() * 10) * 1_000_000)  // 4-14 per 1,000 impressions
            let dailyBudget = Double(50 + Int(setup.next() % 450)) * 1_000_000  // 50-500 a day
            sat.append(dailyBudget / 24 * (0.6 + setup.unit() * 1.2))
            ctr.append(0.008 + setup.unit() * 0.02)
            cvr.append(0.02 + setup.unit() * 0.06)
            aov.append((30 + setup.unit() * 90) * 1_000_000)
            budget.append(Micros(Int64(dailyBudget) / step * step))
            rngs.append(SplitMix64(seed: config.seed ^ (UInt64(i + 1) &* 0x9E37_79B9_7F4A_7C15)))
        }
        self.ids = ids
        cpmMicros = cpm
        saturationMicros = sat
        self.ctr = ctr
        self.cvr = cvr
        orderValueMicros = aov
        self.budget = budget
        paused = Array(repeating: false, count: n)
        spendToday = Array(repeating: .zero, count: n)
        self.rngs = rngs
        shockFactor = Array(repeating: 1, count: n)
        shockUntil = Array(repeating: 0, count: n)
        for (i, id) in ids.enumerated() { index[id] = i }
        let size = n * historyHours
        hSpend = Array(repeating: 0, count: size)
        hImpressions = Array(repeating: 0, count: size)
        hClicks = Array(repeating: 0, count: size)
        hConversions = Array(repeating: 0, count: size)
        hValue = Array(repeating: 0, count: size)
        firstHour = config.start.microsSinceEpoch / (3_600 * Instant.microsPerSecond)
        nextHour = firstHour
        faultRNG = SplitMix64(seed: config.seed ^ 0xFA17_FA17)
    }

    // MARK: The market

    /// Simulates every hour that has completed by `now`.
    package func advance(to now: Instant) {
        let target = now.microsSinceEpoch / (3_600 * Instant.microsPerSecond)
        while nextHour < target {
            simulateHour(nextHour)
            nextHour += 1
        }
    }

    private func simulateHour(_ hour: Int64) {
        let hourOfDay = Int(hour % 24)
        let day = hour / 24
        let dayOfWeek = Int((day + 3) % 7)  // 1970-01-01 was a Thursday
        let share = Self.hourShare[hourOfDay]
        let season = Self.hourFactor[hourOfDay] * Self.dayFactor[dayOfWeek]
        let slot = Int(hour % Int64(historyHours))
        let step = config.currency.microsPerMinorUnit
        let newDay = hourOfDay == 0
        for c in 0..<n {
            if newDay { spendToday[c] = .zero }
            var rng = rngs[c]
            // Fixed draws per hour, so the stream never depends on the branch taken.
            let u1 = rng.unit(), u2 = rng.unit(), u3 = rng.unit(), u4 = rng.unit(), u5 = rng.unit(), u6 = rng.unit()
            rngs[c] = rng
            if hour >= shockUntil[c] {
                shockFactor[c] = 1
                if u6 < config.shockChancePerHour {
                    shockFactor[c] = 1.5 + u5 * 1.5
                    shockUntil[c] = hour + 2 + Int64(u4 * 8)
                }
            }
            var spend = 0.0
            if !paused[c] {
                let cap = budget[c].statistic * Self.overspendMax - spendToday[c].statistic
                spend = max(0, min(budget[c].statistic * share * (0.85 + 0.3 * u1), cap))
            }
            // Spend is an amount the platform reports: whole minor units. A budget near
            // Int64.max must not trap the conversion.
            let spendMicros = Int64(min(spend, 9.0e18)) / step * step
            let s = Double(spendMicros)
            let reach = saturationMicros[c] / cpmMicros[c] * 1_000 * (1 - exp(-s / saturationMicros[c]))
            let impressions = reach * season / shockFactor[c]
            let clicks = (impressions * ctr[c] * (0.8 + 0.4 * u2)).rounded(.down)
            let fault =
                faults.anyCampaignFault && hour >= faults.campaignFaultsFromHour
                ? campaignFault(ids[c]) : (spend: 1, clicks: 1, conversions: 1, tracked: true)
            let conversions = clicks * cvr[c] * Self.dayFactor[dayOfWeek] * (0.6 + 0.8 * u3) * fault.conversions
            let value = conversions * orderValueMicros[c] * (0.7 + 0.6 * u4)
            let charged = fault.spend == 1 ? spendMicros : Int64(Double(spendMicros) * fault.spend) / step * step
            let i = c * historyHours + slot
            hSpend[i] = charged
            hImpressions[i] = Int32(min(impressions, 2e9))
            hClicks[i] = Int32(min(min(clicks * fault.clicks, impressions.rounded(.down)), 2e9))
            hConversions[i] = fault.tracked ? Float(min(conversions, clicks)) : 0
            hValue[i] = fault.tracked ? Int64(value) / step * step : 0
            spendToday[c] = spendToday[c].saturatingAdding(Micros(charged))
        }
    }

    /// Multipliers of one campaign's faults: spend charged, clicks, conversions, and
    /// whether conversions are reported at all.
    private func campaignFault(_ id: CampaignID) -> (spend: Double, clicks: Double, conversions: Double, tracked: Bool)
    {
        (
            faults.spendSpike.contains(id) ? 5 : 1, faults.clickSpike.contains(id) ? 8 : 1,
            faults.degradedCampaigns.contains(id) ? 0.2 : 1, !faults.trackingOutage.contains(id)
        )
    }

    /// Share of an hour's conversions reported `lag` hours after it ended.
    static func reportedShare(lag: Int64) -> Double {
        lag <= 0 ? 0.5 : lag == 1 ? 0.8 : 1.0
    }

    // MARK: Faults

    private func callFaults() throws(PlatformError) {
        if faults.latencyMillis > 0 { sleep(faults.latencyMillis) }
        let u = faultRNG.unit()
        if u < faults.errorRate { throw .unavailable(detail: "simulated 503") }
        if u < faults.errorRate + faults.throttleRate {
            throw .throttled(retryAfterSeconds: 60, detail: "simulated throttling")
        }
    }

    private func lookup(_ id: CampaignID) throws(PlatformError) -> Int {
        guard let i = index[id] else { throw .notFound(id) }
        return i
    }

    // MARK: AdPlatform

    package func listCampaigns() throws(PlatformError) -> [PlatformCampaign] {
        advance(to: clock.now())
        try callFaults()
        return (0..<n).map(describe)
    }

    package func campaign(_ id: CampaignID) throws(PlatformError) -> PlatformCampaign {
        advance(to: clock.now())
        try callFaults()
        return describe(try lookup(id))
    }

    private func describe(_ c: Int) -> PlatformCampaign {
        PlatformCampaign(
            id: ids[c], name: "Simulated campaign \(c + 1)", currency: config.currency,
            dailyBudgetMicros: budget[c], status: paused[c] ? .paused : .active)
    }

    package func hourlyMetrics(
        campaign id: CampaignID, from: Instant, to: Instant
    ) throws(PlatformError) -> MetricsWindow {
        advance(to: clock.now())
        try callFaults()
        let c = try lookup(id)
        let hourMicros = 3_600 * Instant.microsPerSecond
        let fresh = nextHour - Int64(max(0, faults.staleHours))  // first hour without data
        let oldest = max(firstHour, nextHour - Int64(historyHours))
        let lo = max(oldest, (from.microsSinceEpoch + hourMicros - 1) / hourMicros)
        let hi = min(fresh, to.microsSinceEpoch / hourMicros + (to.microsSinceEpoch % hourMicros == 0 ? 0 : 1))
        var hours: [HourlyMetrics] = []
        if lo < hi {
            hours.reserveCapacity(Int(hi - lo))
            for h in lo..<hi { hours.append(reported(c, hour: h)) }
        }
        return MetricsWindow(campaign: id, hours: hours, freshThrough: Instant(microsSinceEpoch: fresh * hourMicros))
    }

    private func reported(_ c: Int, hour h: Int64) -> HourlyMetrics {
        let i = c * historyHours + Int(h % Int64(historyHours))
        let share = Self.reportedShare(lag: nextHour - 1 - h)
        var m = HourlyMetrics(
            hour: h, spendMicros: Micros(hSpend[i]), impressions: Int64(hImpressions[i]),
            clicks: Int64(hClicks[i]), conversions: Double(hConversions[i]) * share,
            conversionValueMicros: Micros(
                Int64(Double(hValue[i]) * share) / config.currency.microsPerMinorUnit
                    * config.currency.microsPerMinorUnit))
        let step = config.currency.microsPerMinorUnit
        if faults.glitchRate > 0 {
            // Deterministic per campaign-hour, independent of the call sequence.
            var g = SplitMix64(seed: config.seed ^ UInt64(bitPattern: h) &* 31 ^ UInt64(c))
            if g.unit() < faults.glitchRate {
                if g.unit() < 0.5 {
                    m = HourlyMetrics(
                        hour: h, spendMicros: .zero, impressions: 0, clicks: 0, conversions: 0,
                        conversionValueMicros: .zero)
                } else {
                    m.spendMicros = (try? m.spendMicros.multiplied(by: 50)) ?? Micros(Int64.max / step * step)
                    m.impressions *= 50
                    m.clicks *= 50
                }
            }
        }
        return m
    }

    package func setDailyBudget(campaign id: CampaignID, budgetMicros: Micros) throws(PlatformError) {
        advance(to: clock.now())
        try callFaults()
        let c = try lookup(id)
        guard budgetMicros > .zero, config.currency.isRepresentable(budgetMicros) else {
            throw .rejected(
                code: "invalid_budget",
                detail: "budget \(budgetMicros) is not a positive whole number of \(config.currency) minor units")
        }
        if faults.silentNoOpWrites { return }
        budget[c] = budgetMicros
    }

    /// The budget the market holds, without simulating a call (no faults, no latency).
    package func storedBudget(_ id: CampaignID) -> Micros? {
        index[id].map { budget[$0] }
    }

    /// Replays a budget write recorded earlier, to rebuild a persisted market after a
    /// restart: simulates up to `at`, then sets the budget (no faults, no checks beyond
    /// the campaign's existence). Replaying the same writes reproduces the same market.
    package func replayBudget(campaign id: CampaignID, budgetMicros: Micros, at: Instant) throws(PlatformError) {
        advance(to: at)
        budget[try lookup(id)] = budgetMicros
    }

    package func setStatus(campaign id: CampaignID, _ status: PlatformCampaign.Status) throws(PlatformError) {
        advance(to: clock.now())
        try callFaults()
        paused[try lookup(id)] = status == .paused
    }

    /// The ROAS the market would give, on average over its noise and without competitor
    /// shocks, for `daySpendMicros` spent over day `day` (days since the epoch) as demand
    /// spreads it: whether a daily target was reachable at a ROAS target, for evaluation.
    package func expectedROAS(campaign id: CampaignID, daySpendMicros: Micros, day: Int64) -> Double? {
        guard let c = index[id], daySpendMicros > .zero else { return nil }
        let dow = Int((day + 3) % 7)
        var value = 0.0
        for h in 0..<24 {
            let s = daySpendMicros.statistic * Self.hourShare[h]
            let impressions =
                saturationMicros[c] / cpmMicros[c] * 1_000 * (1 - exp(-s / saturationMicros[c]))
                * Self.hourFactor[h] * Self.dayFactor[dow]
            value += impressions * ctr[c] * cvr[c] * Self.dayFactor[dow] * orderValueMicros[c]
        }
        return value / daySpendMicros.statistic
    }

    /// What a simulated hour really was (every conversion, none of the reporting delay),
    /// for evaluation; nil for an hour not simulated yet or no longer kept.
    package func trueMetrics(campaign id: CampaignID, hour h: Int64) -> HourlyMetrics? {
        guard let c = index[id], h >= firstHour, h < nextHour, h >= nextHour - Int64(historyHours) else { return nil }
        let i = c * historyHours + Int(h % Int64(historyHours))
        return HourlyMetrics(
            hour: h, spendMicros: Micros(hSpend[i]), impressions: Int64(hImpressions[i]), clicks: Int64(hClicks[i]),
            conversions: Double(hConversions[i]), conversionValueMicros: Micros(hValue[i]))
    }

    /// Spend so far today (completed hours), as the platform's own counter.
    package func spendToday(_ id: CampaignID) throws(PlatformError) -> Micros {
        advance(to: clock.now())
        return spendToday[try lookup(id)]
    }

    // MARK: RevenueSource

    /// The shop's orders: each whole reported conversion is an order carrying the
    /// campaign's UTM attribution, dated in its hour.
    package func orders(since: Instant, until: Instant) throws(PlatformError) -> [Order] {
        advance(to: clock.now())
        try callFaults()
        var out: [Order] = []
        let hourMicros = 3_600 * Instant.microsPerSecond
        let oldest = max(firstHour, nextHour - Int64(historyHours))
        let lo = max(oldest, since.microsSinceEpoch / hourMicros)
        let hi = min(nextHour, until.microsSinceEpoch / hourMicros + 1)
        guard lo < hi else { return [] }
        for c in 0..<n {
            for h in lo..<hi {
                let m = reported(c, hour: h)
                let count = Int(m.conversions)
                guard count > 0 else { continue }
                let each =
                    m.conversionValueMicros.rawValue / Int64(count) / config.currency.microsPerMinorUnit
                    * config.currency.microsPerMinorUnit
                for k in 0..<count {
                    let at = Instant(microsSinceEpoch: h * hourMicros + Int64(k) * hourMicros / Int64(count))
                    guard at >= since && at < until else { continue }
                    out.append(
                        Order(
                            id: "\(ids[c])-\(h)-\(k)", createdAt: at, totalMicros: Micros(each),
                            currency: config.currency, campaign: ids[c]))
                }
            }
        }
        return out
    }
}
