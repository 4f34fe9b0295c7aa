import Foundation
import Testing
@testable import AdPilotCore

/// Random inputs, including the nasty ones: NaN, ±inf, negatives, Int64 extremes, zero
/// budgets, huge jumps. Configs are valid (the loader refuses invalid ones); everything
/// that comes from a platform or a policy is not.
struct Generator {
    var rng: SplitMix64

    mutating func pick<T>(_ xs: [T]) -> T { xs[Int(rng.next() % UInt64(xs.count))] }
    mutating func chance(_ p: Double) -> Bool { rng.unit() < p }
    mutating func int(_ range: ClosedRange<Int64>) -> Int64 {
        range.lowerBound + Int64(bitPattern: rng.next() % UInt64(range.upperBound - range.lowerBound + 1))
    }

    /// A whole number of cents, usually moderate, sometimes extreme.
    mutating func cents(typical: Int64) -> Micros {
        let c: Int64
        switch rng.next() % 10 {
        case 0: c = 0
        case 1: c = int(0...Int64.max / 10_000)
        case 2: c = int(0...100)
        default: c = int(0...typical * 3)
        }
        return Micros(c * 10_000)
    }

    mutating func rawMicros() -> Micros {
        switch rng.next() % 12 {
        case 0: return Micros(.max)
        case 1: return Micros(.min)
        case 2: return Micros(Int64(bitPattern: rng.next()))
        case 3: return Micros(-int(0...1_000_000_000))
        default: return cents(typical: 20_000)
        }
    }

    mutating func proposal(current: Micros) -> Proposal {
        switch rng.next() % 14 {
        case 0: return .micros(.nan)
        case 1: return .micros(.infinity)
        case 2: return .micros(-.infinity)
        case 3: return .micros(-rng.unit() * 1e9)
        case 4: return .micros(Double(Int64.max) * (1 + rng.unit()))
        case 5: return .micros(rng.unit() * 1e18)
        case 6: return .micros(0)
        case 7: return .failed("boom")
        default: return .micros(max(0, current.statistic) * rng.unit() * 3 + rng.unit() * 1e7)
        }
    }

    mutating func config(id: String) -> CampaignConfig {
        let minCents = int(0...5_000)
        let maxCents = minCents + int(0...200_000)
        let hourly: [BudgetBounds]? =
            chance(0.2)
            ? (0..<24).map { _ in
                let lo = int(0...5_000)
                return BudgetBounds(minMicros: Micros(lo * 10_000), maxMicros: Micros((lo + int(0...100_000)) * 10_000))
            } : nil
        let step = 0.01 + rng.unit() * 0.99
        let c = CampaignConfig(
            id: CampaignID(id), currency: .usd, dailyTargetMicros: Micros(int(1...10_000_000) * 10_000),
            efficiencyTarget: pick([.roas(0.5 + rng.unit() * 5), .cpa(Micros(int(1...100_000) * 10_000)), .none]),
            guardrails: GuardrailConfig(
                bounds: BudgetBounds(minMicros: Micros(minCents * 10_000), maxMicros: Micros(maxCents * 10_000)),
                hourlyBounds: hourly, maxStepFraction: step, canaryMaxStepFraction: step * rng.unit(),
                maxStepFloorMicros: Micros(int(0...10_000) * 10_000),
                dailyCapMicros: chance(0.05)
                    ? Micros(Int64.max / 10_000 * 10_000) : Micros(int(0...1_000_000) * 10_000),
                noConversionWindowHours: Int(int(1...48)), roasFloor: chance(0.5) ? rng.unit() * 3 : nil,
                roasFloorSpendMinMicros: Micros(int(0...100_000) * 10_000), cooldownSeconds: int(0...7_200)))
        return c
    }

