/// A stable, machine-readable reason, `layer.condition`. The set grows over time, so it is
/// a struct around a string rather than an enum; every code AdPilot emits is a static
/// member below and is listed in the README.
public struct ReasonCode: Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String
    private init(_ rawValue: String) { self.rawValue = rawValue }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }

    public var description: String { rawValue }

    // validity: the proposal and the observation are usable at all
    public static let policyError = ReasonCode("validity.policy_error")
    public static let nonFinite = ReasonCode("validity.non_finite")
    public static let negative = ReasonCode("validity.negative")
    public static let outOfRange = ReasonCode("validity.out_of_range")
    public static let currencyMismatch = ReasonCode("validity.currency_mismatch")
    public static let currentUnusable = ReasonCode("validity.current_budget_unusable")
    // pacer
    public static let pacerAboveBand = ReasonCode("pacer.above_band")
    public static let pacerBelowBand = ReasonCode("pacer.below_band")
    // guardrails
    public static let belowMin = ReasonCode("bounds.below_min")
    public static let aboveMax = ReasonCode("bounds.above_max")
    public static let stepIncrease = ReasonCode("step.increase_limited")
    public static let stepDecrease = ReasonCode("step.decrease_limited")
    public static let dailyCap = ReasonCode("cap.daily")
    public static let accountCap = ReasonCode("cap.account")
    public static let noConversions = ReasonCode("conversions.none_in_window")
    public static let roasFloor = ReasonCode("roas.below_floor")
    public static let cooldown = ReasonCode("cooldown.active")
    public static let canaryExposure = ReasonCode("canary.max_spend_at_risk")
    // anomaly detector
    public static let anomalyWarn = ReasonCode("anomaly.warn")
    public static let anomalyCritical = ReasonCode("anomaly.critical")
    public static let staleData = ReasonCode("anomaly.stale_data")
    // circuit breaker
    public static let breakerOpen = ReasonCode("breaker.open")
    public static let breakerForcedOpen = ReasonCode("breaker.forced_open")

    /// Every code, for documentation and for tests that check the README lists them all.
    public static let all: [ReasonCode] = [
        .policyError, .nonFinite, .negative, .outOfRange, .currencyMismatch, .currentUnusable,
        .pacerAboveBand, .pacerBelowBand, .belowMin, .aboveMax, .stepIncrease, .stepDecrease,
        .dailyCap, .accountCap, .noConversions, .roasFloor, .cooldown, .canaryExposure,
        .anomalyWarn, .anomalyCritical, .staleData, .breakerOpen, .breakerForcedOpen,
    ]
}

/// What one layer says about a proposed budget.
public enum Verdict: Hashable, Sendable {
    case approve
    /// Replace the proposal with this amount.
    case adjust(Micros, ReasonCode)
    /// Hold the current budget.
    case veto(ReasonCode)
}

/// The layers, in the order they run. A closed set: adding a layer is a design change.
public enum Layer: String, Hashable, Sendable, Codable, CaseIterable {
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
public struct LayerVerdict: Hashable, Sendable, Codable {
    public enum Kind: String, Hashable, Sendable, Codable { case approve, adjust, veto, skipped }

    public let layer: Layer
    public let verdict: Kind
    public let reason: ReasonCode?
    /// The amount the layer was asked about (nil for validity, which sees the raw value).
    public let inMicros: Micros?
    /// The amount it passed on (nil after a veto or when skipped).
    public let outMicros: Micros?
    /// The numbers the layer compared, in words, e.g. "ceiling 80.00 = cap 100.00 / 1.25".
    public let detail: String?
}
