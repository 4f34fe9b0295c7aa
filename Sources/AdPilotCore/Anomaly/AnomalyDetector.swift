/// One campaign-hour of platform metrics, as reported (possibly nonsense: the detector's
/// job is to notice).
package struct HourlyMetrics: Sendable {
    /// Hours since the Unix epoch (UTC) of the hour's start.
    package var hour: Int64
    package var spendMicros: Micros
    package var impressions: Int64
    package var clicks: Int64
    package var conversions: Double
    package var conversionValueMicros: Micros

    package init(
        hour: Int64, spendMicros: Micros, impressions: Int64, clicks: Int64,
        conversions: Double, conversionValueMicros: Micros
    ) {
        self.hour = hour
        self.spendMicros = spendMicros
        self.impressions = impressions
        self.clicks = clicks
        self.conversions = conversions
        self.conversionValueMicros = conversionValueMicros
    }
}

extension HourlyMetrics: Hashable {
    package static func == (a: HourlyMetrics, b: HourlyMetrics) -> Bool {
        a.hour == b.hour && a.spendMicros == b.spendMicros && a.impressions == b.impressions && a.clicks == b.clicks
            && StatValue(a.conversions) == StatValue(b.conversions)
            && a.conversionValueMicros == b.conversionValueMicros
    }

    package func hash(into h: inout Hasher) {
        h.combine(hour)
        h.combine(spendMicros)
        h.combine(StatValue(conversions))
    }
}

extension HourlyMetrics: Codable {
    // Conversions come from a platform and may be NaN; JSON has no NaN (see StatValue).
    enum CodingKeys: String, CodingKey {
        case hour, spendMicros, impressions, clicks, conversions, conversionValueMicros
    }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        hour = try c.decode(Int64.self, forKey: .hour)
        spendMicros = try c.decode(Micros.self, forKey: .spendMicros)
        impressions = try c.decode(Int64.self, forKey: .impressions)
        clicks = try c.decode(Int64.self, forKey: .clicks)
        conversions = try c.decode(StatValue.self, forKey: .conversions).value
        conversionValueMicros = try c.decode(Micros.self, forKey: .conversionValueMicros)
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(hour, forKey: .hour)
        try c.encode(spendMicros, forKey: .spendMicros)
        try c.encode(impressions, forKey: .impressions)
        try c.encode(clicks, forKey: .clicks)
        try c.encode(StatValue(conversions), forKey: .conversions)
        try c.encode(conversionValueMicros, forKey: .conversionValueMicros)
    }
}

package enum Severity: Int, Hashable, Comparable, Sendable, Codable {
    case info = 0, warn = 1, critical = 2
    package static func < (a: Severity, b: Severity) -> Bool { a.rawValue < b.rawValue }

    package init(from decoder: any Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        switch s {
        case "info": self = .info
        case "warn": self = .warn
        case "critical": self = .critical
        default:
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "unknown severity \(s)"))
        }
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(name)
    }

    package var name: String {
        switch self {
        case .info: return "info"
        case .warn: return "warn"
        case .critical: return "critical"
        }
    }
}

/// One thing the detector noticed about one hour.
package struct Finding: Hashable, Sendable, Codable {
    /// e.g. `consistency.clicks_exceed_impressions`, `robust_z.spend`, `ewma.clicks`.
    package let check: String
    package let severity: Severity
    package let value: Double
    /// The baseline it was compared with (median or EWMA mean), when there is one.
    package let baseline: Double?
    /// The score that crossed a threshold (z-score), when there is one.
    package let score: Double?
}

