package import AdPilotCore

/// What the tick thread leaves for `status` (read under a lock by the socket threads).
package struct StatusView: Sendable {
    package var platform: String
    package var lastTick: TickReport? = nil
    package var ticks: UInt64 = 0
    package var headSeq: UInt64 = 0
    package var platformBreaker: BreakerState = .closed
    package var campaignBreaker: [CampaignID: BreakerState] = [:]
    package var anomaly: [CampaignID: String] = [:]
    /// Campaigns held by their own anomaly, with since when and what was found.
    package var quarantined: [CampaignID: StatusReport.Quarantine] = [:]
    package var observations: [Observation] = []
    /// Campaigns observed but not controlled, and why.
    package var notControllable: [CampaignID: String] = [:]
    package var inCanary: Set<CampaignID> = []
    package var lastDecisions: [CampaignID: LastDecision] = [:]
    /// The delivery profile each campaign's pacer last planned with, and the fewest days of
    /// the campaign's own history behind any of its hours.
    package var delivery: [CampaignID: (rates: [Double], ownDays: Int)] = [:]
    package var totals = DecisionTotals()
    package var configDigest: String
    package var policyDigests: [PolicyID: String] = [:]
    package var gateConfig: GateConfig
    package var policyDirs: [String]

    package init(platform: String, configDigest: String, gateConfig: GateConfig, policyDirs: [String]) {
        self.platform = platform
        self.configDigest = configDigest
        self.gateConfig = gateConfig
        self.policyDirs = policyDirs
    }
}

/// One tick's outcome, for status, metrics and STATUS=.
package struct TickReport: Codable, Sendable {
    package var tick: UInt64 = 0
    package var at: Instant
    package var durationMicros: Int64 = 0
    package var campaigns = 0
    package var decisions = 0
    package var applies = 0
    package var confirmed = 0
    package var writeFailures = 0
    package var skippedByHalt = 0
    package var holds = 0
    package var observeFailures = 0
    package var vetoes: [String: Int] = [:]
    package var error: String? = nil

    package init(tick: UInt64, at: Instant) {
        self.tick = tick
        self.at = at
    }

    /// Every key, `error` as `null` when there was none (see `StatusReport.encode`).
    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(tick, forKey: .tick)
        try c.encode(at, forKey: .at)
        try c.encode(durationMicros, forKey: .durationMicros)
        try c.encode(campaigns, forKey: .campaigns)
        try c.encode(decisions, forKey: .decisions)
        try c.encode(applies, forKey: .applies)
        try c.encode(confirmed, forKey: .confirmed)
        try c.encode(writeFailures, forKey: .writeFailures)
        try c.encode(skippedByHalt, forKey: .skippedByHalt)
        try c.encode(holds, forKey: .holds)
        try c.encode(observeFailures, forKey: .observeFailures)
        try c.encode(vetoes, forKey: .vetoes)
        try c.encode(error, forKey: .error)
    }
}

/// Counters since the daemon started, for status and metrics.
package struct DecisionTotals: Sendable {
    package init() {}
    package var decisions: UInt64 = 0
    package var applies: UInt64 = 0
    package var writeFailures: UInt64 = 0
    package var vetoes: [String: UInt64] = [:]
    package var tickDurations = DurationHistogram()
}

/// A Prometheus histogram of durations: per-bucket counts (not cumulative), the count and the
/// sum. The bounds are fixed so that every scrape has the same series.
package struct DurationHistogram: Sendable {
    /// Upper bounds in seconds; `+Inf` is implied by `count`.
    package static let bounds: [Double] = [
        0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600,
    ]
    package private(set) var buckets = [UInt64](repeating: 0, count: bounds.count)
    package private(set) var count: UInt64 = 0
    package private(set) var sumMicros: Int64 = 0

    package init() {}

    package mutating func observe(micros: Int64) {
        let micros = max(0, micros)
        count += 1
        sumMicros += micros
        let seconds = Double(micros) / 1e6
        if let i = Self.bounds.firstIndex(where: { seconds <= $0 }) { buckets[i] += 1 }
    }

    /// `(le, cumulative count)` for every bound, then `+Inf`.
    package var cumulative: [(le: String, count: UInt64)] {
        var running: UInt64 = 0
        var out: [(le: String, count: UInt64)] = []
        for (bound, n) in zip(Self.bounds, buckets) {
            running += n
            out.append((String(bound), running))
        }
        return out + [("+Inf", count)]
    }
}
