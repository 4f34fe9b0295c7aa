import AdPilotCore
import AdPilotPlatforms
import AdPilotService
package import AdPilotPolicy
import AdPilotSystem
import Foundation

/// AdPilot's own reproducible trainer: tabular Q-learning on the embedded simulator, with
/// every decision going through the real pipeline (pacer, guardrails, anomaly, breaker),
/// so the policy learns inside the guardrails it will run under.
///
/// A contextual bandit (γ = 0): the reward of choosing multiplier `a` in state `s` at hour h
/// is the campaign's profit (conversion value minus spend) in hour h, read two hours later
/// when its conversions are fully reported.
package enum Trainer {
    package static let features: [Feature] = [.trailingROAS, .budgetToTarget, .dayElapsed]
    package static let edges: [[Double]] = [[1, 2, 3, 5], [0.5, 0.8, 1.2, 2], [0.25, 0.5, 0.75]]
    package static let multipliers: [Double] = [0.8, 0.9, 1.0, 1.1, 1.25]
    package static var states: Int { edges.reduce(1) { $0 * ($1.count + 1) } }

    package struct Config: Sendable {
        package var seed: UInt64 = 20_261_121
        package var episodes = 8
        package var campaigns = 10
        package var days = 10
        package var learningRate = 0.05
        package var epsilon = 0.2
        package init() {}
    }

    /// The configuration the policy is deployed in: the demo's (`adpilotd --demo`), scaled
    /// to the run's campaigns: its targets, pacer band, guardrails (25% steps, a 3,600 s
    /// cooldown, the ROAS floor) and account caps.
    static func deployed(campaigns: Int) -> ServiceConfig {
        do {
            return try DefaultConfig.demo(campaigns: campaigns)
        } catch {
            preconditionFailure("the demo configuration does not parse: \(error)")
        }
    }

    /// The simulator's demand curve as a delivery profile: what the deployed pacer learns
    /// within a day (docs/decision-pipeline.md, the delivery profile).
    static let delivery = DeliveryProfile(rates: MarketSimulator.hourShare)!

    /// What one run through the simulator produced.
    package struct Outcome: Sendable {
        package var profitMicros: Double = 0
        package var spendMicros: Double = 0
        package var decisions = 0
        package var applies = 0
        package var violations: [String] = []
    }

    /// Runs `policy` (or the learner, when `q` is given) over one simulated market.
    static func run(
        seed: UInt64, campaigns: Int, days: Int, choose: (PolicyContext, [Double], inout SplitMix64) -> PolicyOutput,
        learn: ((Int, Int, Double) -> Void)? = nil
    ) -> Outcome {
        var market = MarketRun(seed: seed, campaigns: campaigns)
        for _ in 0..<(days * 24) {
            let now = market.clock.now()
            let hour = now.microsSinceEpoch / 3_600_000_000
            for i in market.list.indices {
                market.decide(campaign: i, now: now, hour: hour, choose: choose)
            }
            market.clock.advance(seconds: 3600)
            market.collectRewards(hour: hour, learn: learn)
        }
        return market.outcome
    }

    /// One run through a simulated market: its clock and campaigns, each campaign's pacer, the
    /// decisions still waiting for their reward, and what the run produced so far.
    private struct MarketRun {
        let clock: ManualClock
        let sim: MarketSimulator
        var rng: SplitMix64
        let list: [PlatformCampaign]
        let configs: [CampaignConfig]
        let config: ServiceConfig
        var pacers: [PacerState]
        var lastChange: [Instant?]
        var pending: [(hour: Int64, campaign: Int, state: Int, action: Int)] = []
        var outcome = Outcome()

        init(seed: UInt64, campaigns: Int) {
            let start = Instant(secondsSinceEpoch: 1_795_392_000)
            clock = ManualClock(start)
            sim = MarketSimulator(config: SimulatorConfig(seed: seed, campaigns: campaigns, start: start), clock: clock)
            rng = SplitMix64(seed: seed ^ 0xA11CE)
            clock.advance(seconds: 3 * 86_400)  // three days of history before the first decision
            list = (try? sim.listCampaigns()) ?? []
            config = Trainer.deployed(campaigns: campaigns)
            configs = list.map { [config] c in config.campaign(c.id, currency: c.currency) }
            pacers = Array(repeating: PacerState(), count: list.count)
            lastChange = Array(repeating: nil, count: list.count)
        }

        /// One decision for campaign `i` through the real pipeline, applied when it writes.
        mutating func decide(
            campaign i: Int, now: Instant, hour: Int64,
            choose: (PolicyContext, [Double], inout SplitMix64) -> PolicyOutput
        ) {
            let c = list[i]
            guard let obs = observe(c, now: now, hour: hour) else { return }
            let current = obs.currentBudgetMicros
            let input = DecisionInput(
                campaign: configs[i], account: config.account, pacerConfig: config.pacer, observation: obs, now: now,
                mode: .live, slot: .live, policy: PolicyID("trainer@1")!, inCanaryScope: false, haltFlag: false,
                pacer: pacers[i], lastChangeAt: lastChange[i], platformBreaker: .closed, platformBreakerPermits: true,
                campaignBreaker: .closed, campaignBreakerPermits: true, anomaly: AnomalyAssessment(),
                accountOthersMicros: .zero, canaryOthersMicros: .zero, delivery: Trainer.delivery)
            var chosen = 0
            let (decision, pacer) = DecisionPipeline.decide(input) { report in
                let ctx = PolicyContext(
                    observation: obs, pacer: report, local: LocalTime(now, utcOffsetSeconds: 0),
                    campaign: configs[i])
                let values = features.map { $0.value(ctx) }
                let output = choose(ctx, values, &rng)
                if case .multiplier(let m) = output { chosen = multipliers.firstIndex(of: m) ?? 2 }
                pending.append((hour, i, state(values), chosen))
                switch output {
                case .multiplier(let m): return .micros(current.statistic * m)
                case .followPacer: return .micros(report.recommendedBudgetMicros.statistic)
                }
            }
            pacers[i] = pacer
            outcome.decisions += 1
            outcome.violations += DecisionPipeline.postconditionViolations(decision)
            if decision.writes,
                (try? sim.setDailyBudget(campaign: c.id, budgetMicros: decision.finalBudgetMicros)) != nil
            {
                outcome.applies += 1
                lastChange[i] = now
            }
        }

        /// The campaign as the pipeline sees it now: the last 72 hours, today's spend, the budget.
        func observe(_ c: PlatformCampaign, now: Instant, hour: Int64) -> Observation? {
            guard
                let window = try? sim.hourlyMetrics(campaign: c.id, from: now.adding(seconds: -72 * 3600), to: now),
                let current = try? sim.campaign(c.id).dailyBudgetMicros
            else { return nil }
            let today = window.hours.filter {
                $0.hour >= hour - Int64(LocalTime(now, utcOffsetSeconds: 0).hourOfDay)
            }
            return Observation(
                campaign: c.id, currency: c.currency, currentBudgetMicros: current,
                spendTodayMicros: today.reduce(.zero) { $0.saturatingAdding($1.spendMicros) },
                trailing: TrailingStats(
                    spendMicros: window.hours.reduce(.zero) { $0.saturatingAdding($1.spendMicros) },
                    conversions: window.hours.reduce(0) { $0 + $1.conversions },
                    conversionValueMicros: window.hours.reduce(.zero) {
                        $0.saturatingAdding($1.conversionValueMicros)
                    }),
                hoursWithoutConversion: 0,
                dataAgeSeconds: now.seconds(since: window.freshThrough) > 0
                    ? Int64(now.seconds(since: window.freshThrough)) : 0)
        }

        /// Rewards for decisions whose hour is now fully reported (two hours later).
        mutating func collectRewards(hour: Int64, learn: ((Int, Int, Double) -> Void)?) {
            let ready = pending.filter { $0.hour <= hour - 2 }
            pending.removeAll { $0.hour <= hour - 2 }
            for p in ready {
                guard
                    let m = try? sim.hourlyMetrics(
                        campaign: list[p.campaign].id, from: Instant(microsSinceEpoch: p.hour * 3_600_000_000),
                        to: Instant(microsSinceEpoch: (p.hour + 1) * 3_600_000_000)
                    ).hours.first
                else { continue }
                let profit = m.conversionValueMicros.statistic - m.spendMicros.statistic
                outcome.profitMicros += profit
                outcome.spendMicros += m.spendMicros.statistic
                learn?(p.state, p.action, profit / 1_000_000)
            }
        }
    }

    static func state(_ values: [Double]) -> Int {
        var s = 0
        for (v, e) in zip(values, edges) {
            var bin = 0
            while bin < e.count && v >= e[bin] { bin += 1 }
            s = s * (e.count + 1) + bin
        }
        return s
    }

    /// Trains the Q-table. Deterministic for a given config (seeded exploration, seeded
    /// markets, a fixed order of updates).
    package static func train(_ config: Config) -> (table: [Float], outcomes: [Outcome]) {
        var q = [Double](repeating: 0, count: states * multipliers.count)
        var outcomes: [Outcome] = []
        for episode in 0..<config.episodes {
            let outcome = run(
                seed: config.seed &+ UInt64(episode), campaigns: config.campaigns, days: config.days,
                choose: { _, values, rng in
                    let s = state(values)
                    if rng.unit() < config.epsilon {
                        return .multiplier(multipliers[Int(rng.next() % UInt64(multipliers.count))])
                    }
                    return .multiplier(multipliers[argmax(q, s)])
                },
                learn: { s, a, r in
                    q[s * multipliers.count + a] += config.learningRate * (r - q[s * multipliers.count + a])
                })
            outcomes.append(outcome)
        }
        return (q.map(Float.init), outcomes)
    }

    static func argmax(_ q: [Double], _ s: Int) -> Int {
        var best = 0
        for a in 1..<multipliers.count where q[s * multipliers.count + a] > q[s * multipliers.count + best] { best = a }
        return best
    }

    /// Runs a frozen policy over unseen markets.
    package static func evaluate(_ runtime: PolicyRuntime, seeds: [UInt64], campaigns: Int, days: Int) -> Outcome {
        var total = Outcome()
        for seed in seeds {
            let o = run(seed: seed, campaigns: campaigns, days: days, choose: { ctx, _, _ in runtime.output(ctx) })
            total.profitMicros += o.profitMicros
            total.spendMicros += o.spendMicros
            total.decisions += o.decisions
            total.applies += o.applies
            total.violations += o.violations
        }
        return total
    }
}

