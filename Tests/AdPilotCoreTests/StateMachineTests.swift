import Testing
@testable import AdPilotCore

let t0 = Instant(secondsSinceEpoch: 1_795_000_000)
let alice = Actor.operator(uid: 1001, name: "alice")
let pA = PolicyID("alpha@1")!
let pB = PolicyID("beta@2")!
let pC = PolicyID("gamma@3")!
let passing = [GateCheck(name: "shadow_hours", required: ">= 1", measured: "2", passed: true)]
let failing = [
    GateCheck(name: "shadow_hours", required: ">= 1", measured: "0.5", passed: false),
    GateCheck(name: "policy_errors", required: "0", measured: "0", passed: true),
]

func state(_ mode: Mode, live: PolicyID? = nil, candidate: PolicyID? = nil, previous: PolicyID? = nil) -> ControlState {
    ControlState(mode: mode, live: live, candidate: candidate, previous: previous, modeSince: t0)
}

func apply(_ c: Command, _ s: ControlState, actor: Actor = alice) -> Result<Transition, Refusal> {
    StateMachine.apply(c, to: s, actor: actor, reason: "test", at: t0.adding(seconds: 60))
}

func after(_ c: Command, _ s: ControlState) throws -> ControlState {
    try apply(c, s).get().after
}

func refusal(_ c: Command, _ s: ControlState) -> Refusal? {
    if case .failure(let r) = apply(c, s) { return r }
    return nil
}

/// One test per cell of the transition table (docs/state-machine.md), row by row.
@Suite struct StateMachineTests {
    // shadow row
    @Test func shadowStageSetsCandidate() throws {
        let s = try after(.stage(pB), state(.shadow, live: pA, candidate: pC))
        #expect(s == ControlState(mode: .shadow, live: pA, candidate: pB, modeSince: t0))
    }

    @Test func shadowPromoteGoesToCanaryWhenGatesPass() throws {
        let s = try after(.promote(gates: passing, overrideGates: false), state(.shadow, live: pA, candidate: pB))
        #expect(s.mode == .canary && s.live == pA && s.candidate == pB && s.overrides.isEmpty)
        #expect(s.modeSince == t0.adding(seconds: 60))
    }

    @Test func shadowPromoteRefusedWhenGatesFail() {
        let r = refusal(.promote(gates: failing, overrideGates: false), state(.shadow, candidate: pB))
        #expect(r?.code == "gates_failed")
        #expect(r?.failedGates.map(\.name) == ["shadow_hours"])
        #expect(r?.allowed == [.stage, .promote, .halt])
    }

