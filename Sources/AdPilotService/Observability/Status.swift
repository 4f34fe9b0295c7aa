public import AdPilotCore
import Foundation

/// The newest decision for one campaign, as status shows it.
public struct LastDecision: Codable, Sendable {
    public var seq: UInt64
    public var at: Instant
    public var slot: Slot
    public var policy: PolicyID
    public var action: Action
    public var reason: ReasonCode?
    public var budgetAfterMicros: Micros
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
public struct StatusReport: Codable, Sendable {
    public struct Breakers: Codable, Sendable {
        public var platform: BreakerState
        /// Campaign breakers by state (closed, open, half_open, ...).
        public var campaigns: [String: Int]
    }

    public struct Campaign: Codable, Sendable {
        public var id: CampaignID
        public var budgetMicros: Micros
        public var spendTodayMicros: Micros
        public var dataAgeSeconds: Int64
        public var breaker: BreakerState
        public var anomaly: String
        public var inCanaryScope: Bool
        public var lastDecision: LastDecision?
    }

    public var version: String
    public var now: Instant
    public var mode: Mode
    public var modeSince: Instant
    public var live: PolicyID?
    public var candidate: PolicyID?
    public var previous: PolicyID?
    public var policyDigests: [String: String]
    public var overrides: [GateOverride]
    public var haltFlag: Bool
    /// Halted in memory or by flag: no platform write will start.
    public var haltInForce: Bool
    public var journalHeadSeq: UInt64
    public var configDigest: String
    public var platform: String
    public var ticks: UInt64
    public var lastTick: TickReport?
    public var breakers: Breakers
    public var decisionsTotal: UInt64
    public var appliesTotal: UInt64
    /// The checks for the next promotion from this mode, as of now (empty in live and halted).
    public var gates: [GateCheck]
    /// What the candidate has shown in this mode: the gates' input.
    public var evidence: Evidence
    /// Campaigns a canary candidate controls (in canary), or would (in shadow).
    public var canaryScope: [CampaignID]
    public var campaigns: [Campaign]

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
