// The decision core: the whole pure pipeline over 10,000 campaigns.
import AdPilotCore
#if canImport(Glibc)
import Glibc
#endif

/// A stand-in for a frozen policy with the shape of the shipped MLP: 15 features ->
/// 128 -> 64 -> 10 Q-values over budget multipliers, argmax. Fixed seeded weights,
/// preallocated buffers: no allocation per call.
final class MLPStub {
    static let sizes = [15, 128, 64, 10]
    static let multipliers: [Double] = [0.7, 0.8, 0.9, 0.95, 1.0, 1.0, 1.05, 1.1, 1.2, 1.3]
    /// Rows padded to whole SIMD8 lanes (zeros), so the dot products run 8 wide.
    static func padded(_ n: Int) -> Int { (n + 7) / 8 * 8 }
    let weights: UnsafeMutableBufferPointer<Float>
    let activations: UnsafeMutableBufferPointer<Float>
    var weightOffsets: [Int] = []
    var activationOffsets: [Int] = []

    init(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var nWeights = 0
        for l in 0..<(Self.sizes.count - 1) {
            weightOffsets.append(nWeights)
            nWeights += Self.padded(Self.sizes[l]) * Self.sizes[l + 1] + Self.sizes[l + 1]
        }
        weights = .allocate(capacity: nWeights)
        weights.initialize(repeating: 0)
        for l in 0..<(Self.sizes.count - 1) {
            let nIn = Self.sizes[l], stride = Self.padded(nIn), nOut = Self.sizes[l + 1]
            let scale = Float(1 / Double(nIn).squareRoot())
            for o in 0..<nOut {
                for i in 0..<nIn { weights[weightOffsets[l] + o * stride + i] = Float(rng.unit() * 2 - 1) * scale }
                weights[weightOffsets[l] + stride * nOut + o] = Float(rng.unit() * 0.2 - 0.1)
            }
        }
        var nActs = 0
        for n in Self.sizes { activationOffsets.append(nActs); nActs += Self.padded(n) }
        activations = .allocate(capacity: nActs)
        activations.initialize(repeating: 0)
    }

    deinit {
        weights.deallocate()
        activations.deallocate()
    }

    func forward() -> Int {
        let w = UnsafeRawPointer(weights.baseAddress!), a = activations.baseAddress!
        for l in 0..<(Self.sizes.count - 1) {
            let stride = Self.padded(Self.sizes[l]), nOut = Self.sizes[l + 1]
            let layerW = w + weightOffsets[l] * 4
            let bias = (layerW + stride * nOut * 4).assumingMemoryBound(to: Float.self)
            let x = UnsafeRawPointer(a + activationOffsets[l]), y = a + activationOffsets[l + 1]
            let last = l == Self.sizes.count - 2
            for o in 0..<nOut {
                var acc = SIMD8<Float>()
                let row = layerW + o * stride * 4
                for i in Swift.stride(from: 0, to: stride, by: 8) {
                    acc += row.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                        * x.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                }
                let v = acc.sum() + bias[o]
                y[o] = last ? v : max(v, 0)
            }
        }
        let out = a + activationOffsets.last!
        var best = 0
        for i in 1..<Self.sizes.last! where out[i] > out[best] { best = i }
        return best
    }

    func propose(_ obs: Observation, _ pacer: PacerReport, hourOfDay: Int) -> Proposal {
        let target = max(pacer.recommendedBudgetMicros.statistic, 1)
        let f: [Double] = [
            sin(Double(hourOfDay) / 24 * 2 * .pi), cos(Double(hourOfDay) / 24 * 2 * .pi),
            obs.currentBudgetMicros.statistic / target, obs.spendTodayMicros.statistic / target,
            pacer.pace.error, pacer.pace.output, pacer.combinedOutput, obs.trailing.roas ?? 0,
            (obs.trailing.cpaMicros ?? 0) / 1e6, Double(obs.hoursWithoutConversion) / 24,
            Double(obs.dataAgeSeconds) / 3600, obs.trailing.conversions / 100, 1, 0, 0.5,
        ]
        for i in 0..<15 { activations[i] = Float(f[i]) }
        return .micros(obs.currentBudgetMicros.statistic * Self.multipliers[forward()])
    }
}

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

func machine() -> String {
    var model = "unknown CPU"
    if let f = fopen("/proc/cpuinfo", "r") {
        defer { fclose(f) }
        var line = [CChar](repeating: 0, count: 512)
        while fgets(&line, 512, f) != nil {
            let s = String(cString: line)
            if s.hasPrefix("model name") {
                model = String(s.split(separator: ":", maxSplits: 1)[1].trimmingPrefix(" ").dropLast())
                break
            }
        }
    }
    return "\(model), \(sysconf(Int32(_SC_NPROCESSORS_ONLN))) cores online"
}

