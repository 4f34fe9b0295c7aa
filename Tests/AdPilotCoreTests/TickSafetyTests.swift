import Testing
@testable import AdPilotCore

/// The tick's safety rules (TickSafety): what halts everything, and what a live policy
/// fault calls for, before any platform write.
@Suite struct TickSafetyTests {
    let p = PolicyID("prev@1")!
    let live = PolicyID("test@1")!

    func critical(_ id: String = "c1") -> Decision {
        var input = Fixture.input()
        input.campaign.id = CampaignID(id)
        input.anomaly.level = .critical
        return Fixture.decide(input, proposing: usd("100"))
    }

    func ordinary(_ id: String) -> Decision {
        var input = Fixture.input()
        input.campaign.id = CampaignID(id)
        return Fixture.decide(input, proposing: usd("100"))
    }

    func fault(slot: Slot = .live, mode: Mode = .live) -> Decision {
        Fixture.decide(Fixture.input(mode: mode, slot: slot), proposal: .failed("boom"))
    }

    func state(_ mode: Mode, previous: PolicyID? = nil) -> ControlState {
        ControlState(mode: mode, live: live, previous: previous, modeSince: Fixture.noon)
    }

    @Test func nothingToDoOnAnOrdinaryTick() {
        let d = Fixture.decide(Fixture.input(), proposing: usd("110"))
        #expect(
            TickSafety.check([d], spendTodayMicros: [usd("50")], dailyCapMicros: usd("100"), state: state(.live)) == nil
        )
    }

    /// One campaign's anomaly quarantines that campaign alone (its decision holds); a share
    /// of the account's campaigns quarantined at once halts the account, before anything else.
    @Test func quarantinesHaltTheAccountOnlyAtTheConfiguredShare() {
        let one = critical()
        #expect(one.action == .hold && one.quarantined)
        let others = (2...10).map { ordinary("c\($0)") }
        #expect(
            TickSafety.check(
                [one] + others, spendTodayMicros: [usd("50")], dailyCapMicros: usd("100"), state: state(.live)) == nil)
        let three = [critical("c1"), critical("c2"), critical("c3")] + (4...10).map { ordinary("c\($0)") }
        let action = TickSafety.check(
            [fault()] + three, spendTodayMicros: [usd("500")], dailyCapMicros: usd("100"),
            state: state(.live, previous: p))
        #expect(action == .halt(reason: "3 of 10 campaigns quarantined at once (first c1): an account-level anomaly"))
    }

    @Test func spendPastTheCapHaltsButSpendAtTheCapDoesNot() {
        let d = Fixture.decide(Fixture.input(), proposing: usd("100"))
        #expect(
            TickSafety.check(
                [d], spendTodayMicros: [usd("60"), usd("40")], dailyCapMicros: usd("100"),
                state: state(.live)) == nil)
        let action = TickSafety.check(
            [d], spendTodayMicros: [usd("60"), usd("40.000001")], dailyCapMicros: usd("100"),
            state: state(.live))
        guard case .halt(let reason) = action else {
            Issue.record("expected a halt, got \(String(describing: action))"); return
        }
        #expect(reason.contains("exceeds the hard cap"))
    }

    @Test func capSumNeverOverflows() {
        let huge = Micros(Int64.max)
        #expect(TickSafety.capBreach(spendTodayMicros: [huge, huge, huge], dailyCapMicros: huge) != nil)
    }

    @Test func aLiveFaultRollsBackWhenThereIsAPreviousPolicy() {
        let action = TickSafety.check(
            [fault()], spendTodayMicros: [], dailyCapMicros: usd("100"),
            state: state(.live, previous: p))
        guard case .rollbackLive(let reason, let otherwise) = action else {
            Issue.record("expected a rollback, got \(String(describing: action))"); return
        }
        #expect(reason.hasPrefix("live policy test@1 failed on c1"))
        #expect(otherwise == "\(reason); the rollback could not be applied")
    }

    @Test func aLiveFaultHaltsWithoutAPreviousPolicyOrOutsideLive() {
        #expect(
            TickSafety.check([fault()], spendTodayMicros: [], dailyCapMicros: usd("100"), state: state(.live))
                .map { if case .halt(let r) = $0 { r.hasSuffix("no previous policy to roll back to") } else { false } }
                == true)
        #expect(
            TickSafety.check(
                [fault(mode: .canary)], spendTodayMicros: [], dailyCapMicros: usd("100"),
                state: state(.canary, previous: p)
            )
            .map {
                if case .halt(let r) = $0 { r.hasSuffix("a rollback in canary would not remove it") } else { false }
            }
                == true)
    }

    @Test func aCandidateFaultIsNotTheTicksBusiness() {
        #expect(
            TickSafety.check(
                [fault(slot: .candidate, mode: .canary)], spendTodayMicros: [], dailyCapMicros: usd("100"),
                state: state(.canary)) == nil)
    }
}
