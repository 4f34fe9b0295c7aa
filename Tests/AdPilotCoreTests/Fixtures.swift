@testable import AdPilotCore

func usd(_ text: String) -> Micros { try! Micros(decimal: text) }

enum Fixture {
    static let noon = Instant(secondsSinceEpoch: 1_795_046_400 + 12 * 3600)  // 12:00 UTC

    static func guardrails() -> GuardrailConfig {
        GuardrailConfig(
            bounds: BudgetBounds(minMicros: usd("10"), maxMicros: usd("500")),
            maxStepFraction: 0.2, canaryMaxStepFraction: 0.1, maxStepFloorMicros: usd("5"),
            dailyCapMicros: usd("1000"), noConversionWindowHours: 12, roasFloor: 1.0,
            roasFloorSpendMinMicros: usd("50"), cooldownSeconds: 3600)
    }

    static func campaign(_ id: String = "c1", currency: Currency = .usd) -> CampaignConfig {
        CampaignConfig(
            id: CampaignID(id), currency: currency, dailyTargetMicros: usd("100"),
            efficiencyTarget: .roas(2), guardrails: guardrails())
    }

    static func account() -> AccountLimits {
        AccountLimits(
            dailyCapMicros: usd("100000"), maxSpendAtRiskMicros: usd("1000"), overdeliveryBasisPoints: 2_500,
            utcOffsetSeconds: 0, staleAfterSeconds: 3 * 3600)
    }

    static func observation(
        _ id: String = "c1", budget: Micros = usd("100"), spendToday: Micros = usd("50"),
        currency: Currency = .usd
    ) -> Observation {
        Observation(
            campaign: CampaignID(id), currency: currency, currentBudgetMicros: budget, spendTodayMicros: spendToday,
            trailing: TrailingStats(spendMicros: usd("300"), conversions: 30, conversionValueMicros: usd("900")),
            hoursWithoutConversion: 0, dataAgeSeconds: 600)
    }

    static func input(
        mode: Mode = .live, slot: Slot = .live, budget: Micros = usd("100"),
        spendToday: Micros = usd("50"), inCanaryScope: Bool = false
    ) -> DecisionInput {
        DecisionInput(
            campaign: campaign(), account: account(), pacerConfig: .standard,
            observation: observation(budget: budget, spendToday: spendToday), now: noon, mode: mode, slot: slot,
            policy: PolicyID("test@1")!, inCanaryScope: inCanaryScope, haltFlag: false, pacer: PacerState(),
            lastChangeAt: nil, platformBreaker: .closed, platformBreakerPermits: true,
            campaignBreaker: .closed, campaignBreakerPermits: true, anomaly: AnomalyAssessment(),
            accountOthersMicros: .zero, canaryOthersMicros: .zero)
    }

    /// Decide with a fixed proposal, in micros.
    static func decide(_ input: DecisionInput, proposing amount: Micros) -> Decision {
        DecisionPipeline.decide(input) { _ in .micros(amount.statistic) }.decision
    }

    static func decide(_ input: DecisionInput, proposal: Proposal) -> Decision {
        DecisionPipeline.decide(input) { _ in proposal }.decision
    }
}

extension Decision {
    func verdict(_ layer: Layer) -> LayerVerdict? { layers.first { $0.layer == layer } }
}
