/// Promotion gates (docs/state-machine.md): what a candidate must show before it may write more.
/// Pure: the daemon accumulates `Evidence` tick by tick; these functions judge it.
package struct GateConfig: Hashable, Sendable, Codable {
    /// shadow -> canary
    package var shadowHoursMin: Double
    package var shadowDecisionsMin: Int
    /// Share of the candidate's decisions that a layer vetoed (held).
    package var shadowVetoRateMax: Double
    /// canary -> live
    package var canaryHoursMin: Double
    /// The canary cohort's ROAS may trail the control cohort's by at most this fraction.
    package var roasMarginMax: Double
    /// Completed campaign-hours each cohort needs before ROAS is compared.
    package var cohortHoursMin: Int
    /// Mean |spend today - target to date| / daily target over the canary cohort.
    package var pacingErrorMax: Double
    /// Consecutive failing canary health checks (one per tick) before the controller rolls
    /// the canary back by itself (Argo Rollouts' failureLimit).
    package var failureLimit: Int

    package init(
        shadowHoursMin: Double, shadowDecisionsMin: Int, shadowVetoRateMax: Double, canaryHoursMin: Double,
        roasMarginMax: Double, cohortHoursMin: Int, pacingErrorMax: Double, failureLimit: Int
    ) {
        self.shadowHoursMin = shadowHoursMin
        self.shadowDecisionsMin = shadowDecisionsMin
        self.shadowVetoRateMax = shadowVetoRateMax
        self.canaryHoursMin = canaryHoursMin
        self.roasMarginMax = roasMarginMax
        self.cohortHoursMin = cohortHoursMin
        self.pacingErrorMax = pacingErrorMax
        self.failureLimit = failureLimit
    }
}

/// What the candidate has shown since the controller entered its current mode. Reset by
/// every transition that changes the mode or the candidate.
package struct Evidence: Hashable, Sendable, Codable {
    package var mode: Mode
    package var candidate: PolicyID?
    package var since: Instant
    package var candidateDecisions = 0
    package var candidatePolicyFaults = 0
    package var candidateVetoes = 0
    package var criticalAnomalies = 0
    /// Completed hours seen per cohort during canary (canary: inside the scope).
    package var canaryHours = 0
    package var canarySpendMicros: Int64 = 0
    package var canaryValueMicros: Int64 = 0
    package var controlHours = 0
    package var controlSpendMicros: Int64 = 0
    package var controlValueMicros: Int64 = 0
    /// Each cohort's trailing ROAS when the canary began. Cohorts are different campaigns
    /// with different economics: the gate compares how each moved from its own baseline
    /// (a difference in differences), not their raw ROAS.
    package var canaryBaselineRoas: Double? = nil
    package var controlBaselineRoas: Double? = nil
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

    package var canaryROAS: Double? {
        canarySpendMicros > 0 ? Double(canaryValueMicros) / Double(canarySpendMicros) : nil
    }
    package var controlROAS: Double? {
        controlSpendMicros > 0 ? Double(controlValueMicros) / Double(controlSpendMicros) : nil
    }

    /// Every key, `null` for a baseline or pacing error not yet measured (`status --json`
    /// shows the evidence; scripts test for keys).
    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(mode, forKey: .mode)
        try c.encode(candidate, forKey: .candidate)
        try c.encode(since, forKey: .since)
        try c.encode(candidateDecisions, forKey: .candidateDecisions)
        try c.encode(candidatePolicyFaults, forKey: .candidatePolicyFaults)
        try c.encode(candidateVetoes, forKey: .candidateVetoes)
        try c.encode(criticalAnomalies, forKey: .criticalAnomalies)
        try c.encode(canaryHours, forKey: .canaryHours)
        try c.encode(canarySpendMicros, forKey: .canarySpendMicros)
        try c.encode(canaryValueMicros, forKey: .canaryValueMicros)
        try c.encode(controlHours, forKey: .controlHours)
        try c.encode(controlSpendMicros, forKey: .controlSpendMicros)
        try c.encode(controlValueMicros, forKey: .controlValueMicros)
        try c.encode(canaryBaselineRoas, forKey: .canaryBaselineRoas)
        try c.encode(controlBaselineRoas, forKey: .controlBaselineRoas)
        try c.encode(canaryBreakerTrips, forKey: .canaryBreakerTrips)
        try c.encode(pacingError, forKey: .pacingError)
        try c.encode(consecutiveFailedChecks, forKey: .consecutiveFailedChecks)
    }
}

