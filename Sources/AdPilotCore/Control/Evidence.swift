/// A cohort's hourly profit and spend before the canary (the 72 hours before it began):
/// the baseline each of its settled canary hours is compared with, hour of day by hour of
/// day (a cohort's own intraday shape is not a change the candidate made).
package struct CohortBaseline: Hashable, Sendable, Codable {
    /// Mean profit of the cohort in each local hour of the day (24), micros.
    package var profitByHourOfDayMicros: [Double]
    package var spendPerHourMicros: Double

    package init(profitByHourOfDayMicros: [Double], spendPerHourMicros: Double) {
        self.profitByHourOfDayMicros = profitByHourOfDayMicros
        self.spendPerHourMicros = spendPerHourMicros
    }

    /// Mean profit per hour; nil unless all 24 hours of the day are there.
    package var profitPerHourMicros: Double? {
        profitByHourOfDayMicros.count == 24 ? profitByHourOfDayMicros.reduce(0, +) / 24 : nil
    }

    /// One completed hour of one campaign, as the baseline reads it.
    package struct Hour: Sendable {
        package var hour: Int64
        package var profitMicros: Double
        package var spendMicros: Double

        package init(hour: Int64, profitMicros: Double, spendMicros: Double) {
            self.hour = hour
            self.profitMicros = profitMicros
            self.spendMicros = spendMicros
        }
    }

    /// The baseline over the hours [from, to) of a cohort's campaigns: an hour not reported
    /// counts as one that earned and spent nothing. Nil when the cohort spent nothing.
    package static func measure(
        _ hours: [Hour], from: Int64, to: Int64, utcOffsetSeconds: Int64
    ) -> CohortBaseline? {
        guard to > from else { return nil }
        var profit = [Double](repeating: 0, count: 24), slots = [Double](repeating: 0, count: 24)
        var spend = 0.0
        for h in from..<to { slots[hourOfDay(h, utcOffsetSeconds: utcOffsetSeconds)] += 1 }
        for h in hours where h.hour >= from && h.hour < to {
            profit[hourOfDay(h.hour, utcOffsetSeconds: utcOffsetSeconds)] += h.profitMicros
            spend += h.spendMicros
        }
        guard spend > 0 else { return nil }
        return CohortBaseline(
            profitByHourOfDayMicros: zip(profit, slots).map { $1 > 0 ? $0 / $1 : 0 },
            spendPerHourMicros: spend / Double(to - from))
    }

    /// The account's local hour of day (0...23) of an hour since the epoch.
    package static func hourOfDay(_ hour: Int64, utcOffsetSeconds: Int64) -> Int {
        LocalTime(Instant(microsSinceEpoch: hour * Instant.secondsPerHour * Instant.microsPerSecond),
                  utcOffsetSeconds: utcOffsetSeconds).hourOfDay
    }
}

/// The shadow candidate's value against the live policy's, off-policy (docs/evaluation.md):
/// set by the daemon from its settled explored hours.
package struct ValueEvidence: Hashable, Sendable, Codable {
    /// The policy that wrote (the reference); nil when the live slot is empty.
    package var live: PolicyID?
    /// Why there is no estimate (exploration off, no settled hour yet); nil with one.
    package var unavailable: String?
    package var periods: Int
    package var effectiveSampleSize: Double
    package var support: Double
    /// The doubly robust estimates, profit per campaign-hour in micros, with 95% cluster
    /// bootstrap intervals: the live policy's value and (candidate - live).
    package var liveValue: OffPolicy.Interval?
    package var difference: OffPolicy.Interval?

    package init(
        live: PolicyID?, unavailable: String?, periods: Int = 0, effectiveSampleSize: Double = 0,
        support: Double = 0, liveValue: OffPolicy.Interval? = nil, difference: OffPolicy.Interval? = nil
    ) {
        self.live = live
        self.unavailable = unavailable
        self.periods = periods
        self.effectiveSampleSize = effectiveSampleSize
        self.support = support
        self.liveValue = liveValue
        self.difference = difference
    }
}

