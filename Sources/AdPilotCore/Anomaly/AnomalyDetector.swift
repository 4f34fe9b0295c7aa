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
    /// |robust z| against the same hour on previous days.
    package var robustZWarn: Double
    package var robustZCritical: Double
    /// Previous days needed before the robust z-score is used.
    package var baselineDaysMin: Int
    /// EWMA smoothing factor and alarm width in standard deviations.
    package var ewmaAlpha: Double
    package var ewmaSigmas: Double
    /// Hours the EWMA needs before it can alarm.
    package var ewmaWarmupHours: Int
    /// Consecutive hours at or above a level before it takes effect (Prometheus `for:`).
    package var raiseAfterHours: Int
    /// Consecutive hours below the level before it clears.
    package var clearAfterHours: Int

    package init(
        robustZWarn: Double, robustZCritical: Double, baselineDaysMin: Int, ewmaAlpha: Double,
        ewmaSigmas: Double, ewmaWarmupHours: Int, raiseAfterHours: Int, clearAfterHours: Int
    ) {
        self.robustZWarn = robustZWarn
        self.robustZCritical = robustZCritical
        self.baselineDaysMin = baselineDaysMin
        self.ewmaAlpha = ewmaAlpha
        self.ewmaSigmas = ewmaSigmas
        self.ewmaWarmupHours = ewmaWarmupHours
        self.raiseAfterHours = raiseAfterHours
        self.clearAfterHours = clearAfterHours
    }

    package static let standard = AnomalyConfig(
        robustZWarn: 5, robustZCritical: 10, baselineDaysMin: 3,
        ewmaAlpha: 0.1, ewmaSigmas: 5, ewmaWarmupHours: 48,
        raiseAfterHours: 2, clearAfterHours: 3)
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

/// Finds what is wrong with a campaign's hourly series.
///
/// Checks, per completed hour:
/// - consistency (critical): negative or non-finite values, clicks above impressions,
///   conversions above clicks, spend with zero impressions;
/// - robust z-score (warn / critical): `(x - median) / (1.4826 * MAD)` against the same
///   hour on up to seven previous days;
/// - EWMA (warn): more than `ewmaSigmas` standard deviations from the running mean.
///
/// Hysteresis: a level takes effect after `raiseAfterHours` consecutive hours at or above
/// it, and clears after `clearAfterHours` consecutive hours below it, so one noisy point
/// neither raises nor clears an alarm.
package enum AnomalyDetector {
    /// Feeds one completed hour. Hours at or before the last one fed are ignored (late
    /// revisions do not rewrite history); a gap leaves the skipped hours empty.
    package static func ingest(_ m: HourlyMetrics, config: AnomalyConfig, state: AnomalyState) -> AnomalyState {
        if let last = state.lastHour, m.hour <= last { return state }
        var s = state
        // Blank the hours skipped since the last one (bounded by the history length).
        if let last = s.lastHour {
            var h = last + 1
            while h < m.hour && h <= last + Int64(AnomalyState.historyHours) {
                s.setSlot(hour: h, values: nil)
                h += 1
            }
        }
        var findings = consistencyFindings(m)
        let values = [
            m.spendMicros.statistic / Double(Micros.perUnit), Double(m.impressions), Double(m.clicks), m.conversions,
        ]
        let usable = findings.isEmpty
        if usable {
            findings += robustFindings(values, hour: m.hour, config: config, state: s)
            findings += ewmaFindings(values, config: config, state: s)
            findings = capDrops(findings)
            s.updateEWMA(values, alpha: config.ewmaAlpha)
        }
        // Impossible data is kept out of the baselines so it cannot become normal.
        s.setSlot(hour: m.hour, values: usable ? values : nil)
        s.lastHour = m.hour
        s.applyHysteresis(latest: findings.map(\.severity).max() ?? .info, findings: findings, config: config)
        return s
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

    /// A drop in delivery (spend, impressions, clicks) spends less, never more, and the
    /// controller causes one itself whenever it cuts a budget below what a day has already
    /// spent: such findings warn (increases stop) but never halt. Conversions falling while
    /// spend holds up (broken tracking, a dead landing page) stay critical.
    static func capDrops(_ findings: [Finding]) -> [Finding] {
        let spendDropped = findings.contains { $0.check.hasSuffix(".spend") && ($0.score ?? 0) < 0 }
        return findings.map { f in
            guard f.severity == .critical, let score = f.score, score < 0 else { return f }
            if f.check.hasSuffix(".conversions") && !spendDropped { return f }
            return Finding(check: f.check, severity: .warn, value: f.value, baseline: f.baseline, score: f.score)
        }
    }

    static func robustFindings(_ values: [Double], hour: Int64, config: AnomalyConfig, state: AnomalyState) -> [Finding]
    {
        var out: [Finding] = []
        var baseline: [Double] = []
        baseline.reserveCapacity(7)
        for metric in 0..<AnomalyState.metricCount {
            baseline.removeAll(keepingCapacity: true)
            for day in 1...7 {
                let v = state.slot(hour: hour - Int64(24 * day), metric: metric)
                if !v.isNaN { baseline.append(Double(v)) }
            }
            guard baseline.count >= config.baselineDaysMin else { continue }
            let median = RobustStats.median(&baseline)
            for i in baseline.indices { baseline[i] = abs(baseline[i] - median) }
            let mad = RobustStats.median(&baseline)
            // A flat baseline has MAD 0: floor the spread so ordinary noise is not infinite z.
            let spread = max(1.4826 * mad, 0.1 * abs(median), 1.0)
            let z = (values[metric] - median) / spread
            let severity: Severity =
                abs(z) >= config.robustZCritical ? .critical : abs(z) >= config.robustZWarn ? .warn : .info
            if severity > .info {
                out.append(
                    Finding(
                        check: "robust_z.\(AnomalyState.metricNames[metric])", severity: severity,
                        value: values[metric], baseline: median, score: z))
            }
        }
        return out
    }

    static func ewmaFindings(_ values: [Double], config: AnomalyConfig, state: AnomalyState) -> [Finding] {
        guard state.ewmaSamples >= config.ewmaWarmupHours else { return [] }
        var out: [Finding] = []
        for metric in 0..<AnomalyState.metricCount {
            let mean = state.ewmaMean[metric]
            let sd = max(state.ewmaVariance[metric].squareRoot(), 0.1 * abs(mean), 1.0)
            let score = (values[metric] - mean) / sd
            if abs(score) >= config.ewmaSigmas {
                out.append(
                    Finding(
                        check: "ewma.\(AnomalyState.metricNames[metric])", severity: .warn,
                        value: values[metric], baseline: mean, score: score))
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
