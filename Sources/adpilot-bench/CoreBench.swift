// The decision core: the whole pure pipeline over 10,000 campaigns, with a real frozen
// policy (a seeded 15->128->64->10 MLP in the policy format) proposing every budget.
import AdPilotCore
import AdPilotJournal
import AdPilotPolicy
import Foundation
#if canImport(Glibc)
import Glibc
#endif

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

func machine() -> String {
    var model = "unknown CPU"
    if let f = fopen("/proc/cpuinfo", "r") {
        defer { fclose(f) }
        var line = [CChar](repeating: 0, count: 512)
        while fgets(&line, 512, f) != nil {
            let s = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
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
    let campaigns = benchCampaigns(campaignCount)
    let tmp = NSTemporaryDirectory() + "/adpilot-bench-core-\(getpid())"
    defer { try? FileManager.default.removeItem(atPath: tmp) }
    guard let dir = try? writeBenchMLP(in: tmp), let frozen = try? FrozenPolicy.load(directory: dir) else {
        print("core benchmark: could not write the benchmark policy")
        return
    }
    let policy = PolicyRuntime(frozen)
    let start = Instant(secondsSinceEpoch: 1_795_046_400)

    // Policy alone.
    let policyCalls = 200_000
    let (policyTime, sink) = benchPolicyAlone(policy, calls: policyCalls, featureCount: frozen.features.count)

    // The whole pure pipeline: anomaly ingest, breaker permission, pacer, policy, every
    // layer, mode check, account and canary projections.
    let run = benchPipeline(
        ticks: ticks, configs: campaigns.configs, observations: campaigns.observations, policy: policy, start: start)
    let (decisions, applied) = (run.decisions, run.applied)
    let totalSeconds = seconds(run.inTick)
    print("== decision core")
    print(
        "policy 15->128->64->10 MLP (PolicyRuntime): \(format2(seconds(policyTime) / Double(policyCalls) * 1e6)) us "
            + "per inference"
    )
    print("pipeline: \(campaignCount) campaigns x \(ticks) ticks = \(decisions) decisions, \(applied) applied")
    print(
        "pipeline: \(format2(Double(decisions) / totalSeconds)) decisions/s, "
            + "\(format2(totalSeconds / Double(decisions) * 1e6)) us per decision (Tick.run, policy included)"
    )
    print(
        "pipeline: "
            + "\(format2(totalSeconds / Double(decisions) * 1e6 - seconds(policyTime) / Double(policyCalls) * 1e6)) us "
            + "per decision without the policy"
    )
    print("pipeline: worst tick \(format2(seconds(run.worstTick) * 1000)) ms for \(campaignCount) campaigns")
    let encodeMicros = seconds(run.encoding) / Double(decisions) * 1e6
    print(
        "decision record JSON (DecisionJSON, no hashing or writing): \(format2(encodeMicros)) us per decision, "
            + "\(run.encodedBytes / max(decisions, 1)) bytes")
    print(
        "decision path (pipeline + its JSON line): "
            + "\(format2(totalSeconds / Double(decisions) * 1e6 + encodeMicros)) us per decision")
    benchSeedPath(swiftMicros: totalSeconds / Double(decisions) * 1e6 + encodeMicros)
    if sink == 42 { print("") }

}

private func money(_ s: String) -> Micros { try! Micros(decimal: s) }

/// The benchmark's campaigns: targets and trailing figures drawn from one seeded generator.
private func benchCampaigns(_ campaignCount: Int) -> (configs: [CampaignConfig], observations: [Observation]) {
    let usd = Currency.usd
    var rng = SplitMix64(seed: 2026)
    var configs: [CampaignConfig] = []
    var observations: [Observation] = []
    for i in 0..<campaignCount {
        let target = Micros(Int64(50 + rng.next() % 500) * 1_000_000)
        configs.append(
            CampaignConfig(
                id: CampaignID("c\(i)"), currency: usd, dailyTargetMicros: target, efficiencyTarget: .roas(2.5),
                guardrails: GuardrailConfig(
                    bounds: BudgetBounds(minMicros: money("5"), maxMicros: money("5000")),
                    maxStepFraction: 0.2, canaryMaxStepFraction: 0.1, maxStepFloorMicros: money("2"),
                    dailyCapMicros: target.scaled(by: 2).rounded(to: usd), noConversionWindowHours: 24,
                    roasFloor: 0.5, roasFloorSpendMinMicros: money("100"), cooldownSeconds: 1800)))
        observations.append(
            Observation(
                campaign: CampaignID("c\(i)"), currency: usd, currentBudgetMicros: target, spendTodayMicros: .zero,
                trailing: TrailingStats(
                    spendMicros: money("300"), conversions: 20 + rng.unit() * 20,
                    conversionValueMicros: money("900").scaled(by: 0.5 + rng.unit())),
                hoursWithoutConversion: 0, dataAgeSeconds: 300))
    }
    return (configs, observations)
}

/// `calls` inferences on one feature vector; the sink keeps the optimizer from dropping them.
private func benchPolicyAlone(_ policy: PolicyRuntime, calls policyCalls: Int, featureCount: Int) -> (Duration, Int) {
    let clock = ContinuousClock()
    var sink = 0
    let probe = [Double](repeating: 0.3, count: featureCount)
    let policyTime = clock.measure {
        probe.withUnsafeBufferPointer { x in
            for _ in 0..<policyCalls {
                if case .multiplier(let m) = policy.output(features: x) { sink &+= Int(m * 100) }
            }
        }
    }
    return (policyTime, sink)
}

/// What the pipeline benchmark counted and timed.
private struct PipelineRun {
    var decisions = 0
    var applied = 0
    var worstTick = Duration.zero
    var inTick = Duration.zero
    /// Encoding each decision as its journal JSON line (the record's data), one core.
    var encoding = Duration.zero
    var encodedBytes = 0
}

/// `ticks` hourly ticks over every campaign (a canary over a tenth of them), with a trivial plant:
/// applied budgets become current, and a 24th of the budget is spent per hour.
private func benchPipeline(
    ticks: Int, configs: [CampaignConfig], observations: [Observation], policy: PolicyRuntime, start: Instant
) -> PipelineRun {
    let campaignCount = configs.count
    var observations = observations
    let settings = TickSettings(
        account: AccountLimits(
            dailyCapMicros: money("100000000"), maxSpendAtRiskMicros: money("50000"),
            overdeliveryBasisPoints: 2_500, utcOffsetSeconds: 0, staleAfterSeconds: 7200),
        pacer: .standard, breaker: .standard, anomaly: .standard)
    let control = ControlState(
        mode: .canary, live: PolicyID("mlp@1"), candidate: PolicyID("mlp@2"),
        modeSince: Instant(secondsSinceEpoch: 0))
    var states = Array(repeating: CampaignControl(), count: campaignCount)
    var platform = CircuitBreaker()
    let clock = ContinuousClock()
    var run = PipelineRun()
    let index = Dictionary(uniqueKeysWithValues: configs.enumerated().map { ($1.id, $0) })
    for t in 0..<ticks {
        let now = start.adding(seconds: Int64(t) * 3600)
        let hour = Int64(now.microsSinceEpoch / 3_600_000_000) - 1
        let campaigns = (0..<campaignCount).map { i in
            TickCampaign(
                config: configs[i], observation: observations[i],
                newHours: [
                    HourlyMetrics(
                        hour: hour, spendMicros: money("20"), impressions: 10_000, clicks: 200,
                        conversions: 4, conversionValueMicros: money("50"))
                ],
                inCanaryScope: i % 10 == 0)
        }
        var out: [Decision] = []
        let tickTime = clock.measure {
            out = Tick.run(
                control: control, haltFlag: false, settings: settings, now: now, campaigns: campaigns,
                states: &states, platformBreaker: &platform
            ) { i, _, pacer in
                policy.propose(
                    PolicyContext(
                        observation: observations[i], pacer: pacer,
                        local: LocalTime(now, utcOffsetSeconds: 0), campaign: configs[i]))
            }
        }
        run.worstTick = max(run.worstTick, tickTime)
        run.inTick += tickTime
        run.decisions += out.count
        run.encoding += clock.measure {
            var line = JSONOut(capacity: 8_192)
            for d in out {
                line.reset()
                DecisionRecord(d, tick: UInt64(t), policyDigest: "bench", configDigest: "bench").writeJSON(&line)
                run.encodedBytes += line.count + 1
            }
        }
        for d in out where d.writes {
            run.applied += 1
            observations[index[d.campaign]!].currentBudgetMicros = d.finalBudgetMicros
        }
        for i in 0..<campaignCount {  // a trivial plant: a 24th of the budget spent per hour
            observations[i].spendTodayMicros =
                t % 24 == 23
                ? .zero
                : observations[i].spendTodayMicros.saturatingAdding(
                    observations[i].currentBudgetMicros.scaled(by: 1.0 / 24))
        }
    }
    return run
}

func format2(_ v: Double) -> String {
    let scaled = (v * 100).rounded()
    let whole = Int(scaled / 100), frac = Int(abs(scaled).truncatingRemainder(dividingBy: 100))
    return "\(whole).\(frac < 10 ? "0" : "")\(frac)"
}

extension Micros {
    func rounded(to c: Currency) -> Micros { Micros(rawValue - rawValue % c.microsPerMinorUnit) }
}

/// The seed's Python decision path (Tests/fixtures/seed_decision_path.py) on this machine,
/// beside the Swift figure just measured.
private func benchSeedPath(swiftMicros: Double) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "Tests/fixtures/seed_decision_path.py", "1000", "24"]
    let out = Pipe()
    p.standardOutput = out
    p.standardError = out
    do { try p.run() } catch {
        print("seed python decision path: not run (\(error))")
        return
    }
    let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    guard p.terminationStatus == 0, let line = text.split(separator: "\n").last(where: { $0.hasPrefix("seed") }),
        let micros = line.split(separator: " ").dropFirst(4).first.flatMap({ Double($0) })
    else {
        print("seed python decision path: not run; it needs python3 with numpy and pydantic "
            + "(pip install numpy pydantic): \(text.suffix(300))")
        return
    }
    print(line)
    print("decision path against the seed's Python: \(format2(micros / swiftMicros))x (aim: 10x)")
}
