/// A campaign's identifier on its platform.
package struct CampaignID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    package let rawValue: String
    package init(_ rawValue: String) { self.rawValue = rawValue }
    package static func < (a: CampaignID, b: CampaignID) -> Bool { a.rawValue < b.rawValue }
    package var description: String { rawValue }

    package init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

/// Minimum and maximum daily budget.
package struct BudgetBounds: Hashable, Sendable, Codable {
    package var minMicros: Micros
    package var maxMicros: Micros

    package init(minMicros: Micros, maxMicros: Micros) {
        self.minMicros = minMicros
        self.maxMicros = maxMicros
    }
}

/// Per-campaign guardrail settings.
package struct GuardrailConfig: Hashable, Sendable, Codable {
    package static let cooldownSecondsMax: Int64 = 7 * 86_400
    package static let noConversionWindowHoursMax = 24 * 30
    package var bounds: BudgetBounds
    /// Optional per-hour-of-day bounds (24 entries, local time) overriding `bounds`,
    /// e.g. a lower maximum overnight.
    package var hourlyBounds: [BudgetBounds]?
    /// Largest change per step as a fraction of the current budget.
    package var maxStepFraction: Double
    /// The same, while the campaign is controlled by a canary candidate. Tighter.
    package var canaryMaxStepFraction: Double
    /// Smallest step always allowed, so a zero or tiny budget can still move.
    package var maxStepFloorMicros: Micros
    /// Hard cap on a day's spend for this campaign.
    package var dailyCapMicros: Micros
    /// Hours of spend without a conversion after which increases stop.
    package var noConversionWindowHours: Int
    /// Trailing ROAS below which increases stop (nil: no floor).
    package var roasFloor: Double?
    /// The ROAS floor applies once trailing spend reaches this.
    package var roasFloorSpendMinMicros: Micros
    /// Minimum time between two budget changes.
    package var cooldownSeconds: Int64

    package init(
        bounds: BudgetBounds, hourlyBounds: [BudgetBounds]? = nil, maxStepFraction: Double,
        canaryMaxStepFraction: Double, maxStepFloorMicros: Micros, dailyCapMicros: Micros,
        noConversionWindowHours: Int, roasFloor: Double?, roasFloorSpendMinMicros: Micros,
        cooldownSeconds: Int64
    ) {
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

    package func bounds(atHour hour: Int) -> BudgetBounds {
        guard let h = hourlyBounds, h.count == 24, (0..<24).contains(hour) else { return bounds }  // validated at load
        return h[hour]
    }
}

/// Everything configured about one campaign.
package struct CampaignConfig: Hashable, Sendable, Codable {
    package var id: CampaignID
    package var currency: Currency
    /// The day's spend the pacer steers toward.
    package var dailyTargetMicros: Micros
    package var efficiencyTarget: EfficiencyTarget
    package var guardrails: GuardrailConfig

    package init(
        id: CampaignID, currency: Currency, dailyTargetMicros: Micros,
        efficiencyTarget: EfficiencyTarget, guardrails: GuardrailConfig
    ) {
        self.id = id
        self.currency = currency
        self.dailyTargetMicros = dailyTargetMicros
        self.efficiencyTarget = efficiencyTarget
        self.guardrails = guardrails
    }

    /// Problems a loader must refuse, as (key path, problem). Empty when usable.
    package func validationProblems() -> [(key: String, problem: String)] {
        var out: [(String, String)] = []
        let g = guardrails
        func money(_ key: String, _ m: Micros) {
            if m < .zero { out.append((key, "must not be negative")) }
            if !currency.isRepresentable(m) {
                out.append(
                    (
                        key,
                        "must be a whole number of \(currency.code) minor units (\(currency.microsPerMinorUnit) micros)"
                    ))
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
        if let h = g.hourlyBounds, h.count != 24 {
            out.append(("guardrails.hourly_bounds", "needs exactly 24 entries"))
        }
        for (key, f) in [
            ("max_step_fraction", g.maxStepFraction), ("canary_max_step_fraction", g.canaryMaxStepFraction),
        ]
        where !(f.isFinite && f > 0 && f <= 1) {
            out.append(("guardrails.\(key)", "must be in (0, 1]"))
        }
        if g.canaryMaxStepFraction > g.maxStepFraction {
            out.append(("guardrails.canary_max_step_fraction", "must not exceed max_step_fraction"))
        }
        money("guardrails.max_step_floor_micros", g.maxStepFloorMicros)
        money("guardrails.daily_cap_micros", g.dailyCapMicros)
        if let f = g.roasFloor, !(f.isFinite && f >= 0) {
            out.append(("guardrails.roas_floor", "must be a finite, non-negative number"))
        }
        if !(0...GuardrailConfig.cooldownSecondsMax).contains(g.cooldownSeconds) {
            out.append(("guardrails.cooldown_seconds", "must be in 0...\(GuardrailConfig.cooldownSecondsMax) (7 days)"))
        }
        if !(1...GuardrailConfig.noConversionWindowHoursMax).contains(g.noConversionWindowHours) {
            out.append(
                (
                    "guardrails.no_conversion_window_hours",
                    "must be in 1...\(GuardrailConfig.noConversionWindowHoursMax)"
                ))
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
package struct AccountLimits: Hashable, Sendable, Codable {
    /// Hard cap on the sum of all campaigns' projected day spend.
    package var dailyCapMicros: Micros
    /// Hard cap on the projected day spend of campaigns a canary candidate controls.
    package var maxSpendAtRiskMicros: Micros
    /// How far a platform may overspend a daily budget in one day, in basis points
    /// (Meta: up to 25%, 2,500). An integer so the cap arithmetic is exact.
    package var overdeliveryBasisPoints: Int64
    /// The account's reporting timezone as a fixed offset from UTC.
    package var utcOffsetSeconds: Int64
    /// Metrics older than this are stale: budgets hold.
    package var staleAfterSeconds: Int64

    package init(
        dailyCapMicros: Micros, maxSpendAtRiskMicros: Micros, overdeliveryBasisPoints: Int64,
        utcOffsetSeconds: Int64, staleAfterSeconds: Int64
    ) {
        self.dailyCapMicros = dailyCapMicros
        self.maxSpendAtRiskMicros = maxSpendAtRiskMicros
        self.overdeliveryBasisPoints = overdeliveryBasisPoints
        self.utcOffsetSeconds = utcOffsetSeconds
        self.staleAfterSeconds = staleAfterSeconds
    }

    package static let overdeliveryBasisPointsMax: Int64 = 10_000
    package static let utcOffsetSecondsMax: Int64 = 14 * 3600

    /// Problems a loader must refuse, as (key path, problem). Empty when usable.
    package func validationProblems() -> [(key: String, problem: String)] {
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
    package func projectedDaySpend(budget: Micros, spendToday: Micros) -> Micros {
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
package struct Observation: Hashable, Sendable, Codable {
    package var campaign: CampaignID
    package var currency: Currency
    package var currentBudgetMicros: Micros
    package var spendTodayMicros: Micros
    package var trailing: TrailingStats
    /// Consecutive most recent hours with spend and no conversion.
    package var hoursWithoutConversion: Int
    /// Age of the newest metric the platform returned.
    package var dataAgeSeconds: Int64
    /// When the controller finished reading this campaign (its clock). A decision made
    /// later than the tick began says so here; absent in records written before it existed.
    package var observedAt: Instant? = nil

    package init(
        campaign: CampaignID, currency: Currency, currentBudgetMicros: Micros, spendTodayMicros: Micros,
        trailing: TrailingStats, hoursWithoutConversion: Int, dataAgeSeconds: Int64
    ) {
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
    package func floor(_ amount: Micros) -> Micros {
        Micros(amount.rawValue - amount.rawValue % microsPerMinorUnit)
    }

    /// Smallest representable amount >= `amount`, saturating at the largest representable one.
    package func ceil(_ amount: Micros) -> Micros {
        let r = amount.rawValue % microsPerMinorUnit
        if r == 0 { return amount }
        let (v, o) = (amount.rawValue - r).addingReportingOverflow(microsPerMinorUnit)
        return o ? floor(amount) : Micros(v)
    }
}
