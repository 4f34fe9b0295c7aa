package import AdPilotControl
package import AdPilotCore
import AdPilotJournal
package import AdPilotPlatforms
import AdPilotPolicy
import AdPilotSystem
import Foundation
import Synchronization

/// Promotion evidence: what the candidate has shown, and the automatic rollback it may call for.
extension Controller {
    /// A new mode or candidate starts a new body of evidence. Called under the control lock.
    /// Starts at the transition, not at `modeSince`: staging a new candidate in shadow keeps
    /// the mode (and its clock) but must not inherit the old candidate's shadow hours.
    func resetEvidence(for state: ControlState, at now: Instant) {
        evidence.with { e in
            if e.mode != state.mode || e.candidate != state.candidate {
                e = Evidence(mode: state.mode, candidate: state.candidate, since: now)
            }
        }
    }

    /// Folds one tick into the evidence; in canary, runs the health checks and rolls the
    /// canary back (actor `system`) after `failure_limit` consecutive failures, or at once
    /// when the candidate's policy faults.
    func updateEvidence(_ state: ControlState, _ decisions: [Decision], _ observed: Observer.Observed,
                                states: [CampaignControl], breakersBefore: [BreakerState], epoch: UInt64, log: Log) {
        let gates = config.gates
        var rollback: (reason: String, checks: [GateCheck])? = nil
        evidence.with { e in
            guard e.mode == state.mode, e.candidate == state.candidate else { return }
            var pacing: [Double] = []
            for d in decisions where d.input.slot == .candidate {
                e.candidateDecisions += 1
                if d.policyFault { e.candidatePolicyFaults += 1 }
                if d.action == .hold { e.candidateVetoes += 1 }
                // Off pace by how much of the day's target: early in the day both numbers are
                // small, and a ratio to the target-to-date would be noise.
                let daily = d.input.campaign.dailyTargetMicros
                if d.input.canaryControlled && daily > .zero {
                    pacing.append(abs(d.pacer.spendTodayMicros.statistic - d.pacer.targetSpendToDateMicros.statistic) / daily.statistic)
                }
            }
            if decisions.contains(where: \.haltRequested) { e.criticalAnomalies += 1 }
            guard state.mode == .canary else { return }
            // Each baseline is taken once, at the first tick that can: never again from hours
            // the candidate already shaped.
            func roas(_ inScope: Bool) -> Double? {
                let t = observed.campaigns.filter { $0.inCanaryScope == inScope }.map(\.observation.trailing)
                let spend = t.reduce(0.0) { $0 + $1.spendMicros.statistic }
                return spend > 0 ? t.reduce(0.0) { $0 + $1.conversionValueMicros.statistic } / spend : nil
            }
            if e.canaryBaselineRoas == nil && e.canaryHours == 0 { e.canaryBaselineRoas = roas(true) }
            if e.controlBaselineRoas == nil && e.controlHours == 0 { e.controlBaselineRoas = roas(false) }
            for (i, c) in observed.campaigns.enumerated() where i < observed.fresh.count {
                let f = observed.fresh[i]
                if c.inCanaryScope {
                    e.canaryHours += f.hours
                    e.canarySpendMicros = e.canarySpendMicros.addingReportingOverflow(f.spendMicros).partialValue
                    e.canaryValueMicros = e.canaryValueMicros.addingReportingOverflow(f.valueMicros).partialValue
                    if states[i].breaker.state == .open && breakersBefore[i] != .open { e.canaryBreakerTrips += 1 }
                } else {
                    e.controlHours += f.hours
                    e.controlSpendMicros = e.controlSpendMicros.addingReportingOverflow(f.spendMicros).partialValue
                    e.controlValueMicros = e.controlValueMicros.addingReportingOverflow(f.valueMicros).partialValue
                }
            }
            if !pacing.isEmpty { e.pacingError = pacing.reduce(0, +) / Double(pacing.count) }
            let health = Gates.health(gates, e)
            e.consecutiveFailedChecks = health.contains(where: \.failing) ? e.consecutiveFailedChecks + 1 : 0
            let checks = Gates.checks(gates, e, now: decisions.first?.input.now ?? clock.now())
            if let fault = decisions.first(where: { $0.input.slot == .candidate && $0.policyFault }) {
                rollback = ("the candidate's policy failed on \(fault.campaign): \(fault.layers.first?.detail ?? "no usable number")", checks)
            } else if e.consecutiveFailedChecks >= gates.failureLimit {
                let failing = health.filter(\.failing).map(\.check.name).joined(separator: ", ")
                rollback = ("canary analysis failed \(e.consecutiveFailedChecks) consecutive times (\(failing))", checks)
            }
        }
        if let r = rollback {
            do {
                if case .failure(let refusal) = try transition(.rollback, actor: .system, reason: r.reason, log: log, gates: r.checks,
                                                               unless: staleSince(epoch)) {
                    log.warning("automatic rollback not applied (\(refusal.message)): \(r.reason)")
                }
            } catch {
                log.critical("automatic rollback could not be journaled: \(error); halting (fail closed)")
                _ = halt(actor: .system, reason: "the journal cannot be written: \(error)", log: log)
            }
        }
    }

    /// The gate checks for the next promotion from the current mode, as of now.
    package func currentGates() -> [GateCheck] {
        Gates.checks(statusView.current.gateConfig, evidence.current, now: clock.now())
    }
}