package struct AnomalyConfig: Hashable, Sendable, Codable {
    /// |z| at which an hour warns (increases stop) and is critical (the campaign is quarantined).
    package var robustZWarn: Double
    package var robustZCritical: Double
    /// Previous days of the same hour needed before delivery is judged.
    package var baselineDaysMin: Int
    /// Relative standard deviation of an hourly rate beyond counting noise: how much CTR,
    /// conversion rate and delivery per unit of budget vary from hour to hour when nothing
    /// is wrong. Keeps every spread above zero.
    package var rateSpread: Double
    /// Conversions that were expected, in consecutive hours with clicks and none reported,
    /// before that is a tracking outage (critical). By chance alone that happens with
    /// probability about e^-N.
    package var outageExpectedConversions: Double
    /// Consecutive hours at or above a level before it takes effect (Prometheus `for:`).
    package var raiseAfterHours: Int
    /// Consecutive hours below the level before it clears.
    package var clearAfterHours: Int
    /// The account halts when at least this share of its campaigns is quarantined at once
    /// (and at least `accountHaltCampaignsMin` of them): an account-level signal.
    package var accountHaltShare: Double
    package var accountHaltCampaignsMin: Int

    package init(
        robustZWarn: Double, robustZCritical: Double, baselineDaysMin: Int, rateSpread: Double,
        outageExpectedConversions: Double, raiseAfterHours: Int, clearAfterHours: Int,
        accountHaltShare: Double, accountHaltCampaignsMin: Int
    ) {
        self.robustZWarn = robustZWarn
        self.robustZCritical = robustZCritical
        self.baselineDaysMin = baselineDaysMin
        self.rateSpread = rateSpread
        self.outageExpectedConversions = outageExpectedConversions
        self.raiseAfterHours = raiseAfterHours
        self.clearAfterHours = clearAfterHours
        self.accountHaltShare = accountHaltShare
        self.accountHaltCampaignsMin = accountHaltCampaignsMin
    }

    package static let standard = AnomalyConfig(
        robustZWarn: 5, robustZCritical: 10, baselineDaysMin: 3, rateSpread: 0.3,
        outageExpectedConversions: 10, raiseAfterHours: 2, clearAfterHours: 3,
        accountHaltShare: 0.2, accountHaltCampaignsMin: 3)

    /// Whether `quarantined` of `campaigns` campaigns quarantined at once halts the account.
    package func haltsAccount(quarantined: Int, of campaigns: Int) -> Bool {
        quarantined >= max(1, accountHaltCampaignsMin)
            && Double(quarantined) >= accountHaltShare * Double(max(campaigns, 1))
    }
}

/// The detector's conclusion, carried into the decision.
package struct AnomalyAssessment: Hashable, Sendable, Codable {
    /// The level in force after hysteresis.
    package var level: Severity
    /// The worst severity of the most recent hour, before hysteresis.
    package var latest: Severity
    package var findings: [Finding]

    package init(level: Severity = .info, latest: Severity = .info, findings: [Finding] = []) {
        self.level = level
        self.latest = latest
        self.findings = findings
    }
}

