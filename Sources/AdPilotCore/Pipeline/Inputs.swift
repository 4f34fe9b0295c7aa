/// A campaign's identifier on its platform.
public struct CampaignID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public static func < (a: CampaignID, b: CampaignID) -> Bool { a.rawValue < b.rawValue }
    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

/// Minimum and maximum daily budget.
public struct BudgetBounds: Hashable, Sendable, Codable {
    public var minMicros: Micros
    public var maxMicros: Micros

    public init(minMicros: Micros, maxMicros: Micros) {
        self.minMicros = minMicros
        self.maxMicros = maxMicros
    }
}

/// Per-campaign guardrail settings.
public struct GuardrailConfig: Hashable, Sendable, Codable {
    public static let cooldownSecondsMax: Int64 = 7 * 86_400
    public static let noConversionWindowHoursMax = 24 * 30
    public var bounds: BudgetBounds
    /// Optional per-hour-of-day bounds (24 entries, local time) overriding `bounds`,
    /// e.g. a lower maximum overnight.
    public var hourlyBounds: [BudgetBounds]?
    /// Largest change per step as a fraction of the current budget.
    public var maxStepFraction: Double
    /// The same, while the campaign is controlled by a canary candidate. Tighter.
    public var canaryMaxStepFraction: Double
    /// Smallest step always allowed, so a zero or tiny budget can still move.
    public var maxStepFloorMicros: Micros
    /// Hard cap on a day's spend for this campaign.
    public var dailyCapMicros: Micros
    /// Hours of spend without a conversion after which increases stop.
    public var noConversionWindowHours: Int
    /// Trailing ROAS below which increases stop (nil: no floor).
    public var roasFloor: Double?
    /// The ROAS floor applies once trailing spend reaches this.
    public var roasFloorSpendMinMicros: Micros
    /// Minimum time between two budget changes.
    public var cooldownSeconds: Int64

    public init(bounds: BudgetBounds, hourlyBounds: [BudgetBounds]? = nil, maxStepFraction: Double,
                canaryMaxStepFraction: Double, maxStepFloorMicros: Micros, dailyCapMicros: Micros,
                noConversionWindowHours: Int, roasFloor: Double?, roasFloorSpendMinMicros: Micros,
                cooldownSeconds: Int64) {
        self.bounds = bounds
        self.hourlyBounds = hourlyBounds
        self.maxStepFraction = maxStepFraction
        self.canaryMaxStepFraction = canaryMaxStepFraction
        self.maxStepFloorMicros = maxStepFloorMicros
        self.dailyCapMicros = dailyCapMicros
        self.noConversionWindowHours = noConversionWindowHours
        self.roasFloor = roasFloor
        self.roasFloorSpendMinMicros = roasFloorSpendMinMicros
        self.cooldownSeconds = cooldownSeconds
    }

    public func bounds(atHour hour: Int) -> BudgetBounds {
        guard let h = hourlyBounds, h.count == 24, (0..<24).contains(hour) else { return bounds }  // validated at load
        return h[hour]
    }
}

/// Everything configured about one campaign.
public struct CampaignConfig: Hashable, Sendable, Codable {
    public var id: CampaignID
    public var currency: Currency
    /// The day's spend the pacer steers toward.
    public var dailyTargetMicros: Micros
    public var efficiencyTarget: EfficiencyTarget
    public var guardrails: GuardrailConfig

    public init(id: CampaignID, currency: Currency, dailyTargetMicros: Micros,
                efficiencyTarget: EfficiencyTarget, guardrails: GuardrailConfig) {
        self.id = id
        self.currency = currency
        self.dailyTargetMicros = dailyTargetMicros
        self.efficiencyTarget = efficiencyTarget
        self.guardrails = guardrails
    }

