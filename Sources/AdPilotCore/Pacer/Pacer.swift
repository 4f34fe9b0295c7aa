/// The configured hourly profile: 24 non-negative weights, how a day's budget is expected to
/// spread over the local hours. The pacer plans with it as a `DeliveryProfile` (the prior of
/// a learned one, or the profile itself).
package struct HourlyProfile: Hashable, Sendable, Codable {
    package static let uniform = HourlyProfile(weights: Array(repeating: 1.0, count: 24))!

    /// The weights as configured (any positive scale); stored as given so that encoding
    /// and decoding reproduce the profile bit for bit.
    package let weights: [Double]

    /// Nil unless there are 24 finite non-negative weights with a positive, finite sum.
    package init?(weights: [Double]) {
        guard weights.count == 24, weights.allSatisfy({ $0.isFinite && $0 >= 0 }) else { return nil }
        let total = weights.reduce(0, +)
        guard total > 0, total.isFinite else { return nil }
        self.weights = weights
    }

    package init(from decoder: any Decoder) throws {
        let w = try decoder.singleValueContainer().decode([Double].self)
        guard let p = HourlyProfile(weights: w) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                debugDescription: "an hourly profile needs 24 finite, non-negative weights with a positive sum"))
        }
        self = p
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(weights)
    }
}

/// What the efficiency loop steers toward.
package enum EfficiencyTarget: Hashable, Sendable, Codable {
    /// Conversion value per unit spend, e.g. 3.0.
    case roas(Double)
    /// Cost per conversion.
    case cpa(Micros)
    case none
}

/// Where the pacer's delivery profile comes from.
package enum ProfileMode: String, Hashable, Sendable, Codable {
    /// Each campaign's own completed hours, shrunk toward the account's, shrunk toward the
    /// configured profile (the prior) while history is short.
    case learned
    /// The configured profile for every campaign (an explicit override).
    case fixed
}

package struct PacerConfig: Hashable, Sendable, Codable {
    /// Gains of the pace trim (on top of the feed-forward; see `Pacer`).
    package var pace: PIDGains
    package var efficiency: PIDGains
    /// The configured hourly profile: the prior of a learned profile, or the profile itself.
    package var profile: HourlyProfile
    package var profileMode: ProfileMode = .learned
    /// Days of evidence the prior counts as when a learned profile is shrunk toward it.
    package var profilePriorDays: Double = 1
    /// Standard errors of benefit of the doubt the efficiency loop gives the trailing
    /// ROAS (or CPA) before it holds spending back; 0 steers on the point estimate.
    package var efficiencyZ: Double = 1
    /// The efficiency loop only steers once the trailing window holds this many conversions.
    package var efficiencyConversionsMin: Double
    /// How far (as a fraction) the policy may propose away from the pacer's recommended
    /// budget before the pacer adjusts it back to the edge of that band.
    package var policyAuthority: Double

    package init(pace: PIDGains, efficiency: PIDGains, profile: HourlyProfile,
                efficiencyConversionsMin: Double, policyAuthority: Double) {
        self.pace = pace
        self.efficiency = efficiency
        self.profile = profile
        self.efficiencyConversionsMin = efficiencyConversionsMin
        self.policyAuthority = policyAuthority
    }

    /// Problems a loader must refuse, as (key path, problem). Empty when usable.
    package func validationProblems() -> [(key: String, problem: String)] {
        var out: [(String, String)] = []
        for (key, g) in [("pacer.pace", pace), ("pacer.efficiency", efficiency)] where !g.isValid {
            out.append((key, "gains must be finite and non-negative, with output_min < output_max"))
        }
        if !(efficiencyConversionsMin.isFinite && efficiencyConversionsMin >= 0) {
            out.append(("pacer.efficiency_conversions_min", "must be a finite, non-negative number"))
        }
        if !(policyAuthority.isFinite && policyAuthority >= 0 && policyAuthority <= 10) {
            out.append(("pacer.policy_authority", "must be in 0...10"))
        }
        if !(efficiencyZ.isFinite && efficiencyZ >= 0 && efficiencyZ <= 10) {
            out.append(("pacer.efficiency_z", "must be in 0...10"))
        }
        if !(profilePriorDays.isFinite && profilePriorDays > 0 && profilePriorDays <= 28) {
            out.append(("pacer.profile_prior_days", "must be in (0, 28]"))
        }
        return out
    }

    /// What the tests start from: the shipped configuration's gains, with a wider policy band
    /// (0.3; the shipped `policy_authority` is 0.1) so a test's proposal reaches the layers
    /// after the pacer.
    package static let standard = PacerConfig(
        pace: PIDGains(kp: 1.2, ki: 0.15, kd: 0.05, integralMax: 0.5, outputMin: -0.8, outputMax: 1.0),
        efficiency: PIDGains(kp: 0.6, ki: 0.05, kd: 0.0, integralMax: 0.4, outputMin: -0.8, outputMax: 0.5),
        profile: .uniform, efficiencyConversionsMin: 5, policyAuthority: 0.3)
}