    mutating func input() -> DecisionInput {
        var campaign = config(id: "p")
        if campaign.guardrails.canaryMaxStepFraction <= 0 { campaign.guardrails.canaryMaxStepFraction = 0.01 }
        precondition(campaign.validationProblems().isEmpty, "\(campaign.validationProblems())")
        let budget = chance(0.9) ? cents(typical: 20_000) : rawMicros()
        let now = Instant(secondsSinceEpoch: 1_795_000_000 + int(0...86_400 * 30))
        let conversions: Double = pick([0, 1, 30, .nan, .infinity, -3, rng.unit() * 100])
        let obs = Observation(
            campaign: campaign.id, currency: chance(0.02) ? .eur : .usd, currentBudgetMicros: budget,
            spendTodayMicros: chance(0.9) ? cents(typical: 20_000) : rawMicros(),
            trailing: TrailingStats(
                spendMicros: chance(0.9) ? cents(typical: 50_000) : rawMicros(), conversions: conversions,
                conversionValueMicros: chance(0.9) ? cents(typical: 100_000) : rawMicros()),
            hoursWithoutConversion: Int(int(0...72)),
            dataAgeSeconds: chance(0.05) ? int(-1_000...100_000) : int(0...3_600))
        let mode = pick(Mode.allCases)
        var pacer = PacerState()
        if chance(0.5) {
            pacer.engaged = true
            pacer.pace = PIDState(integral: (rng.unit() - 0.5) * 2, lastMeasurement: chance(0.5) ? rng.unit() : nil)
            pacer.lastStepAt = now.adding(seconds: -int(0...100_000))
            pacer.day = chance(0.5) ? LocalTime(now, utcOffsetSeconds: 0).day : nil
        }
        let account = AccountLimits(
            dailyCapMicros: chance(0.1) ? Micros(.max) : Micros(int(0...100_000_000) * 10_000),
            maxSpendAtRiskMicros: Micros(int(0...10_000_000) * 10_000),
            overdeliveryBasisPoints: pick([0, 2_500, 10_000]),
            utcOffsetSeconds: pick([0, 9 * 3600, -5 * 3600]), staleAfterSeconds: 3 * 3600)
        var pacerConfig = PacerConfig.standard
        pacerConfig.policyAuthority = pick([0.05, 0.3, 1, 10])  // a wide band lets later layers bind
        return DecisionInput(
            campaign: campaign, account: account, pacerConfig: pacerConfig, observation: obs, now: now, mode: mode,
            slot: pick([.live, .candidate]), policy: PolicyID("gen@1")!, inCanaryScope: chance(0.5),
            haltFlag: chance(0.1),
            pacer: pacer, lastChangeAt: chance(0.3) ? now.adding(seconds: -int(0...10_000)) : nil,
            platformBreaker: pick([.closed, .open, .halfOpen]), platformBreakerPermits: chance(0.9),
            campaignBreaker: .closed, campaignBreakerPermits: chance(0.95),
            anomaly: AnomalyAssessment(
                level: pick([.info, .info, .info, .warn, .critical]), latest: pick([.info, .warn, .critical]),
                findings: []),
            accountOthersMicros: chance(0.05) ? Micros(.max) : Micros(int(0...1_000_000_000) * 10_000),
            canaryOthersMicros: account.maxSpendAtRiskMicros.scaled(by: rng.unit() * 1.2))
    }
}