    /// Problems a loader must refuse, as (key path, problem). Empty when usable.
    public func validationProblems() -> [(key: String, problem: String)] {
        var out: [(String, String)] = []
        let g = guardrails
        func money(_ key: String, _ m: Micros) {
            if m < .zero { out.append((key, "must not be negative")) }
            if !currency.isRepresentable(m) {
                out.append((key, "must be a whole number of \(currency.code) minor units (\(currency.microsPerMinorUnit) micros)"))
            }
        }
        if dailyTargetMicros <= .zero { out.append(("daily_target_micros", "must be positive")) }
        money("daily_target_micros", dailyTargetMicros)
        for (i, b) in ([g.bounds] + (g.hourlyBounds ?? [])).enumerated() {
            let key = i == 0 ? "guardrails.bounds" : "guardrails.hourly_bounds[\(i - 1)]"
            money("\(key).min_micros", b.minMicros)
            money("\(key).max_micros", b.maxMicros)
            if b.minMicros > b.maxMicros { out.append((key, "min_micros exceeds max_micros")) }
        }
        if let h = g.hourlyBounds, h.count != 24 { out.append(("guardrails.hourly_bounds", "needs exactly 24 entries")) }
        for (key, f) in [("max_step_fraction", g.maxStepFraction), ("canary_max_step_fraction", g.canaryMaxStepFraction)]
        where !(f.isFinite && f > 0 && f <= 1) {
            out.append(("guardrails.\(key)", "must be in (0, 1]"))
        }
        if g.canaryMaxStepFraction > g.maxStepFraction {
            out.append(("guardrails.canary_max_step_fraction", "must not exceed max_step_fraction"))
        }
        money("guardrails.max_step_floor_micros", g.maxStepFloorMicros)
        money("guardrails.daily_cap_micros", g.dailyCapMicros)
        if let f = g.roasFloor, !(f.isFinite && f >= 0) { out.append(("guardrails.roas_floor", "must be a finite, non-negative number")) }
        if !(0...GuardrailConfig.cooldownSecondsMax).contains(g.cooldownSeconds) {
            out.append(("guardrails.cooldown_seconds", "must be in 0...\(GuardrailConfig.cooldownSecondsMax) (7 days)"))
        }
        if !(1...GuardrailConfig.noConversionWindowHoursMax).contains(g.noConversionWindowHours) {
            out.append(("guardrails.no_conversion_window_hours", "must be in 1...\(GuardrailConfig.noConversionWindowHoursMax)"))
        }
        switch efficiencyTarget {
        case .roas(let r) where !(r.isFinite && r > 0): out.append(("efficiency_target.roas", "must be positive"))
        case .cpa(let c) where c <= .zero: out.append(("efficiency_target.cpa_micros", "must be positive"))
        default: break
        }
        return out
    }
}

/// Account-wide limits shared by every campaign.
public struct AccountLimits: Hashable, Sendable, Codable {
    /// Hard cap on the sum of all campaigns' projected day spend.
    public var dailyCapMicros: Micros
    /// Hard cap on the projected day spend of campaigns a canary candidate controls.
    public var maxSpendAtRiskMicros: Micros
    /// How far a platform may overspend a daily budget in one day, in basis points
    /// (Meta: up to 25%, 2,500). An integer so the cap arithmetic is exact.
    public var overdeliveryBasisPoints: Int64
    /// The account's reporting timezone as a fixed offset from UTC.
    public var utcOffsetSeconds: Int64
    /// Metrics older than this are stale: budgets hold.
    public var staleAfterSeconds: Int64

    public init(dailyCapMicros: Micros, maxSpendAtRiskMicros: Micros, overdeliveryBasisPoints: Int64,
                utcOffsetSeconds: Int64, staleAfterSeconds: Int64) {
        self.dailyCapMicros = dailyCapMicros
        self.maxSpendAtRiskMicros = maxSpendAtRiskMicros
        self.overdeliveryBasisPoints = overdeliveryBasisPoints
        self.utcOffsetSeconds = utcOffsetSeconds
        self.staleAfterSeconds = staleAfterSeconds
    }

    public static let overdeliveryBasisPointsMax: Int64 = 10_000
    public static let utcOffsetSecondsMax: Int64 = 14 * 3600

