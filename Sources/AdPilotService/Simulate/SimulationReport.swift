package import AdPilotCore
import Foundation

/// How close campaign-days ended to their targets.
package struct PacingAccuracy: Codable, Sendable, Equatable {
    package var campaignDays = 0
    /// Shares of campaign-days whose true spend ended within ±3%, ±5%, ±10% of target.
    package var within3 = 0.0
    package var within5 = 0.0
    package var within10 = 0.0
    /// Mean of |spend − target| / target, and of (spend − target) / target.
    package var meanAbsoluteError = 0.0
    package var bias = 0.0

    init(_ days: [CampaignDay]) {
        campaignDays = days.count
        guard !days.isEmpty else { return }
        let errors = days.map { ($0.spendMicros.statistic - $0.targetMicros.statistic) / $0.targetMicros.statistic }
        let n = Double(days.count)
        within3 = Double(errors.filter { abs($0) <= 0.03 }.count) / n
        within5 = Double(errors.filter { abs($0) <= 0.05 }.count) / n
        within10 = Double(errors.filter { abs($0) <= 0.10 }.count) / n
        meanAbsoluteError = errors.map(abs).reduce(0, +) / n
        bias = errors.reduce(0, +) / n
    }
}

/// One policy over every seed: the backtest metrics of docs/simulate.md.
package struct PolicySummary: Codable, Sendable {
    package var policy: String
    package var seeds: [UInt64]
    /// Days whose efficiency allowed the whole target, and the others.
    package var reachable: PacingAccuracy
    package var unreachable: PacingAccuracy
    /// Campaign-days whose spend exceeded the campaign's daily cap; account-days over the account cap.
    package var capBreaches: Int
    package var accountCapBreaches: Int
    package var halts: Int
    package var quarantines: Int
    package var spendMicros: Int64
    package var valueMicros: Int64
    package var profitMicros: Int64
    package var roas: Double?
    /// Account profit per day (currency units): mean, sample standard deviation, their ratio
    /// (a daily Sharpe ratio, no risk-free rate), and the largest fall of cumulative profit
    /// from its running peak within one seed.
    package var dailyProfitMean: Double
    package var dailyProfitSD: Double
    package var sharpe: Double?
    package var maxDrawdown: Double
    /// Mean cumulative share of the daily target spent by each hour (0-24) and the pacer's plan.
    package var intraday: [Double]
    package var plan: [Double]

    package init(_ runs: [SimulationRun]) {
        precondition(!runs.isEmpty)
        policy = runs[0].policy.description
        seeds = runs.map(\.seed)
        let days = runs.flatMap(\.days)
        reachable = PacingAccuracy(days.filter(\.reachable))
        unreachable = PacingAccuracy(days.filter { !$0.reachable })
        capBreaches = days.filter { $0.spendMicros > $0.dailyCapMicros }.count
        accountCapBreaches = runs.map(\.accountCapBreaches).reduce(0, +)
        halts = runs.map(\.halts).reduce(0, +)
        quarantines = runs.map(\.quarantines).reduce(0, +)
        spendMicros = days.reduce(0) { $0 + $1.spendMicros.rawValue }
        valueMicros = days.reduce(0) { $0 + $1.valueMicros.rawValue }
        profitMicros = valueMicros - spendMicros
        roas = spendMicros > 0 ? Double(valueMicros) / Double(spendMicros) : nil
        let profits = runs.flatMap(\.dailyProfit)
        let n = Double(profits.count)
        dailyProfitMean = profits.reduce(0, +) / max(n, 1)
        let mean = dailyProfitMean
        dailyProfitSD = n > 1 ? (profits.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / (n - 1)).squareRoot() : 0
        sharpe = dailyProfitSD > 0 ? dailyProfitMean / dailyProfitSD : nil
        maxDrawdown = runs.map { PolicySummary.drawdown($0.dailyProfit) }.max() ?? 0
        intraday = PolicySummary.mean(runs.map(\.intraday))
        plan = PolicySummary.mean(runs.map(\.plan))
    }

    static func drawdown(_ daily: [Double]) -> Double {
        var cumulative = 0.0, peak = 0.0, worst = 0.0
        for p in daily {
            cumulative += p
            peak = max(peak, cumulative)
            worst = max(worst, peak - cumulative)
        }
        return worst
    }

    static func mean(_ series: [[Double]]) -> [Double] {
        let rows = series.filter { $0.count == 25 }
        guard !rows.isEmpty else { return [] }
        return (0..<25).map { i in rows.map { $0[i] }.reduce(0, +) / Double(rows.count) }
    }
}

/// `adpilotctl simulate`'s answer.
package struct SimulationReport: Codable, Sendable {
    package var days: Int
    package var warmupDays: Int
    package var campaigns: Int
    package var seeds: [UInt64]
    package var policies: [PolicySummary]

    package init(_ o: SimulationOptions, runs: [SimulationRun]) {
        days = o.days
        warmupDays = o.warmupDays
        campaigns = o.campaigns
        seeds = Array(o.seeds)
        var order: [PolicyID] = []
        for r in runs where !order.contains(r.policy) { order.append(r.policy) }
        policies = order.map { p in PolicySummary(runs.filter { $0.policy == p }) }
    }

    package var text: String {
        func pct(_ x: Double) -> String { String(format: "%5.1f%%", 100 * x) }
        func money(_ micros: Int64) -> String { String(format: "%.2f", Double(micros) / 1e6) }
        var lines = [
            "\(campaigns) campaigns, \(days) days after \(warmupDays) warm-up day(s), seeds "
                + "\(seeds.first ?? 0)..\(seeds.last ?? 0); true end-of-day spend against target", "",
            "policy           reachable days   ±3%    ±5%   ±10%    MAE    bias  | other days  ±10%    bias",
        ]
        for p in policies {
            let r = p.reachable, u = p.unreachable
            lines.append(
                p.policy.padding(toLength: 16, withPad: " ", startingAt: 0)
                    + String(format: " %14d ", r.campaignDays) + "\(pct(r.within3)) \(pct(r.within5)) "
                    + "\(pct(r.within10)) \(pct(r.meanAbsoluteError)) \(pct(r.bias))  | "
                    + String(format: "%10d ", u.campaignDays) + "\(pct(u.within10)) \(pct(u.bias))")
        }
        lines += ["", "policy           cap breaches  halts  quarantines       spend       value      profit   ROAS"]
        for p in policies {
            lines.append(
                p.policy.padding(toLength: 16, withPad: " ", startingAt: 0)
                    + String(format: " %6d (acct %d) %5d %12d ", p.capBreaches, p.accountCapBreaches, p.halts,
                        p.quarantines)
                    + [money(p.spendMicros), money(p.valueMicros), money(p.profitMicros)].map {
                        String(repeating: " ", count: max(0, 11 - $0.count)) + $0
                    }.joined(separator: " ") + String(format: "  %.3f", p.roas ?? 0))
        }
        lines += ["", "policy           profit/day mean       sd   Sharpe (daily)  max drawdown"]
        for p in policies {
            let sharpe = p.sharpe.map { String(format: "%.3f", $0) } ?? "-"
            lines.append(
                p.policy.padding(toLength: 16, withPad: " ", startingAt: 0)
                    + String(format: " %15.2f %8.2f ", p.dailyProfitMean, p.dailyProfitSD)
                    + String(repeating: " ", count: max(0, 16 - sharpe.count)) + sharpe
                    + String(format: " %13.2f", p.maxDrawdown))
        }
        return lines.joined(separator: "\n")
    }
}