/// Every property the issue names, checked on one decision. Returns what broke.
func violations(_ d: Decision) -> [String] {
    var out = DecisionPipeline.postconditionViolations(d)
    let i = d.input
    let current = i.observation.currentBudgetMicros
    let final = d.finalBudgetMicros
    let capAdjusted = d.layers.contains {
        [.dailyCap, .accountCap, .canaryExposure].contains($0.layer) && $0.verdict == .adjust
    }
    if d.layers.contains(where: { $0.verdict == .veto }) && (d.action != .hold || final != current) {
        out.append("a veto did not hold the current budget")
    }
    if (i.mode == .halted || i.haltFlag || (i.mode == .shadow && i.slot == .candidate)) && d.action == .apply {
        out.append("a write in halted/shadow/halt-flag")
    }
    if case .budget(let v) = d.proposal, !v.value.isFinite, d.action != .hold {
        out.append("a non-finite proposal got through")
    }
    guard d.action != .hold else { return out }

    let ctx = GuardContext(i)
    let b = i.campaign.guardrails.bounds(atHour: ctx.local.hourOfDay)
    // Never above the remaining daily cap (projected), the account cap, the canary cap;
    // where a cap's ceiling is below the minimum bound, only a decrease to the minimum.
    let toMinimum = final == b.minMicros && final < current
    if final > ctx.dailyCapCeiling && !toMinimum { out.append("above the daily cap ceiling \(ctx.dailyCapCeiling)") }
    if final > ctx.accountCeiling && !toMinimum { out.append("above the account cap ceiling \(ctx.accountCeiling)") }
    if let c = ctx.canaryCeiling, final > c && !toMinimum { out.append("above the canary exposure ceiling \(c)") }
    let projected = i.account.projectedDaySpend(budget: final, spendToday: i.observation.spendTodayMicros)
    if projected > max(i.campaign.guardrails.dailyCapMicros, max(i.observation.spendTodayMicros, .zero)) && !toMinimum {
        out.append("projected day spend \(projected) above the daily cap")
    }
    // A budget written is always inside the bounds; an unchanged one stays where it was.
    if d.action == .apply || d.action == .wouldApply, final < b.minMicros || final > b.maxMicros {
        out.append("wrote \(final) outside the bounds \(b.minMicros)..\(b.maxMicros)")
    }
    if final > max(b.maxMicros, current) { out.append("above max bound \(b.maxMicros)") }
    if !capAdjusted && final < min(b.minMicros, current) { out.append("below min bound \(b.minMicros)") }
    if current >= b.minMicros && current <= b.maxMicros && !capAdjusted && (final < b.minMicros || final > b.maxMicros)
    {
        out.append("left bounds \(b.minMicros)..\(b.maxMicros) from inside them")
    }
    // Moves by at most the maximum step (a hard cap may force a larger decrease).
    let g = i.campaign.guardrails
    let step = max(
        g.maxStepFloorMicros, current.scaled(by: i.canaryControlled ? g.canaryMaxStepFraction : g.maxStepFraction))
    let upToMinimum = current < b.minMicros && final == b.minMicros
    if final > current && final.saturatingSubtracting(current) > step && !upToMinimum {
        out.append("increase above max step \(step)")
    }
    let backInBounds = current > b.maxMicros && final == b.maxMicros
    if final < current && current.saturatingSubtracting(final) > step && !capAdjusted && !backInBounds {
        out.append("decrease beyond max step \(step)")
    }
    return out
}

@Suite struct PropertyTests {
    static let cases = 1_000_000