/// The pacer's memory for one campaign.
package struct PacerState: Hashable, Sendable, Codable {
    package var pace = PIDState()
    package var efficiency = PIDState()
    /// False while the campaign is not under control (halted, out of scope); the next
    /// step re-engages both loops bumplessly.
    package var engaged = false
    package var day: Int64? = nil
    package var lastStepAt: Instant? = nil

    package init() {}
}

/// The pacer's account of one step, in the decision (its journal record keeps the summary
/// that replay cannot recompute: `PacerSummary`).
package struct PacerReport: Hashable, Sendable, Codable {
    package let targetSpendToDateMicros: Micros
    package let spendTodayMicros: Micros
    package let pace: PIDStep
    /// Nil when the efficiency loop had too little data to steer (it then holds).
    package let efficiency: PIDStep?
    package let trailingEfficiency: Double?
    /// min(pace output, efficiency output): efficiency can only hold pacing back.
    package let combinedOutput: Double
    /// The feed-forward part of the pace output: the budget (as target × (1 + u)) that makes
    /// the rest of the day deliver the rest of the target under the delivery profile. Absent
    /// in records written before it existed.
    package let feedForward: Double?
    package let recommendedBudgetMicros: Micros
    package let bandLowMicros: Micros
    package let bandHighMicros: Micros
    package let engagedThisStep: Bool
}

/// Trailing performance the efficiency loop and guardrails read.
package struct TrailingStats: Sendable {
    package var spendMicros: Micros
    package var conversions: Double
    package var conversionValueMicros: Micros

    package init(spendMicros: Micros, conversions: Double, conversionValueMicros: Micros) {
        self.spendMicros = spendMicros
        self.conversions = conversions
        self.conversionValueMicros = conversionValueMicros
    }

    package var roas: Double? {
        spendMicros > .zero ? conversionValueMicros.statistic / spendMicros.statistic : nil
    }

    package var cpaMicros: Double? {
        conversions > 0 && conversions.isFinite ? spendMicros.statistic / conversions : nil
    }
}

extension TrailingStats: Hashable {
    // NaN conversions (a platform glitch) must still compare equal, or a decision that
    // recorded one could never be shown to replay.
    package static func == (a: TrailingStats, b: TrailingStats) -> Bool {
        a.spendMicros == b.spendMicros && StatValue(a.conversions) == StatValue(b.conversions)
            && a.conversionValueMicros == b.conversionValueMicros
    }

    package func hash(into h: inout Hasher) {
        h.combine(spendMicros)
        h.combine(StatValue(conversions))
        h.combine(conversionValueMicros)
    }
}

extension TrailingStats: Codable {
    // Conversions come from a platform and may be NaN; JSON has no NaN (see StatValue).
    enum CodingKeys: String, CodingKey { case spendMicros, conversions, conversionValueMicros }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        spendMicros = try c.decode(Micros.self, forKey: .spendMicros)
        conversions = try c.decode(StatValue.self, forKey: .conversions).value
        conversionValueMicros = try c.decode(Micros.self, forKey: .conversionValueMicros)
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(spendMicros, forKey: .spendMicros)
        try c.encode(StatValue(conversions), forKey: .conversions)
        try c.encode(conversionValueMicros, forKey: .conversionValueMicros)
    }
}