func benchCore() {
    let campaignCount = 10_000
    let ticks = 24
    let usd = Currency.usd
    func money(_ s: String) -> Micros { try! Micros(decimal: s) }

    var rng = SplitMix64(seed: 2026)
    var configs: [CampaignConfig] = []
    var observations: [Observation] = []
    for i in 0..<campaignCount {
        let target = Micros(Int64(50 + rng.next() % 500) * 1_000_000)
        configs.append(CampaignConfig(
            id: CampaignID("c\(i)"), currency: usd, dailyTargetMicros: target, efficiencyTarget: .roas(2.5),
            guardrails: GuardrailConfig(bounds: BudgetBounds(minMicros: money("5"), maxMicros: money("5000")),
                                        maxStepFraction: 0.2, canaryMaxStepFraction: 0.1, maxStepFloorMicros: money("2"),
                                        dailyCapMicros: target.scaled(by: 2).rounded(to: usd), noConversionWindowHours: 24,
                                        roasFloor: 0.5, roasFloorSpendMinMicros: money("100"), cooldownSeconds: 1800)))
        observations.append(Observation(
            campaign: CampaignID("c\(i)"), currency: usd, currentBudgetMicros: target, spendTodayMicros: .zero,
            trailing: TrailingStats(spendMicros: money("300"), conversions: 20 + rng.unit() * 20,
                                    conversionValueMicros: money("900").scaled(by: 0.5 + rng.unit())),
            hoursWithoutConversion: 0, dataAgeSeconds: 300))
    }
    let settings = TickSettings(
        account: AccountLimits(dailyCapMicros: money("100000000"), maxSpendAtRiskMicros: money("50000"),
                               overdeliveryBasisPoints: 2_500, utcOffsetSeconds: 0, staleAfterSeconds: 7200),
        pacer: .standard, breaker: .standard, anomaly: .standard)
    let control = ControlState(mode: .canary, live: PolicyID("mlp@1"), candidate: PolicyID("mlp@2"),
                               modeSince: Instant(secondsSinceEpoch: 0))
    var states = Array(repeating: CampaignControl(), count: campaignCount)
    var platform = CircuitBreaker()
    let policy = MLPStub(seed: 7)
    let start = Instant(secondsSinceEpoch: 1_795_046_400)

    // Policy alone.
    let clock = ContinuousClock()
    var sink = 0
    let policyCalls = 200_000
    let policyTime = clock.measure { for _ in 0..<policyCalls { sink &+= policy.forward() } }

    // The whole pure pipeline: anomaly ingest, breaker permission, pacer, policy, every
    // layer, mode check, account and canary projections.
    var decisions = 0
    var applied = 0
    var worstTick = Duration.zero
    var inTick = Duration.zero
    let index = Dictionary(uniqueKeysWithValues: configs.enumerated().map { ($1.id, $0) })
    do {
        for t in 0..<ticks {
            let now = start.adding(seconds: Int64(t) * 3600)
            let hour = Int64(now.microsSinceEpoch / 3_600_000_000) - 1
            let campaigns = (0..<campaignCount).map { i in
                TickCampaign(config: configs[i], observation: observations[i],
                             newHours: [HourlyMetrics(hour: hour, spendMicros: money("20"), impressions: 10_000, clicks: 200,
                                                      conversions: 4, conversionValueMicros: money("50"))],
                             inCanaryScope: i % 10 == 0)
            }
            var out: [Decision] = []
            let tickTime = clock.measure {
                out = Tick.run(control: control, haltFlag: false, settings: settings, now: now, campaigns: campaigns,
                               states: &states, platformBreaker: &platform) { i, _, pacer in
                    policy.propose(observations[i], pacer, hourOfDay: t)
                }
            }
            worstTick = max(worstTick, tickTime)
            inTick += tickTime
            decisions += out.count
            for d in out where d.writes {
                applied += 1
                observations[index[d.campaign]!].currentBudgetMicros = d.finalBudgetMicros
            }
            for i in 0..<campaignCount {  // a trivial plant: a 24th of the budget spent per hour
                observations[i].spendTodayMicros = t % 24 == 23 ? .zero
                    : observations[i].spendTodayMicros.saturatingAdding(observations[i].currentBudgetMicros.scaled(by: 1.0 / 24))
            }
        }
    }
    let totalSeconds = seconds(inTick)
    print("== decision core")
    print("policy stub 15->128->64->10 MLP: \(format2(seconds(policyTime) / Double(policyCalls) * 1e6)) us per inference")
    print("pipeline: \(campaignCount) campaigns x \(ticks) ticks = \(decisions) decisions, \(applied) applied")
    print("pipeline: \(format2(Double(decisions) / totalSeconds)) decisions/s, \(format2(totalSeconds / Double(decisions) * 1e6)) us per decision (Tick.run, policy included)")
    print("pipeline: \(format2(totalSeconds / Double(decisions) * 1e6 - seconds(policyTime) / Double(policyCalls) * 1e6)) us per decision without the policy")
    print("pipeline: worst tick \(format2(seconds(worstTick) * 1000)) ms for \(campaignCount) campaigns")
    if sink == 42 { print("") }

}

func format2(_ v: Double) -> String {
    let scaled = (v * 100).rounded()
    let whole = Int(scaled / 100), frac = Int(abs(scaled).truncatingRemainder(dividingBy: 100))
    return "\(whole).\(frac < 10 ? "0" : "")\(frac)"
}

extension Micros {
    func rounded(to c: Currency) -> Micros { Micros(rawValue - rawValue % c.microsPerMinorUnit) }
}