    /// At least 1,000,000 seeded random decisions per run. A failure prints the run seed and
    /// the case index, which replay it exactly (`ADPILOT_PROPERTY_SEED`).
    @Test func decisionInvariantsHoldForAMillionRandomInputs() {
        let seed = ProcessInfo.processInfo.environment["ADPILOT_PROPERTY_SEED"].flatMap { UInt64($0) } ?? 0xADB1_2026
        var failures = 0
        var writes = 0, holds = 0
        var reasons: [ReasonCode: Int] = [:]
        for index in 0..<Self.cases {
            var gen = Generator(rng: SplitMix64(seed: seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15))
            let input = gen.input()
            let proposal = gen.proposal(current: input.observation.currentBudgetMicros)
            let d = DecisionPipeline.decide(input) { _ in proposal }.decision
            if d.action == .apply { writes += 1 }
            if d.action == .hold { holds += 1 }
            for l in d.layers { if let r = l.reason { reasons[r, default: 0] += 1 } }
            let broken = violations(d)
            if !broken.isEmpty {
                failures += 1
                if failures <= 5 {
                    Issue.record("seed \(seed) case \(index): \(broken.joined(separator: "; "))\n\(d.layers)")
                }
            }
        }
        #expect(failures == 0, "\(failures) of \(Self.cases) cases broke an invariant; seed \(seed)")
        // The generator must exercise both outcomes, or the properties prove nothing.
        #expect(writes > Self.cases / 50 && holds > Self.cases / 10, "writes \(writes), holds \(holds)")
        for code in ReasonCode.all {
            #expect(
                reasons[code, default: 0] >= 500,
                "\(code) fired \(reasons[code, default: 0]) times: the generator misses it")
        }
    }

    /// Every decision replays exactly from its JSON (the journal stores it verbatim).
    @Test func decisionsReplayFromTheirJSON() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for index in 0..<5_000 {
            var gen = Generator(rng: SplitMix64(seed: 0x5EED &+ UInt64(index)))
            let input = gen.input()
            let proposal = gen.proposal(current: input.observation.currentBudgetMicros)
            let d = DecisionPipeline.decide(input) { _ in proposal }.decision
            let decoded = try JSONDecoder().decode(Decision.self, from: encoder.encode(d))
            if decoded != d {
                let a = Array(String(describing: decoded)), b = Array(String(describing: d))
                let i = (0..<min(a.count, b.count)).first { a[$0] != b[$0] } ?? min(a.count, b.count)
                Issue.record(
                    Comment(rawValue: "case \(index): decoding changed the decision near: "
                        + "\(String(a[max(0, i - 150)..<min(a.count, i + 60)])) vs "
                        + "\(String(b[max(0, i - 20)..<min(b.count, i + 60)]))")
                )
            }
            let replayed = DecisionPipeline.decide(decoded.input) { _ in decoded.proposal }.decision
            #expect(replayed == d, "case \(index): replay differs")
        }
    }

    /// Whole ticks: halted and the halt flag never write; shadow candidates never write;
    /// applied changes keep the account inside its cap.
    @Test func ticksRespectModesAndTheAccountCap() {
        var gen = Generator(rng: SplitMix64(seed: 99))
        let settings = TickSettings(
            account: AccountLimits(
                dailyCapMicros: usd("20000"), maxSpendAtRiskMicros: usd("3000"),
                overdeliveryBasisPoints: 2_500, utcOffsetSeconds: 0, staleAfterSeconds: 7200),
            pacer: .standard, breaker: .standard, anomaly: .standard)
        var totalWrites = 0
        for tick in 0..<400 {
            let n = 40
            let configs = (0..<n).map { gen.config(id: "c\($0)") }
            let campaigns = configs.map { c in
                TickCampaign(
                    config: c,
                    observation: Observation(
                        campaign: c.id, currency: .usd, currentBudgetMicros: gen.cents(typical: 20_000),
                        spendTodayMicros: gen.cents(typical: 10_000),
                        trailing: TrailingStats(
                            spendMicros: usd("100"), conversions: 10, conversionValueMicros: usd("300")),
                        hoursWithoutConversion: 0, dataAgeSeconds: 60), newHours: [], inCanaryScope: gen.chance(0.3))
            }
            let control = ControlState(
                mode: gen.pick(Mode.allCases), live: PolicyID("a@1"), candidate: PolicyID("b@1"), modeSince: t0)
            let haltFlag = gen.chance(0.15)
            var states = Array(repeating: CampaignControl(), count: n)
            var platform = CircuitBreaker()
            let decisions = Tick.run(
                control: control, haltFlag: haltFlag, settings: settings, now: Fixture.noon,
                campaigns: campaigns, states: &states, platformBreaker: &platform
            ) { _, _, _ in
                .micros(gen.rng.unit() * 1e9)
            }
            let writes = decisions.filter(\.writes)
            totalWrites += writes.count
            if control.mode == .halted { #expect(decisions.isEmpty, "tick \(tick): halted decided") }
            if haltFlag { #expect(writes.isEmpty, "tick \(tick): wrote under the halt flag") }
            #expect(!writes.contains { $0.input.slot == .candidate && control.mode == .shadow }, "tick \(tick)")
            #expect(
                !writes.contains { control.mode == .canary && ($0.input.slot == .candidate) != $0.input.inCanaryScope },
                "tick \(tick): a canary write outside its scope")
            // The account cap: every increase leaves the projected total within the cap.
            var final = Dictionary(
                uniqueKeysWithValues: campaigns.map { ($0.config.id, $0.observation.currentBudgetMicros) })
            for d in writes { final[d.campaign] = d.finalBudgetMicros }
            let total = campaigns.reduce(Int128(0)) {
                $0
                    + Int128(
                        settings.account.projectedDaySpend(
                            budget: final[$1.config.id]!, spendToday: $1.observation.spendTodayMicros
                        ).rawValue)
            }
            let before = campaigns.reduce(Int128(0)) {
                $0
                    + Int128(
                        settings.account.projectedDaySpend(
                            budget: $1.observation.currentBudgetMicros, spendToday: $1.observation.spendTodayMicros
                        ).rawValue)
            }
            if writes.contains(where: { $0.finalBudgetMicros > $0.currentBudgetMicros }) {
                #expect(
                    total <= max(Int128(settings.account.dailyCapMicros.rawValue), before),
                    "tick \(tick): account over cap")
            }
        }
        #expect(totalWrites > 1_000)
    }
}