    @Test func shadowPromoteRefusedWithoutCandidate() {
        #expect(
            refusal(.promote(gates: passing, overrideGates: false), state(.shadow, live: pA))?.code == "no_candidate")
        #expect(refusal(.promote(gates: [], overrideGates: true), state(.shadow))?.code == "no_candidate")
    }

    @Test func shadowRollbackDropsCandidateToLive() throws {
        let s = try after(.rollback, state(.shadow, live: pA, candidate: pB))
        #expect(s.mode == .live && s.live == pA && s.candidate == nil)
    }

    @Test func shadowRollbackRefusedWithEmptyLiveSlot() {
        #expect(refusal(.rollback, state(.shadow, candidate: pB))?.code == "no_live_policy")
    }

    @Test func shadowHaltHalts() throws {
        let s = try after(.halt, state(.shadow, live: pA, candidate: pB))
        #expect(s.mode == .halted && s.live == pA && s.candidate == pB)
    }

    @Test func shadowResumeRefused() {
        #expect(refusal(.resume, state(.shadow, candidate: pB))?.code == "not_halted")
    }

    // canary row
    @Test func canaryStageRefused() {
        #expect(refusal(.stage(pC), state(.canary, live: pA, candidate: pB))?.code == "canary_in_progress")
    }

    @Test func canaryPromoteGoesLiveAndShiftsSlots() throws {
        let s = try after(.promote(gates: passing, overrideGates: false), state(.canary, live: pA, candidate: pB))
        #expect(
            s == ControlState(mode: .live, live: pB, candidate: nil, previous: pA, modeSince: t0.adding(seconds: 60)))
    }

    @Test func canaryPromoteWithEmptyLiveKeepsOlderPrevious() throws {
        let s = try after(.promote(gates: passing, overrideGates: false), state(.canary, candidate: pB, previous: pC))
        #expect(s.live == pB && s.previous == pC)
    }

    @Test func canaryPromoteRefusedWhenGatesFail() {
        let r = refusal(.promote(gates: failing, overrideGates: false), state(.canary, live: pA, candidate: pB))
        #expect(r?.code == "gates_failed")
        #expect(r?.allowed == [.promote, .rollback, .halt])
    }

    @Test func canaryRollbackReturnsToShadow() throws {
        let s = try after(.rollback, state(.canary, live: pA, candidate: pB))
        #expect(s.mode == .shadow && s.live == pA && s.candidate == pB)
    }

    @Test func canaryHaltHalts() throws {
        #expect(try after(.halt, state(.canary, live: pA, candidate: pB)).mode == .halted)
    }

    @Test func canaryResumeRefused() {
        #expect(refusal(.resume, state(.canary, candidate: pB))?.code == "not_halted")
    }

    // live row
    @Test func liveStageGoesToShadowWithCandidate() throws {
        let s = try after(.stage(pB), state(.live, live: pA, previous: pC))
        #expect(
            s == ControlState(mode: .shadow, live: pA, candidate: pB, previous: pC, modeSince: t0.adding(seconds: 60)))
    }

    @Test func livePromoteRefused() {
        #expect(
            refusal(.promote(gates: passing, overrideGates: true), state(.live, live: pA))?.code == "nothing_to_promote"
        )
    }

    @Test func liveRollbackRestoresPrevious() throws {
        let s = try after(.rollback, state(.live, live: pB, previous: pA))
        #expect(s.mode == .live && s.live == pA && s.previous == nil)
    }

    @Test func liveRollbackRefusedWithoutPrevious() {
        let r = refusal(.rollback, state(.live, live: pA))
        #expect(r?.code == "no_previous_policy")
        #expect(r?.allowed == [.stage, .halt])
    }

    @Test func liveHaltHalts() throws {
        #expect(try after(.halt, state(.live, live: pA)).mode == .halted)
    }

    @Test func liveResumeRefused() {
        #expect(refusal(.resume, state(.live, live: pA))?.code == "not_halted")
    }

    // halted row
    @Test(arguments: [Command.stage(pC), .promote(gates: passing, overrideGates: true), .rollback])
    func haltedRefusesEverythingButHaltAndResume(command: Command) {
        let r = refusal(command, state(.halted, live: pA, candidate: pB, previous: pC))
        #expect(r?.code == "halted")
        #expect(r?.allowed == [.halt, .resume])
    }

    @Test func haltedHaltIsANoOp() throws {
        let before = state(.halted, live: pA, candidate: pB)
        let t = try apply(.halt, before).get()
        #expect(!t.changed && t.after == before)
    }

    @Test func haltedResumeKeepsCandidateAndEmptiesLive() throws {
        let s = try after(.resume, state(.halted, live: pA, candidate: pB))
        #expect(s.mode == .shadow && s.candidate == pB && s.live == nil && s.previous == pA)
    }

    @Test func haltedResumeMakesLastLiveTheCandidate() throws {
        let s = try after(.resume, state(.halted, live: pA))
        #expect(s.mode == .shadow && s.candidate == pA && s.live == nil)
    }

    @Test func resumeNeverReturnsStraightToLive() throws {
        for s in [
            state(.halted), state(.halted, live: pA), state(.halted, candidate: pB),
            state(.halted, live: pA, candidate: pB),
        ] {
            #expect(try after(.resume, s).mode == .shadow)
        }
    }

    // overrides
    @Test func overrideIsRecordedAndFollowsThePolicyUntilItLeaves() throws {
        let t = try apply(.promote(gates: failing, overrideGates: true), state(.shadow, live: pA, candidate: pB)).get()
        #expect(t.override?.failedGates == ["shadow_hours"] && t.override?.actor == alice)
        #expect(t.after.mode == .canary && t.after.overrides.count == 1)
        // Still shown once the policy is live ...
        let live = try after(.promote(gates: passing, overrideGates: false), t.after)
        #expect(live.live == pB && live.overrides.map(\.policy) == [pB])
        // ... and gone once it is rolled back out of both slots.
        let rolledBack = try after(.rollback, live)
        #expect(rolledBack.live == pA && rolledBack.overrides.isEmpty)
    }

    @Test func overrideWithPassingGatesRecordsNothing() throws {
        let t = try apply(.promote(gates: passing, overrideGates: true), state(.shadow, candidate: pB)).get()
        #expect(t.override == nil && t.after.overrides.isEmpty)
    }

    @Test func systemActorIsRecorded() throws {
        let t = try apply(.rollback, state(.canary, live: pA, candidate: pB), actor: .system).get()
        #expect(t.actor == .system && t.after.mode == .shadow)
    }

    @Test func randomWalksKeepInvariants() {
        var rng = SplitMix64(seed: 42)
        let policies = [pA, pB, pC]
        var s = state(.shadow)
        for step in 0..<50_000 {
            let command: Command
            switch rng.next() % 5 {
            case 0: command = .stage(policies[Int(rng.next() % 3)])
            case 1:
                command = .promote(gates: rng.next() % 2 == 0 ? passing : failing, overrideGates: rng.next() % 4 == 0)
            case 2: command = .rollback
            case 3: command = .halt
            default: command = .resume
            }
            if case .success(let t) = apply(command, s) {
                #expect(t.after.isConsistent, "step \(step): \(command) from \(s)")
                if t.before.mode == .halted { #expect(t.after.mode != .live && t.after.mode != .canary) }
                s = t.after
            }
        }
    }

    @Test func everyVerbNeedsAReason() {
        for command in [Command.stage(pB), .promote(gates: passing, overrideGates: false), .rollback, .halt, .resume] {
            let r = StateMachine.apply(
                command, to: state(.shadow, live: pA, candidate: pB), actor: alice, reason: " \n", at: t0)
            if case .failure(let refusal) = r {
                #expect(refusal.code == "reason_required")
            } else {
                Issue.record("\(command) accepted a blank reason")
            }
        }
    }

    @Test func policyIDParsing() {
        #expect(PolicyID("hold@1")?.description == "hold@1")
        for bad in ["hold", "@1", "hold@", "a@b@c", "a b@1", "x@1/2", ""] {
            #expect(PolicyID(bad) == nil, "\(bad)")
        }
    }
}
