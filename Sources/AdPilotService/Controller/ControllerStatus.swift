package import AdPilotControl
import AdPilotCore
import AdPilotJournal
import AdPilotPlatforms
import AdPilotPolicy
import AdPilotSystem
import Foundation
import Synchronization

/// What `status` and the metrics report.
extension Controller {
    func updateLastDecisions(_ decisions: [Decision], refs: [RecordRef], observed: Observer.Observed) {
        statusView.with { v in
            for (d, ref) in zip(decisions, refs)
            where d.input.mayWrite || v.lastDecisions[d.campaign] == nil || d.input.slot == .candidate {
                v.lastDecisions[d.campaign] = LastDecision(
                    seq: ref.seq, at: d.input.now, slot: d.input.slot, policy: d.input.policy,
                    action: d.action, reason: d.reason, budgetAfterMicros: d.finalBudgetMicros)
            }
            for d in decisions where d.input.mayWrite || v.delivery[d.campaign] == nil {
                let own = memory[d.campaign]?.control.learned.days.min() ?? 0
                v.delivery[d.campaign] = (d.input.delivery.rates, d.input.pacerConfig.profileMode == .learned ? own : 0)
            }
            v.observations = observed.campaigns.map(\.observation)
            v.notControllable = Dictionary(
                observed.campaigns.compactMap { c in c.notControllable.map { (c.config.id, $0) } },
                uniquingKeysWith: { a, _ in a })
            v.inCanary = Set(observed.campaigns.filter(\.inCanaryScope).map(\.config.id))
        }
    }

    func refreshStatus(report: TickReport?) {
        let head = journal.head.seq
        let totals = self.totals
        let platformState = platformBreaker.state
        let ticks = tickCount
        let pendingReleases = releases.current
        statusView.with { v in
            if let report { v.lastTick = report }
            v.platformBreaker = platformState
            v.headSeq = head
            v.totals = totals
            v.ticks = ticks
            v.quarantined = [:]
            for (id, m) in memory {
                v.campaignBreaker[id] = m.control.breaker.state; v.anomaly[id] = m.control.anomaly.assessment.level.name
                if let since = m.control.quarantinedSince, !pendingReleases.contains(id) {
                    // The latest hour's findings; a quiet hour inside the clearing window has none.
                    let found = m.control.anomaly.assessment.findings.map(\.check)
                    let checks = found.isEmpty ? ["none in the latest hour (clearing)"] : found
                    v.quarantined[id] = StatusReport.Quarantine(campaign: id, since: since, checks: checks)
                }
            }
        }
    }

    /// The status a `status` request returns.
    package func status() -> StatusReport {
        let state = control.current
        let view = statusView.current
        let halt = stateDir.isHalted
        let now = clock.now()
        let e = evidence.current
        return StatusReport(
            state: state, haltFlag: halt, haltInForce: halt || isHaltInForce, configDigest: view.configDigest,
            policyDigests: view.policyDigests, view: view, now: now,
            gates: Gates.checks(view.gateConfig, e, now: now), evidence: e)
    }

    /// Prometheus text exposition of the current status.
    package func metricsText() -> String {
        let context = Metrics.Context(
            journalWritable: !journal.isPoisoned, accountCapMicros: config.account.dailyCapMicros,
            tickIntervalSeconds: Double(config.tickSeconds) / config.clock.speed,
            renderedAt: Double(SystemClock().now().microsSinceEpoch) / 1e6)
        return Metrics.render(status(), totals: statusView.current.totals, context)
    }
}
