/// The detector's memory for one campaign: eight days of hourly values per metric (the
/// budget in force included), the run of hours without conversions, and the hysteresis
/// counters. Fixed size: `historyHours` slots per metric.
package struct AnomalyState: Hashable, Sendable, Codable {
    package static let historyHours = 24 * 8
    /// The latest hour a restored state may have seen (hours since 1970: about the year 5400): a corrupt one
    /// beyond it is refused at start-up rather than overflowing the hour arithmetic later.
    static let lastHourMax: Int64 = 30_000_000
    package static let metricCount = 5  // spend, impressions, clicks, conversions, budget (currency units)
    /// Snapshots written before the budget was kept hold four metrics; they load with no budgets.
    static let legacyMetricCount = 4

    /// Slot `hour % historyHours`, metric-major; NaN means no data for that hour.
    var history: [Float] = Array(repeating: .nan, count: historyHours * metricCount)
    /// Conversions expected over the current run of hours with clicks and none reported.
    var outageExpected = 0.0
    package var lastHour: Int64? = nil
    var hoursAtOrAboveWarn = 0
    var hoursAtOrAboveCritical = 0
    var hoursBelowLevel = 0
    package var assessment = AnomalyAssessment()

    package init() {}

    enum CodingKeys: String, CodingKey {
        case history, outageExpected, lastHour, hoursAtOrAboveWarn, hoursAtOrAboveCritical,
            hoursBelowLevel, assessment
    }

    static let hexDigits = Array("0123456789abcdef".utf8)

    var historyHex: String {
        String(unsafeUninitializedCapacity: history.count * 8) { text in
            writeHistoryHex(text)
            return history.count * 8
        }
    }

    /// The history's hex digits into `text`, which holds exactly 8 bytes per value.
    func writeHistoryHex(_ text: UnsafeMutableBufferPointer<UInt8>) {
        for (i, v) in history.enumerated() {
            let bits = v.bitPattern
            for k in 0..<8 { text[i * 8 + k] = AnomalyState.hexDigits[Int((bits >> UInt32(28 - 4 * k)) & 0xf)] }
        }
    }

    static func history(hex: String) -> [Float]? {
        let bytes = Array(hex.utf8)
        let stored = bytes.count / (historyHours * 8)
        guard bytes.count % (historyHours * 8) == 0, stored == metricCount || stored == legacyMetricCount else {
            return nil
        }
        var out = [Float](repeating: .nan, count: historyHours * metricCount)
        for i in 0..<(historyHours * stored) {
            var bits: UInt32 = 0
            for k in 0..<8 {
                let c = bytes[i * 8 + k]
                let d: UInt8
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c - UInt8(ascii: "a") + 10
                default: return nil
                }
                bits = bits << 4 | UInt32(d)
            }
            out[i] = Float(bitPattern: bits)
        }
        return out
    }

    /// Restored state is checked: wrong-sized arrays are an error, never an index trap.
    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        guard let h = AnomalyState.history(hex: try c.decode(String.self, forKey: .history)) else {
            throw DecodingError.dataCorruptedError(
                forKey: .history, in: c, debugDescription: "history is not 8 hex digits per hour and metric")
            // (metric-major, so four stored metrics fill the first four and budgets stay unknown)
        }
        history = h
        outageExpected = try c.decodeIfPresent(Double.self, forKey: .outageExpected) ?? 0
        lastHour = try c.decodeIfPresent(Int64.self, forKey: .lastHour)
        hoursAtOrAboveWarn = try c.decode(Int.self, forKey: .hoursAtOrAboveWarn)
        hoursAtOrAboveCritical = try c.decode(Int.self, forKey: .hoursAtOrAboveCritical)
        hoursBelowLevel = try c.decode(Int.self, forKey: .hoursBelowLevel)
        assessment = try c.decode(AnomalyAssessment.self, forKey: .assessment)
        guard history.count == AnomalyState.historyHours * AnomalyState.metricCount,
            outageExpected.isFinite, outageExpected >= 0, (0...AnomalyState.lastHourMax).contains(lastHour ?? 0),
            hoursAtOrAboveWarn >= 0, hoursAtOrAboveCritical >= 0, hoursBelowLevel >= 0
        else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "inconsistent anomaly detector state"))
        }
    }

    /// The history is one string of IEEE 754 bit patterns, 8 hex digits per value (NaN,
    /// a missing hour, included: JSON has no NaN). A daemon persists 10,000 of these per
    /// snapshot; a JSON array of 768 numbers each costs seconds to encode.
    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(historyHex, forKey: .history)
        try c.encode(outageExpected, forKey: .outageExpected)
        try c.encodeIfPresent(lastHour, forKey: .lastHour)
        try c.encode(hoursAtOrAboveWarn, forKey: .hoursAtOrAboveWarn)
        try c.encode(hoursAtOrAboveCritical, forKey: .hoursAtOrAboveCritical)
        try c.encode(hoursBelowLevel, forKey: .hoursBelowLevel)
        try c.encode(assessment, forKey: .assessment)
    }
}