package enum Gates {
    static func hours(_ e: Evidence, _ now: Instant) -> Double { max(0, now.seconds(since: e.since)) / 3_600 }
    static func fmt(_ v: Double) -> String {
        guard v.isFinite && abs(v) < 1e15 else { return "\(v)" }
        let r = (v * 100).rounded() / 100
        return r == r.rounded() ? String(Int(r)) : String(r)
    }
    static func pct(_ v: Double) -> String { fmt(v * 100) + "%" }

    /// The checks for the step out of `evidence.mode` (shadow -> canary, canary -> live);
    /// empty for other modes.
    package static func checks(_ c: GateConfig, _ e: Evidence, now: Instant) -> [GateCheck] {
        switch e.mode {
        case .shadow: return shadowToCanary(c, e, now: now)
        case .canary: return canaryToLive(c, e, now: now)
        case .live, .halted: return []
        }
    }

    package static func shadowToCanary(_ c: GateConfig, _ e: Evidence, now: Instant) -> [GateCheck] {
        let h = hours(e, now)
        let vetoRate = e.candidateDecisions > 0 ? Double(e.candidateVetoes) / Double(e.candidateDecisions) : 0
        return [
            GateCheck(
                name: "shadow_hours", required: ">= \(fmt(c.shadowHoursMin))", measured: fmt(h),
                passed: h >= c.shadowHoursMin),
            GateCheck(
                name: "shadow_decisions", required: ">= \(c.shadowDecisionsMin)", measured: "\(e.candidateDecisions)",
                passed: e.candidateDecisions >= c.shadowDecisionsMin),
            GateCheck(
                name: "policy_errors", required: "0", measured: "\(e.candidatePolicyFaults)",
                passed: e.candidatePolicyFaults == 0),
            GateCheck(
                name: "veto_rate", required: "<= \(pct(c.shadowVetoRateMax))",
                measured: "\(pct(vetoRate)) (\(e.candidateVetoes)/\(e.candidateDecisions))",
                passed: e.candidateDecisions > 0 && vetoRate <= c.shadowVetoRateMax),
            GateCheck(
                name: "critical_anomalies", required: "0", measured: "\(e.criticalAnomalies)",
                passed: e.criticalAnomalies == 0),
        ]
    }

    package static func canaryToLive(_ c: GateConfig, _ e: Evidence, now: Instant) -> [GateCheck] {
        let h = hours(e, now)
        return [
            GateCheck(
                name: "canary_hours", required: ">= \(fmt(c.canaryHoursMin))", measured: fmt(h),
                passed: h >= c.canaryHoursMin)
        ]
            + health(c, e).map(\.check)
    }

    /// The canary checks that can fail while it runs (time in canary cannot): the basis
    /// of automatic rollback. `failing` is false while there is not yet enough data.
    package static func health(_ c: GateConfig, _ e: Evidence) -> [(check: GateCheck, failing: Bool)] {
        var out: [(GateCheck, Bool)] = []
        let enough = e.canaryHours >= c.cohortHoursMin && e.controlHours >= c.cohortHoursMin
        let samples = "(canary \(e.canaryHours) h, control \(e.controlHours) h)"
        if enough, let canary = e.canaryROAS, let control = e.controlROAS,
            let canaryBase = e.canaryBaselineRoas, let controlBase = e.controlBaselineRoas, canaryBase > 0,
            controlBase > 0
        {
            let canaryLift = canary / canaryBase, controlLift = control / controlBase
            let floor = controlLift * (1 - c.roasMarginMax)
            let ok = canaryLift >= floor
            out.append(
                (
                    GateCheck(
                        name: "roas_vs_control",
                        required:
                            "ROAS change >= x\(fmt(floor)) (control x\(fmt(controlLift)): \(fmt(controlBase)) -> "
                                + "\(fmt(control)), less \(pct(c.roasMarginMax)))",
                        measured: "x\(fmt(canaryLift)): \(fmt(canaryBase)) -> \(fmt(canary)) \(samples)", passed: ok),
                    !ok
                ))
        } else {
            out.append(
                (
                    GateCheck(
                        name: "roas_vs_control",
                        required: ">= control - \(pct(c.roasMarginMax)), \(c.cohortHoursMin) h per cohort",
                        measured: "not enough data \(samples)", passed: false), false
                ))
        }
        out.append(
            (
                GateCheck(
                    name: "canary_breaker_trips", required: "0", measured: "\(e.canaryBreakerTrips)",
                    passed: e.canaryBreakerTrips == 0), e.canaryBreakerTrips > 0
            ))
        if let p = e.pacingError {
            let ok = p <= c.pacingErrorMax
            // Judged once the cohort has had its hours: the candidate needs time to pace.
            let judged = e.canaryHours >= c.cohortHoursMin
            out.append(
                (
                    GateCheck(
                        name: "pacing_error", required: "<= \(pct(c.pacingErrorMax)) of the daily target",
                        measured: pct(p) + (judged ? "" : " (not judged before \(c.cohortHoursMin) canary hours)"),
                        passed: ok && judged), !ok && judged
                ))
        } else {
            out.append(
                (
                    GateCheck(
                        name: "pacing_error", required: "<= \(pct(c.pacingErrorMax))", measured: "no data",
                        passed: false), false
                ))
        }
        return out
    }
}
