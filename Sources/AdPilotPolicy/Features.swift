package import AdPilotCore
#if canImport(Glibc)
import Glibc
#endif

/// What a policy may see of one campaign at one decision.
package struct PolicyContext: Sendable {
    package var observation: Observation
    package var pacer: PacerReport
    package var local: LocalTime
    package var campaign: CampaignConfig

    package init(observation: Observation, pacer: PacerReport, local: LocalTime, campaign: CampaignConfig) {
        self.observation = observation
        self.pacer = pacer
        self.local = local
        self.campaign = campaign
    }
}

/// The named observation features AdPilot computes. A policy names the ones it wants, in
/// its input order; the manifest's normalisation is applied to each. Every value is finite
/// (ratios with a zero denominator are 0), so a policy never sees NaN from AdPilot.
package enum Feature: String, CaseIterable, Sendable {
    case hourSin = "hour_sin", hourCos = "hour_cos"
    case dayOfWeekSin = "dow_sin", dayOfWeekCos = "dow_cos"
    /// Spend today / current daily budget.
    case budgetUtilization = "budget_utilization"
    /// (Budget - spend today) / budget, clamped to 0...1.
    case budgetLeftShare = "budget_left_share"
    /// Share of the day elapsed (local time).
    case dayElapsed = "day_elapsed"
    /// The pacer's normalised pace error and combined output.
    case paceError = "pace_error"
    case pacerOutput = "pacer_output"
    /// Current budget / the pacer's recommendation.
    case budgetToRecommendation = "budget_to_recommendation"
    /// Current budget / the daily target.
    case budgetToTarget = "budget_to_target"
    /// Trailing conversion value / spend.
    case trailingROAS = "trailing_roas"
    /// Trailing cost per conversion / the daily target (a scale-free CPA).
    case trailingCPAToTarget = "trailing_cpa_to_target"
    /// log(1 + trailing conversions).
    case trailingConversionsLog = "trailing_conversions_log"
    /// Hours without a conversion / 24.
    case hoursWithoutConversion = "hours_without_conversion"
    /// Data age in hours.
    case dataAgeHours = "data_age_hours"

    package func value(_ c: PolicyContext) -> Double {
        let o = c.observation
        let budget = o.currentBudgetMicros.statistic
        func ratio(_ a: Double, _ b: Double) -> Double { b > 0 && a.isFinite ? a / b : 0 }
        let v: Double
        switch self {
        case .hourSin: v = sin(2 * .pi * Double(c.local.secondOfDay) / 86_400)
        case .hourCos: v = cos(2 * .pi * Double(c.local.secondOfDay) / 86_400)
        case .dayOfWeekSin: v = sin(2 * .pi * Double(c.local.dayOfWeek) / 7)
        case .dayOfWeekCos: v = cos(2 * .pi * Double(c.local.dayOfWeek) / 7)
        case .budgetUtilization: v = ratio(o.spendTodayMicros.statistic, budget)
        case .budgetLeftShare: v = min(1, max(0, ratio(budget - o.spendTodayMicros.statistic, budget)))
        case .dayElapsed: v = c.local.dayFraction
        case .paceError: v = c.pacer.pace.error
        case .pacerOutput: v = c.pacer.combinedOutput
        case .budgetToRecommendation: v = ratio(budget, c.pacer.recommendedBudgetMicros.statistic)
        case .budgetToTarget: v = ratio(budget, c.campaign.dailyTargetMicros.statistic)
        case .trailingROAS: v = o.trailing.roas ?? 0
        case .trailingCPAToTarget: v = ratio(o.trailing.cpaMicros ?? 0, c.campaign.dailyTargetMicros.statistic)
        case .trailingConversionsLog: v = o.trailing.conversions.isFinite ? log1p(max(0, o.trailing.conversions)) : 0
        case .hoursWithoutConversion: v = Double(o.hoursWithoutConversion) / 24
        case .dataAgeHours: v = Double(o.dataAgeSeconds) / 3600
        }
        return v.isFinite ? v : 0
    }
}
