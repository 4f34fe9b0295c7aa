package import AdPilotCore

/// A decision as journaled: everything to explain and replay it but the configuration,
/// cited by digest, and what deciding its inputs again gives exactly (each layer's amounts
/// when it approved, the pacer's loop terms). `journal show`, recovery, evidence, backtest
/// and the replay test read decisions through it; it reads both formats
/// (docs/journal-format.md#decision-records).
package struct DecisionRecord: Codable, Sendable {
    /// The decision format this version writes.
    package static let currentFormat = 2

    /// 2 for the records this version writes; absent in format 1, whose `layers` held every
    /// layer and whose `pacer` the pacer's whole report.
    package let format: Int?
    /// The controller's clock when deciding (the record's `time` is the wall clock).
    package let at: Instant
    package let campaign: CampaignID
    package let tick: UInt64
    package let mode: Mode
    package let slot: Slot
    package let policy: PolicyID
    package let policyDigest: String
    package let configDigest: String
    package let action: Action
    package let reason: ReasonCode?
    package let budgetBeforeMicros: Micros
    package let budgetAfterMicros: Micros
    package let inCanaryScope: Bool
    package let haltFlag: Bool
    package let observation: Observation
    package let proposal: Proposal
    package let pacer: PacerSummary
    /// In pipeline order: the layers that adjusted or vetoed, or approved with a detail (all
    /// of them in format 1). A layer left out approved and passed its amount on unchanged,
    /// or, after a veto, was skipped (`verdicts`).
    package let layers: [LayerVerdict]
    package var controller: ControllerInput
    package let policyFault: Bool
    /// The campaign's anomaly level was critical: it is quarantined and held.
    package let quarantined: Bool?
    /// Records written before quarantine existed: a critical anomaly asked for an account halt.
    package let haltRequested: Bool?
    /// How the writing policy's proposal (`proposal`) was explored; absent when it was not.
    package let exploration: Exploration?

    /// The controller state the decision started from.
    package struct ControllerInput: Codable, Sendable {
        package let pacer: PacerState
        package let lastChangeAt: Instant?
        package let platformBreaker: BreakerState
        package let platformBreakerPermits: Bool
        package let campaignBreaker: BreakerState
        package let campaignBreakerPermits: Bool
        package let anomaly: AnomalyAssessment
        package let accountOthersMicros: Micros
        package let canaryOthersMicros: Micros
        /// The delivery profile the pacer planned with; absent in records written before it
        /// existed (they planned with the configured profile), and when `deliveryAsOf` says
        /// where it is.
        package var delivery: DeliveryProfile?
        /// Format 2: the profile is the one in the decision of this campaign and slot at this
        /// instant, the last earlier one that carries a profile (`DeliveryResolver`).
        package var deliveryAsOf: Instant?
    }

    package init(
        _ d: Decision, tick: UInt64, policyDigest: String, configDigest: String, exploration: Exploration? = nil,
        deliveryAsOf: Instant? = nil
    ) {
        let i = d.input
        at = i.now
        campaign = d.campaign
        self.tick = tick
        mode = i.mode
        slot = i.slot
        policy = i.policy
        self.policyDigest = policyDigest
        self.configDigest = configDigest
        action = d.action
        reason = d.reason
        budgetBeforeMicros = d.currentBudgetMicros
        budgetAfterMicros = d.finalBudgetMicros
        inCanaryScope = i.inCanaryScope
        haltFlag = i.haltFlag
        observation = i.observation
        proposal = d.proposal
        format = Self.currentFormat
        pacer = PacerSummary(d.pacer)
        layers = Self.journaled(d.layers)
        controller = ControllerInput(
            pacer: i.pacer, lastChangeAt: i.lastChangeAt, platformBreaker: i.platformBreaker,
            platformBreakerPermits: i.platformBreakerPermits, campaignBreaker: i.campaignBreaker,
            campaignBreakerPermits: i.campaignBreakerPermits, anomaly: i.anomaly,
            accountOthersMicros: i.accountOthersMicros, canaryOthersMicros: i.canaryOthersMicros,
            delivery: deliveryAsOf == nil ? i.delivery : nil, deliveryAsOf: deliveryAsOf)
        policyFault = d.policyFault
        quarantined = d.quarantined
        haltRequested = nil
        self.exploration = exploration
    }

    /// The pipeline's input as it was, given the campaign's, account's and pacer's settings
    /// from the configuration this record cites (`config_digest`). Deciding it again with
    /// `proposal` gives this decision exactly. A record citing its delivery profile elsewhere
    /// (`deliveryAsOf`) must have it filled in first (`DeliveryResolver`).
    package func replayInput(
        campaign: CampaignConfig, account: AccountLimits, pacerConfig: PacerConfig
    ) -> DecisionInput {
        precondition(
            controller.deliveryAsOf == nil || controller.delivery != nil,
            "a cited delivery profile not filled in: pass the record through DeliveryResolver.resolve first")
        return DecisionInput(
            campaign: campaign, account: account, pacerConfig: pacerConfig, observation: observation, now: at,
            mode: mode, slot: slot, policy: policy, inCanaryScope: inCanaryScope, haltFlag: haltFlag,
            pacer: controller.pacer, lastChangeAt: controller.lastChangeAt, platformBreaker: controller.platformBreaker,
            platformBreakerPermits: controller.platformBreakerPermits, campaignBreaker: controller.campaignBreaker,
            campaignBreakerPermits: controller.campaignBreakerPermits, anomaly: controller.anomaly,
            accountOthersMicros: controller.accountOthersMicros, canaryOthersMicros: controller.canaryOthersMicros,
            delivery: controller.delivery)
    }

    /// The verdicts a format-2 record lists: every one but a plain approval or a skip.
    package static func journaled(_ layers: [LayerVerdict]) -> [LayerVerdict] {
        layers.filter { ($0.verdict != .approve && $0.verdict != .skipped) || $0.detail != nil }
    }

    /// Every layer's verdict in pipeline order, the ones `layers` leaves out filled in: an
    /// approval (amounts not recorded: the amount passed on unchanged) or, after a veto, a
    /// skip. A format-1 record lists them all already. A record of a format newer than this
    /// one knows, or whose layers are not in pipeline order (none AdPilot wrote), comes back
    /// as it is: nothing is filled in on a guess.
    package var verdicts: [LayerVerdict] {
        guard let format, format == Self.currentFormat else { return layers }
        var listed = layers.makeIterator()
        var next = listed.next()
        var vetoed = false
        let all = Layer.allCases.map { layer in
            if let v = next, v.layer == layer {
                next = listed.next()
                if v.verdict == .veto { vetoed = true }
                return v
            }
            return LayerVerdict(
                layer: layer, verdict: vetoed ? .skipped : .approve, reason: nil, inMicros: nil, outMicros: nil,
                detail: nil)
        }
        return next == nil ? all : layers
    }
}

