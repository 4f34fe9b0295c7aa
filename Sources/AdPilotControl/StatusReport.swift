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
        package var currency: Currency
        package var budgetMicros: Micros
        package var spendTodayMicros: Micros
        package var dataAgeSeconds: Int64
        package var breaker: BreakerState
        package var anomaly: String
        package var inCanaryScope: Bool
        /// "controlled", or "not controlled: " and why (observed and counted in the account
        /// cap, never written).
        package var control: String
        package var lastDecision: LastDecision?
        /// Expected spend in each local hour (0-23) per unit of daily budget, as the pacer
        /// last planned with it (learned, or the configured profile), and the fewest days of
        /// the campaign's own history behind any hour (0: the account's or the prior).
        package var deliveryProfile: [Double]?
        package var profileDays: Int
    }

    /// A campaign held by its own anomaly (critical level) until the detector clears it or
    /// an operator runs `adpilotctl release`.
    package struct Quarantine: Codable, Sendable, Equatable {
        package var campaign: CampaignID
        package var since: Instant
        /// The checks that found it (`delivery.spend`, `rate.ctr`, ...).
        package var checks: [String]

        package init(campaign: CampaignID, since: Instant, checks: [String]) {
            self.campaign = campaign
            self.since = since
            self.checks = checks
        }
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
    package var quarantined: [Quarantine]
    package var campaigns: [Campaign]

    package init(
        state: ControlState, haltFlag: Bool, haltInForce: Bool, configDigest: String, policyDigests: [PolicyID: String],
        view: StatusView, now: Instant, gates: [GateCheck], evidence: Evidence
    ) {
        self.gates = gates
        self.evidence = evidence
        canaryScope = view.inCanary.sorted()
        quarantined = view.quarantined.values.sorted { $0.campaign < $1.campaign }
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
                id: o.campaign, currency: o.currency, budgetMicros: o.currentBudgetMicros,
                spendTodayMicros: o.spendTodayMicros,
                dataAgeSeconds: o.dataAgeSeconds, breaker: view.campaignBreaker[o.campaign] ?? .closed,
                anomaly: view.anomaly[o.campaign] ?? "ok", inCanaryScope: view.inCanary.contains(o.campaign),
                control: view.notControllable[o.campaign].map { "not controlled: " + $0 }
                    ?? view.quarantined[o.campaign].map { "quarantined: " + $0.checks.joined(separator: ", ") }
                    ?? "controlled",
                lastDecision: view.lastDecisions[o.campaign],
                deliveryProfile: view.delivery[o.campaign]?.rates, profileDays: view.delivery[o.campaign]?.ownDays ?? 0)
        }
    }
}

// `status --json` writes every key, `null` when empty (scripts test for keys, not for
// their absence). Swift's synthesized encoders leave out nil optionals, so these encode
// each key explicitly; `StatusJSONTests` checks that an empty and a full report carry the
// same keys.

extension StatusReport {
    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(version, forKey: .version)
        try c.encode(now, forKey: .now)
        try c.encode(mode, forKey: .mode)
        try c.encode(modeSince, forKey: .modeSince)
        try c.encode(live, forKey: .live)
        try c.encode(candidate, forKey: .candidate)
        try c.encode(previous, forKey: .previous)
        try c.encode(policyDigests, forKey: .policyDigests)
        try c.encode(overrides, forKey: .overrides)
        try c.encode(haltFlag, forKey: .haltFlag)
        try c.encode(haltInForce, forKey: .haltInForce)
        try c.encode(journalHeadSeq, forKey: .journalHeadSeq)
        try c.encode(configDigest, forKey: .configDigest)
        try c.encode(platform, forKey: .platform)
        try c.encode(ticks, forKey: .ticks)
        try c.encode(lastTick, forKey: .lastTick)
        try c.encode(breakers, forKey: .breakers)
        try c.encode(decisionsTotal, forKey: .decisionsTotal)
        try c.encode(appliesTotal, forKey: .appliesTotal)
        try c.encode(gates, forKey: .gates)
        try c.encode(evidence, forKey: .evidence)
        try c.encode(canaryScope, forKey: .canaryScope)
        try c.encode(quarantined, forKey: .quarantined)
        try c.encode(campaigns, forKey: .campaigns)
    }
}

extension StatusReport.Campaign {
    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(currency, forKey: .currency)
        try c.encode(budgetMicros, forKey: .budgetMicros)
        try c.encode(spendTodayMicros, forKey: .spendTodayMicros)
        try c.encode(dataAgeSeconds, forKey: .dataAgeSeconds)
        try c.encode(breaker, forKey: .breaker)
        try c.encode(anomaly, forKey: .anomaly)
        try c.encode(inCanaryScope, forKey: .inCanaryScope)
        try c.encode(control, forKey: .control)
        try c.encode(lastDecision, forKey: .lastDecision)
        try c.encode(deliveryProfile, forKey: .deliveryProfile)
        try c.encode(profileDays, forKey: .profileDays)
    }
}

extension LastDecision {
    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(seq, forKey: .seq)
        try c.encode(at, forKey: .at)
        try c.encode(slot, forKey: .slot)
        try c.encode(policy, forKey: .policy)
        try c.encode(action, forKey: .action)
        try c.encode(reason, forKey: .reason)
        try c.encode(budgetAfterMicros, forKey: .budgetAfterMicros)
    }
}
