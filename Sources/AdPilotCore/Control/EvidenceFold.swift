/// One campaign's part of a tick, as the canary's cohort comparison sees it.
package struct CohortSample: Hashable, Sendable {
    package var inCanaryScope: Bool
    /// Newly completed hours this tick: their count, spend and conversion value.
    package var freshHours: Int
    package var freshSpendMicros: Int64
    package var freshValueMicros: Int64
    /// The campaign's breaker opened during this tick.
    package var breakerOpened: Bool

    package init(inCanaryScope: Bool, freshHours: Int, freshSpendMicros: Int64, freshValueMicros: Int64,
                 breakerOpened: Bool) {
        self.inCanaryScope = inCanaryScope
        self.freshHours = freshHours
        self.freshSpendMicros = freshSpendMicros
        self.freshValueMicros = freshValueMicros
        self.breakerOpened = breakerOpened
    }
}

/// One settled hour during the canary: each cohort's profit (conversion value - spend)
/// summed over its campaigns, in micros.
package struct PairedHour: Hashable, Sendable {
    /// Hours since the epoch, and the account's local hour of day.
    package var hour: Int64
    package var hourOfDay: Int
    package var canaryProfitMicros: Double
    package var controlProfitMicros: Double

    package init(hour: Int64, hourOfDay: Int, canaryProfitMicros: Double, controlProfitMicros: Double) {
        self.hour = hour
        self.hourOfDay = hourOfDay
        self.canaryProfitMicros = canaryProfitMicros
        self.controlProfitMicros = controlProfitMicros
    }
}

/// Folds one tick into the candidate's evidence (the promotion gates' input) and, in
/// canary, decides whether canary analysis calls for an automatic rollback: at once when
/// the candidate's policy faults, or after `failure_limit` consecutive ticks whose health
/// checks call for one (`Gates.health`: confident harm, a breaker trip).
package enum EvidenceFold {
    package struct Rollback: Hashable, Sendable {
        package var reason: String
        /// The gate checks as measured, journaled with the rollback.
        package var checks: [GateCheck]
    }

    /// `e` is left alone when it belongs to another mode or candidate than `state`.
    /// `baselines`: each cohort's, taken when the evidence has none yet (the first canary
    /// tick). `settled`: hours that settled since the last fold (any order; hours already
    /// folded or begun before the canary are skipped).
    package static func fold(
        _ e: inout Evidence, state: ControlState, decisions: [Decision], cohorts: [CohortSample],
        baselines: (canary: CohortBaseline?, control: CohortBaseline?) = (nil, nil), settled: [PairedHour] = [],
        gates: GateConfig, now: Instant
    ) -> Rollback? {
        guard e.mode == state.mode, e.candidate == state.candidate else { return nil }
        let pacingError = countCandidate(&e, decisions)
        guard state.mode == .canary else { return nil }
        if e.canaryBaseline == nil { e.canaryBaseline = baselines.canary }
        if e.controlBaseline == nil { e.controlBaseline = baselines.control }
        foldCohorts(&e, cohorts)
        foldPairedHours(&e, settled)
        if let pacingError { e.pacingError = pacingError }
        let health = Gates.health(gates, e)
        e.consecutiveFailedChecks = health.contains(where: \.failing) ? e.consecutiveFailedChecks + 1 : 0
        let checks = Gates.checks(gates, e, now: now)
        if let fault = decisions.first(where: { $0.input.slot == .candidate && $0.policyFault }) {
            let detail = fault.layers.first?.detail ?? "no usable number"
            return Rollback(reason: "the candidate's policy failed on \(fault.campaign): \(detail)", checks: checks)
        }
        guard e.consecutiveFailedChecks >= gates.failureLimit else { return nil }
        let failing = health.filter(\.failing).map { "\($0.check.name): \($0.check.measured)" }
        return Rollback(
            reason: "canary analysis failed \(e.consecutiveFailedChecks) consecutive times ("
                + failing.joined(separator: "; ") + ")",
            checks: checks)
    }

    /// Counts the candidate's decisions, faults and vetoes and the critical anomalies;
    /// returns the mean pacing error of the campaigns it controls, if any.
    static func countCandidate(_ e: inout Evidence, _ decisions: [Decision]) -> Double? {
        var pacing: [Double] = []
        for d in decisions where d.input.slot == .candidate {
            e.candidateDecisions += 1
            if d.policyFault { e.candidatePolicyFaults += 1 }
            if d.action == .hold { e.candidateVetoes += 1 }
            // Off pace by how much of the day's target: early in the day both numbers are
            // small, and a ratio to the target-to-date would be noise.
            let daily = d.input.campaign.dailyTargetMicros
            if d.input.canaryControlled && daily > .zero {
                let off = d.pacer.spendTodayMicros.statistic - d.pacer.targetSpendToDateMicros.statistic
                pacing.append(abs(off) / daily.statistic)
            }
        }
        if decisions.contains(where: \.quarantined) { e.criticalAnomalies += 1 }
        return pacing.isEmpty ? nil : pacing.reduce(0, +) / Double(pacing.count)
    }

    /// Each cohort's fresh hours, spend and value, and the canary's breaker trips.
    static func foldCohorts(_ e: inout Evidence, _ cohorts: [CohortSample]) {
        for c in cohorts {
            if c.inCanaryScope {
                e.canaryHours += c.freshHours
                e.canarySpendMicros = e.canarySpendMicros.addingReportingOverflow(c.freshSpendMicros).partialValue
                e.canaryValueMicros = e.canaryValueMicros.addingReportingOverflow(c.freshValueMicros).partialValue
                if c.breakerOpened { e.canaryBreakerTrips += 1 }
            } else {
                e.controlHours += c.freshHours
                e.controlSpendMicros = e.controlSpendMicros.addingReportingOverflow(c.freshSpendMicros).partialValue
                e.controlValueMicros = e.controlValueMicros.addingReportingOverflow(c.freshValueMicros).partialValue
            }
        }
    }

    /// The first hour wholly under the canary (hours since the epoch).
    package static func firstCanaryHour(_ e: Evidence) -> Int64 {
        let hour = Instant.secondsPerHour * Instant.microsPerSecond
        return (e.since.microsSinceEpoch + hour - 1).floorDiv(hour)
    }

    /// Each new settled hour wholly under the canary, as an observation of the difference
    /// in differences: (canary profit - its baseline for the hour of day) / its baseline
    /// profit per hour, less the same for control: relative changes, so a market-wide swing
    /// moves both alike whatever each cohort's margin. Both baselines must be profitable;
    /// hours before or already folded are skipped.
    static func foldPairedHours(_ e: inout Evidence, _ settled: [PairedHour]) {
        guard let b = e.canaryBaseline, let k = e.controlBaseline, let bp = b.profitPerHourMicros,
            let kp = k.profitPerHourMicros, bp > 0, kp > 0
        else { return }
        let first = max(firstCanaryHour(e), (e.lastPairedHour ?? .min) &+ 1)
        for h in settled.sorted(by: { $0.hour < $1.hour }) where h.hour >= first {
            guard h.hour > (e.lastPairedHour ?? .min) else { continue }
            let canary = (h.canaryProfitMicros - b.profitByHourOfDayMicros[h.hourOfDay]) / bp
            let control = (h.controlProfitMicros - k.profitByHourOfDayMicros[h.hourOfDay]) / kp
            e.profitDifference.add(canary - control)
            e.lastPairedHour = h.hour
        }
    }
}