/// Finds what is wrong with a campaign's hourly series, judging each hour against what was
/// expected at the budget in force, never against raw totals: the controller's own budget
/// moves change totals, not rates.
///
/// Checks, per completed hour (docs/decision-pipeline.md, the anomaly layer):
/// - consistency (critical): negative or non-finite values, clicks above impressions,
///   conversions above clicks, spend with zero impressions;
/// - `delivery`: spend against the budget in force times the delivery per unit of budget
///   the same hour showed on up to seven previous days (median; hours after that day's
///   budget was spent left out: `LearnedDelivery`, the pacer's own estimate). A spike is
///   warn or critical by z; a drop at most warns
///   (no delivery at all always does), and none is counted once the day's budget was spent;
/// - `ctr`: clicks against impressions times the campaign's click-through rate over the
///   previous seven days; `cvr`: conversions against clicks times its conversion rate.
///   Spread `sqrt(E + (rate_spread * E)^2 + 1)`: counting noise, real rate variation, and a
///   floor, so it never degenerates to zero. A conversion-rate drop in one hour at most warns;
/// - `conversion_outage` (critical): consecutive hours with clicks and no conversions whose
///   expected conversions add up to `outage_expected_conversions`.
///
/// Hysteresis: a level takes effect after `raiseAfterHours` consecutive hours at or above
/// it, and clears after `clearAfterHours` consecutive hours below it, so one noisy point
/// neither raises nor clears an alarm.
package enum AnomalyDetector {
    /// Feeds one completed hour, with the daily budget in force during it. Hours at or
    /// before the last one fed are ignored (late revisions do not rewrite history); a gap
    /// leaves the skipped hours empty.
    package static func ingest(
        _ m: HourlyMetrics, budget: Micros, config: AnomalyConfig, state: AnomalyState,
        utcOffsetSeconds: Int64 = 0
    ) -> AnomalyState {
        var s = state
        ingest(m, budget: budget, config: config, into: &s, utcOffsetSeconds: utcOffsetSeconds)
        return s
    }

    /// `ingest(_:budget:config:state:utcOffsetSeconds:)` in place: the tick's form, which
    /// does not copy the eight days of history.
    package static func ingest(
        _ m: HourlyMetrics, budget: Micros, config: AnomalyConfig, into s: inout AnomalyState,
        utcOffsetSeconds: Int64 = 0
    ) {
        if let last = s.lastHour, m.hour <= last { return }
        // Blank the hours skipped since the last one (bounded by the history length).
        if let last = s.lastHour {
            var h = last + 1
            while h < m.hour && h <= last + Int64(AnomalyState.historyHours) {
                s.setSlot(hour: h, values: nil)
                h += 1
            }
        }
        s.lastHour = m.hour - 1  // the baselines read up to the previous hour
        var findings = consistencyFindings(m)
        let usable = findings.isEmpty
        let budgetUnits = max(budget, .zero).statistic / Double(Micros.perUnit)
        let values = [
            m.spendMicros.statistic / Double(Micros.perUnit), Double(m.impressions), Double(m.clicks), m.conversions,
            budgetUnits,
        ]
        if usable {
            let spentBefore = s.spendToday(before: m.hour, utcOffsetSeconds: utcOffsetSeconds)
            findings += deliveryFindings(
                values, hour: m.hour, spentBefore: spentBefore, config: config, state: s,
                utcOffsetSeconds: utcOffsetSeconds)
            findings += rateFindings(values, config: config, state: &s)
        }
        // Impossible data is kept out of the baselines so it cannot become normal.
        s.setSlot(hour: m.hour, values: usable ? values : nil)
        s.lastHour = m.hour
        s.applyHysteresis(latest: findings.map(\.severity).max() ?? .info, findings: findings, config: config)
    }

    static func consistencyFindings(_ m: HourlyMetrics) -> [Finding] {
        var out: [Finding] = []
        func flag(_ check: String, _ value: Double) {
            out.append(
                Finding(check: "consistency.\(check)", severity: .critical, value: value, baseline: nil, score: nil))
        }
        if m.spendMicros < .zero { flag("negative_spend", m.spendMicros.statistic) }
        if m.impressions < 0 { flag("negative_impressions", Double(m.impressions)) }
        if m.clicks < 0 { flag("negative_clicks", Double(m.clicks)) }
        if !m.conversions.isFinite {
            flag("non_finite_conversions", 0)
        } else if m.conversions < 0 {
            flag("negative_conversions", m.conversions)
        }
        if m.conversionValueMicros < .zero { flag("negative_conversion_value", m.conversionValueMicros.statistic) }
        if m.clicks > m.impressions { flag("clicks_exceed_impressions", Double(m.clicks)) }
        if m.conversions.isFinite && m.conversions > Double(max(m.clicks, 0)) {
            flag("conversions_exceed_clicks", m.conversions)
        }
        if m.spendMicros > .zero && m.impressions == 0 { flag("spend_without_impressions", m.spendMicros.statistic) }
        return out
    }

    static func severity(_ z: Double, _ config: AnomalyConfig, dropCap: Severity = .critical) -> Severity {
        let s: Severity =
            abs(z) >= config.robustZCritical ? .critical : abs(z) >= config.robustZWarn ? .warn : .info
        return z < 0 ? min(s, dropCap) : s
    }

    /// Spend against the budget in force times the same hour's usual delivery per unit of
    /// budget. A drop spends less, never more, and the controller causes one itself when
    /// it cuts a budget or the day's budget is spent: it warns at most, and not at all then.
    static func deliveryFindings(
        _ v: [Double], hour: Int64, spentBefore: Double, config: AnomalyConfig, state: AnomalyState,
        utcOffsetSeconds: Int64
    ) -> [Finding] {
        let (spend, budget) = (v[0], v[4])
        guard budget > 0 else { return [] }
        // The same estimate the pacer plans with, over the seven days before this hour.
        let usual = LearnedDelivery.hour(
            LearnedDelivery.localHour(hour, utcOffsetSeconds: utcOffsetSeconds), of: state,
            utcOffsetSeconds: utcOffsetSeconds)
        guard usual.days >= config.baselineDaysMin else { return [] }
        // No usual delivery at this hour: nothing to judge a spike against.
        guard usual.rate > 0 else { return [] }
        let expected = usual.rate * budget
        // Floor: half a percent of the daily budget, so a quiet hour's tiny spend is no alarm.
        let spread = max(config.rateSpread * expected, 0.005 * budget)
        let z = (spend - expected) / spread
        if z < 0 && spentBefore >= budget { return [] }
        // Nothing delivered at all while the budget lasts: warn whatever the spread says.
        let level = spend == 0 && z < 0 ? .warn : severity(z, config, dropCap: .warn)
        guard level > .info else { return [] }
        return [Finding(check: "delivery.spend", severity: level, value: spend, baseline: expected, score: z)]
    }

    /// Clicks given impressions and conversions given clicks, against the campaign's own
    /// rates over the previous seven days; and the run of hours without conversions.
    static func rateFindings(_ v: [Double], config: AnomalyConfig, state s: inout AnomalyState) -> [Finding] {
        var out: [Finding] = []
        let (impressions, clicks, conversions) = (v[1], v[2], v[3])
        let pooled = s.pooledCounts()
        func judge(_ check: String, observed: Double, exposure: Double, rate: Double?, dropCap: Severity) -> Double? {
            guard let rate, exposure > 0 else { return nil }
            let expected = rate * exposure
            let relative = config.rateSpread * expected
            let spread = (expected + relative * relative + 1).squareRoot()
            let z = (observed - expected) / spread
            let level = severity(z, config, dropCap: dropCap)
            if level > .info {
                out.append(Finding(check: check, severity: level, value: observed, baseline: expected, score: z))
            }
            return expected
        }
        let ctr = pooled.hours >= 24 && pooled.impressions > 0 ? pooled.clicks / pooled.impressions : nil
        let cvr = pooled.hours >= 24 && pooled.clicks > 0 ? pooled.conversions / pooled.clicks : nil
        _ = judge("rate.ctr", observed: clicks, exposure: impressions, rate: ctr, dropCap: .warn)
        let expected = judge("rate.cvr", observed: conversions, exposure: clicks, rate: cvr, dropCap: .warn)
        if conversions > 0 {
            s.outageExpected = 0
        } else if let expected {
            s.outageExpected += expected
            if s.outageExpected >= config.outageExpectedConversions {
                out.append(
                    Finding(
                        check: "rate.conversion_outage", severity: .critical, value: 0, baseline: s.outageExpected,
                        score: nil))
            }
        }
        return out
    }
}

enum RobustStats {
    /// Median of a small array, reordering it in place.
    static func median(_ xs: inout [Double]) -> Double {
        precondition(!xs.isEmpty)
        xs.sort()
        let n = xs.count
        return n % 2 == 1 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2
    }
}
