import Foundation
import Testing

@testable import AdPilotCore

/// The pacer through the whole decision pipeline (guardrails as the demo ships them: 25%
/// steps, a 3,600 s cooldown) on a plant with the simulator's demand curve: each hour the
/// platform spends the budget in force at the hour's end times that hour's share of demand,
/// with ±15% noise, never more than 125% of the budget in a day. Ticks every 600 s, spend
/// reported for completed hours only.
struct PacingPlant {
    /// The simulator's demand by local hour (low at night, peaks 13:00 and 20:00), as shares.
    static let share: [Double] = {
        let raw = (0..<24).map { h -> Double in
            let x = Double(h)
            return 0.25 + exp(-pow((x - 13) / 4, 2)) + 0.8 * exp(-pow((x - 20) / 2.5, 2))
        }
        return raw.map { $0 / raw.reduce(0, +) }
    }()
    static let midnight = Instant(secondsSinceEpoch: 1_780_272_000)

    var rng: SplitMix64
    var input: DecisionInput
    var budget = usd("300")
    var spentToday = 0.0
    var target: Micros { input.campaign.dailyTargetMicros }

    init(seed: UInt64, target: Micros = usd("300")) {
        rng = SplitMix64(seed: seed)
        var campaign = Fixture.campaign()
        campaign.dailyTargetMicros = target
        campaign.efficiencyTarget = .none
        campaign.guardrails.bounds = BudgetBounds(minMicros: usd("20"), maxMicros: usd("1000"))
        campaign.guardrails.maxStepFraction = 0.25
        campaign.guardrails.dailyCapMicros = usd("1500")
        input = Fixture.input()
        input.campaign = campaign
        input.delivery = DeliveryProfile(rates: Self.share)!
        input.observation.trailing = TrailingStats(spendMicros: .zero, conversions: 0, conversionValueMicros: .zero)
    }

    /// Spend from now to midnight at the budget in force, by the plant's own curve (hours
    /// not yet spent, from the one in progress).
    func projectedDay(at second: Int64) -> Double {
        let hour = Int(second / 3_600)
        return spentToday + budget.statistic * Self.share[hour...].reduce(0, +)
    }

    /// One tick at `second` of day `day`: the hour that just ended is spent first, then the
    /// pipeline decides (a pace-following policy: it proposes the pacer's recommendation).
    mutating func tick(day: Int64, second: Int64) {
        if second % 3_600 == 0 {
            if second == 0 {
                spentToday = 0
            } else {
                let hour = Int(second / 3_600) - 1
                let cap = budget.statistic * 1.25 - spentToday
                spentToday += max(0, min(budget.statistic * Self.share[hour] * (0.85 + 0.3 * rng.unit()), cap))
            }
        }
        input.now = Self.midnight.adding(seconds: day * 86_400 + second)
        input.observation.currentBudgetMicros = budget
        input.observation.spendTodayMicros = Micros(Int64(spentToday) / 10_000 * 10_000)
        input.observation.dataAgeSeconds = second % 3_600
        let (d, pacer) = DecisionPipeline.decide(input) { .micros($0.recommendedBudgetMicros.statistic) }
        input.pacer = pacer
        if d.action == .apply {
            budget = d.finalBudgetMicros
            input.lastChangeAt = input.now
        }
    }

    /// The day's true spend including its last hour.
    mutating func endOfDay() -> Double {
        let cap = budget.statistic * 1.25 - spentToday
        spentToday += max(0, min(budget.statistic * Self.share[23] * (0.85 + 0.3 * rng.unit()), cap))
        return spentToday
    }
}

@Suite struct PacingPlantTests {
    @Test(arguments: [1, 2, 3] as [UInt64])
    func daysLandOnTarget(seed: UInt64) {
        var plant = PacingPlant(seed: seed)
        for day in Int64(0)..<5 {
            for second in stride(from: Int64(0), to: 86_400, by: 600) { plant.tick(day: day, second: second) }
            let error = plant.endOfDay() / plant.target.statistic - 1
            #expect(abs(error) <= 0.03, "seed \(seed) day \(day): ended \(error * 100)% off target")
        }
    }

    /// After the target steps up 50%, the projected day spend is within ±10% of the new
    /// target in a median of at most two hours (25% steps, one an hour), and stays there.
    @Test func aFiftyPercentTargetStepSettlesWithinTwoHoursWithoutOvershoot() {
        var settled: [Double] = []
        for (i, stepHour) in [6, 9, 12, 15].enumerated() {
            var plant = PacingPlant(seed: UInt64(40 + i))
            for second in stride(from: Int64(0), to: 86_400, by: 600) { plant.tick(day: 0, second: second) }
            _ = plant.endOfDay()
            let stepAt = Int64(stepHour) * 3_600
            var within: Int64? = nil
            for second in stride(from: Int64(0), to: 86_400, by: 600) {
                if second == stepAt { plant.input.campaign.dailyTargetMicros = usd("450") }
                plant.tick(day: 1, second: second)
                guard second >= stepAt else { continue }
                let off = plant.projectedDay(at: second) / 450_000_000 - 1
                if within == nil, abs(off) <= 0.10 { within = second }
                if within != nil {
                    #expect(abs(off) <= 0.10, "step at \(stepHour):00: \(off * 100)% off at second \(second)")
                }
            }
            let end = plant.endOfDay() / 450_000_000 - 1
            #expect(abs(end) <= 0.10, "step at \(stepHour):00: the day ended \(end * 100)% off")
            settled.append(Double((within ?? 86_400) - stepAt) / 3_600)
        }
        let median = settled.sorted()[1...2].reduce(0, +) / 2
        #expect(median <= 2, "hours to settle per step time: \(settled)")
        print("pacer target step +50%: hours to within ±10% \(settled), median \(median)")
    }
}
