import Testing
@testable import AdPilotCore

/// Each layer on its own, through the real pipeline (so ordering is exercised too). The
/// fixture's pacer band is 70..130 around a 100.00 budget at noon with half the target spent.
@Suite struct GuardrailTests {
    @Test func approvedChangeIsApplied() {
        let d = Fixture.decide(Fixture.input(), proposing: usd("110"))
        #expect(d.action == .apply && d.finalBudgetMicros == usd("110") && d.reason == nil)
        #expect(d.layers.map(\.layer) == Layer.allCases)
        #expect(d.layers.allSatisfy { $0.verdict == .approve })
    }

    @Test func validityVetoesNonFiniteNegativeAndHuge() {
        for (raw, code) in [
            (Double.nan, ReasonCode.nonFinite), (.infinity, .nonFinite), (-.infinity, .nonFinite),
            (-1, .negative), (1e19, .outOfRange),
        ] {
            let d = Fixture.decide(Fixture.input(), proposal: .micros(raw))
            #expect(d.action == .hold && d.reason == code && d.finalBudgetMicros == usd("100"), "\(raw)")
            #expect(d.layers.map(\.layer) == Layer.allCases, "every layer is recorded after validity's veto")
            #expect(d.layers.dropFirst().allSatisfy { $0.verdict == .skipped })
        }
        #expect(Fixture.decide(Fixture.input(), proposal: .micros(.nan)).policyFault)
    }

    @Test func policyErrorIsAVetoAndAFault() {
        let d = Fixture.decide(Fixture.input(), proposal: .failed("shape mismatch"))
        #expect(d.action == .hold && d.reason == .policyError && d.policyFault)
    }

    @Test func wrongCurrencyAndUnusableCurrentBudgetHold() {
        var i = Fixture.input()
        i.observation.currency = .eur
        #expect(Fixture.decide(i, proposing: usd("110")).reason == .currencyMismatch)
        i = Fixture.input(budget: Micros(100_000_001))  // not whole cents
        #expect(Fixture.decide(i, proposing: usd("110")).reason == .currentUnusable)
        i = Fixture.input(budget: Micros(-1))
        #expect(Fixture.decide(i, proposing: usd("110")).reason == .currentUnusable)
    }

    @Test func proposalsRoundDownToMinorUnits() {
        let d = Fixture.decide(Fixture.input(), proposing: Micros(110_123_456))
        #expect(d.finalBudgetMicros == usd("110.12"))
    }

    @Test func pacerClampsToItsBand() {
        let high = Fixture.decide(Fixture.input(), proposing: usd("400"))
        #expect(high.verdict(.pacer)?.reason == .pacerAboveBand)
        let low = Fixture.decide(Fixture.input(), proposing: usd("1"))
        #expect(low.verdict(.pacer)?.reason == .pacerBelowBand)
    }

    @Test func boundsFollowTheHour() {
        var i = Fixture.input()
        var hourly = Array(repeating: BudgetBounds(minMicros: usd("10"), maxMicros: usd("500")), count: 24)
        hourly[12] = BudgetBounds(minMicros: usd("10"), maxMicros: usd("105"))
        i.campaign.guardrails.hourlyBounds = hourly
        let d = Fixture.decide(i, proposing: usd("115"))
        #expect(d.verdict(.bounds)?.reason == .aboveMax && d.finalBudgetMicros == usd("105"))
        i.now = i.now.adding(seconds: 3600)
        i.campaign.guardrails.hourlyBounds![13] = BudgetBounds(minMicros: usd("120"), maxMicros: usd("500"))
        #expect(Fixture.decide(i, proposing: usd("110")).verdict(.bounds)?.reason == .belowMin)
    }

    @Test func stepIsLimitedAndTighterInCanary() {
        var i = Fixture.input()
        i.pacerConfig.policyAuthority = 5  // let the proposal through the pacer
        let up = Fixture.decide(i, proposing: usd("200"))
        #expect(up.verdict(.step)?.reason == .stepIncrease && up.finalBudgetMicros == usd("120"))
        let down = Fixture.decide(i, proposing: usd("20"))
        #expect(down.verdict(.step)?.reason == .stepDecrease && down.finalBudgetMicros == usd("80"))
        var canary = i
        canary.mode = .canary
        canary.slot = .candidate
        canary.inCanaryScope = true
        let c = Fixture.decide(canary, proposing: usd("200"))
        #expect(c.finalBudgetMicros == usd("110") && c.action == .apply)
    }

