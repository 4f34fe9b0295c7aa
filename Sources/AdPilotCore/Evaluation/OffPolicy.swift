#if canImport(Glibc)
    import Glibc
#endif

/// Off-policy estimates of what a policy would have earned, from periods logged while
/// another (the behaviour policy, with exploration) wrote: docs/evaluation.md.
///
/// Actions are continuous (the log of a proposed budget over the budget in force), so the
/// importance weight of a logged period for a deterministic target policy uses a kernel on
/// the distance between the target's action and the action taken (Kallus & Zhou, "Policy
/// Evaluation and Optimization with Continuous Treatments", AISTATS 2018; the Open Bandit
/// Pipeline's continuous estimators):
///
///     w_i = K_h(target_i - action_i) / behaviourDensity_i,   K_h(u) = phi(u / h) / h
///
/// - direct method (DM): mean of q(x_i, target_i), q a level per cell (campaign and hour of
///   the day) plus a per-campaign slope on the randomised exploration shift (`ResponseModel`);
/// - kernelized IPS: mean of w_i r_i; self-normalised IPS: sum w_i r_i / sum w_i;
/// - doubly robust (DR): mean of q(x_i, target_i) + w_i (r_i - q(x_i, action_i)).
package enum OffPolicy {
    /// One logged period: the campaign and the hour of the day (UTC) it began (together the
    /// response model's cell), its cluster (the campaign-day the bootstrap resamples), the
    /// action taken with the behaviour policy's own action (the centre of its exploration)
    /// and the behaviour density of the action taken, the evaluated policy's action in the
    /// same state, and the settled reward.
    package struct Period: Hashable, Sendable, Codable {
        package var campaign: Int
        package var hourOfDay: Int
        package var cluster: Int
        package var action: Double
        package var behaviourAction: Double
        package var behaviourDensity: Double
        package var target: Double
        package var reward: Double

        package init(campaign: Int, hourOfDay: Int, cluster: Int, action: Double, behaviourAction: Double,
                     behaviourDensity: Double, target: Double, reward: Double) {
            self.campaign = campaign
            self.hourOfDay = hourOfDay
            self.cluster = cluster
            self.action = action
            self.behaviourAction = behaviourAction
            self.behaviourDensity = behaviourDensity
            self.target = target
            self.reward = reward
        }
    }

    /// Makes periods as they are gathered: campaigns numbered in the order they first
    /// appear (the response model's key), each period's cluster its campaign-day (what the
    /// bootstrap resamples). One numbering per sample.
    package struct CampaignDays: Sendable {
        private var numbers: [CampaignID: Int] = [:]

        package init() {}

        package mutating func period(
            campaign: CampaignID, hourStart: Instant, action: Double, behaviourAction: Double, behaviourDensity: Double,
            target: Double, reward: Double
        ) -> Period {
            let c = numbers[campaign] ?? numbers.count
            numbers[campaign] = c
            let hour = hourStart.microsSinceEpoch.floorDiv(Instant.secondsPerHour * Instant.microsPerSecond)
            let day = hour.floorDiv(24)
            return Period(
                campaign: c, hourOfDay: Int(hour - 24 * day), cluster: c &* 1_000_003 &+ Int(day), action: action,
                behaviourAction: behaviourAction, behaviourDensity: behaviourDensity, target: target, reward: reward)
        }
    }

    /// What `adpilotctl evidence` and the twin validation use, with the exploration scale
    /// `s` as the bandwidth: a ridge of four periods at one exploration step (4 s^2), and
    /// weights clipped at 10.
    package static func ridge(scale s: Double) -> Double { 4 * s * s }
    package static let weightMax = 10.0

    package enum Estimator: String, CaseIterable, Sendable, Codable {
        case dm, ips, snips, dr
    }

    /// Point estimates and diagnostics on one sample.
    package struct Point: Hashable, Sendable, Codable {
        package var dm: Double
        package var ips: Double
        package var snips: Double
        package var dr: Double
        /// Effective sample size of the kernel weights, (sum w)^2 / sum w^2.
        package var effectiveSampleSize: Double
        /// Share of periods whose target action lies within 3 bandwidths of the action taken:
        /// the part of the target's behaviour the log covers.
        package var support: Double

        package func value(_ e: Estimator) -> Double {
            switch e {
            case .dm: return dm
            case .ips: return ips
            case .snips: return snips
            case .dr: return dr
            }
        }
    }

    static let invSqrt2Pi = 0.398_942_280_401_432_7

    /// The Gaussian kernel with bandwidth `h`.
    package static func kernel(_ u: Double, bandwidth h: Double) -> Double {
        let z = u / h
        return invSqrt2Pi * exp(-0.5 * z * z) / h
    }

    /// The kernel weight of each period, at most `weightMax` (clipped: a logged action far in
    /// the behaviour's tail, near the target, would otherwise carry the whole estimate).
    package static func weights(_ periods: [Period], bandwidth: Double, weightMax: Double) -> [Double] {
        periods.map { min(weightMax, kernel($0.target - $0.action, bandwidth: bandwidth) / $0.behaviourDensity) }
    }

    /// The response model: the reward of a period is its cell's level (a campaign in one hour
    /// of the day, so a campaign's daily cycle is not mistaken for the action's effect) plus a
    /// slope per campaign times the exploration shift (the action less the behaviour's own
    /// action). The shift is randomised, independent of the hour and the state, so the slope
    /// is least squares of the reward on the shift within the campaign, without confounding
    /// and even when each cell holds one period; it is shrunk toward the pooled slope by
    /// `ridge` (added to the campaign's sum of squared shift deviations). A cell's level is its
    /// mean of reward - slope * shift. q(i, a) = level_cell + slope_campaign * (a - behaviourAction_i).
    package struct ResponseModel: Sendable {
        package var level: [Int: Double] = [:]
        package var slope: [Int: Double] = [:]
        package var pooled = 0.0

        /// The cell a period belongs to.
        package static func cell(_ p: Period) -> Int { p.campaign &* 24 &+ p.hourOfDay }

        package init(_ periods: [Period], ridge: Double) {
            var campaigns: [Int: (n: Double, shift: Double, reward: Double)] = [:]
            for p in periods {
                let m = campaigns[p.campaign, default: (0, 0, 0)]
                campaigns[p.campaign] = (m.n + 1, m.shift + p.action - p.behaviourAction, m.reward + p.reward)
            }
            var sxx: [Int: Double] = [:], sxy: [Int: Double] = [:]
            for p in periods {
                let m = campaigns[p.campaign]!
                let x = p.action - p.behaviourAction - m.shift / m.n, y = p.reward - m.reward / m.n
                sxx[p.campaign, default: 0] += x * x
                sxy[p.campaign, default: 0] += x * y
            }
            let tx = sxx.values.reduce(0, +), ty = sxy.values.reduce(0, +)
            pooled = tx > 0 ? ty / tx : 0
            for (c, xx) in sxx {
                slope[c] = xx + ridge > 0 ? (sxy[c]! + ridge * pooled) / (xx + ridge) : pooled
            }
            var cells: [Int: (n: Double, sum: Double)] = [:]
            for p in periods {
                let m = cells[Self.cell(p), default: (0, 0)]
                cells[Self.cell(p)] = (m.n + 1, m.sum + p.reward - slope[p.campaign]! * (p.action - p.behaviourAction))
            }
            level = cells.mapValues { $0.sum / $0.n }
        }

        /// q(p, action): `p`'s cell level plus its campaign's slope times the shift from the
        /// behaviour's own action.
        package func predict(_ p: Period, action: Double) -> Double {
            let b = slope[p.campaign] ?? pooled
            return (level[Self.cell(p)] ?? 0) + b * (action - p.behaviourAction)
        }
    }

    /// Every estimator on `periods`.
    package static func estimate(
        _ periods: [Period], bandwidth: Double, ridge: Double, weightMax: Double = .infinity
    ) -> Point {
        guard !periods.isEmpty else {
            return Point(dm: 0, ips: 0, snips: 0, dr: 0, effectiveSampleSize: 0, support: 0)
        }
        let n = Double(periods.count)
        let w = weights(periods, bandwidth: bandwidth, weightMax: weightMax)
        let model = ResponseModel(periods, ridge: ridge)
        var dm = 0.0, ips = 0.0, dr = 0.0, sw = 0.0, sw2 = 0.0, swr = 0.0, covered = 0.0
        for (p, wi) in zip(periods, w) {
            let qTarget = model.predict(p, action: p.target)
            let qTaken = model.predict(p, action: p.action)
            dm += qTarget
            ips += wi * p.reward
            dr += qTarget + wi * (p.reward - qTaken)
            sw += wi
            sw2 += wi * wi
            swr += wi * p.reward
            if abs(p.target - p.action) <= 3 * bandwidth { covered += 1 }
        }
        return Point(
            dm: dm / n, ips: ips / n, snips: sw > 0 ? swr / sw : 0, dr: dr / n,
            effectiveSampleSize: sw2 > 0 ? sw * sw / sw2 : 0, support: covered / n)
    }

    /// An estimate with its 95% interval.
    package struct Interval: Hashable, Sendable, Codable {
        package var estimate: Double
        package var low: Double
        package var high: Double

        package init(estimate: Double, low: Double, high: Double) {
            self.estimate = estimate
            self.low = low
            self.high = high
        }
    }

    /// What `evaluate` reports per estimator: the candidate's value, the reference's, and
    /// the difference (candidate - reference), each with a cluster-bootstrap interval.
    package struct Comparison: Hashable, Sendable, Codable {
        package var estimator: Estimator
        package var candidate: Interval
        package var reference: Interval
        package var difference: Interval
    }

    package struct Report: Hashable, Sendable, Codable {
        package var periods: Int
        package var clusters: Int
        package var bandwidth: Double
        package var replicates: Int
        /// The candidate's weights (the reference's are in `referenceEffectiveSampleSize`).
        package var effectiveSampleSize: Double
        package var referenceEffectiveSampleSize: Double
        package var support: Double
        package var comparisons: [Comparison]

        package func comparison(_ e: Estimator) -> Comparison? { comparisons.first { $0.estimator == e } }
    }

    /// The candidate (each period's `target`) against the reference (`reference[i]`, the
    /// same periods' reference actions), by every estimator, with 95% percentile intervals
    /// from `replicates` bootstrap resamples of whole clusters (campaign-days: periods of
    /// one campaign and day are correlated, so they are drawn together), drawn with
    /// SplitMix64(`seed`): cluster `k` of the sorted cluster ids is `next() % clusters`.
    package static func evaluate(
        _ periods: [Period], reference: [Double], bandwidth: Double, ridge: Double, weightMax: Double = .infinity,
        replicates: Int, seed: UInt64
    ) -> Report {
        precondition(reference.count == periods.count, "one reference action per period")
        let asReference = zip(periods, reference).map { p, r in
            var q = p
            q.target = r
            return q
        }
        let point = (estimate(periods, bandwidth: bandwidth, ridge: ridge, weightMax: weightMax),
                     estimate(asReference, bandwidth: bandwidth, ridge: ridge, weightMax: weightMax))
        let ids = Array(Set(periods.map(\.cluster))).sorted()
        let members = Dictionary(grouping: periods.indices, by: { periods[$0].cluster })
        var rng = SplitMix64(seed: seed)
        var draws: [[Double]] = Array(repeating: [], count: Estimator.allCases.count * 3)
        for _ in 0..<replicates {
            var indices: [Int] = []
            for _ in ids.indices { indices += members[ids[Int(rng.next() % UInt64(ids.count))]]! }
            let c = estimate(indices.map { periods[$0] }, bandwidth: bandwidth, ridge: ridge, weightMax: weightMax)
            let r = estimate(indices.map { asReference[$0] }, bandwidth: bandwidth, ridge: ridge, weightMax: weightMax)
            for (k, e) in Estimator.allCases.enumerated() {
                draws[3 * k].append(c.value(e))
                draws[3 * k + 1].append(r.value(e))
                draws[3 * k + 2].append(c.value(e) - r.value(e))
            }
        }
        let comparisons = Estimator.allCases.enumerated().map { k, e in
            let (c, r) = (point.0.value(e), point.1.value(e))
            return Comparison(
                estimator: e, candidate: interval(c, draws[3 * k]), reference: interval(r, draws[3 * k + 1]),
                difference: interval(c - r, draws[3 * k + 2]))
        }
        return Report(
            periods: periods.count, clusters: ids.count, bandwidth: bandwidth, replicates: replicates,
            effectiveSampleSize: point.0.effectiveSampleSize, referenceEffectiveSampleSize: point.1.effectiveSampleSize,
            support: point.0.support, comparisons: comparisons)
    }

    /// The estimate with the 2.5% and 97.5% quantiles of its bootstrap draws (linear
    /// interpolation between order statistics, numpy's default).
    static func interval(_ estimate: Double, _ draws: [Double]) -> Interval {
        guard !draws.isEmpty else { return Interval(estimate: estimate, low: estimate, high: estimate) }
        let sorted = draws.sorted()
        return Interval(estimate: estimate, low: quantile(sorted, 0.025), high: quantile(sorted, 0.975))
    }

    package static func quantile(_ sorted: [Double], _ q: Double) -> Double {
        let position = q * Double(sorted.count - 1)
        let below = Int(position.rounded(.down))
        let above = min(sorted.count - 1, below + 1)
        return sorted[below] + (sorted[above] - sorted[below]) * (position - Double(below))
    }
}
