import Foundation
import Testing
@testable import AdPilotCore

@Suite struct GateTests {
    let config = GateConfig(
        shadowHoursMin: 24, shadowDecisionsMin: 100, shadowVetoRateMax: 0.2, canaryHoursMin: 48,
        roasMarginMax: 0.1, cohortHoursMin: 10, pacingErrorMax: 0.25, failureLimit: 3)
    let t0 = Instant(secondsSinceEpoch: 1_800_000_000)
    let policy = PolicyID("qlearn@2")!

    @Test func shadowGatesNeedTimeDecisionsNoErrorsAndFewVetoes() {
        var e = Evidence(mode: .shadow, candidate: policy, since: t0)
        let early = Gates.checks(config, e, now: t0.adding(seconds: 3_600))
        #expect(
            early.map(\.name) == [
                "shadow_hours", "shadow_decisions", "policy_errors", "veto_rate", "critical_anomalies",
            ])
        #expect(early.filter { !$0.passed }.map(\.name) == ["shadow_hours", "shadow_decisions", "veto_rate"])
        e.candidateDecisions = 500
        e.candidateVetoes = 50
        let ready = Gates.checks(config, e, now: t0.adding(seconds: 25 * 3_600))
        #expect(ready.allSatisfy { $0.passed }, "\(ready)")
        #expect(ready[3].measured == "10% (50/500)" && ready[3].required == "<= 20%")
        e.candidatePolicyFaults = 1
        #expect(
            Gates.checks(config, e, now: t0.adding(seconds: 25 * 3_600)).first { !$0.passed }?.name == "policy_errors")
    }

    @Test func canaryComparesEachCohortsChangeFromItsOwnBaseline() {
        var e = Evidence(mode: .canary, candidate: policy, since: t0)
        // Not enough data: nothing fails yet (no rollback), nothing passes either.
        #expect(
            Gates.health(config, e).allSatisfy {
                !$0.failing && !$0.check.passed || $0.check.name == "canary_breaker_trips"
            })
        e.canaryBaselineRoas = 4.0
        e.controlBaselineRoas = 2.0
        e.canaryHours = 20
        e.controlHours = 80
        e.controlSpendMicros = 1_000_000_000
        e.controlValueMicros = 2_000_000_000  // control unchanged at 2.0
        e.canarySpendMicros = 1_000_000_000
        e.canaryValueMicros = 3_700_000_000  // 3.7: x0.925 of its 4.0, within 10%
        e.pacingError = 0.1
        let ok = Gates.health(config, e)
        #expect(ok.allSatisfy { $0.check.passed && !$0.failing }, "\(ok.map(\.check))")
        // Raw ROAS would say the canary (3.7) beats control (2.0); its own change says otherwise.
        e.canaryValueMicros = 3_000_000_000  // x0.75
        let worse = Gates.health(config, e)
        #expect(worse.first { $0.check.name == "roas_vs_control" }?.failing == true)
        #expect(
            worse.first { $0.check.name == "roas_vs_control" }?.check.measured.contains("canary 20 h, control 80 h")
                == true)
        e.canaryValueMicros = 3_700_000_000
        e.canaryBreakerTrips = 1
        #expect(Gates.health(config, e).first { $0.check.name == "canary_breaker_trips" }?.failing == true)
        let toLive = Gates.checks(config, e, now: t0.adding(seconds: 49 * 3_600))
        #expect(toLive.map(\.name) == ["canary_hours", "roas_vs_control", "canary_breaker_trips", "pacing_error"])
        #expect(toLive[0].passed && !toLive[2].passed)
        #expect(Gates.checks(config, Evidence(mode: .live, candidate: nil, since: t0), now: t0).isEmpty)
    }

    @Test func evidenceRoundTripsThroughJSON() throws {
        var e = Evidence(mode: .canary, candidate: policy, since: t0)
        e.canaryBaselineRoas = 3.5
        e.pacingError = 0.2
        let back = try JSONDecoder().decode(Evidence.self, from: JSONEncoder().encode(e))
        #expect(back == e)
    }
}