extension AnomalyState {
    func slot(hour: Int64, metric: Int) -> Float {
        guard let last = lastHour, hour <= last, last - hour < Int64(AnomalyState.historyHours), hour >= 0 else {
            return .nan
        }
        return history[metric * AnomalyState.historyHours + Int(hour % Int64(AnomalyState.historyHours))]
    }

    mutating func setSlot(hour: Int64, values: [Double]?) {
        let index = Int(hour.floorMod(Int64(AnomalyState.historyHours)))
        for metric in 0..<AnomalyState.metricCount {
            history[metric * AnomalyState.historyHours + index] = values.map { Float($0[metric]) } ?? .nan
        }
    }

    /// Spend (currency units) in the local day of `hour` before it, from the history.
    func spendToday(before hour: Int64, utcOffsetSeconds: Int64) -> Double {
        let hourOfDay = Int64(LearnedDelivery.localHour(hour, utcOffsetSeconds: utcOffsetSeconds))
        var total = 0.0
        var h = hour - hourOfDay
        while h < hour {
            let v = slot(hour: h, metric: 0)
            if !v.isNaN { total += Double(v) }
            h += 1
        }
        return total
    }

    /// Impressions, clicks and conversions summed over the previous seven days' usable hours.
    func pooledCounts() -> (hours: Int, impressions: Double, clicks: Double, conversions: Double) {
        guard let last = lastHour else { return (0, 0, 0, 0) }
        var out = (hours: 0, impressions: 0.0, clicks: 0.0, conversions: 0.0)
        for h in (last - 24 * 7 + 1)...last {
            let i = slot(hour: h, metric: 1), c = slot(hour: h, metric: 2), v = slot(hour: h, metric: 3)
            guard !i.isNaN && !c.isNaN && !v.isNaN else { continue }
            out.hours += 1
            out.impressions += Double(i)
            out.clicks += Double(c)
            out.conversions += Double(v)
        }
        return out
    }

    /// Back to level info with every counter cleared (an operator's release).
    package mutating func release() {
        hoursAtOrAboveWarn = 0
        hoursAtOrAboveCritical = 0
        hoursBelowLevel = 0
        outageExpected = 0
        assessment = AnomalyAssessment()
    }

    mutating func applyHysteresis(latest: Severity, findings: [Finding], config: AnomalyConfig) {
        hoursAtOrAboveWarn = latest >= .warn ? hoursAtOrAboveWarn + 1 : 0
        hoursAtOrAboveCritical = latest >= .critical ? hoursAtOrAboveCritical + 1 : 0
        var level = assessment.level
        if hoursAtOrAboveCritical >= config.raiseAfterHours {
            level = .critical
        } else if hoursAtOrAboveWarn >= config.raiseAfterHours && level < .warn {
            level = .warn
        }
        if latest < level {
            hoursBelowLevel += 1
            if hoursBelowLevel >= config.clearAfterHours {
                // Step down to what the recent hours support, not straight to info.
                level = hoursAtOrAboveWarn > 0 ? .warn : .info
                hoursBelowLevel = 0
            }
        } else {
            hoursBelowLevel = 0
        }
        assessment = AnomalyAssessment(level: level, latest: latest, findings: findings)
    }
}
