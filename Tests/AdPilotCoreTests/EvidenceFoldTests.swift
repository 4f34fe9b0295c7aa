import Testing
@testable import AdPilotCore

/// The evidence fold and the automatic-rollback decision (EvidenceFold), as pure functions.
@Suite struct EvidenceFoldTests {
    let candidate = PolicyID("cand@1")!
    let gates = GateConfig(
        shadowHoursMin: 1, shadowDecisionsMin: 1, shadowVetoRateMax: 0.5, canaryHoursMin: 1,
        roasMarginMax: 0.1, cohortHoursMin: 2, pacingErrorMax: 0.5, failureLimit: 3)

    func state(_ mode: Mode) -> ControlState {
        ControlState(mode: mode, live: PolicyID("test@1")!, candidate: candidate, modeSince: Fixture.noon)
    }

    func candidateDecision(fault: Bool = false) -> Decision {
        let input = Fixture.input(mode: .canary, slot: .candidate, inCanaryScope: true)
        return fault ? Fixture.decide(input, proposal: .failed("boom")) : Fixture.decide(input, proposing: usd("105"))
    }

    func sample(canary: Bool, spend: String, value: String, hours: Int = 1, opened: Bool = false) -> CohortSample {
        CohortSample(
            inCanaryScope: canary,
            trailing: TrailingStats(spendMicros: usd("100"), conversions: 10, conversionValueMicros: usd("300")),
            freshHours: hours, freshSpendMicros: usd(spend).rawValue, freshValueMicros: usd(value).rawValue,
            breakerOpened: opened)
    }

    @Test func evidenceOfAnotherStateIsLeftAlone() {
        var e = Evidence(mode: .shadow, candidate: candidate, since: Fixture.noon)
        let before = e
        #expect(
            EvidenceFold.fold(
                &e, state: state(.canary), decisions: [candidateDecision()], cohorts: [],
                gates: gates, now: Fixture.noon) == nil)
        #expect(e == before)
    }

    @Test func shadowCountsTheCandidateOnly() {
        var e = Evidence(mode: .shadow, candidate: candidate, since: Fixture.noon)
        let live = Fixture.decide(Fixture.input(mode: .shadow, slot: .live), proposing: usd("100"))
        let shadow = Fixture.decide(Fixture.input(mode: .shadow, slot: .candidate), proposal: .failed("nan"))
        #expect(
            EvidenceFold.fold(
                &e, state: state(.shadow), decisions: [live, shadow],
                cohorts: [sample(canary: true, spend: "10", value: "30")], gates: gates, now: Fixture.noon) == nil)
        #expect(e.candidateDecisions == 1 && e.candidatePolicyFaults == 1 && e.candidateVetoes == 1)
        #expect(e.canaryHours == 0 && e.canaryBaselineRoas == nil, "cohorts are folded in canary only")
    }

    @Test func canaryFoldsCohortsAndTakesBaselinesOnce() {
        var e = Evidence(mode: .canary, candidate: candidate, since: Fixture.noon)
        let cohorts = [
            sample(canary: true, spend: "10", value: "30", opened: true),
            sample(canary: false, spend: "20", value: "20"),
        ]
        _ = EvidenceFold.fold(
            &e, state: state(.canary), decisions: [candidateDecision()], cohorts: cohorts, gates: gates,
            now: Fixture.noon)
        #expect(e.canaryBaselineRoas == 3 && e.controlBaselineRoas == 3)
        #expect(
            e.canaryHours == 1 && e.canarySpendMicros == usd("10").rawValue && e.canaryValueMicros == usd("30").rawValue
        )
        #expect(e.controlHours == 1 && e.controlSpendMicros == usd("20").rawValue)
        #expect(e.canaryBreakerTrips == 1)
        #expect(e.pacingError != nil)
        var later = cohorts
        later[0].trailing = TrailingStats(spendMicros: usd("100"), conversions: 1, conversionValueMicros: usd("50"))
        _ = EvidenceFold.fold(&e, state: state(.canary), decisions: [], cohorts: later, gates: gates, now: Fixture.noon)
        #expect(e.canaryBaselineRoas == 3, "a baseline is never retaken from hours the candidate shaped")
    }

    @Test func aCandidateFaultInCanaryRollsBackAtOnce() {
        var e = Evidence(mode: .canary, candidate: candidate, since: Fixture.noon)
        let r = EvidenceFold.fold(
            &e, state: state(.canary), decisions: [candidateDecision(fault: true)], cohorts: [],
            gates: gates, now: Fixture.noon)
        #expect(r?.reason.hasPrefix("the candidate's policy failed on c1") == true)
        #expect(r?.checks.isEmpty == false)
    }

    @Test func failedHealthChecksRollBackAfterTheFailureLimitAndRecover() {
        var e = Evidence(mode: .canary, candidate: candidate, since: Fixture.noon)
        // The canary loses money while control earns: ROAS falls far past the margin.
        let bad = [
            sample(canary: true, spend: "100", value: "10", hours: 5),
            sample(canary: false, spend: "100", value: "300", hours: 5),
        ]
        var calls: [EvidenceFold.Rollback?] = []
        for _ in 0..<gates.failureLimit {
            calls.append(
                EvidenceFold.fold(
                    &e, state: state(.canary), decisions: [], cohorts: bad, gates: gates, now: Fixture.noon))
        }
        #expect(calls.dropLast().allSatisfy { $0 == nil }, "no rollback before \(gates.failureLimit) failures")
        #expect(calls.last??.reason.hasPrefix("canary analysis failed 3 consecutive times") == true)
        var healthy = Evidence(mode: .canary, candidate: candidate, since: Fixture.noon)
        healthy.consecutiveFailedChecks = 2
        let good = [
            sample(canary: true, spend: "100", value: "300"), sample(canary: false, spend: "100", value: "300"),
        ]
        #expect(
            EvidenceFold.fold(
                &healthy, state: state(.canary), decisions: [], cohorts: good, gates: gates,
                now: Fixture.noon) == nil)
        #expect(healthy.consecutiveFailedChecks == 0, "a passing check resets the count")
    }
}
