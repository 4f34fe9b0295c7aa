package import AdPilotCore

/// A decision as journaled: everything to explain and replay it but the configuration,
/// cited by digest. `journal show`, recovery and the replay test read decisions through it.
package struct DecisionRecord: Codable, Sendable {
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
    package let pacer: PacerReport
    package let layers: [LayerVerdict]
    package let controller: ControllerInput
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
        /// existed (they planned with the configured profile).
        package let delivery: DeliveryProfile?
    }

    package init(
        _ d: Decision, tick: UInt64, policyDigest: String, configDigest: String, exploration: Exploration? = nil
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
        pacer = d.pacer
        layers = d.layers
        controller = ControllerInput(
            pacer: i.pacer, lastChangeAt: i.lastChangeAt, platformBreaker: i.platformBreaker,
            platformBreakerPermits: i.platformBreakerPermits, campaignBreaker: i.campaignBreaker,
            campaignBreakerPermits: i.campaignBreakerPermits, anomaly: i.anomaly,
            accountOthersMicros: i.accountOthersMicros, canaryOthersMicros: i.canaryOthersMicros,
            delivery: i.delivery)
        policyFault = d.policyFault
        quarantined = d.quarantined
        haltRequested = nil
        self.exploration = exploration
    }

    /// The pipeline's input as it was, given the campaign's, account's and pacer's settings
    /// from the configuration this record cites (`config_digest`). Deciding it again with
    /// `proposal` gives this decision exactly.
    package func replayInput(
        campaign: CampaignConfig, account: AccountLimits, pacerConfig: PacerConfig
    ) -> DecisionInput {
        DecisionInput(
            campaign: campaign, account: account, pacerConfig: pacerConfig, observation: observation, now: at,
            mode: mode, slot: slot, policy: policy, inCanaryScope: inCanaryScope, haltFlag: haltFlag,
            pacer: controller.pacer, lastChangeAt: controller.lastChangeAt, platformBreaker: controller.platformBreaker,
            platformBreakerPermits: controller.platformBreakerPermits, campaignBreaker: controller.campaignBreaker,
            campaignBreakerPermits: controller.campaignBreakerPermits, anomaly: controller.anomaly,
            accountOthersMicros: controller.accountOthersMicros, canaryOthersMicros: controller.canaryOthersMicros,
            delivery: controller.delivery)
    }
}
