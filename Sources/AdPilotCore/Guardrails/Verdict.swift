/// A stable, machine-readable reason, `layer.condition`. The set grows over time, so it is
/// a struct around a string rather than an enum; every code AdPilot emits is a static
/// member below and is listed in docs/decision-pipeline.md.
package struct ReasonCode: Hashable, Sendable, Codable, CustomStringConvertible {
    package let rawValue: String
    private init(_ rawValue: String) { self.rawValue = rawValue }

    package init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }

    package var description: String { rawValue }

    // validity: the proposal and the observation are usable at all
    package static let policyError = ReasonCode("validity.policy_error")
    package static let nonFinite = ReasonCode("validity.non_finite")
    package static let negative = ReasonCode("validity.negative")
    package static let outOfRange = ReasonCode("validity.out_of_range")
    package static let currencyMismatch = ReasonCode("validity.currency_mismatch")
    package static let currentUnusable = ReasonCode("validity.current_budget_unusable")
    // pacer
    package static let pacerAboveBand = ReasonCode("pacer.above_band")
    package static let pacerBelowBand = ReasonCode("pacer.below_band")
    // guardrails
    package static let belowMin = ReasonCode("bounds.below_min")
    package static let aboveMax = ReasonCode("bounds.above_max")
    package static let stepIncrease = ReasonCode("step.increase_limited")
    package static let stepDecrease = ReasonCode("step.decrease_limited")
    package static let dailyCap = ReasonCode("cap.daily")
    package static let accountCap = ReasonCode("cap.account")
    package static let noConversions = ReasonCode("conversions.none_in_window")
    package static let roasFloor = ReasonCode("roas.below_floor")
    package static let cooldown = ReasonCode("cooldown.active")
    package static let canaryExposure = ReasonCode("canary.max_spend_at_risk")
    // anomaly detector
    package static let anomalyWarn = ReasonCode("anomaly.warn")
    package static let anomalyCritical = ReasonCode("anomaly.critical")
    package static let staleData = ReasonCode("anomaly.stale_data")
    // circuit breaker
    package static let breakerOpen = ReasonCode("breaker.open")

    /// Every code, for documentation and for tests that check docs/decision-pipeline.md lists them all.
    package static let all: [ReasonCode] = [
        .policyError, .nonFinite, .negative, .outOfRange, .currencyMismatch, .currentUnusable,
        .pacerAboveBand, .pacerBelowBand, .belowMin, .aboveMax, .stepIncrease, .stepDecrease,
        .dailyCap, .accountCap, .noConversions, .roasFloor, .cooldown, .canaryExposure,
        .anomalyWarn, .anomalyCritical, .staleData, .breakerOpen,
    ]
}

/// What one layer says about a proposed budget.
package enum Verdict: Hashable, Sendable {
    case approve
    /// Replace the proposal with this amount.
    case adjust(Micros, ReasonCode)
    /// Hold the current budget.
    case veto(ReasonCode)
}

/// The layers, in the order they run. A closed set: adding a layer is a design change.
package enum Layer: String, Hashable, Sendable, Codable, CaseIterable {
    case validity, pacer, bounds, step
    case dailyCap = "daily_cap"
    case accountCap = "account_cap"
    case noConversions = "no_conversions"
    case roasFloor = "roas_floor"
    case cooldown
    case canaryExposure = "canary_exposure"
    case anomaly, breaker
}

/// One layer's verdict as the journal stores it.
package struct LayerVerdict: Hashable, Sendable, Codable {
    package enum Kind: String, Hashable, Sendable, Codable { case approve, adjust, veto, skipped }

    package let layer: Layer
    package let verdict: Kind
    package let reason: ReasonCode?
    /// The amount the layer was asked about (nil for validity, which sees the raw value).
    package let inMicros: Micros?
    /// The amount it passed on (nil after a veto or when skipped).
    package let outMicros: Micros?
    /// The numbers the layer compared, in words, e.g. "ceiling 80.00 = cap 100.00 / 1.25".
    package let detail: String?

    package init(
        layer: Layer, verdict: Kind, reason: ReasonCode?, inMicros: Micros?, outMicros: Micros?, detail: String?
    ) {
        self.layer = layer
        self.verdict = verdict
        self.reason = reason
        self.inMicros = inMicros
        self.outMicros = outMicros
        self.detail = detail
    }
}
