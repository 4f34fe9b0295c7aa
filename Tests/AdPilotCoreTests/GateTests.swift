import Foundation
import Testing
@testable import AdPilotCore

@Suite struct GateTests {
    let config = GateConfig(
        shadowHoursMin: 24, shadowDecisionsMin: 100, shadowVetoRateMax: 0.2, valueMargin: 0.05,
        effectiveSampleSizeMin: 30, canaryHoursMin: 48, profitMargin: 0.1, alpha: 0.05, horizonHours: 24,
        cohortHoursMin: 10, pacingErrorMax: 0.25, failureLimit: 3)
    let t0 = Instant(secondsSinceEpoch: 1_800_000_000)
    let policy = PolicyID("qlearn@2")!
    let live = PolicyID("pace@1")!

    func estimate(difference: (Double, Double, Double), ess: Double = 120) -> ValueEvidence {
        ValueEvidence(
            live: live, unavailable: nil, periods: 400, effectiveSampleSize: ess, support: 0.9,
            liveValue: OffPolicy.Interval(estimate: 10_000_000, low: 9_000_000, high: 11_000_000),
            difference: OffPolicy.Interval(estimate: difference.0, low: difference.1, high: difference.2))
    }

    @Test func shadowGatesNeedTimeDecisionsNoErrorsFewVetoesAndValue() {
        var e = Evidence(mode: .shadow, candidate: policy, since: t0)
        let early = Gates.checks(config, e, now: t0.adding(seconds: 3_600))
        #expect(
            early.map(\.name) == [
                "shadow_hours", "shadow_decisions", "policy_errors", "veto_rate", "critical_anomalies",
                "value_vs_live", "effective_sample_size",
            ])
        #expect(
            early.filter { !$0.passed }.map(\.name) == [
                "shadow_hours", "shadow_decisions", "veto_rate", "value_vs_live", "effective_sample_size",
            ])
        e.candidateDecisions = 500
        e.candidateVetoes = 50
        // Within the margin: lower bound -0.40 >= -5% of live's 10.00 = -0.50.
        e.value = estimate(difference: (200_000, -400_000, 800_000))
        let ready = Gates.checks(config, e, now: t0.adding(seconds: 25 * 3_600))
        #expect(ready.allSatisfy { $0.passed }, "\(ready)")
        #expect(ready[3].measured == "10% (50/500)" && ready[3].required == "<= 20%")
        #expect(
            ready[5].measured == "0.20 [-0.40, 0.80] per campaign-hour, n=400 (live 10.00)"
                && ready[5].required.hasSuffix("(-0.50)"), "\(ready[5])")
        e.candidatePolicyFaults = 1
        #expect(
            Gates.checks(config, e, now: t0.adding(seconds: 25 * 3_600)).first { !$0.passed }?.name == "policy_errors")
    }

    @Test func aCandidateWhoseIntervalReachesPastTheMarginIsBlocked() {
        var e = Evidence(mode: .shadow, candidate: policy, since: t0)
        e.candidateDecisions = 500
        // The point estimate is positive; the interval is what decides.
        e.value = estimate(difference: (100_000, -600_000, 800_000))
        let worse = Gates.checks(config, e, now: t0.adding(seconds: 25 * 3_600))
        #expect(worse.filter { !$0.passed }.map(\.name) == ["value_vs_live"], "\(worse)")
        e.value = estimate(difference: (100_000, 0, 200_000), ess: 12)
        let thin = Gates.checks(config, e, now: t0.adding(seconds: 25 * 3_600))
        #expect(thin.filter { !$0.passed }.map(\.name) == ["effective_sample_size"], "\(thin)")
        #expect(thin.last?.measured == "12 of 400 (support 90%)")
        // A margin of 0: no worse than live, said so; a lower bound of exactly 0 passes.
        var strict = config
        strict.valueMargin = 0
        e.value = estimate(difference: (100_000, 0, 200_000))
        let none = Gates.checks(strict, e, now: t0.adding(seconds: 25 * 3_600)).first { $0.name == "value_vs_live" }
        #expect(
            none?.passed == true && none?.required == "DR lower bound of candidate - live >= 0 (no worse than live)")
        e.value = estimate(difference: (100_000, -1, 200_000))
        #expect(Gates.checks(strict, e, now: t0.adding(seconds: 25 * 3_600)).contains { !$0.passed })
    }

    @Test func theValueGateSaysWhyThereIsNoEstimate() {
        var e = Evidence(mode: .shadow, candidate: policy, since: t0)
        e.value = ValueEvidence(live: live, unavailable: "exploration is off")
        let off = Gates.checks(config, e, now: t0)
        let line = off.first { $0.name == "value_vs_live" }
        #expect(line.map { !$0.passed && $0.measured == "exploration is off" } == true)
        // Nothing writes in shadow with the live slot empty: nothing to compare with.
        e.value = ValueEvidence(live: nil, unavailable: nil)
        let first = Gates.checks(config, e, now: t0).first { $0.name == "value_vs_live" }
        #expect(first?.passed == true && first?.measured.hasPrefix("no live policy") == true)
    }

    /// Values computed with the `confseq` package's formulas (std_conjmix_margin,
    /// best_rho2_approx) in Python, alpha / 2 per side.
    @Test func theConfidenceSequenceMatchesItsFormula() throws {
        let rho2 = ConfidenceSequence.rho2(horizon: 24, alpha: 0.05)
        #expect(abs(rho2 - 0.3959724730653951) < 1e-12)
        #expect(abs(ConfidenceSequence.unitMargin(30, rho2: rho2, alpha: 0.05) - 0.599154152023214) < 1e-12)
        #expect(abs(ConfidenceSequence.unitMargin(1_000, rho2: rho2, alpha: 0.05) - 0.11573836733848336) < 1e-12)
        var m = RunningMoments()
        for x in [0.1, -0.3, 0.25, 0.05, -0.12, 0.4] { m.add(x) }
        let cs = try #require(ConfidenceSequence.interval(m, alpha: 0.05, horizon: 24))
        #expect(abs(cs.estimate - 0.06333333333333334) < 1e-12)
        #expect(abs(cs.low + 0.29494010074123905) < 1e-12 && abs(cs.high - 0.42160676740790576) < 1e-12)
    }

    /// Anytime validity, the property the canary gate relies on: over 400 streams of 300
    /// standard normals, checked after every observation, the sequence ever excludes the
    /// true mean in at most alpha of them; a fixed-sample 95% interval checked the same way
    /// does in far more.
    @Test func checkingEveryTickKeepsTheErrorRate() {
        let seed: UInt64 = 20_261_202
        var rng = SplitMix64(seed: seed)
        var csMisses = 0, fixedMisses = 0
        for _ in 0..<400 {
            var m = RunningMoments()
            var csMissed = false, fixedMissed = false
            for _ in 0..<300 {
                let u = max(rng.unit(), 0x1.0p-53), v = rng.unit()
                m.add((-2 * log(u)).squareRoot() * cos(2 * Double.pi * v))
                guard m.count >= 10, let cs = ConfidenceSequence.interval(m, alpha: 0.05, horizon: 24) else { continue }
                if cs.low > 0 || cs.high < 0 { csMissed = true }
                let half = 1.96 * (m.variance!).squareRoot() / Double(m.count).squareRoot()
                if abs(m.mean) > half { fixedMissed = true }
            }
            if csMissed { csMisses += 1 }
            if fixedMissed { fixedMisses += 1 }
        }
        #expect(csMisses <= 20, "seed \(seed): \(csMisses) of 400 streams left the sequence")
        #expect(fixedMisses > 60, "seed \(seed): the fixed interval missed only \(fixedMisses) of 400")
    }

    @Test func canaryComparesProfitChangesWithAConfidenceSequence() {
        var e = Evidence(mode: .canary, candidate: policy, since: t0)
        // Not enough data: nothing fails yet (no rollback), nothing passes either.
        #expect(
            Gates.health(config, e).allSatisfy {
                !$0.failing && !$0.check.passed || $0.check.name == "canary_breaker_trips"
            })
        e.canaryBaseline = CohortBaseline(
            profitByHourOfDayMicros: Array(repeating: 1_000_000, count: 24), spendPerHourMicros: 5_000_000)
        e.controlBaseline = e.canaryBaseline
        e.canaryHours = 30
        e.pacingError = 0.1
        for i in 0..<30 { e.profitDifference.add(i % 2 == 0 ? 0.02 : -0.01) }
        let ok = Gates.health(config, e)
        #expect(ok.allSatisfy { $0.check.passed && !$0.failing }, "\(ok.map(\.check))")
        #expect(ok[0].check.measured.hasPrefix("+0.5% [") && ok[0].check.measured.hasSuffix("n=30 h"), "\(ok[0])")
        // Worse by a little: not confidently better than -margin, not confidently harmful.
        var unsure = e
        unsure.profitDifference = RunningMoments()
        for i in 0..<30 { unsure.profitDifference.add(i % 2 == 0 ? 0.05 : -0.25) }
        let u = Gates.health(config, unsure)[0]
        #expect(!u.check.passed && !u.failing, "\(u.check)")
        // Confident harm: rollback is called for.
        var harm = e
        harm.profitDifference = RunningMoments()
        for i in 0..<30 { harm.profitDifference.add(i % 2 == 0 ? -0.3 : -0.4) }
        let h = Gates.health(config, harm)[0]
        #expect(!h.check.passed && h.failing && h.check.measured.hasSuffix("(confident harm)"), "\(h.check)")
        e.canaryBreakerTrips = 1
        #expect(Gates.health(config, e).first { $0.check.name == "canary_breaker_trips" }?.failing == true)
        let toLive = Gates.checks(config, e, now: t0.adding(seconds: 49 * 3_600))
        #expect(toLive.map(\.name) == ["canary_hours", "profit_vs_control", "canary_breaker_trips", "pacing_error"])
        #expect(toLive[0].passed && !toLive[2].passed)
        // Pacing is a gate, never a rollback trigger.
        e.pacingError = 5
        let pacing = Gates.health(config, e).first { $0.check.name == "pacing_error" }
        #expect(pacing.map { !$0.check.passed && !$0.failing } == true)
        #expect(Gates.checks(config, Evidence(mode: .live, candidate: nil, since: t0), now: t0).isEmpty)
    }

    @Test func evidenceRoundTripsThroughJSONAndOlderSnapshotsStillDecode() throws {
        var e = Evidence(mode: .canary, candidate: policy, since: t0)
        e.canaryBaseline = CohortBaseline(
            profitByHourOfDayMicros: Array(repeating: 1, count: 24), spendPerHourMicros: 2)
        e.profitDifference.add(0.5)
        e.lastPairedHour = 500_000
        e.value = estimate(difference: (1, 0, 2))
        e.pacingError = 0.2
        let back = try JSONDecoder().decode(Evidence.self, from: JSONEncoder().encode(e))
        #expect(back == e)
        // A snapshot written before the value and confidence-sequence keys existed.
        let old = #"""
            {"mode":"canary","candidate":"qlearn@2","since":1800000000000000,"candidateDecisions":3,
            "candidatePolicyFaults":0,"candidateVetoes":0,"criticalAnomalies":0,"canaryHours":0,
            "canarySpendMicros":0,"canaryValueMicros":0,"controlHours":0,"controlSpendMicros":0,
            "controlValueMicros":0,"canaryBaselineRoas":null,"controlBaselineRoas":null,
            "canaryBreakerTrips":0,"pacingError":null,"consecutiveFailedChecks":0}
            """#
        let decoded = try JSONDecoder().decode(Evidence.self, from: Data(old.utf8))
        #expect(decoded.candidateDecisions == 3 && decoded.profitDifference.count == 0 && decoded.value == nil)
    }
}
