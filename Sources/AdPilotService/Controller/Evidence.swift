import AdPilotControl
package import AdPilotCore
import AdPilotJournal
import AdPilotPlatforms
import AdPilotPolicy
import AdPilotSystem
import Foundation
import Synchronization

/// Promotion evidence: what the candidate has shown, and the automatic rollback it may call for.
extension Controller {
    /// A new mode or candidate starts a new body of evidence. Called under the control lock.
    /// Starts at the transition, not at `modeSince`: staging a new candidate in shadow keeps
    /// the mode (and its clock) but must not inherit the old candidate's shadow hours.
    func resetEvidence(for state: ControlState, at now: Instant, seq: UInt64) {
        evidence.with { e in
            if e.mode != state.mode || e.candidate != state.candidate {
                e = Evidence(mode: state.mode, candidate: state.candidate, since: now)
                e.sinceSeq = seq
            }
        }
    }

    /// Folds one tick into the evidence (`EvidenceFold`) and carries out the automatic
    /// rollback it calls for (actor `system`), unless the control state moved since `epoch`.
    func updateEvidence(
        _ state: ControlState, _ decisions: [Decision], _ observed: Observer.Observed,
        states: [CampaignControl], breakersBefore: [BreakerState], epoch: UInt64, log: Log
    ) {
        let cohorts = observed.campaigns.indices.filter { $0 < observed.fresh.count }.map { i in
            CohortSample(
                inCanaryScope: observed.campaigns[i].inCanaryScope,
                freshHours: observed.fresh[i].hours, freshSpendMicros: observed.fresh[i].spendMicros,
                freshValueMicros: observed.fresh[i].valueMicros,
                breakerOpened: states[i].breaker.state == .open && breakersBefore[i] != .open)
        }
        let now = decisions.first?.input.now ?? clock.now()
        let gates = config.gates
        let settled = settledPairedHours(observed, now: now)
        let baselines = cohortBaselines(observed)
        let value = currentValueEvidence(state)
        guard
            let rollback = evidence.with({ e in
                if e.mode == state.mode && e.candidate == state.candidate { e.value = value }
                return EvidenceFold.fold(
                    &e, state: state, decisions: decisions, cohorts: cohorts, baselines: baselines, settled: settled,
                    gates: gates, now: now)
            })
        else { return }
        do {
            if case .failure(let refusal) = try transition(
                .rollback, actor: .system, reason: rollback.reason, log: log,
                gates: rollback.checks, unless: staleSince(epoch))
            {
                log.warning("automatic rollback not applied (\(refusal.message)): \(rollback.reason)")
            }
        } catch {
            log.critical("automatic rollback could not be journaled: \(error); halting (fail closed)")
            _ = halt(actor: .system, reason: "the journal cannot be written: \(error)", log: log)
        }
    }

    /// The gate checks for the next promotion from the current mode, as of now.
    package func currentGates() -> [GateCheck] {
        Gates.checks(statusView.current.gateConfig, evidence.current, now: clock.now())
    }
}
