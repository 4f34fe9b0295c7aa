import Testing
@testable import AdPilotCore

@Suite struct TickTests {
    let settings = TickSettings(account: Fixture.account(), pacer: .standard, breaker: .standard, anomaly: .standard)

    func campaign(budget: Micros, inCanaryScope: Bool = false) -> TickCampaign {
        TickCampaign(
            config: Fixture.campaign(), observation: Fixture.observation(budget: budget),
            newHours: [], inCanaryScope: inCanaryScope)
    }

    func tick(
        _ control: ControlState, _ c: TickCampaign, _ states: inout [CampaignControl], at now: Instant,
        haltFlag: Bool = false, breaker: inout CircuitBreaker, propose: Double = 130e6
    ) -> [Decision] {
        Tick.run(
            control: control, haltFlag: haltFlag, settings: settings, now: now, campaigns: [c], states: &states,
            platformBreaker: &breaker
        ) { _, _, _ in .micros(propose) }
    }

    /// Live, then halted for a while, then back under control: the first decision after
    /// the halt re-engages the pacer at the budget in force (no jolt from stale memory).
    @Test func haltAndResumeAreBumpless() {
        var states = [CampaignControl()]
        var breaker = CircuitBreaker()
        let live = ControlState(mode: .live, live: pA, modeSince: t0)
        var now = Fixture.noon
        for _ in 0..<5 {
            _ = tick(live, campaign(budget: usd("100")), &states, at: now, breaker: &breaker)
            now = now.adding(seconds: 3600)
        }
        #expect(states[0].pacer.engaged)
        let halted = ControlState(mode: .halted, live: pA, modeSince: now)
        #expect(tick(halted, campaign(budget: usd("100")), &states, at: now, breaker: &breaker).isEmpty)
        #expect(!states[0].pacer.engaged, "halt takes the campaign out of control")
        now = now.adding(seconds: 7200)
        let resumed = ControlState(mode: .live, live: pA, modeSince: now)
        let d = tick(resumed, campaign(budget: usd("137.50")), &states, at: now, breaker: &breaker)
        #expect(d.count == 1 && d[0].pacer.engagedThisStep)
        #expect(abs(d[0].pacer.recommendedBudgetMicros.rawValue - usd("137.50").rawValue) <= 1)
    }

    /// A paused campaign gets no decision, yet what it spent today still fills the account
    /// cap: the running campaigns cannot grow into room that is already spent.
    @Test func pausedCampaignsCountTowardTheAccountCapAndAreNotDecided() {
        var limits = Fixture.account()
        limits.dailyCapMicros = usd("400")
        let s = TickSettings(account: limits, pacer: .standard, breaker: .standard, anomaly: .standard)
        let running = TickCampaign(
            config: Fixture.campaign(),
            observation: Fixture.observation("c1", budget: usd("100"), spendToday: usd("0")),
            newHours: [], inCanaryScope: false)
        let paused = TickCampaign(
            config: Fixture.campaign(),
            observation: Fixture.observation("c2", budget: usd("500"), spendToday: usd("300")),
            newHours: [], inCanaryScope: false, paused: true)
        let live = ControlState(mode: .live, live: pA, modeSince: t0)
        var states = [CampaignControl(), CampaignControl()]
        var breaker = CircuitBreaker()
        let d = Tick.run(
            control: live, haltFlag: false, settings: s, now: Fixture.noon, campaigns: [running, paused],
            states: &states,
            platformBreaker: &breaker
        ) { _, _, _ in .micros(130e6) }
        #expect(d.map(\.campaign.rawValue) == ["c1"], "the paused campaign was decided")
        // Room left: 400 - 300 (the paused one's spend, not its 500 budget) = 100, so c1 may
        // not rise to 130: at most 100 / 1.25 = 80.
        #expect(d[0].finalBudgetMicros <= usd("80"), "\(d[0].finalBudgetMicros)")
        #expect(d[0].reason == .accountCap, "\(String(describing: d[0].reason))")
    }

    /// An unreadable or uncontrollable campaign gets no decision and counts in the account
    /// cap at the most its budget can deliver (issue 15, items 3 and 10).
    @Test func aCampaignNotControlledCountsAtItsBudgetAndIsNotDecided() {
        var limits = Fixture.account()
        limits.dailyCapMicros = usd("350")
        let s = TickSettings(account: limits, pacer: .standard, breaker: .standard, anomaly: .standard)
        let running = TickCampaign(
            config: Fixture.campaign(),
            observation: Fixture.observation("c1", budget: usd("100"), spendToday: usd("0")),
            newHours: [], inCanaryScope: false)
        let unreadable = TickCampaign(
            config: Fixture.campaign(),
            observation: Fixture.observation("c2", budget: usd("200"), spendToday: usd("0")),
            newHours: [], inCanaryScope: false, notControllable: "unreadable this tick")
        var states = [CampaignControl(), CampaignControl()]
        var breaker = CircuitBreaker()
        let d = Tick.run(
            control: ControlState(mode: .live, live: pA, modeSince: t0), haltFlag: false, settings: s,
            now: Fixture.noon, campaigns: [running, unreadable], states: &states, platformBreaker: &breaker
        ) { _, _, _ in .micros(130e6) }
        #expect(d.map(\.campaign.rawValue) == ["c1"], "the campaign not controlled was decided")
        let worstCase = limits.projectedDaySpend(budget: usd("200"), spendToday: .zero)
        #expect(d[0].input.accountOthersMicros == worstCase, "\(d[0].input.accountOthersMicros) vs \(worstCase)")
        // Room: 350 - 250 (the other's whole budget, 200 x 1.25) = 100: at most 100 / 1.25 = 80.
        #expect(d[0].finalBudgetMicros == usd("80") && d[0].reason == .accountCap, "\(d[0].finalBudgetMicros)")
    }