    /// Problems a loader must refuse, as (key path, problem). Empty when usable.
    public func validationProblems() -> [(key: String, problem: String)] {
        var out: [(String, String)] = []
        if dailyCapMicros < .zero { out.append(("account.daily_cap_micros", "must not be negative")) }
        if maxSpendAtRiskMicros < .zero { out.append(("account.max_spend_at_risk_micros", "must not be negative")) }
        if !(0...Self.overdeliveryBasisPointsMax).contains(overdeliveryBasisPoints) {
            out.append(("account.overdelivery_basis_points", "must be in 0...\(Self.overdeliveryBasisPointsMax)"))
        }
        if abs(utcOffsetSeconds) > Self.utcOffsetSecondsMax {
            out.append(("account.utc_offset_seconds", "must be within ±\(Self.utcOffsetSecondsMax) (±14 h)"))
        }
        if staleAfterSeconds <= 0 { out.append(("account.stale_after_seconds", "must be positive")) }
        return out
    }

    /// The configured overdelivery, forced into range: a bad value is refused by
    /// `validationProblems` at load, and must not divide by zero if one slips through.
    private var overdelivery: Int128 { Int128(min(max(overdeliveryBasisPoints, 0), Self.overdeliveryBasisPointsMax)) }

    /// The most a day can cost at daily budget `budget`, given what is already spent:
    /// the platform may deliver up to `budget * (1 + overdelivery)` (rounded up), and
    /// nothing un-spends. Exact integer arithmetic; saturates at the largest amount.
    public func projectedDaySpend(budget: Micros, spendToday: Micros) -> Micros {
        let b = Int128(max(budget, .zero).rawValue)
        let scale = 10_000 + overdelivery
        let delivered = (b * scale + 9_999) / 10_000
        let capped = delivered > Int128(Int64.max) ? Micros(.max) : Micros(Int64(delivered))
        return max(max(spendToday, .zero), capped)
    }

    /// The largest daily budget whose projected day spend fits in `room`:
    /// `floor(room * 10,000 / (10,000 + overdelivery))`, so by construction
    /// `projectedDaySpend(budgetCeiling(room)) <= room`.
    func budgetCeiling(room: Micros) -> Micros {
        guard room > .zero else { return .zero }
        return Micros(Int64(Int128(room.rawValue) * 10_000 / (10_000 + overdelivery)))
    }
}

/// What the controller saw of one campaign this tick.
public struct Observation: Hashable, Sendable, Codable {
    public var campaign: CampaignID
    public var currency: Currency
    public var currentBudgetMicros: Micros
    public var spendTodayMicros: Micros
    public var trailing: TrailingStats
    /// Consecutive most recent hours with spend and no conversion.
    public var hoursWithoutConversion: Int
    /// Age of the newest metric the platform returned.
    public var dataAgeSeconds: Int64

    public init(campaign: CampaignID, currency: Currency, currentBudgetMicros: Micros, spendTodayMicros: Micros,
                trailing: TrailingStats, hoursWithoutConversion: Int, dataAgeSeconds: Int64) {
        self.campaign = campaign
        self.currency = currency
        self.currentBudgetMicros = currentBudgetMicros
        self.spendTodayMicros = spendTodayMicros
        self.trailing = trailing
        self.hoursWithoutConversion = hoursWithoutConversion
        self.dataAgeSeconds = dataAgeSeconds
    }
}

extension Currency {
    /// Largest representable amount <= `amount` (amount >= 0).
    public func floor(_ amount: Micros) -> Micros {
        Micros(amount.rawValue - amount.rawValue % microsPerMinorUnit)
    }

    /// Smallest representable amount >= `amount`, saturating at the largest representable one.
    public func ceil(_ amount: Micros) -> Micros {
        let r = amount.rawValue % microsPerMinorUnit
        if r == 0 { return amount }
        let (v, o) = (amount.rawValue - r).addingReportingOverflow(microsPerMinorUnit)
        return o ? floor(amount) : Micros(v)
    }
}