extension Trainer {
    package static let name = "qlearn"
    package static let version = "1"
    package static let evaluationSeeds: [UInt64] = [900_001, 900_002, 900_003]

    /// Writes `<dir>/qlearn@1/` (manifest.json and q.f32) deterministically.
    package static func writeArtifact(
        table: [Float], config: Config, training: [Outcome], evaluation: Outcome, baseline: Outcome,
        into dir: String
    ) throws {
        let path = "\(dir)/\(name)@\(version)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        var bytes: [UInt8] = []
        for v in table { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        try Data(bytes).write(to: URL(fileURLWithPath: path + "/q.f32"))
        func units(_ micros: Double) -> Double { (micros / 10_000).rounded() / 100 }
        let manifest = Manifest(
            format: FrozenPolicy.formatVersion, name: name, version: version, kind: "tabular",
            features: features.map { Manifest.FeatureSpec(name: $0.rawValue, mean: 0, std: 1) },
            action: Manifest.ActionSpec(
                type: "multipliers", values: multipliers, min: nil, max: nil, rule: nil,
                meaning:
                    "Q-values over multipliers of the current daily budget, by binned trailing ROAS, budget/target and "
                        + "time of day; the argmax is proposed"
            ),
            layers: nil, tabular: Manifest.TabularSpec(edges: edges, table: "q.f32"),
            provenance: Manifest.Provenance(
                algorithm:
                    "tabular Q-learning, contextual bandit (gamma 0), epsilon-greedy \(config.epsilon), learning rate "
                        + "\(config.learningRate)",
                library: "AdPilot adpilot-train (make policies)",
                data:
                    "embedded simulator: \(config.episodes) episodes x \(config.campaigns) campaigns x \(config.days) "
                        + "days, seeds \(config.seed)...\(config.seed + UInt64(config.episodes) - 1)",
                seed: config.seed,
                metrics: [
                    "train_profit_last_episode": units(training.last?.profitMicros ?? 0),
                    "eval_profit": units(evaluation.profitMicros), "eval_profit_hold": units(baseline.profitMicros),
                    "eval_guardrail_violations": Double(evaluation.violations.count),
                    "eval_seeds": Double(evaluationSeeds.count),
                ]),
            files: ["q.f32": Crypto.sha256(bytes).hex])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try (encoder.encode(manifest) + Data("\n".utf8)).write(to: URL(fileURLWithPath: path + "/manifest.json"))
    }
}

extension Trainer {
    /// Profit of always proposing `multiplier`, over the evaluation seeds (a diagnostic of
    /// what the market rewards).
    package static func probe(multiplier: Double, seeds: [UInt64], campaigns: Int, days: Int) -> Outcome {
        var total = Outcome()
        for seed in seeds {
            let o = run(seed: seed, campaigns: campaigns, days: days, choose: { _, _, _ in .multiplier(multiplier) })
            total.profitMicros += o.profitMicros
            total.spendMicros += o.spendMicros
            total.violations += o.violations
        }
        return total
    }
}
