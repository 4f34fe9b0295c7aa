import Testing
@testable import AdPilotCore
@testable import AdPilotPlatforms

/// 2026-11-23T00:00:00Z, a Monday.
let monday = Instant(secondsSinceEpoch: 1_795_392_000)

func simulator(seed: UInt64 = 42, campaigns: Int = 20, clock: ManualClock) -> MarketSimulator {
    MarketSimulator(config: SimulatorConfig(seed: seed, campaigns: campaigns, start: monday), clock: clock)
}

func id(_ i: Int) -> CampaignID { CampaignID("sim-" + String(repeating: "0", count: 5 - String(i).count) + String(i)) }

@Suite struct SimulatorTests {
    @Test func sameSeedSameCallsSameResults() throws {
        func run(_ seed: UInt64) throws -> [[HourlyMetrics]] {
            let clock = ManualClock(monday)
            let sim = simulator(seed: seed, clock: clock)
            var out: [[HourlyMetrics]] = []
            for day in 0..<3 {
                clock.advance(seconds: 86_400)
                try sim.setDailyBudget(campaign: id(3), budgetMicros: Micros(Int64(100 + day * 50) * 1_000_000))
                out.append(try sim.hourlyMetrics(campaign: id(3), from: monday, to: clock.now()).hours)
            }
            return out
        }
        #expect(try run(7) == run(7))
        #expect(try run(7) != run(8))
    }

