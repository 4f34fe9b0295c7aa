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
}

/// What the tick thread leaves for `status` (read under a lock by the socket threads).
struct StatusView: Sendable {
    var platform: String
    var lastTick: TickReport? = nil
    var ticks: UInt64 = 0
    var headSeq: UInt64 = 0
    var platformBreaker: BreakerState = .closed
    var campaignBreaker: [CampaignID: BreakerState] = [:]
    var anomaly: [CampaignID: String] = [:]
    var observations: [Observation] = []
    var inCanary: Set<CampaignID> = []
    var lastDecisions: [CampaignID: LastDecision] = [:]
    var totals = Controller.Totals()
    var configDigest: String
    var policyDigests: [PolicyID: String] = [:]
    var gateConfig: GateConfig
    var policyDirs: [String]

    init(platform: String, configDigest: String, gateConfig: GateConfig, policyDirs: [String]) {
        self.platform = platform
        self.configDigest = configDigest
        self.gateConfig = gateConfig
        self.policyDirs = policyDirs
    }
}

/// `adpilotctl status --json` (SPEC §8): mode, slots, halt flag, journal head, breakers,
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

    init(state: ControlState, haltFlag: Bool, haltInForce: Bool, configDigest: String, policyDigests: [PolicyID: String],
         view: StatusView, now: Instant, gates: [GateCheck], evidence: Evidence) {
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
        self.policyDigests = Dictionary(policyDigests.map { ($0.key.description, $0.value) }, uniquingKeysWith: { a, _ in a })
        overrides = state.overrides
        self.haltFlag = haltFlag
        self.haltInForce = haltInForce
        journalHeadSeq = view.headSeq
        self.configDigest = configDigest
        platform = view.platform
        ticks = view.ticks
        lastTick = view.lastTick
        breakers = Breakers(platform: view.platformBreaker,
                            campaigns: Dictionary(grouping: view.campaignBreaker.values, by: \.rawValue).mapValues(\.count))
        decisionsTotal = view.totals.decisions
        appliesTotal = view.totals.applies
        campaigns = view.observations.map { o in
            Campaign(id: o.campaign, budgetMicros: o.currentBudgetMicros, spendTodayMicros: o.spendTodayMicros,
                     dataAgeSeconds: o.dataAgeSeconds, breaker: view.campaignBreaker[o.campaign] ?? .closed,
                     anomaly: view.anomaly[o.campaign] ?? "ok", inCanaryScope: view.inCanary.contains(o.campaign),
                     lastDecision: view.lastDecisions[o.campaign])
        }
    }
}