/// What a decision record keeps of the pacer's report: what it recommended and why
/// (the day's target so far and the band around the recommendation). The loop terms follow
/// from the recorded inputs (`DecisionRecord.replayInput`).
package struct PacerSummary: Codable, Sendable, Equatable {
    package let targetSpendToDateMicros: Micros
    package let recommendedBudgetMicros: Micros
    package let bandLowMicros: Micros
    package let bandHighMicros: Micros
    /// The feed-forward part of the pace output (`PacerReport.feedForward`).
    package let feedForward: Double?

    package init(_ r: PacerReport) {
        targetSpendToDateMicros = r.targetSpendToDateMicros
        recommendedBudgetMicros = r.recommendedBudgetMicros
        bandLowMicros = r.bandLowMicros
        bandHighMicros = r.bandHighMicros
        feedForward = r.feedForward
    }
}

/// Fills in the delivery profile a format-2 decision cites (`delivery_as_of`) from the
/// decision of its campaign and slot that carried it. Give it every decision in journal
/// order, from the first one read.
package struct DeliveryResolver {
    /// Whose profile a citation names: the same campaign and slot (the writer keys its
    /// carriers by it too).
    package struct Key: Hashable {
        package let campaign: CampaignID
        package let slot: Slot

        package init(campaign: CampaignID, slot: Slot) {
            self.campaign = campaign
            self.slot = slot
        }
    }
    private var carried: [Key: (at: Instant, profile: DeliveryProfile?)] = [:]

    package init() {}

    /// The record with its profile filled in (a record that carries its own comes back as
    /// it is); nil when the decision that carried it was not read: the journal begins after
    /// it (older segments shipped and removed), or it is not where the record says.
    package mutating func resolve(_ d: DecisionRecord) -> DecisionRecord? {
        let key = Key(campaign: d.campaign, slot: d.slot)
        guard let asOf = d.controller.deliveryAsOf else {
            carried[key] = (d.at, d.controller.delivery)
            return d
        }
        guard let c = carried[key], c.at == asOf, let profile = c.profile else { return nil }
        var resolved = d
        resolved.controller.delivery = profile
        return resolved
    }
}