    /// A shadow candidate's decisions run on their own pacer memory and never write.
    @Test func shadowEvidenceNeverMovesTheWriter() {
        var states = [CampaignControl()]
        var breaker = CircuitBreaker()
        let shadow = ControlState(mode: .shadow, live: pA, candidate: pB, modeSince: t0)
        let d = tick(shadow, campaign(budget: usd("100")), &states, at: Fixture.noon, breaker: &breaker)
        #expect(d.map(\.input.slot) == [.live, .candidate])
        #expect(d[0].action == .apply && d[1].action == .wouldApply)
        #expect(states[0].pacer.engaged && states[0].shadowPacer.engaged)
        #expect(states[0].lastChangeAt == Fixture.noon, "only the writer's apply starts the cooldown")

        var onlyCandidate = [CampaignControl()]
        let noLive = ControlState(mode: .shadow, candidate: pB, modeSince: t0)
        let e = tick(noLive, campaign(budget: usd("100")), &onlyCandidate, at: Fixture.noon, breaker: &breaker)
        #expect(e.count == 1 && e[0].action == .wouldApply)
        #expect(onlyCandidate[0].lastChangeAt == nil && !onlyCandidate[0].pacer.engaged)
    }

    @Test func haltFlagTurnsWritesIntoWouldApply() {
        var states = [CampaignControl()]
        var breaker = CircuitBreaker()
        let d = tick(
            ControlState(mode: .live, live: pA, modeSince: t0), campaign(budget: usd("100")), &states,
            at: Fixture.noon, haltFlag: true, breaker: &breaker)
        #expect(d.count == 1 && d[0].action == .wouldApply && states[0].lastChangeAt == nil)
    }

    /// Half-open permits are taken only by decisions that will write.
    @Test func halfOpenPermitsGoToWritesOnly() {
        var states = [CampaignControl()]
        var breaker = CircuitBreaker()
        for _ in 0..<5 { breaker.record(failure: true, settings.breaker, at: t0) }
        #expect(breaker.state == .open)
        let later = t0.adding(seconds: settings.breaker.waitInOpenSeconds)
        // A shadow-only campaign decides without using a permit ...
        _ = Tick.run(
            control: ControlState(mode: .shadow, candidate: pB, modeSince: t0), haltFlag: false, settings: settings,
            now: later, campaigns: [campaign(budget: usd("100"))], states: &states, platformBreaker: &breaker
        ) { _, _, _ in .micros(130e6) }
        #expect(breaker.state == .halfOpen)
        // ... so all three trial permits remain for real writes.
        var writers = Array(repeating: CampaignControl(), count: 4)
        let d = Tick.run(
            control: ControlState(mode: .live, live: pA, modeSince: t0), haltFlag: false, settings: settings,
            now: later, campaigns: (0..<4).map { _ in campaign(budget: usd("100")) }, states: &writers,
            platformBreaker: &breaker
        ) { _, _, _ in .micros(130e6) }
        #expect(d.map(\.action) == [.apply, .apply, .apply, .hold])
        #expect(d[3].reason == .breakerOpen)
    }
}

/// Ticks keep to the grid of the controller's clock: decisions are stamped with their
/// slot, so cooldowns count exact multiples of tick_seconds; after a stall, no catch-up
/// tick, the next slot.
@Suite struct TickScheduleTests {
    let t = Instant(secondsSinceEpoch: 1_780_308_000)  // 10:00:00 UTC

    @Test func aTickIsStampedWithItsSlotWhateverItsJitter() {
        #expect(TickSchedule.slot(t.adding(seconds: 0), tickSeconds: 600) == t)
        #expect(TickSchedule.slot(Instant(microsSinceEpoch: t.microsSinceEpoch + 599_999_999), tickSeconds: 600) == t)
        #expect(TickSchedule.slot(t.adding(seconds: 600), tickSeconds: 600) == t.adding(seconds: 600))
        // Six slots later is exactly 3,600 s, however late either tick woke.
        let late = Instant(microsSinceEpoch: t.microsSinceEpoch + 300_000)
        let early = Instant(microsSinceEpoch: t.adding(seconds: 3_600).microsSinceEpoch + 1)
        #expect(
            TickSchedule.slot(early, tickSeconds: 600).seconds(since: TickSchedule.slot(late, tickSeconds: 600))
                == 3_600)
    }

    @Test func aLateTickIsFollowedByTheNextSlotNotACatchUp() {
        #expect(TickSchedule.next(after: t.adding(seconds: 5), tickSeconds: 60) == t.adding(seconds: 60))
        // A tick that took 70 s (a stall): slot +60 is gone, +120 is next, not "now".
        #expect(TickSchedule.next(after: t.adding(seconds: 70), tickSeconds: 60) == t.adding(seconds: 120))
        // Exactly on a slot: that slot has come, the next one.
        #expect(TickSchedule.next(after: t.adding(seconds: 120), tickSeconds: 60) == t.adding(seconds: 180))
        // A long stall skips every missed slot at once.
        #expect(TickSchedule.next(after: t.adding(seconds: 3_601), tickSeconds: 60) == t.adding(seconds: 3_660))
    }
}
