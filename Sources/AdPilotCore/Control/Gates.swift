/// Promotion gates (docs/state-machine.md): what a candidate must show before it may write more.
/// Pure: the daemon accumulates `Evidence` tick by tick; these functions judge it.
package struct GateConfig: Hashable, Sendable, Codable {
    /// shadow -> canary
    package var shadowHoursMin: Double
    package var shadowDecisionsMin: Int
    /// Share of the candidate's decisions that a layer vetoed (held).
    package var shadowVetoRateMax: Double
    /// The doubly robust lower bound of (candidate - live) profit per campaign-hour may be
    /// at most this fraction of the live policy's estimated profit per campaign-hour below 0.
    package var valueMargin: Double
    /// The candidate's importance weights must carry at least this effective sample size.
    package var effectiveSampleSizeMin: Double
    /// canary -> live
    package var canaryHoursMin: Double
    /// The canary-vs-control profit difference (per settled hour, as a fraction of each
    /// cohort's baseline hourly spend) may trail by at most this much: its lower bound for
    /// promotion, its upper bound for automatic rollback.
    package var profitMargin: Double
    /// The confidence sequence's level (1 - alpha) and the hour count it is tuned for.
    package var alpha: Double
    package var horizonHours: Double
    /// Settled hours compared (both cohorts) before the comparison is judged either way.
    package var cohortHoursMin: Int
    /// Mean |spend today - target to date| / daily target over the canary cohort.
    package var pacingErrorMax: Double
    /// Consecutive canary ticks with a breaker trip before the controller rolls the canary
    /// back by itself (Argo Rollouts' failureLimit).
    package var failureLimit: Int

    package init(
        shadowHoursMin: Double, shadowDecisionsMin: Int, shadowVetoRateMax: Double, valueMargin: Double = 0.02,
        effectiveSampleSizeMin: Double = 30, canaryHoursMin: Double, profitMargin: Double = 0.1,
        alpha: Double = 0.05, horizonHours: Double = 72, cohortHoursMin: Int, pacingErrorMax: Double,
        failureLimit: Int
    ) {
        self.shadowHoursMin = shadowHoursMin
        self.shadowDecisionsMin = shadowDecisionsMin
        self.shadowVetoRateMax = shadowVetoRateMax
        self.valueMargin = valueMargin
        self.effectiveSampleSizeMin = effectiveSampleSizeMin
        self.canaryHoursMin = canaryHoursMin
        self.profitMargin = profitMargin
        self.alpha = alpha
        self.horizonHours = horizonHours
        self.cohortHoursMin = cohortHoursMin
        self.pacingErrorMax = pacingErrorMax
        self.failureLimit = failureLimit
    }
}

package enum Gates {
    static func hours(_ e: Evidence, _ now: Instant) -> Double { max(0, now.seconds(since: e.since)) / 3_600 }
    static func fmt(_ v: Double) -> String {
        guard v.isFinite && abs(v) < 1e15 else { return "\(v)" }
        let r = (v * 100).rounded() / 100
        return r == r.rounded() ? String(Int(r)) : String(r)
    }
    static func pct(_ v: Double) -> String { fmt(v * 100) + "%" }

    /// The checks for the step out of `evidence.mode` (shadow -> canary, canary -> live);
    /// empty for other modes.
    package static func checks(_ c: GateConfig, _ e: Evidence, now: Instant) -> [GateCheck] {
        switch e.mode {
        case .shadow: return shadowToCanary(c, e, now: now)
        case .canary: return canaryToLive(c, e, now: now)
        case .live, .halted: return []
        }
    }

    package static func shadowToCanary(_ c: GateConfig, _ e: Evidence, now: Instant) -> [GateCheck] {
        let h = hours(e, now)
        let vetoRate = e.candidateDecisions > 0 ? Double(e.candidateVetoes) / Double(e.candidateDecisions) : 0
        return [
            GateCheck(
                name: "shadow_hours", required: ">= \(fmt(c.shadowHoursMin))", measured: fmt(h),
                passed: h >= c.shadowHoursMin),
            GateCheck(
                name: "shadow_decisions", required: ">= \(c.shadowDecisionsMin)", measured: "\(e.candidateDecisions)",
                passed: e.candidateDecisions >= c.shadowDecisionsMin),
            GateCheck(
                name: "policy_errors", required: "0", measured: "\(e.candidatePolicyFaults)",
                passed: e.candidatePolicyFaults == 0),
            GateCheck(
                name: "veto_rate", required: "<= \(pct(c.shadowVetoRateMax))",
                measured: "\(pct(vetoRate)) (\(e.candidateVetoes)/\(e.candidateDecisions))",
                passed: e.candidateDecisions > 0 && vetoRate <= c.shadowVetoRateMax),
            GateCheck(
                name: "critical_anomalies", required: "0", measured: "\(e.criticalAnomalies)",
                passed: e.criticalAnomalies == 0),
        ] + value(c, e.value)
    }

    /// The candidate's off-policy value against the live policy's (`value_vs_live`) and the
    /// sample behind it (`effective_sample_size`). With the live slot empty nothing writes,
    /// so there is nothing to compare with: both pass, saying so, and the canary's
    /// comparison with control is the test (docs/state-machine.md).
    static func value(_ c: GateConfig, _ v: ValueEvidence?) -> [GateCheck] {
        let required = c.valueMargin == 0
            ? "DR lower bound of candidate - live >= 0 (no worse than live)"
            : "DR lower bound of candidate - live >= -\(pct(c.valueMargin)) of live's value"
        let essRequired = ">= \(fmt(c.effectiveSampleSizeMin))"
        guard let v, v.live != nil else {
            let why = v == nil
                ? "no estimate yet (the next tick makes one)"
                : "no live policy: nothing writes, nothing to compare (canary vs control decides)"
            return [
                GateCheck(name: "value_vs_live", required: required, measured: why, passed: v != nil),
                GateCheck(name: "effective_sample_size", required: essRequired, measured: "n/a", passed: v != nil),
            ]
        }
        guard let d = v.difference, let live = v.liveValue else {
            let why = v.unavailable ?? "no estimate"
            return [
                GateCheck(name: "value_vs_live", required: required, measured: why, passed: false),
                GateCheck(name: "effective_sample_size", required: essRequired, measured: why, passed: false),
            ]
        }
        let floor = -c.valueMargin * abs(live.estimate)
        return [
            GateCheck(
                name: "value_vs_live", required: c.valueMargin == 0 ? required : required + " (\(money(floor)))",
                measured: "\(money(d.estimate)) [\(money(d.low)), \(money(d.high))] per campaign-hour, "
                    + "n=\(v.periods) (live \(money(live.estimate)))",
                passed: d.low >= floor),
            GateCheck(
                name: "effective_sample_size", required: essRequired,
                measured: "\(fmt(v.effectiveSampleSize)) of \(v.periods) (support \(pct(v.support)))",
                passed: v.effectiveSampleSize >= c.effectiveSampleSizeMin),
        ]
    }

    /// Micros (a statistic) as currency units, rounded to two decimals.
    static func money(_ micros: Double) -> String {
        guard micros.isFinite, abs(micros) < 9e18 else { return "\(micros)" }
        return Micros(Int64((micros / 10_000).rounded()) * 10_000).decimalString(minimumFractionDigits: 2)
    }
}

