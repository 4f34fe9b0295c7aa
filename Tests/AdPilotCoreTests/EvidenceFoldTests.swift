import Testing
@testable import AdPilotCore

/// The evidence fold and the automatic-rollback decision (EvidenceFold), as pure functions.
@Suite struct EvidenceFoldTests {
    let candidate = PolicyID("cand@1")!
    let gates = GateConfig(
        shadowHoursMin: 1, shadowDecisionsMin: 1, shadowVetoRateMax: 0.5, canaryHoursMin: 1,
        profitMargin: 0.1, alpha: 0.05, horizonHours: 24, cohortHoursMin: 4, pacingErrorMax: 0.5, failureLimit: 3)

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
        #expect(e.canaryHours == 0 && e.canaryBaseline == nil, "cohorts are folded in canary only")
    }

    /// Two days of one campaign earning 10 an hour at 09:00 and 2 otherwise, spending 1.
    static let flat: CohortBaseline = {
        let hours = (480_000..<480_048).map { h in
            CohortBaseline.Hour(hour: Int64(h), profitMicros: h % 24 == 9 ? 10e6 : 2e6, spendMicros: 1e6)
        }
        return CohortBaseline.measure(hours, from: 480_000, to: 480_048, utcOffsetSeconds: 0)!
    }()

    @Test func aBaselineIsMeasuredHourOfDayByHourOfDay() throws {
        #expect(Self.flat.spendPerHourMicros == 1e6)
        #expect(Self.flat.profitByHourOfDayMicros[9] == 10e6 && Self.flat.profitByHourOfDayMicros[10] == 2e6)
        // 480000 is 00:00 UTC; at UTC+2 its 09:00 is UTC 07:00.
        let shifted = try #require(
            CohortBaseline.measure(
                [CohortBaseline.Hour(hour: 480_007, profitMicros: 4e6, spendMicros: 1e6)], from: 480_000,
                to: 480_048, utcOffsetSeconds: 7_200))
        #expect(shifted.profitByHourOfDayMicros[9] == 2e6, "one hour of two days' 09:00 slots, the other missing")
        #expect(CohortBaseline.measure([], from: 480_000, to: 480_048, utcOffsetSeconds: 0) == nil)
    }

    @Test func canaryFoldsCohortsAndTakesBaselinesOnce() {
        var e = Evidence(mode: .canary, candidate: candidate, since: Fixture.noon)
        let cohorts = [
            sample(canary: true, spend: "10", value: "30", opened: true),
            sample(canary: false, spend: "20", value: "20"),
        ]
        _ = EvidenceFold.fold(
            &e, state: state(.canary), decisions: [candidateDecision()], cohorts: cohorts,
            baselines: (Self.flat, Self.flat), gates: gates, now: Fixture.noon)
        #expect(e.canaryBaseline == Self.flat && e.controlBaseline == Self.flat)
        #expect(
            e.canaryHours == 1 && e.canarySpendMicros == usd("10").rawValue && e.canaryValueMicros == usd("30").rawValue
        )
        #expect(e.controlHours == 1 && e.controlSpendMicros == usd("20").rawValue)
        #expect(e.canaryBreakerTrips == 1)
        #expect(e.pacingError != nil)
        let other = CohortBaseline(profitByHourOfDayMicros: Array(repeating: 0, count: 24), spendPerHourMicros: 9)
        _ = EvidenceFold.fold(
            &e, state: state(.canary), decisions: [], cohorts: cohorts, baselines: (other, other), gates: gates,
            now: Fixture.noon)
        #expect(e.canaryBaseline == Self.flat, "a baseline is taken once")
    }

    @Test func aCandidateFaultInCanaryRollsBackAtOnce() {
        var e = Evidence(mode: .canary, candidate: candidate, since: Fixture.noon)
        let r = EvidenceFold.fold(
            &e, state: state(.canary), decisions: [candidateDecision(fault: true)], cohorts: [],
            gates: gates, now: Fixture.noon)
        #expect(r?.reason.hasPrefix("the candidate's policy failed on c1") == true)
        #expect(r?.checks.isEmpty == false)
    }

    /// Hours wholly under the canary, each folded once, in order, each against its own hour
    /// of day; both baselines needed.
    @Test func settledHoursAreFoldedOnceFromTheFirstWholeCanaryHour() {
        let hour = Instant.secondsPerHour * Instant.microsPerSecond
        let since = Instant(microsSinceEpoch: 480_000 * hour + 1)  // just after 480000 (00:00) began
        var e = Evidence(mode: .canary, candidate: candidate, since: since)
        let cohorts = [sample(canary: true, spend: "0", value: "0", hours: 0),
                       sample(canary: false, spend: "0", value: "0", hours: 0)]
        // The canary earns 1 more than its baseline in every hour (10 at 09:00, 2 otherwise);
        // control earns its baseline exactly.
        let hours = (Int64(480_000)..<480_012).map { h in
            PairedHour(
                hour: h, hourOfDay: Int(h % 24), canaryProfitMicros: (h % 24 == 9 ? 10e6 : 2e6) + 1e6,
                controlProfitMicros: h % 24 == 9 ? 10e6 : 2e6)
        }
        _ = EvidenceFold.fold(
            &e, state: state(.canary), decisions: [], cohorts: cohorts, baselines: (Self.flat, Self.flat),
            settled: hours.reversed(), gates: gates, now: since)
        #expect(e.profitDifference.count == 11 && e.lastPairedHour == 480_011, "480000 began before the canary")
        // (1 more profit) / (56 / 24 baseline profit per hour) for every hour, 09:00 included.
        #expect(abs(e.profitDifference.mean - 24.0 / 56) < 1e-12 && e.profitDifference.variance! < 1e-20)
        _ = EvidenceFold.fold(
            &e, state: state(.canary), decisions: [], cohorts: cohorts, settled: hours, gates: gates, now: since)
        #expect(e.profitDifference.count == 11, "an hour is folded once")
    }

    /// Confident harm (the confidence sequence's upper bound below -margin) rolls back
    /// after the failure limit; an uncertain loss never does.
    @Test func confidentHarmRollsBackAndAnUncertainLossDoesNot() {
        let hour = Instant.secondsPerHour * Instant.microsPerSecond
        let since = Instant(microsSinceEpoch: 480_000 * hour)
        let cohorts = [sample(canary: true, spend: "0", value: "0", hours: 0),
                       sample(canary: false, spend: "0", value: "0", hours: 0)]
        func run(_ loss: (Int64) -> Double) -> [EvidenceFold.Rollback?] {
            var e = Evidence(mode: .canary, candidate: candidate, since: since)
            return (Int64(480_000)..<480_012).map { h in
                let base = h % 24 == 9 ? 10e6 : 2e6
                return EvidenceFold.fold(
                    &e, state: state(.canary), decisions: [], cohorts: cohorts, baselines: (Self.flat, Self.flat),
                    settled: [
                        PairedHour(
                            hour: h, hourOfDay: Int(h % 24), canaryProfitMicros: base - loss(h) * 1e6,
                            controlProfitMicros: base)
                    ],
                    gates: gates, now: since)
            }
        }
        let harmful = run { $0 % 2 == 0 ? 0.5 : 0.6 }
        let first = harmful.firstIndex { $0 != nil }
        #expect(
            first == 5,
            "judged from the 4th hour (index 3), rolled back at the 3rd failing tick: \(harmful.map { $0 != nil })")
        #expect(harmful[first ?? 0]?.reason.contains("profit_vs_control") == true)
        let noisy = run { $0 % 2 == 0 ? 1.0 : -0.9 }
        #expect(noisy.allSatisfy { $0 == nil }, "a loss the interval cannot tell from noise never rolls back")
    }

    @Test func breakerTripsRollBackAfterTheFailureLimitAndRecover() {
        var e = Evidence(mode: .canary, candidate: candidate, since: Fixture.noon)
        let bad = [
            sample(canary: true, spend: "100", value: "300", hours: 1, opened: true),
            sample(canary: false, spend: "100", value: "300", hours: 1),
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
