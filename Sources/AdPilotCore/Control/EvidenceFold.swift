/// One campaign's part of a tick, as the canary's cohort comparison sees it.
package struct CohortSample: Hashable, Sendable {
    package var inCanaryScope: Bool
    /// The campaign's trailing window (for the cohort's baseline ROAS).
    package var trailing: TrailingStats
    /// Newly completed hours this tick: their count, spend and conversion value.
    package var freshHours: Int
    package var freshSpendMicros: Int64
    package var freshValueMicros: Int64
    /// The campaign's breaker opened during this tick.
    package var breakerOpened: Bool

    package init(inCanaryScope: Bool, trailing: TrailingStats, freshHours: Int, freshSpendMicros: Int64,
                 freshValueMicros: Int64, breakerOpened: Bool) {
        self.inCanaryScope = inCanaryScope
        self.trailing = trailing
        self.freshHours = freshHours
        self.freshSpendMicros = freshSpendMicros
        self.freshValueMicros = freshValueMicros
        self.breakerOpened = breakerOpened
    }
}

/// Folds one tick into the candidate's evidence (the promotion gates' input) and, in
/// canary, decides whether canary analysis calls for an automatic rollback: at once when
/// the candidate's policy faults, or after `failure_limit` consecutive failed health checks.
package enum EvidenceFold {
    package struct Rollback: Hashable, Sendable {
        package var reason: String
        /// The gate checks as measured, journaled with the rollback.
        package var checks: [GateCheck]
    }

    /// `e` is left alone when it belongs to another mode or candidate than `state`.
    package static func fold(_ e: inout Evidence, state: ControlState, decisions: [Decision], cohorts: [CohortSample],
                             gates: GateConfig, now: Instant) -> Rollback? {
        guard e.mode == state.mode, e.candidate == state.candidate else { return nil }
        let pacingError = countCandidate(&e, decisions)
        guard state.mode == .canary else { return nil }
        foldCohorts(&e, cohorts)
        if let pacingError { e.pacingError = pacingError }
        let health = Gates.health(gates, e)
        e.consecutiveFailedChecks = health.contains(where: \.failing) ? e.consecutiveFailedChecks + 1 : 0
        let checks = Gates.checks(gates, e, now: now)
        if let fault = decisions.first(where: { $0.input.slot == .candidate && $0.policyFault }) {
            let detail = fault.layers.first?.detail ?? "no usable number"
            return Rollback(reason: "the candidate's policy failed on \(fault.campaign): \(detail)", checks: checks)
        }
        guard e.consecutiveFailedChecks >= gates.failureLimit else { return nil }
        let failing = health.filter(\.failing).map(\.check.name).joined(separator: ", ")
        return Rollback(reason: "canary analysis failed \(e.consecutiveFailedChecks) consecutive times (\(failing))",
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

    /// Each cohort's baseline (taken once, at the first tick that can: never again from
    /// hours the candidate already shaped), then its fresh hours, spend and value.
    static func foldCohorts(_ e: inout Evidence, _ cohorts: [CohortSample]) {
        func roas(_ inScope: Bool) -> Double? {
            let t = cohorts.filter { $0.inCanaryScope == inScope }.map(\.trailing)
            let spend = t.reduce(0.0) { $0 + $1.spendMicros.statistic }
            return spend > 0 ? t.reduce(0.0) { $0 + $1.conversionValueMicros.statistic } / spend : nil
        }
        if e.canaryBaselineRoas == nil && e.canaryHours == 0 { e.canaryBaselineRoas = roas(true) }
        if e.controlBaselineRoas == nil && e.controlHours == 0 { e.controlBaselineRoas = roas(false) }
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
}
