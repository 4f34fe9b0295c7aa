import Testing

@testable import AdPilotCore

/// Property tests of the learned delivery profile (docs/decision-pipeline.md, the pacer):
/// the estimator on seeded random histories, the shrinkage, and the profile's arithmetic.
@Suite struct DeliveryProfileTests {
    static let seed: UInt64 = 0xDE11_7E57

    /// A detector state fed `days` days of hours whose spend is `rate(localHour) * budget`
    /// (times `noise`), at a budget that changes at random each local midnight; with
    /// `capSome`, a day stops spending once it has spent its budget.
    static func history(
        _ rng: inout SplitMix64, days: Int, offset: Int64, rate: [Double], noise: Double, capSome: Bool
    ) -> AnomalyState {
        var s = AnomalyState()
        let start: Int64 = 480_000 * 24
        var spent = 0.0
        var budget = Double(20 + Int(rng.next() % 500))
        for h in start..<(start + Int64(days * 24)) {
            let local = Int(((h * 3_600 + offset).floorMod(86_400)) / 3_600)
            if local == 0 {
                spent = 0
                budget = Double(20 + Int(rng.next() % 500))
            }
            var spend = budget * rate[local] * (1 + noise * (rng.unit() - 0.5))
            if capSome && spent >= budget { spend = 0 }
            spent += spend
            let m = HourlyMetrics(
                hour: h, spendMicros: Micros(Int64(spend * 1e6)), impressions: 1_000, clicks: 20, conversions: 1,
                conversionValueMicros: Micros(1_000_000))
            s = AnomalyDetector.ingest(m, budget: Micros(Int64(budget * 1e6)), config: .standard, state: s,
                utcOffsetSeconds: offset)
        }
        return s
    }

    static func randomRates(_ rng: inout SplitMix64) -> [Double] {
        let raw = (0..<24).map { _ in 0.1 + rng.unit() }
        return raw.map { $0 / raw.reduce(0, +) }
    }

