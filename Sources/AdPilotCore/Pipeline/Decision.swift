/// A number from a policy or a statistic that may be NaN or infinite. JSON has no NaN, so
/// non-finite values encode as the strings "nan", "inf", "-inf".
package struct StatValue: Hashable, Sendable, Codable, CustomStringConvertible {
    package let value: Double
    package init(_ value: Double) { self.value = value }

    package static func == (a: StatValue, b: StatValue) -> Bool {
        a.value == b.value || (a.value.isNaN && b.value.isNaN)
    }

    package func hash(into h: inout Hasher) { h.combine(value.isNaN ? Double.nan.bitPattern : value.bitPattern) }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let v = try? c.decode(Double.self) {
            value = v
            return
        }
        switch try c.decode(String.self) {
        case "nan": value = .nan
        case "inf": value = .infinity
        case "-inf": value = -.infinity
        case let s:
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "not a number: \(s.prefix(32))"))
        }
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        if value.isFinite { try c.encode(value) } else { try c.encode(description) }
    }

    package var description: String {
        value.isNaN ? "nan" : value == .infinity ? "inf" : value == -.infinity ? "-inf" : "\(value)"
    }
}

/// What the policy proposed: a daily budget in micros (a statistic until validated), or
/// the error it raised. Journaled as `{"budget_micros": 220000000.5}` or
/// `{"error": "..."}`. Earlier journals hold Swift's
/// synthesized `{"budget": {"_0": ...}}` and `{"failed": {"_0": ...}}`, which still decode.
package enum Proposal: Hashable, Sendable, Codable {
    case budget(StatValue)
    case failed(String)

    package static func micros(_ v: Double) -> Proposal { .budget(StatValue(v)) }

    // `budgetMicros`: the same key after a decoder's `.convertFromSnakeCase`.
    private enum Key: String, CodingKey {
        case budgetMicros = "budget_micros", budgetMicrosConverted = "budgetMicros", error, budget, failed, _0
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        switch self {
        case .budget(let v): try c.encode(v, forKey: .budgetMicros)
        case .failed(let e): try c.encode(e, forKey: .error)
        }
    }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        if let v = try c.decodeIfPresent(StatValue.self, forKey: .budgetMicros)
            ?? c.decodeIfPresent(StatValue.self, forKey: .budgetMicrosConverted)
        {
            self = .budget(v)
        } else if let e = try c.decodeIfPresent(String.self, forKey: .error) {
            self = .failed(e)
        } else if c.contains(.budget) {
            self = .budget(
                try c.nestedContainer(keyedBy: Key.self, forKey: .budget).decode(StatValue.self, forKey: ._0))
        } else if c.contains(.failed) {
            self = .failed(try c.nestedContainer(keyedBy: Key.self, forKey: .failed).decode(String.self, forKey: ._0))
        } else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath,
                    debugDescription: "a proposal is {\"budget_micros\": N} or {\"error\": TEXT}"))
        }
    }
}

/// Everything a decision depends on. The pipeline is a pure function of this value and
/// the proposal, so a journaled decision replays exactly.
package struct DecisionInput: Hashable, Sendable, Codable {
    package var campaign: CampaignConfig
    package var account: AccountLimits
    package var pacerConfig: PacerConfig
    package var observation: Observation
    package var now: Instant
    package var mode: Mode
    package var slot: Slot
    package var policy: PolicyID
    package var inCanaryScope: Bool
    /// The persisted kill switch: while set, nothing writes.
    package var haltFlag: Bool
    package var pacer: PacerState
    package var lastChangeAt: Instant?
    /// Breaker permissions evaluated for this tick (platform, then campaign).
    package var platformBreaker: BreakerState
    package var platformBreakerPermits: Bool
    package var campaignBreaker: BreakerState
    package var campaignBreakerPermits: Bool
    package var anomaly: AnomalyAssessment
    /// Projected day spend of every other campaign in the account.
    package var accountOthersMicros: Micros
    /// Projected day spend of the other campaigns a canary candidate controls.
    package var canaryOthersMicros: Micros
    /// The campaign's delivery profile the pacer plans with (learned, or the configured one).
    package var delivery: DeliveryProfile

    package init(
        campaign: CampaignConfig, account: AccountLimits, pacerConfig: PacerConfig, observation: Observation,
        now: Instant, mode: Mode, slot: Slot, policy: PolicyID, inCanaryScope: Bool, haltFlag: Bool,
        pacer: PacerState, lastChangeAt: Instant?, platformBreaker: BreakerState, platformBreakerPermits: Bool,
        campaignBreaker: BreakerState, campaignBreakerPermits: Bool, anomaly: AnomalyAssessment,
        accountOthersMicros: Micros, canaryOthersMicros: Micros, delivery: DeliveryProfile? = nil
    ) {
        self.delivery = delivery ?? DeliveryProfile(pacerConfig.profile)
        self.campaign = campaign
        self.account = account
        self.pacerConfig = pacerConfig
        self.observation = observation
        self.now = now
        self.mode = mode
        self.slot = slot
        self.policy = policy
        self.inCanaryScope = inCanaryScope
        self.haltFlag = haltFlag
        self.pacer = pacer
        self.lastChangeAt = lastChangeAt
        self.platformBreaker = platformBreaker
        self.platformBreakerPermits = platformBreakerPermits
        self.campaignBreaker = campaignBreaker
        self.campaignBreakerPermits = campaignBreakerPermits
        self.anomaly = anomaly
        self.accountOthersMicros = accountOthersMicros
        self.canaryOthersMicros = canaryOthersMicros
    }

    package var mayWrite: Bool {
        !haltFlag && WriteScope.mayWrite(mode: mode, slot: slot, inCanaryScope: inCanaryScope)
    }

    package var canaryControlled: Bool { mode == .canary && slot == .candidate && inCanaryScope }
}

/// The outcome of one decision.
package enum Action: String, Hashable, Sendable, Codable {
    /// Write `finalBudgetMicros` to the platform.
    case apply
    /// Approved, but this slot or mode may not write (shadow evidence).
    case wouldApply = "would_apply"
    /// A layer vetoed: the current budget stays.
    case hold
    /// Every layer agreed on the current budget: nothing to write.
    case unchanged
}

/// A complete, replayable account of one decision.
package struct Decision: Hashable, Sendable, Codable {
    package let input: DecisionInput
    package let proposal: Proposal
    package let pacer: PacerReport
    package let layers: [LayerVerdict]
    package let finalBudgetMicros: Micros
    package let action: Action
    /// The veto's reason for `hold`; the last adjustment's reason otherwise, if any.
    package let reason: ReasonCode?
    /// The policy produced no usable number (threw, NaN, infinity): roll it back.
    package let policyFault: Bool
    /// The anomaly detector is at critical: the campaign is quarantined (held). Enough
    /// quarantined campaigns at once halt the account (`TickSafety`).
    package let quarantined: Bool

    package var campaign: CampaignID { input.campaign.id }
    package var currentBudgetMicros: Micros { input.observation.currentBudgetMicros }
    package var writes: Bool { action == .apply }
}
