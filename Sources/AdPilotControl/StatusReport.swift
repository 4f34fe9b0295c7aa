package import AdPilotCore
import Foundation

/// The newest decision for one campaign, as status shows it.
package struct LastDecision: Codable, Sendable {
    package var seq: UInt64
    package var at: Instant
    package var slot: Slot
    package var policy: PolicyID
    package var action: Action
    package var reason: ReasonCode?
    package var budgetAfterMicros: Micros

    package init(
        seq: UInt64, at: Instant, slot: Slot, policy: PolicyID, action: Action, reason: ReasonCode?,
        budgetAfterMicros: Micros
    ) {
        self.seq = seq
        self.at = at
        self.slot = slot
        self.policy = policy
        self.action = action
        self.reason = reason
        self.budgetAfterMicros = budgetAfterMicros
    }
}

/// `adpilotctl status --json` (docs/operations.md): mode, slots, halt flag, journal head, breakers,
/// and per campaign the budget, spend today and last decision.
package struct StatusReport: Codable, Sendable {
    package struct Breakers: Codable, Sendable {
        package var platform: BreakerState
        /// Campaign breakers by state (closed, open, half_open, ...).
        package var campaigns: [String: Int]
    }

    package struct Campaign: Codable, Sendable {
        package var id: CampaignID
        package var budgetMicros: Micros
        package var spendTodayMicros: Micros
        package var dataAgeSeconds: Int64
        package var breaker: BreakerState
        package var anomaly: String
        package var inCanaryScope: Bool
        package var lastDecision: LastDecision?
    }

    package var version: String
    package var now: Instant
    package var mode: Mode
    package var modeSince: Instant
    package var live: PolicyID?
    package var candidate: PolicyID?
    package var previous: PolicyID?
    package var policyDigests: [String: String]
    package var overrides: [GateOverride]
    package var haltFlag: Bool
    /// Halted in memory or by flag: no platform write will start.
    package var haltInForce: Bool
    package var journalHeadSeq: UInt64
    package var configDigest: String
    package var platform: String
    package var ticks: UInt64
    package var lastTick: TickReport?
    package var breakers: Breakers
    package var decisionsTotal: UInt64
    package var appliesTotal: UInt64
    /// The checks for the next promotion from this mode, as of now (empty in live and halted).
    package var gates: [GateCheck]
    /// What the candidate has shown in this mode: the gates' input.
    package var evidence: Evidence
    /// Campaigns a canary candidate controls (in canary), or would (in shadow).
    package var canaryScope: [CampaignID]
    package var campaigns: [Campaign]

    package init(
        state: ControlState, haltFlag: Bool, haltInForce: Bool, configDigest: String, policyDigests: [PolicyID: String],
        view: StatusView, now: Instant, gates: [GateCheck], evidence: Evidence
    ) {
        self.gates = gates
        self.evidence = evidence
        canaryScope = view.inCanary.sorted()
        version = AdPilotVersion.string
        self.now = now
        mode = state.mode
        modeSince = state.modeSince
        live = state.live
        candidate = state.candidate
        previous = state.previous
        self.policyDigests = Dictionary(
            policyDigests.map { ($0.key.description, $0.value) }, uniquingKeysWith: { a, _ in a })
        overrides = state.overrides
        self.haltFlag = haltFlag
        self.haltInForce = haltInForce
        journalHeadSeq = view.headSeq
        self.configDigest = configDigest
        platform = view.platform
        ticks = view.ticks
        lastTick = view.lastTick
        breakers = Breakers(
            platform: view.platformBreaker,
            campaigns: Dictionary(grouping: view.campaignBreaker.values, by: \.rawValue).mapValues(\.count))
        decisionsTotal = view.totals.decisions
        appliesTotal = view.totals.applies
        campaigns = view.observations.map { o in
            Campaign(
                id: o.campaign, budgetMicros: o.currentBudgetMicros, spendTodayMicros: o.spendTodayMicros,
                dataAgeSeconds: o.dataAgeSeconds, breaker: view.campaignBreaker[o.campaign] ?? .closed,
                anomaly: view.anomaly[o.campaign] ?? "ok", inCanaryScope: view.inCanary.contains(o.campaign),
                lastDecision: view.lastDecisions[o.campaign])
        }
    }
}