    /// Without noise or capping, the estimator recovers each local hour's rate exactly from
    /// a week, in any time zone; with noise and capped days, rates stay finite, non-negative,
    /// and rest on at most seven days.
    @Test func theEstimatorRecoversTheRatesAndStaysSane() {
        var rng = SplitMix64(seed: Self.seed)
        for trial in 0..<40 {
            let rates = Self.randomRates(&rng)
            let offset = Int64(rng.next() % 29) * 1_800 - 14 * 3_600
            let clean = LearnedDelivery(
                Self.history(&rng, days: 8, offset: offset, rate: rates, noise: 0, capSome: false),
                utcOffsetSeconds: offset)
            for h in 0..<24 {
                guard abs(clean.rates[h] - rates[h]) < 1e-6 * rates[h] + 1e-6, clean.days[h] == 7 else {
                    Issue.record("seed \(Self.seed) trial \(trial) hour \(h): \(clean.rates[h]) vs \(rates[h])")
                    return
                }
            }
            let noisy = LearnedDelivery(
                Self.history(&rng, days: Int(1 + rng.next() % 9), offset: offset, rate: rates, noise: 0.6,
                    capSome: true), utcOffsetSeconds: offset)
            #expect(noisy.rates.allSatisfy { $0.isFinite && $0 >= 0 } && noisy.days.allSatisfy { (0...7).contains($0) },
                    "seed \(Self.seed) trial \(trial): \(noisy)")
        }
    }

    /// The anomaly detector asks for one local hour (`LearnedDelivery.hour`): on noisy,
    /// capped histories of 1-9 days in any time zone, it is exactly that hour of the whole
    /// profile, and nothing for a detector that has seen no hour.
    @Test func oneHourIsThatHourOfTheWholeProfile() {
        var rng = SplitMix64(seed: Self.seed ^ 0x1)
        #expect(LearnedDelivery.hour(5, of: AnomalyState(), utcOffsetSeconds: 0) == (0, 0))
        for trial in 0..<30 {
            let offset = Int64(rng.next() % 29) * 1_800 - 14 * 3_600
            let state = Self.history(
                &rng, days: Int(1 + rng.next() % 9), offset: offset, rate: Self.randomRates(&rng), noise: 0.6,
                capSome: true)
            let whole = LearnedDelivery(state, utcOffsetSeconds: offset)
            for h in 0..<24 {
                let one = LearnedDelivery.hour(h, of: state, utcOffsetSeconds: offset)
                guard one.rate.bitPattern == whole.rates[h].bitPattern, one.days == whole.days[h] else {
                    Issue.record("seed \(Self.seed ^ 0x1) trial \(trial) hour \(h): \(one) vs \(whole)")
                    return
                }
            }
        }
    }

    /// The tick refreshes a campaign's rates after each feeding (`refresh`), redoing only
    /// the local hours it moved through. Fed hour by hour, with gaps of up to two days,
    /// unusable hours (negative spend), late hours, ticks that feed nothing, spent days, and
    /// now and then a new time zone (UTC-14 to UTC+14, half hours too), it stays bit for bit
    /// the whole recomputation.
    @Test func refreshingIsTheWholeRecomputation() {
        let seed = Self.seed ^ 0x2
        var rng = SplitMix64(seed: seed)
        for trial in 0..<6 {
            var offset = Int64(rng.next() % 57) * 1_800 - 14 * 3_600
            let rates = Self.randomRates(&rng)
            var s = AnomalyState(), learned = LearnedDelivery(), partial = 0
            var h: Int64 = 480_000 * 24, spent = 0.0, budget = 100.0
            for step in 0..<700 {
                let roll = rng.next() % 100
                h += roll < 3 ? Int64(2 + rng.next() % 47) : roll < 5 ? -3 : roll < 10 ? 0 : 1
                if roll >= 97 { offset = Int64(rng.next() % 57) * 1_800 - 14 * 3_600 }
                let local = LearnedDelivery.localHour(h, utcOffsetSeconds: offset)
                if local == 0 { (spent, budget) = (0, Double(20 + Int(rng.next() % 500))) }
                let spend = spent >= budget ? 0 : budget * rates[local] * (0.7 + 0.6 * rng.unit())
                spent += spend
                let m = HourlyMetrics(
                    hour: h, spendMicros: Micros(Int64(spend * (roll == 50 ? -1e6 : 1e6))), impressions: 1_000,
                    clicks: 20, conversions: 1, conversionValueMicros: Micros(1_000_000))
                if roll != 9 {
                    AnomalyDetector.ingest(
                        m, budget: Micros(Int64(budget * 1e6)), config: .standard, into: &s, utcOffsetSeconds: offset)
                }
                let before = learned.rates
                learned.refresh(from: s, utcOffsetSeconds: offset)
                if learned.rates != before { partial += 1 }
                let whole = LearnedDelivery(s, utcOffsetSeconds: offset)
                guard learned.rates.map(\.bitPattern) == whole.rates.map(\.bitPattern), learned.days == whole.days
                else {
                    Issue.record("seed \(seed) trial \(trial) step \(step) hour \(h): \(learned) vs \(whole)")
                    return
                }
            }
            #expect(partial > 300, "seed \(seed) trial \(trial): only \(partial) refreshes changed anything")
        }
    }

    /// Shrinkage lies between the campaign's own rate and the prior, equals the prior with no
    /// evidence, and moves toward the own rate as days accrue; pooling likewise.
    @Test func shrinkageAndPoolingStayBetweenEvidenceAndPrior() {
        var rng = SplitMix64(seed: Self.seed ^ 1)
        for trial in 0..<200 {
            let prior = DeliveryProfile(rates: Self.randomRates(&rng))!
            var own = LearnedDelivery()
            for h in 0..<24 {
                own.rates[h] = rng.unit() * 0.2
                own.days[h] = Int(rng.next() % 8)
            }
            let k = 0.1 + rng.unit() * 5
            let shrunk = own.shrunk(toward: prior, priorDays: k)
            for h in 0..<24 {
                let lo = min(own.rates[h], prior.rates[h]) - 1e-12, hi = max(own.rates[h], prior.rates[h]) + 1e-12
                #expect((lo...hi).contains(shrunk.rates[h]), "seed \(Self.seed) trial \(trial) hour \(h)")
                if own.days[h] == 0 { #expect(abs(shrunk.rates[h] - prior.rates[h]) < 1e-15) }
            }
            let pooled = LearnedDelivery.pooled([own, LearnedDelivery()], prior: prior, priorDays: k)
            #expect(pooled.rates == shrunk.rates, "one campaign's evidence pools to its own shrinkage")
        }
    }

    /// The plan's arithmetic: the share elapsed rises from 0 to 1 through the day, and what
    /// is elapsed plus what remains is the whole day's delivery, at every second.
    @Test func elapsedAndRemainingAddUpAtEverySecond() {
        var rng = SplitMix64(seed: Self.seed ^ 2)
        for trial in 0..<50 {
            var rates = Self.randomRates(&rng)
            if trial % 5 == 0 { rates[Int(rng.next() % 24)] = 0 }
            let p = DeliveryProfile(rates: rates)!
            let total = rates.reduce(0, +)
            var last = 0.0
            #expect(p.fractionElapsed(atSecondOfDay: 0) == 0)
            for s in stride(from: Int64(0), to: 86_400, by: 97) {
                let f = p.fractionElapsed(atSecondOfDay: s)
                #expect(f >= last - 1e-15 && f <= 1, "seed \(Self.seed) trial \(trial) second \(s)")
                #expect(abs(f * total + p.remaining(fromSecondOfDay: s) - total) < 1e-12)
                last = f
            }
        }
        #expect(DeliveryProfile(rates: Array(repeating: 0, count: 24)) == nil)
        #expect(DeliveryProfile(rates: [1, 2]) == nil)
    }
}