extension Gates {
    package static func canaryToLive(_ c: GateConfig, _ e: Evidence, now: Instant) -> [GateCheck] {
        let h = hours(e, now)
        return [
            GateCheck(
                name: "canary_hours", required: ">= \(fmt(c.canaryHoursMin))", measured: fmt(h),
                passed: h >= c.canaryHoursMin)
        ]
            + health(c, e).map(\.check)
    }

    /// The canary checks that can fail while it runs (time in canary cannot): the basis
    /// of automatic rollback. `failing` says the check calls for a rollback: confident harm
    /// (the profit difference's upper bound below -margin) or a breaker trip; never a
    /// point estimate, never before there is enough data.
    package static func health(_ c: GateConfig, _ e: Evidence) -> [(check: GateCheck, failing: Bool)] {
        [profitVsControl(c, e), (
            GateCheck(
                name: "canary_breaker_trips", required: "0", measured: "\(e.canaryBreakerTrips)",
                passed: e.canaryBreakerTrips == 0), e.canaryBreakerTrips > 0
        ), pacing(c, e)]
    }

    /// The canary-vs-control profit difference with its anytime-valid interval
    /// (`ConfidenceSequence`): promotion needs its lower bound >= -margin, rollback its upper
    /// bound < -margin.
    static func profitVsControl(_ c: GateConfig, _ e: Evidence) -> (check: GateCheck, failing: Bool) {
        let n = e.profitDifference.count
        let required =
            "lower bound >= -\(pct(c.profitMargin)) of baseline hourly profit "
            + "(\(pct(1 - c.alpha)) confidence sequence, \(c.cohortHoursMin) settled hours)"
        guard n >= c.cohortHoursMin,
            let cs = ConfidenceSequence.interval(e.profitDifference, alpha: c.alpha, horizon: c.horizonHours)
        else {
            let baselines = [e.canaryBaseline, e.controlBaseline]
            let why =
                baselines.contains(nil)
                ? "no baseline yet (taken at the first canary tick that reads every campaign)"
                : !baselines.allSatisfy({ ($0?.profitPerHourMicros ?? 0) > 0 })
                ? "not measurable: a cohort made no profit in the 48 h before the canary (override to proceed)"
                : "not enough data (\(n) of \(c.cohortHoursMin) settled hours)"
            return (GateCheck(name: "profit_vs_control", required: required, measured: why, passed: false), false)
        }
        let measured = "\(signedPct(cs.estimate)) [\(signedPct(cs.low)), \(signedPct(cs.high))], n=\(n) h"
        let harm = cs.high < -c.profitMargin
        return (
            GateCheck(
                name: "profit_vs_control", required: required,
                measured: measured + (harm ? " (confident harm)" : ""), passed: cs.low >= -c.profitMargin),
            harm
        )
    }

    static func signedPct(_ v: Double) -> String { (v >= 0 ? "+" : "") + pct(v) }

    /// The canary cohort's pacing: a gate, not a rollback trigger (a point measurement).
    static func pacing(_ c: GateConfig, _ e: Evidence) -> (check: GateCheck, failing: Bool) {
        guard let p = e.pacingError else {
            return (
                GateCheck(
                    name: "pacing_error", required: "<= \(pct(c.pacingErrorMax))", measured: "no data", passed: false),
                false
            )
        }
        // Judged once the cohort has had its hours: the candidate needs time to pace.
        let judged = e.canaryHours >= c.cohortHoursMin
        return (
            GateCheck(
                name: "pacing_error", required: "<= \(pct(c.pacingErrorMax)) of the daily target",
                measured: pct(p) + (judged ? "" : " (not judged before \(c.cohortHoursMin) canary hours)"),
                passed: p <= c.pacingErrorMax && judged), false
        )
    }
}