/// The dual-PID pacer with a feed-forward.
///
/// - Feed-forward: with `S` spent today through the data's time and `R` the delivery
///   profile's expected spend per unit of budget from then to midnight, the budget that
///   lands the day on target `T` is `(T − S) / R`: `u_ff = (T − S) / (R × T) − 1`.
/// - The pace trim (a PID, engaged at zero) compares spend today with the target trajectory
///   (daily target times the profile's cumulative share at the data's time), normalised by
///   the daily target; `u_pace = u_ff + trim`, within the pace output limits.
/// - The efficiency loop compares trailing ROAS (or CPA) with its target, normalised by
///   the target, once the window has enough conversions.
/// - Combination rule: `u = min(u_pace, u_eff)` (just `u_pace` without efficiency data).
///   Efficiency may hold spending back but never pushes past the pace, so a lucky streak
///   cannot overspend the day.
/// - Recommendation: `dailyTarget * (1 + u)`. The policy's proposal is approved inside
///   `recommendation * (1 ± policyAuthority)` and adjusted to the nearest edge outside it.
package enum Pacer {
    package struct Input: Hashable, Sendable, Codable {
        package var dailyTargetMicros: Micros
        package var spendTodayMicros: Micros
        package var currentBudgetMicros: Micros
        package var trailing: TrailingStats
        package var efficiencyTarget: EfficiencyTarget
        /// The campaign's delivery profile (learned, or the configured one).
        package var delivery: DeliveryProfile
        /// How old the spend figure is: the day is read at `now − dataAgeSeconds`.
        package var dataAgeSeconds: Int64 = 0

        package init(
            dailyTargetMicros: Micros, spendTodayMicros: Micros, currentBudgetMicros: Micros, trailing: TrailingStats,
            efficiencyTarget: EfficiencyTarget, delivery: DeliveryProfile = DeliveryProfile(.uniform),
            dataAgeSeconds: Int64 = 0
        ) {
            self.dailyTargetMicros = dailyTargetMicros
            self.spendTodayMicros = spendTodayMicros
            self.currentBudgetMicros = currentBudgetMicros
            self.trailing = trailing
            self.efficiencyTarget = efficiencyTarget
            self.delivery = delivery
            self.dataAgeSeconds = dataAgeSeconds
        }
    }

    package static func step(_ config: PacerConfig, state: PacerState, input: Input,
                            at now: Instant, utcOffsetSeconds: Int64) -> (PacerReport, PacerState) {
        precondition(input.dailyTargetMicros > .zero, "daily target must be positive (validated config)")
        let local = LocalTime(now, utcOffsetSeconds: utcOffsetSeconds)
        let target = input.dailyTargetMicros.statistic
        // Where in the day the spend figure stands (a platform reports completed hours only,
        // or lags): the plan and the rest of the day are taken from there.
        let dataSecond = local.secondOfDay - min(max(input.dataAgeSeconds, 0), local.secondOfDay)
        let trajectory = target * input.delivery.fractionElapsed(atSecondOfDay: dataSecond)
        let spend = max(0, input.spendTodayMicros.statistic)
        let remaining = input.delivery.remaining(fromSecondOfDay: dataSecond)
        let feedForward = remaining > 1e-9 ? max(0, target - spend) / (remaining * target) - 1 : 0
        // The output that reproduces the budget in force: where bumpless transfer starts.
        let heldOutput = max(0, input.currentBudgetMicros.statistic) / target - 1

        var next = state
        var dtHours = 0.0
        if let last = state.lastStepAt, now > last { dtHours = min(now.seconds(since: last) / 3600, 24) }
        if state.day != local.day {
            // Spend today restarts at zero: forget the old measurement so D sees no jump.
            next.pace.lastMeasurement = nil
            next.day = local.day
        }
        let engaging = !state.engaged
        if engaging {
            next.pace = PID.engage(config.pace, .direct, setpoint: trajectory, measurement: spend,
                                   scale: target, currentOutput: 0)
            dtHours = 0
        }
        let (paceStep, paceState) = PID.step(config.pace, .direct, state: next.pace, setpoint: trajectory,
                                             measurement: spend, scale: target, dtHours: dtHours)
        next.pace = paceState
        let paceOutput = min(max(feedForward + paceStep.output, config.pace.outputMin), config.pace.outputMax)

        var effStep: PIDStep? = nil
        let (effMeasurement, effSetpoint, effAction) = efficiencyTerms(input, z: config.efficiencyZ)
        if let m = effMeasurement, m.isFinite, let sp = effSetpoint,
           input.trailing.conversions.isFinite, input.trailing.conversions >= config.efficiencyConversionsMin {
            if engaging || next.efficiency.lastMeasurement == nil {
                next.efficiency = PID.engage(config.efficiency, effAction, setpoint: sp, measurement: m,
                                             scale: sp, currentOutput: heldOutput)
            }
            let (s, st) = PID.step(config.efficiency, effAction, state: next.efficiency, setpoint: sp,
                                   measurement: m, scale: sp, dtHours: engaging ? 0 : dtHours)
            effStep = s
            next.efficiency = st
        } else {
            // Too little evidence: the loop holds and will re-engage bumplessly.
            next.efficiency.lastMeasurement = nil
        }

        let combined = min(paceOutput, effStep?.output ?? paceOutput)
        let recommended = input.dailyTargetMicros.scaled(by: 1 + combined)
        let report = PacerReport(
            targetSpendToDateMicros: Micros.fromStatistic(trajectory) ?? .zero,
            spendTodayMicros: input.spendTodayMicros, pace: paceStep, efficiency: effStep,
            trailingEfficiency: effMeasurement, combinedOutput: combined, feedForward: feedForward,
            recommendedBudgetMicros: recommended,
            bandLowMicros: recommended.scaled(by: 1 - config.policyAuthority),
            bandHighMicros: recommended.scaled(by: 1 + config.policyAuthority),
            engagedThisStep: engaging)
        next.engaged = true
        next.lastStepAt = now
        return (report, next)
    }

    /// A campaign leaving control (halt, out of scope): the next step re-engages.
    package static func disengage(_ state: PacerState) -> PacerState {
        var s = state
        s.engaged = false
        return s
    }

    /// The efficiency loop's measurement, setpoint and action. The measurement is given the
    /// benefit of the doubt by `z` standard errors (conversions counted as Poisson: a relative
    /// error of 1/√n): ROAS its upper bound, CPA its lower one. Spending is held back on
    /// evidence that efficiency is below target, not on the noise of a marginal campaign.
    private static func efficiencyTerms(_ input: Input, z: Double) -> (Double?, Double?, PIDAction) {
        let n = input.trailing.conversions
        let doubt = n.isFinite && n > 0 ? z / n.squareRoot() : 0
        switch input.efficiencyTarget {
        case .roas(let target):
            return (input.trailing.roas.map { $0 * (1 + doubt) }, target > 0 ? target : nil, .reverse)
        case .cpa(let target):
            return (input.trailing.cpaMicros.map { $0 / (1 + doubt) }, target > .zero ? target.statistic : nil, .direct)
        case .none:
            return (nil, nil, .direct)
        }
    }
}

extension Micros {
    /// `self * factor` rounded down to whole micros, saturating to 0...Int64.max. For
    /// limits and recommendations computed from a ratio; never for a ledger amount.
    package func scaled(by factor: Double) -> Micros {
        let v = statistic * factor
        guard v.isFinite else { return factor.isNaN ? .zero : (v > 0 ? Micros(.max) : .zero) }
        return Micros.fromStatistic(min(max(v, 0), 9.2e18), rounding: .down) ?? .zero
    }
}