    @Test func stepFloorLetsAZeroBudgetMove() {
        var i = Fixture.input(budget: .zero, spendToday: .zero)
        i.campaign.guardrails.bounds.minMicros = .zero
        i.pacerConfig.policyAuthority = 100
        let d = Fixture.decide(i, proposing: usd("50"))
        #expect(d.finalBudgetMicros == usd("5"), "\(d.layers)")
    }

    @Test func dailyCapProjectsOverdelivery() {
        var i = Fixture.input()
        i.campaign.guardrails.dailyCapMicros = usd("125")  // ceiling 125 / 1.25 = 100
        let d = Fixture.decide(i, proposing: usd("110"))
        #expect(
            d.verdict(.dailyCap)?.reason == .dailyCap && d.action == .unchanged && d.finalBudgetMicros == usd("100"))
        i.campaign.guardrails.dailyCapMicros = usd("100")  // ceiling 80: a forced decrease
        let forced = Fixture.decide(i, proposing: usd("110"))
        #expect(forced.finalBudgetMicros == usd("80") && forced.action == .apply && forced.reason == .dailyCap)
    }

    @Test func accountCapCountsOtherCampaigns() {
        var i = Fixture.input()
        i.account.dailyCapMicros = usd("1000")
        i.accountOthersMicros = usd("862.50")  // room 137.50 -> ceiling 110
        let d = Fixture.decide(i, proposing: usd("120"))
        #expect(d.reason == .accountCap && d.finalBudgetMicros == usd("110"))
        // Already over: the ceiling is below the minimum bound, so the budget comes down to
        // the minimum (the lowest budget the platform takes), not to zero.
        i.accountOthersMicros = usd("5000")
        let over = Fixture.decide(i, proposing: usd("120"))
        let minimum = i.campaign.guardrails.bounds.minMicros
        #expect(over.finalBudgetMicros == minimum && over.action == .apply && over.reason == .accountCap)
    }

    /// Issue 15, item 4: bounds approved 30.04, the step limit then cut a zero budget to 5.00
    /// against a 20.00 minimum. A budget below the minimum may reach it in one step.
    @Test func aBudgetBelowTheMinimumStepsStraightToIt() {
        var i = Fixture.input()
        i.campaign.guardrails.bounds = BudgetBounds(minMicros: usd("20"), maxMicros: usd("500"))
        i.campaign.guardrails.maxStepFloorMicros = usd("5")
        i.observation.currentBudgetMicros = .zero
        let d = Fixture.decide(i, proposing: usd("30.04"))
        #expect(d.finalBudgetMicros == usd("20") && d.action == .apply && d.reason == .stepIncrease, "\(d.layers)")
    }

    /// A budget above the maximum comes back to it in one step, even within the cooldown.
    @Test func aBudgetAboveTheMaximumComesBackInOneStep() {
        var i = Fixture.input()
        i.campaign.guardrails.bounds = BudgetBounds(minMicros: usd("20"), maxMicros: usd("60"))
        i.lastChangeAt = i.now.adding(seconds: -60)
        let d = Fixture.decide(i, proposing: usd("100"))
        #expect(d.finalBudgetMicros == usd("60") && d.action == .apply, "\(d.layers)")
    }

    /// A cap whose ceiling is below the minimum, with the budget already at or below the
    /// minimum: no valid budget meets the cap, so it holds rather than writing less.
    @Test func aCapBelowTheMinimumHoldsABudgetAtTheMinimum() {
        var i = Fixture.input()
        i.campaign.guardrails.bounds = BudgetBounds(minMicros: usd("100"), maxMicros: usd("500"))
        i.account.dailyCapMicros = usd("1000")
        i.accountOthersMicros = usd("5000")
        let d = Fixture.decide(i, proposing: usd("120"))
        #expect(d.action == .hold && d.reason == .accountCap && d.finalBudgetMicros == usd("100"), "\(d.layers)")
    }

    @Test func noConversionWindowBlocksIncreasesOnly() {
        var i = Fixture.input()
        i.observation.hoursWithoutConversion = 12
        let up = Fixture.decide(i, proposing: usd("110"))
        #expect(up.reason == .noConversions && up.action == .unchanged)
        let down = Fixture.decide(i, proposing: usd("90"))
        #expect(down.action == .apply && down.finalBudgetMicros == usd("90"))
    }

    /// A ROAS floor with teeth: sustained trailing ROAS below it (with enough spend to judge)
    /// steps the budget down one step per change, whatever the policy proposes, to the
    /// minimum and no further; the cooldown still applies to the step.
    @Test func roasFloorStepsTheBudgetDownOnceSpendCounts() {
        var i = Fixture.input()
        i.observation.trailing = TrailingStats(
            spendMicros: usd("300"), conversions: 30, conversionValueMicros: usd("150"))
        for proposal in ["110", "100", "90"] {
            let d = Fixture.decide(i, proposing: usd(proposal))
            #expect(d.reason == .roasFloor && d.finalBudgetMicros == usd("80"), "proposed \(proposal): \(d.layers)")
        }
        #expect(Fixture.decide(i, proposing: usd("50")).finalBudgetMicros == usd("80"), "the step layer: one step")
        i.lastChangeAt = i.now.adding(seconds: -600)
        #expect(Fixture.decide(i, proposing: usd("110")).reason == .cooldown, "the cooldown still holds")
        i.lastChangeAt = nil
        i.observation.currentBudgetMicros = usd("11")
        #expect(Fixture.decide(i, proposing: usd("11")).finalBudgetMicros == usd("10"), "to the minimum, no further")
        i.observation.currentBudgetMicros = usd("10")
        #expect(Fixture.decide(i, proposing: usd("11")).action == .unchanged)
        i.observation.trailing.spendMicros = usd("40")  // below the evidence threshold
        i.observation.trailing.conversionValueMicros = usd("20")
        #expect(Fixture.decide(i, proposing: usd("110")).action == .apply)
    }

    @Test func cooldownHoldsButNeverBlocksACapDecrease() {
        var i = Fixture.input()
        i.lastChangeAt = i.now.adding(seconds: -600)
        let d = Fixture.decide(i, proposing: usd("110"))
        #expect(d.action == .hold && d.reason == .cooldown && d.finalBudgetMicros == usd("100"))
        i.campaign.guardrails.dailyCapMicros = usd("100")
        let forced = Fixture.decide(i, proposing: usd("110"))
        #expect(forced.action == .apply && forced.finalBudgetMicros == usd("80"))
        i.lastChangeAt = i.now.adding(seconds: -3600)
        i.campaign.guardrails.dailyCapMicros = usd("1000")
        #expect(Fixture.decide(i, proposing: usd("110")).action == .apply)
    }

    /// Within a cooldown, a budget above a hard cap may come down to the cap, and no further.
    @Test func cooldownAllowsOnlyTheForcedDecrease() {
        var i = Fixture.input()
        i.pacerConfig.policyAuthority = 10
        i.lastChangeAt = i.now.adding(seconds: -60)
        i.campaign.guardrails.dailyCapMicros = usd("100")  // ceiling 80
        i.campaign.guardrails.maxStepFraction = 1
        let d = Fixture.decide(i, proposing: usd("20"))
        #expect(d.finalBudgetMicros == usd("80") && d.verdict(.cooldown)?.reason == .cooldown, "\(d.layers)")
    }

    @Test func canaryExposureCapsCandidateCampaignsOnly() {
        var i = Fixture.input(mode: .canary, slot: .candidate, inCanaryScope: true)
        i.account.maxSpendAtRiskMicros = usd("200")
        i.canaryOthersMicros = usd("75")  // room 125 -> ceiling 100
        let d = Fixture.decide(i, proposing: usd("110"))
        #expect(d.reason == .canaryExposure && d.action == .unchanged)
        var outside = i
        outside.slot = .live
        outside.inCanaryScope = false
        #expect(Fixture.decide(outside, proposing: usd("110")).action == .apply)
    }

    @Test func anomalyLevelsGateChanges() {
        var i = Fixture.input()
        i.anomaly = AnomalyAssessment(level: .warn, latest: .warn, findings: [])
        #expect(Fixture.decide(i, proposing: usd("110")).reason == .anomalyWarn)
        #expect(Fixture.decide(i, proposing: usd("90")).action == .apply)
        i.anomaly = AnomalyAssessment(level: .info, latest: .critical, findings: [])  // pending: blocks increases only
        #expect(Fixture.decide(i, proposing: usd("110")).reason == .anomalyWarn)
        i.anomaly = AnomalyAssessment(level: .critical, latest: .critical, findings: [])
        let d = Fixture.decide(i, proposing: usd("90"))
        #expect(d.action == .hold && d.reason == .anomalyCritical && d.quarantined)
    }

    @Test func staleDataHoldsEverything() {
        var i = Fixture.input()
        i.observation.dataAgeSeconds = 3 * 3600 + 1
        #expect(Fixture.decide(i, proposing: usd("90")).reason == .staleData)
        i.observation.dataAgeSeconds = -5  // from the future: a clock or platform bug
        #expect(Fixture.decide(i, proposing: usd("90")).reason == .staleData)
    }

    @Test func openBreakerVetoesChangesOnly() {
        var i = Fixture.input()
        i.campaignBreaker = .open
        i.campaignBreakerPermits = false
        #expect(Fixture.decide(i, proposing: usd("110")).reason == .breakerOpen)
        #expect(Fixture.decide(i, proposing: usd("100")).action == .unchanged)
        i.campaignBreakerPermits = true
        i.platformBreaker = .halfOpen
        i.platformBreakerPermits = false
        #expect(Fixture.decide(i, proposing: usd("110")).reason == .breakerOpen)
    }

    @Test func jpyBudgetsAreWholeYen() {
        var i = Fixture.input()
        i.campaign = Fixture.campaign(currency: .jpy)
        i.campaign.dailyTargetMicros = try! Micros(decimal: "10000")
        i.campaign.guardrails.bounds = BudgetBounds(
            minMicros: try! Micros(decimal: "1000"), maxMicros: try! Micros(decimal: "50000"))
        i.campaign.guardrails.maxStepFloorMicros = try! Micros(decimal: "100")
        i.campaign.guardrails.dailyCapMicros = try! Micros(decimal: "100000")
        i.observation = Fixture.observation(
            budget: try! Micros(decimal: "10000"), spendToday: try! Micros(decimal: "5000"), currency: .jpy)
        let d = Fixture.decide(i, proposing: Micros(10_500_700_000))  // 10500.7 yen
        #expect(d.finalBudgetMicros == (try! Micros(decimal: "10500")))
        #expect(i.campaign.validationProblems().isEmpty)
    }

    @Test func configValidationNamesTheKey() {
        var c = Fixture.campaign()
        c.guardrails.bounds.minMicros = Micros(10_000_001)
        c.guardrails.canaryMaxStepFraction = 0.5
        c.dailyTargetMicros = .zero
        let keys = c.validationProblems().map(\.key)
        #expect(keys.contains("guardrails.bounds.min_micros"))
        #expect(keys.contains("guardrails.canary_max_step_fraction"))
        #expect(keys.contains("daily_target_micros"))
        #expect(Fixture.campaign().validationProblems().isEmpty)
        c = Fixture.campaign()
        c.guardrails.cooldownSeconds = .max  // would wrap time if accepted
        #expect(c.validationProblems().map(\.key) == ["guardrails.cooldown_seconds"])
        var a = Fixture.account()
        a.overdeliveryBasisPoints = -20_000
        a.utcOffsetSeconds = 15 * 3600
        #expect(
            a.validationProblems().map(\.key) == ["account.overdelivery_basis_points", "account.utc_offset_seconds"])
        #expect(
            a.projectedDaySpend(budget: usd("10"), spendToday: .zero) == usd("10"),
            "out of range is clamped, not a crash")
        var p = PacerConfig.standard
        p.pace.outputMin = 5
        #expect(p.validationProblems().map(\.key) == ["pacer.pace"])
        #expect(Fixture.account().validationProblems().isEmpty && PacerConfig.standard.validationProblems().isEmpty)
    }

    @Test func timeSaturatesInsteadOfWrapping() {
        #expect(Fixture.noon.adding(seconds: .max) == Instant(microsSinceEpoch: .max))
        #expect(Instant(microsSinceEpoch: -10).adding(seconds: .min) == Instant(microsSinceEpoch: .min))
        #expect(Instant(microsSinceEpoch: -10).adding(micros: .min) == Instant(microsSinceEpoch: .min))
    }
}