    @Test func campaignsDoNotDisturbEachOther() throws {
        let a = ManualClock(monday), b = ManualClock(monday)
        let simA = simulator(clock: a), simB = simulator(clock: b)
        a.advance(seconds: 86_400)
        b.advance(seconds: 86_400)
        try simA.setDailyBudget(campaign: id(1), budgetMicros: Micros(900_000_000))  // only in A
        a.advance(seconds: 86_400)
        b.advance(seconds: 86_400)
        #expect(
            try simA.hourlyMetrics(campaign: id(2), from: monday, to: a.now()).hours
                == simB.hourlyMetrics(campaign: id(2), from: monday, to: b.now()).hours)
    }

    /// Twice the budget buys about twice the spend, but fewer impressions per unit spent.
    @Test func moreBudgetMoreSpendWithDiminishingReturns() throws {
        let a = ManualClock(monday), b = ManualClock(monday)
        let base = simulator(clock: a), doubled = simulator(clock: b)
        let budget = try base.campaign(id(5)).dailyBudgetMicros
        try doubled.setDailyBudget(campaign: id(5), budgetMicros: Micros(budget.rawValue * 2))
        a.advance(seconds: 7 * 86_400)
        b.advance(seconds: 7 * 86_400)
        func totals(_ sim: MarketSimulator, _ clock: ManualClock) throws -> (spend: Double, impressions: Double) {
            let hours = try sim.hourlyMetrics(
                campaign: id(5), from: clock.now().adding(seconds: -72 * 3600), to: clock.now()
            ).hours
            return (hours.reduce(0) { $0 + $1.spendMicros.statistic }, hours.reduce(0) { $0 + Double($1.impressions) })
        }
        let x = try totals(base, a), y = try totals(doubled, b)
        #expect(y.spend > 1.9 * x.spend && y.spend < 2.1 * x.spend, "spend \(x.spend) -> \(y.spend)")
        #expect(y.impressions > x.impressions, "more spend buys more impressions")
        #expect(y.impressions / y.spend < 0.95 * x.impressions / x.spend, "... at a worse rate")
    }

    @Test func aDayNeverOverspendsByMoreThanAQuarter() throws {
        let clock = ManualClock(monday)
        let sim = simulator(campaigns: 50, clock: clock)
        var overspentDays = 0
        for _ in 0..<14 {
            clock.advance(seconds: 86_400)
            for c in 1...50 {
                let budget = try sim.campaign(id(c)).dailyBudgetMicros
                let day = try sim.hourlyMetrics(
                    campaign: id(c), from: clock.now().adding(seconds: -86_400), to: clock.now()
                ).hours
                let spent = day.reduce(Micros.zero) { $0.saturatingAdding($1.spendMicros) }
                #expect(day.count == 24 && spent.statistic <= budget.statistic * 1.25)
                if spent > budget { overspentDays += 1 }
            }
        }
        #expect(overspentDays > 0, "the platform does overspend some days, as real ones do")
    }

    @Test func seasonalityShapesTheDay() throws {
        let clock = ManualClock(monday)
        let sim = simulator(clock: clock)
        clock.advance(seconds: 86_400)
        let day = try sim.hourlyMetrics(campaign: id(1), from: monday, to: clock.now()).hours
        #expect(day[13].spendMicros > day[3].spendMicros.saturatingAdding(day[3].spendMicros))
        #expect(day[13].impressions > 2 * day[3].impressions)
    }

    @Test func conversionsArriveLate() throws {
        let clock = ManualClock(monday.adding(seconds: 14 * 3600))
        let sim = simulator(clock: clock)
        let hour = monday.adding(seconds: 13 * 3600)
        var seen: [Double] = []
        for _ in 0..<4 {
            seen.append(
                try sim.hourlyMetrics(campaign: id(4), from: hour, to: hour.adding(seconds: 3600)).hours[0].conversions)
            clock.advance(seconds: 3600)
        }
        #expect(seen[0] > 0 && seen[0] < seen[1] && seen[1] < seen[2] && seen[2] == seen[3], "\(seen)")
        #expect(abs(seen[0] / seen[2] - 0.5) < 1e-6)
    }

    @Test func faultsDoWhatTheySay() throws {
        let clock = ManualClock(monday)
        let sim = simulator(clock: clock)
        clock.advance(seconds: 86_400)

        sim.faults.errorRate = 1
        #expect(throws: PlatformError.unavailable(detail: "simulated 503")) { try sim.listCampaigns() }
        sim.faults = SimulatorFaults()
        sim.faults.throttleRate = 1
        #expect(throws: PlatformError.throttled(retryAfterSeconds: 60, detail: "simulated throttling")) {
            try sim.listCampaigns()
        }

        sim.faults = SimulatorFaults()
        sim.faults.staleHours = 3
        let stale = try sim.hourlyMetrics(campaign: id(1), from: monday, to: clock.now())
        #expect(stale.freshThrough == clock.now().adding(seconds: -3 * 3600) && stale.hours.count == 21)

        sim.faults = SimulatorFaults()
        sim.faults.silentNoOpWrites = true
        let before = try sim.campaign(id(1)).dailyBudgetMicros
        let outcome = try BudgetWrite.apply(sim, campaign: id(1), budgetMicros: Micros(before.rawValue + 10_000_000))
        #expect(outcome == .unconfirmed(expected: Micros(before.rawValue + 10_000_000), reported: before))
        sim.faults.silentNoOpWrites = false
        #expect(
            try BudgetWrite.apply(sim, campaign: id(1), budgetMicros: Micros(123_450_000))
                == .confirmed(Micros(123_450_000)))

        clock.advance(seconds: 2 * 86_400)
        sim.faults.glitchRate = 0.5
        let glitched = try sim.hourlyMetrics(campaign: id(1), from: monday, to: clock.now()).hours
        sim.faults.glitchRate = 0
        let clean = try sim.hourlyMetrics(campaign: id(1), from: monday, to: clock.now()).hours
        #expect(glitched.count == 72 && clean.count == 72)
        let zeros = zip(glitched, clean).filter { $0.0.impressions == 0 && $0.1.impressions > 0 }.count
        let spikes = zip(glitched, clean).filter { $0.0.impressions == 50 * $0.1.impressions && $0.1.impressions > 0 }
            .count
        #expect(
            zeros >= 8 && spikes >= 8 && zeros + spikes <= 54,
            "zeros \(zeros), spikes \(spikes) of 72 hours at a 50% glitch rate")

        var slept: [Int] = []
        sim.sleep = { slept.append($0) }
        sim.faults.latencyMillis = 250
        _ = try sim.listCampaigns()
        #expect(slept == [250])
    }

    @Test func badBudgetsAreRejectedNotRounded() throws {
        let sim = simulator(clock: ManualClock(monday))
        #expect(throws: PlatformError.self) { try sim.setDailyBudget(campaign: id(1), budgetMicros: Micros(1_234_567)) }
        #expect(throws: PlatformError.self) { try sim.setDailyBudget(campaign: id(1), budgetMicros: .zero) }
        #expect(throws: PlatformError.notFound(CampaignID("nope"))) { try sim.campaign(CampaignID("nope")) }
    }

    /// A budget at the edge of Int64 is accepted or refused, never a crash.
    @Test func extremeBudgetsDoNotTrap() throws {
        let clock = ManualClock(monday)
        let sim = simulator(clock: clock)
        try sim.setDailyBudget(campaign: id(1), budgetMicros: Micros(Int64.max / 10_000 * 10_000))
        clock.advance(seconds: 2 * 86_400)
        let hours = try sim.hourlyMetrics(campaign: id(1), from: monday, to: clock.now()).hours
        #expect(hours.count == 48 && hours.allSatisfy { $0.spendMicros >= .zero })
    }

    @Test func pausedCampaignsSpendNothing() throws {
        let clock = ManualClock(monday)
        let sim = simulator(clock: clock)
        try sim.setStatus(campaign: id(2), .paused)
        clock.advance(seconds: 86_400)
        #expect(try sim.campaign(id(2)).status == .paused)
        #expect(
            try sim.hourlyMetrics(campaign: id(2), from: monday, to: clock.now()).hours.allSatisfy {
                $0.spendMicros == .zero
            })
    }

    @Test func ordersCarryTheirCampaign() throws {
        let clock = ManualClock(monday)
        let sim = simulator(clock: clock)
        clock.advance(seconds: 2 * 86_400)
        let orders = try sim.orders(since: monday.adding(seconds: 86_400), until: clock.now())
        #expect(orders.count > 100 && orders.allSatisfy { $0.campaign != nil && $0.totalMicros > .zero })
        #expect(orders.allSatisfy { $0.createdAt >= monday.adding(seconds: 86_400) && $0.createdAt < clock.now() })
    }

    @Test func acceleratedClockRunsFaster() {
        let base = ManualClock(monday)
        let fast = AcceleratedClock(start: Instant(secondsSinceEpoch: 0), speed: 3600, base: base)
        base.advance(seconds: 2)
        #expect(fast.now() == Instant(secondsSinceEpoch: 7200))
    }

    /// The simulator's metrics pass the anomaly detector when clean, and trip it when glitched.
    @Test func glitchesAreWhatTheAnomalyDetectorCatches() throws {
        let clock = ManualClock(monday)
        let sim = simulator(clock: clock)
        clock.advance(seconds: 8 * 86_400)
        var clean = AnomalyState()
        for m in try sim.hourlyMetrics(campaign: id(6), from: monday, to: clock.now()).hours {
            clean = AnomalyDetector.ingest(m, budget: sim.storedBudget(id(6))!, config: .standard, state: clean)
        }
        #expect(clean.assessment.level == .info)
        sim.faults.glitchRate = 1
        clock.advance(seconds: 3 * 3600)
        var glitched = clean
        for m in try sim.hourlyMetrics(campaign: id(6), from: clock.now().adding(seconds: -3 * 3600), to: clock.now())
            .hours
        {
            glitched = AnomalyDetector.ingest(m, budget: sim.storedBudget(id(6))!, config: .standard, state: glitched)
            // A 50x spike is critical; an hour of zeros at least warns.
            #expect(glitched.assessment.latest >= (m.spendMicros > .zero ? .critical : .warn), "\(glitched.assessment)")
        }
    }
}
