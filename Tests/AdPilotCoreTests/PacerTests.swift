import Testing
@testable import AdPilotCore

@Suite struct PIDTests {
    let gains = PIDGains(kp: 0.8, ki: 0.6, kd: 0.05, integralMax: 2, outputMin: 0, outputMax: 3)

    /// First-order plant y' = (u - y) / tau, stepped hourly. A setpoint step from 0.5 to
    /// 1.0 settles into a ±10% band, and overshoot stays under the documented 15%.
    @Test func stepSettlesWithBoundedOvershoot() {
        var state = PID.engage(gains, .direct, setpoint: 0.5, measurement: 0.5, scale: 1, currentOutput: 0.5)
        var y = 0.5
        let tau = 3.0
        var peak = 0.0
        var settledAt: Int? = nil
        for hour in 0..<200 {
            let (step, next) = PID.step(
                gains, .direct, state: state, setpoint: 1.0, measurement: y, scale: 1, dtHours: 1)
            state = next
            y += (step.output - y) / tau
            peak = max(peak, y)
            if abs(y - 1.0) <= 0.1 { settledAt = settledAt ?? hour } else { settledAt = nil }
        }
        #expect(settledAt != nil && settledAt! < 30, "settled at hour \(String(describing: settledAt))")
        #expect(peak - 1.0 < 0.15, "overshoot \(peak - 1.0)")
        #expect(abs(y - 1.0) < 0.01)
    }

    /// Derivative on measurement: changing the setpoint moves P (and later I), never D.
    @Test func setpointChangeGivesNoDerivativeKick() {
        let state = PIDState(integral: 0.1, lastMeasurement: 0.4)
        let (a, _) = PID.step(gains, .direct, state: state, setpoint: 0.5, measurement: 0.4, scale: 1, dtHours: 1)
        let (b, _) = PID.step(gains, .direct, state: state, setpoint: 5.0, measurement: 0.4, scale: 1, dtHours: 1)
        #expect(a.d == 0 && b.d == 0)
        #expect(b.p > a.p)
        let (c, _) = PID.step(gains, .direct, state: state, setpoint: 0.5, measurement: 0.6, scale: 1, dtHours: 1)
        #expect(c.d < 0, "a rising measurement damps a direct-acting loop")
    }

    /// Actuator saturation: for 100 hours the plant's gain drops to 0.25, so even the
    /// maximum output cannot reach the setpoint. With a loose integral clamp (10) only
    /// conditional integration stands between the loop and windup: the integrator must
    /// freeze near the saturation boundary, not climb to its clamp, and the loop must
    /// recover quickly once the gain returns.
    @Test func longSaturationDoesNotWindUp() {
        var loose = gains
        loose.integralMax = 10
        var state = PID.engage(loose, .direct, setpoint: 1, measurement: 0, scale: 1, currentOutput: 0)
        var y = 0.0
        var frozenSteps = 0
        for _ in 0..<100 {
            let (step, next) = PID.step(
                loose, .direct, state: state, setpoint: 1.0, measurement: y, scale: 1, dtHours: 1)
            state = next
            if !step.integrated { frozenSteps += 1 }
            y += (0.25 * step.output - y) / 2
        }
        #expect(frozenSteps > 80, "conditional integration froze \(frozenSteps) of 100 steps")
        #expect(state.integral <= loose.outputMax, "integral \(state.integral) wound up past the output range")
        var peak = 0.0
        var settledAt: Int? = nil
        for hour in 0..<100 {
            let (step, next) = PID.step(
                loose, .direct, state: state, setpoint: 1.0, measurement: y, scale: 1, dtHours: 1)
            state = next
            y += (step.output - y) / 2
            peak = max(peak, y)
            if abs(y - 1.0) <= 0.1 { settledAt = settledAt ?? hour } else { settledAt = nil }
        }
        #expect(peak < 2.0, "peak \(peak) after saturation")
        #expect(settledAt != nil && settledAt! < 25, "settled at \(String(describing: settledAt))")
    }

    /// However large the error, the integral term never leaves its clamp.
    @Test func integralClampBoundsTheIntegrator() {
        let (step, _) = PID.step(
            gains, .direct, state: PIDState(integral: 1.99, lastMeasurement: 0),
            setpoint: 100, measurement: 0, scale: 1, dtHours: 1)
        #expect(step.i <= gains.integralMax && step.output == gains.outputMax && step.saturated)
    }

    @Test func engageIsBumpless() {
        let s = PID.engage(gains, .direct, setpoint: 1.0, measurement: 0.7, scale: 1, currentOutput: 1.3)
        let (step, _) = PID.step(gains, .direct, state: s, setpoint: 1.0, measurement: 0.7, scale: 1, dtHours: 0)
        #expect(abs(step.output - 1.3) < 1e-12)
    }

    @Test func reverseActingRisesWithMeasurement() {
        let s = PIDState()
        let (up, _) = PID.step(gains, .reverse, state: s, setpoint: 2, measurement: 3, scale: 2, dtHours: 1)
        #expect(up.error > 0 && up.output > 0)
    }
}