/// What the candidate has shown since the controller entered its current mode. Reset by
/// every transition that changes the mode or the candidate.
package struct Evidence: Hashable, Sendable, Codable {
    package var mode: Mode
    package var candidate: PolicyID?
    package var since: Instant
    /// The journal seq of the transition that began this evidence (nil when it began with
    /// the controller's first start): where a restart reads the shadow value sample back.
    package var sinceSeq: UInt64? = nil
    package var candidateDecisions = 0
    package var candidatePolicyFaults = 0
    package var candidateVetoes = 0
    package var criticalAnomalies = 0
    /// In shadow: the candidate's off-policy value against the live policy.
    package var value: ValueEvidence? = nil
    /// Completed hours seen per cohort during canary (canary: inside the scope).
    package var canaryHours = 0
    package var canarySpendMicros: Int64 = 0
    package var canaryValueMicros: Int64 = 0
    package var controlHours = 0
    package var controlSpendMicros: Int64 = 0
    package var controlValueMicros: Int64 = 0
    /// Each cohort's profit by hour of day and spend per hour before the canary. Cohorts are
    /// different campaigns with different economics: each settled hour is compared with its
    /// own cohort's baseline (a difference in differences), never raw profit with raw profit.
    package var canaryBaseline: CohortBaseline? = nil
    package var controlBaseline: CohortBaseline? = nil
    /// Per settled canary hour: (canary profit - its baseline for that hour of day) / its
    /// baseline profit per hour, less the same for control. The confidence sequence's
    /// observations.
    package var profitDifference = RunningMoments()
    /// The last hour folded into `profitDifference` (hours since the epoch).
    package var lastPairedHour: Int64? = nil
    /// Breakers of canary-scope campaigns that opened during the canary.
    package var canaryBreakerTrips = 0
    /// The canary cohort's mean pacing error at the last tick.
    package var pacingError: Double? = nil
    package var consecutiveFailedChecks = 0

    package init(mode: Mode, candidate: PolicyID?, since: Instant) {
        self.mode = mode
        self.candidate = candidate
        self.since = since
    }

    enum CodingKeys: String, CodingKey {
        case mode, candidate, since, sinceSeq, candidateDecisions, candidatePolicyFaults, candidateVetoes
        case criticalAnomalies
        case value, canaryHours, canarySpendMicros, canaryValueMicros, controlHours, controlSpendMicros
        case controlValueMicros, canaryBaseline, controlBaseline, profitDifference, lastPairedHour
        case canaryBreakerTrips, pacingError, consecutiveFailedChecks
    }

    /// Keys added since a snapshot was written are absent from it: they start empty.
    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        mode = try c.decode(Mode.self, forKey: .mode)
        candidate = try c.decodeIfPresent(PolicyID.self, forKey: .candidate)
        since = try c.decode(Instant.self, forKey: .since)
        sinceSeq = try c.decodeIfPresent(UInt64.self, forKey: .sinceSeq)
        candidateDecisions = try c.decode(Int.self, forKey: .candidateDecisions)
        candidatePolicyFaults = try c.decode(Int.self, forKey: .candidatePolicyFaults)
        candidateVetoes = try c.decode(Int.self, forKey: .candidateVetoes)
        criticalAnomalies = try c.decode(Int.self, forKey: .criticalAnomalies)
        value = try c.decodeIfPresent(ValueEvidence.self, forKey: .value)
        canaryHours = try c.decode(Int.self, forKey: .canaryHours)
        canarySpendMicros = try c.decode(Int64.self, forKey: .canarySpendMicros)
        canaryValueMicros = try c.decode(Int64.self, forKey: .canaryValueMicros)
        controlHours = try c.decode(Int.self, forKey: .controlHours)
        controlSpendMicros = try c.decode(Int64.self, forKey: .controlSpendMicros)
        controlValueMicros = try c.decode(Int64.self, forKey: .controlValueMicros)
        canaryBaseline = try c.decodeIfPresent(CohortBaseline.self, forKey: .canaryBaseline)
        controlBaseline = try c.decodeIfPresent(CohortBaseline.self, forKey: .controlBaseline)
        profitDifference = try c.decodeIfPresent(RunningMoments.self, forKey: .profitDifference) ?? RunningMoments()
        lastPairedHour = try c.decodeIfPresent(Int64.self, forKey: .lastPairedHour)
        canaryBreakerTrips = try c.decode(Int.self, forKey: .canaryBreakerTrips)
        pacingError = try c.decodeIfPresent(Double.self, forKey: .pacingError)
        consecutiveFailedChecks = try c.decode(Int.self, forKey: .consecutiveFailedChecks)
    }

    /// Every key, `null` for what is not yet measured (`status --json` shows the evidence;
    /// scripts test for keys).
    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(mode, forKey: .mode)
        try c.encode(candidate, forKey: .candidate)
        try c.encode(since, forKey: .since)
        try c.encode(sinceSeq, forKey: .sinceSeq)
        try c.encode(candidateDecisions, forKey: .candidateDecisions)
        try c.encode(candidatePolicyFaults, forKey: .candidatePolicyFaults)
        try c.encode(candidateVetoes, forKey: .candidateVetoes)
        try c.encode(criticalAnomalies, forKey: .criticalAnomalies)
        try c.encode(value, forKey: .value)
        try c.encode(canaryHours, forKey: .canaryHours)
        try c.encode(canarySpendMicros, forKey: .canarySpendMicros)
        try c.encode(canaryValueMicros, forKey: .canaryValueMicros)
        try c.encode(controlHours, forKey: .controlHours)
        try c.encode(controlSpendMicros, forKey: .controlSpendMicros)
        try c.encode(controlValueMicros, forKey: .controlValueMicros)
        try c.encode(canaryBaseline, forKey: .canaryBaseline)
        try c.encode(controlBaseline, forKey: .controlBaseline)
        try c.encode(profitDifference, forKey: .profitDifference)
        try c.encode(lastPairedHour, forKey: .lastPairedHour)
        try c.encode(canaryBreakerTrips, forKey: .canaryBreakerTrips)
        try c.encode(pacingError, forKey: .pacingError)
        try c.encode(consecutiveFailedChecks, forKey: .consecutiveFailedChecks)
    }
}