@Suite struct PacerTests {
    /// A campaign whose platform delivers only 60% of its daily budget, spread by the hour.
    /// The pacer raises the budget so that the day's spend lands within ±10% of target.
    @Test func underdeliveringCampaignIsPacedToTarget() {
        let target = Micros(100_000_000)  // 100.00 a day
        let config = PacerConfig.standard
        var state = PacerState()
        let dayStart = Instant(secondsSinceEpoch: 1_795_046_400)  // a UTC midnight
        var budget = target
        var spend = Micros.zero
        var ends: [Double] = []
        for hour in 0..<(24 * 5) {
            let now = dayStart.adding(seconds: Int64(hour) * 3600)
            if hour % 24 == 0 {
                if hour > 0 { ends.append(spend.statistic / target.statistic) }
                spend = .zero
            }
            let input = Pacer.Input(
                dailyTargetMicros: target, spendTodayMicros: spend, currentBudgetMicros: budget,
                trailing: TrailingStats(spendMicros: .zero, conversions: 0, conversionValueMicros: .zero),
                efficiencyTarget: .none)
            let (report, next) = Pacer.step(config, state: state, input: input, at: now, utcOffsetSeconds: 0)
            state = next
            budget = report.recommendedBudgetMicros
            spend = spend.saturatingAdding(budget.scaled(by: 0.6 / 24))
        }
        ends.append(spend.statistic / target.statistic)
        // Day one starts from the untuned budget; from day two the integrator has learned.
        for (day, ratio) in ends.enumerated().dropFirst() {
            #expect(abs(ratio - 1) <= 0.10, "day \(day): spent \(ratio) of target")
        }
    }

    @Test func efficiencyCanOnlyHoldPacingBack() {
        let target = Micros(100_000_000)
        let now = Instant(secondsSinceEpoch: 1_795_046_400 + 12 * 3600)
        func step(roas: Double) -> PacerReport {
            let trailing = TrailingStats(
                spendMicros: Micros(10_000_000), conversions: 20,
                conversionValueMicros: Micros(10_000_000).scaled(by: roas))
            let input = Pacer.Input(
                dailyTargetMicros: target, spendTodayMicros: Micros(20_000_000),
                currentBudgetMicros: target, trailing: trailing, efficiencyTarget: .roas(3))
            var s = PacerState()
            s = Pacer.step(.standard, state: s, input: input, at: now.adding(seconds: -3600), utcOffsetSeconds: 0).1
            return Pacer.step(.standard, state: s, input: input, at: now, utcOffsetSeconds: 0).0
        }
        func pace(_ r: PacerReport) -> Double { min(max(r.feedForward! + r.pace.output, -0.8), 1.0) }
        let poor = step(roas: 1.0)
        let rich = step(roas: 9.0)
        #expect(poor.efficiency != nil && poor.combinedOutput == poor.efficiency!.output)
        #expect(poor.combinedOutput < pace(poor))
        #expect(rich.combinedOutput == min(pace(rich), rich.efficiency!.output))
        #expect(rich.combinedOutput <= pace(rich), "a rich ROAS does not push past pace")
    }

    @Test func efficiencyHoldsWithoutEnoughConversions() {
        let input = Pacer.Input(
            dailyTargetMicros: Micros(1_000_000), spendTodayMicros: .zero, currentBudgetMicros: Micros(1_000_000),
            trailing: TrailingStats(spendMicros: Micros(5), conversions: 1, conversionValueMicros: .zero),
            efficiencyTarget: .roas(2))
        let (report, _) = Pacer.step(.standard, state: PacerState(), input: input, at: t0, utcOffsetSeconds: 0)
        #expect(report.efficiency == nil)
    }

    /// Entering control (after a halt, into scope) recommends the feed-forward budget: the
    /// trim starts from zero, so a stale integral from before is not applied.
    @Test func enteringControlStartsFromTheFeedForward() {
        let input = Pacer.Input(
            dailyTargetMicros: Micros(100_000_000), spendTodayMicros: Micros(50_000_000),
            currentBudgetMicros: Micros(140_000_000),
            trailing: TrailingStats(spendMicros: .zero, conversions: 0, conversionValueMicros: .zero),
            efficiencyTarget: .none)
        var state = PacerState()
        state.engaged = true
        state.pace.integral = -0.4  // stale memory from before a halt
        let noon = Instant(secondsSinceEpoch: 1_795_046_400 + 12 * 3600)
        let (report, _) = Pacer.step(
            .standard, state: Pacer.disengage(state), input: input, at: noon, utcOffsetSeconds: 0)
        #expect(report.engagedThisStep && report.feedForward == 0 && report.pace.output == 0)
        #expect(report.recommendedBudgetMicros == Micros(100_000_000), "half spent at noon: the target itself")
    }

    /// The feed-forward: what is left of the target over what the rest of the day delivers
    /// per unit of budget, read at the data's time.
    @Test func feedForwardAsksForTheRestOfTheTargetOverTheRestOfTheDay() throws {
        var rates = Array(repeating: 0.0, count: 24)
        for h in 0..<24 { rates[h] = h < 12 ? 0.02 : 0.06 }  // a quarter in the morning
        let profile = try #require(DeliveryProfile(rates: rates))
        #expect(abs(profile.fractionElapsed(atSecondOfDay: 12 * 3600) - 0.25) < 1e-12)
        #expect(abs(profile.remaining(fromSecondOfDay: 12 * 3600) - 0.72) < 1e-12)
        let noon = Instant(secondsSinceEpoch: 1_795_046_400 + 12 * 3600)
        func report(spend: Micros, age: Int64) -> PacerReport {
            let input = Pacer.Input(
                dailyTargetMicros: Micros(100_000_000), spendTodayMicros: spend,
                currentBudgetMicros: Micros(100_000_000),
                trailing: TrailingStats(spendMicros: .zero, conversions: 0, conversionValueMicros: .zero),
                efficiencyTarget: .none, delivery: profile, dataAgeSeconds: age)
            return Pacer.step(.standard, state: PacerState(), input: input, at: noon, utcOffsetSeconds: 0).0
        }
        // 25 of 100 spent by noon: 75 over 0.72 of a budget is a budget of 104.17.
        let onPlan = report(spend: Micros(25_000_000), age: 0)
        #expect(abs(onPlan.feedForward! - (75.0 / 72 - 1)) < 1e-12)
        #expect(onPlan.targetSpendToDateMicros == Micros(25_000_000))
        // The same figure an hour old stands at 11:00: the plan then, and noon's hour still to come.
        let late = report(spend: Micros(25_000_000), age: 3_600)
        #expect(abs(late.feedForward! - (75.0 / 74 - 1)) < 1e-12)
        #expect(abs(late.targetSpendToDateMicros.rawValue - 22_916_667) <= 1, "0.22 of 0.96 by 11:00")
        // Target spent: as little as the pace limits allow.
        #expect(report(spend: Micros(100_000_000), age: 0).combinedOutput == -0.8)
    }

    @Test func hourlyProfileShapesTheTrajectory() throws {
        var weights = Array(repeating: 0.0, count: 24)
        weights[20] = 1  // everything at 20:00
        let profile = DeliveryProfile(try #require(HourlyProfile(weights: weights)))
        #expect(profile.fractionElapsed(atSecondOfDay: 19 * 3600) == 0)
        #expect(abs(profile.fractionElapsed(atSecondOfDay: 20 * 3600 + 1800) - 0.5) < 1e-12)
        #expect(profile.fractionElapsed(atSecondOfDay: 22 * 3600) == 1)
        #expect(HourlyProfile(weights: [1, 2]) == nil)
        #expect(HourlyProfile(weights: Array(repeating: 0, count: 24)) == nil)
        #expect(HourlyProfile(weights: Array(repeating: .nan, count: 24)) == nil)
    }

    @Test func localTimeRespectsOffsetAndWeekday() {
        // 2026-11-21T19:40:29Z is a Saturday.
        let now = Instant(secondsSinceEpoch: 1_795_290_029)
        #expect(now.rfc3339 == "2026-11-21T19:40:29.000000Z")
        let utc = LocalTime(now, utcOffsetSeconds: 0)
        #expect(utc.hourOfDay == 19 && utc.dayOfWeek == 5)
        let tokyo = LocalTime(now, utcOffsetSeconds: 9 * 3600)
        #expect(tokyo.hourOfDay == 4 && tokyo.dayOfWeek == 6 && tokyo.day == utc.day + 1)
        #expect(Instant(microsSinceEpoch: -1).rfc3339 == "1969-12-31T23:59:59.999999Z")
        #expect(Instant(rfc3339: "2026-11-21T19:40:29Z") == now)
        #expect(Instant(rfc3339: "2026-11-21T20:40:29.5+01:00") == now.adding(micros: 500_000))
        #expect(Instant(rfc3339: "2026-11-21") == Instant(secondsSinceEpoch: 1_795_219_200))
        for bad in [
            "2026-13-01", "2026-02-30", "2026-11-21T25:00:00Z", "2026-11-21T10:00:00", "yesterday",
            "2026-11-21T10:00:00Zjunk",
        ] {
            #expect(Instant(rfc3339: bad) == nil, "\(bad)")
        }
        var rng = SplitMix64(seed: 3)
        for _ in 0..<10_000 {
            let t = Instant(microsSinceEpoch: Int64(rng.next() % 8_000_000_000_000_000))
            #expect(Instant(rfc3339: t.rfc3339) == t)
        }
        // The ends of time format (oddly) rather than trap: a platform's nonsense timestamp is data.
        #expect(Instant(microsSinceEpoch: .max).rfc3339.hasSuffix(".775807Z"))
        #expect(Instant(microsSinceEpoch: .min).rfc3339.hasSuffix(".224192Z"))
        #expect(LocalTime(Instant(microsSinceEpoch: .min), utcOffsetSeconds: -14 * 3600).secondOfDay >= 0)
    }
}
