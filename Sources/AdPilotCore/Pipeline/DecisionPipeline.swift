/// docs/decision-pipeline.md steps 2-4 as one pure function: the policy proposes, each layer approves,
/// adjusts or vetoes, and the mode decides whether the result may be written.
///
/// Layer order: validity, pacer, bounds, step, daily cap, account cap, no-conversion
/// window, ROAS floor, cooldown, canary exposure, anomaly, breaker. Validity runs before
/// the pacer (the documented layer order lists it first) because no later layer can reason
/// about a NaN. The first veto holds the current budget; the layers after it are recorded
/// as skipped.
package enum DecisionPipeline {
    /// `propose` is the frozen policy, called once with the pacer's report (the `pace`
    /// baseline follows it). Replaying a journaled decision passes the recorded proposal.
    package static func decide(
        _ input: DecisionInput,
        propose: (PacerReport) -> Proposal
    ) -> (decision: Decision, pacer: PacerState) {
        let obs = input.observation
        let pacerInput = Pacer.Input(
            dailyTargetMicros: input.campaign.dailyTargetMicros,
            spendTodayMicros: obs.spendTodayMicros, currentBudgetMicros: obs.currentBudgetMicros,
            trailing: obs.trailing, efficiencyTarget: input.campaign.efficiencyTarget, delivery: input.delivery,
            dataAgeSeconds: obs.dataAgeSeconds)
        let (pacerReport, pacerState) = Pacer.step(
            input.pacerConfig, state: input.pacer, input: pacerInput,
            at: input.now, utcOffsetSeconds: input.account.utcOffsetSeconds)
        let proposal = propose(pacerReport)
        let ctx = GuardContext(input)

        var trail = Trail()
        var policyFault = false
        switch validity(proposal, ctx) {
        case .veto(let reason, let detail, let fault):
            policyFault = fault
            trail.veto(.validity, nil, reason, detail)
        case .valid(let amount, let detail):
            trail.approve(.validity, nil, amount, detail)
        }
        // After a veto (validity's too) each layer is recorded as skipped, not evaluated.
        trail.run(.pacer) { pacerVerdict($0, pacerReport, ctx) }
        for guardrail in Guardrails.ordered {
            trail.run(guardrail.layer) { guardrail.evaluate($0, ctx) }
        }
        trail.run(.anomaly) { anomalyVerdict($0, input, ctx) }
        trail.run(.breaker) { breakerVerdict($0, input, ctx) }

        let current = obs.currentBudgetMicros
        let final = trail.vetoReason == nil ? trail.amount! : current
        let action: Action
        if trail.vetoReason != nil {
            action = .hold
        } else if final == current {
            action = .unchanged
        } else {
            action = input.mayWrite ? .apply : .wouldApply
        }
        let decision = Decision(
            input: input, proposal: proposal, pacer: pacerReport, layers: trail.verdicts,
            finalBudgetMicros: final, action: action,
            reason: trail.vetoReason ?? trail.lastAdjustReason, policyFault: policyFault,
            quarantined: input.anomaly.level == .critical)
        assertPostconditions(decision)
        return (decision, pacerState)
    }

    // MARK: Layers that are not guardrails

    enum Validity {
        case valid(Micros, String?)
        case veto(ReasonCode, String, policyFault: Bool)
    }

    /// The proposal and the observation must be usable at all: a finite, non-negative
    /// number of micros in the campaign's currency, rounded down to a whole minor unit.
    static func validity(_ proposal: Proposal, _ ctx: GuardContext) -> Validity {
        let current = ctx.current
        if current < .zero || !ctx.currency.isRepresentable(current) {
            return .veto(
                .currentUnusable, "current budget \(current) is negative or not whole \(ctx.currency) minor units",
                policyFault: false)
        }
        if ctx.observation.currency != ctx.currency {
            return .veto(
                .currencyMismatch, "platform reports \(ctx.observation.currency), configured \(ctx.currency)",
                policyFault: false)
        }
        let raw: Double
        switch proposal {
        case .failed(let message):
            return .veto(.policyError, "policy error: \(message.prefix(200))", policyFault: true)
        case .budget(let v):
            raw = v.value
        }
        if !raw.isFinite { return .veto(.nonFinite, "proposal \(StatValue(raw))", policyFault: true) }
        if raw < 0 { return .veto(.negative, "proposal \(raw)", policyFault: false) }
        guard let micros = Micros.fromStatistic(raw, rounding: .down) else {
            return .veto(.outOfRange, "proposal \(raw) does not fit in 64-bit micros", policyFault: false)
        }
        let amount = ctx.currency.floor(micros)
        return .valid(amount, amount == micros ? nil : "rounded down to a whole \(ctx.currency) minor unit")
    }

    static func pacerVerdict(_ amount: Micros, _ report: PacerReport, _ ctx: GuardContext) -> (Verdict, String?) {
        let high = ctx.currency.floor(report.bandHighMicros)
        let low = min(ctx.currency.ceil(report.bandLowMicros), high)
        func detail() -> String { "recommended \(report.recommendedBudgetMicros), band \(low)..\(high)" }
        if amount > high { return (.adjust(high, .pacerAboveBand), detail()) }
        if amount < low { return (.adjust(low, .pacerBelowBand), detail()) }
        return (.approve, nil)
    }

    /// Stale data holds every budget; a critical level holds (the campaign is quarantined); a warn
    /// level, or a warn-worthy latest hour still inside its `for:` window, blocks increases.
    static func anomalyVerdict(_ amount: Micros, _ input: DecisionInput, _ ctx: GuardContext) -> (Verdict, String?) {
        let age = ctx.observation.dataAgeSeconds
        if age > ctx.account.staleAfterSeconds || age < 0 {
            return (.veto(.staleData), "metrics \(age) s old (limit \(ctx.account.staleAfterSeconds) s)")
        }
        let a = input.anomaly
        func summary() -> String { a.findings.prefix(3).map(\.check).joined(separator: ", ") }
        if a.level == .critical { return (.veto(.anomalyCritical), "critical: \(summary())") }
        if (a.level == .warn || a.latest >= .warn) && amount > ctx.current {
            return (.adjust(ctx.current, .anomalyWarn), "\(a.level.name) (latest \(a.latest.name)): \(summary())")
        }
        return (.approve, nil)
    }

    /// A change needs both the platform's and the campaign's breaker to permit a call.
    static func breakerVerdict(_ amount: Micros, _ input: DecisionInput, _ ctx: GuardContext) -> (Verdict, String?) {
        guard amount != ctx.current else { return (.approve, nil) }
        if !input.platformBreakerPermits {
            return (.veto(.breakerOpen), "platform breaker \(input.platformBreaker.rawValue)")
        }
        if !input.campaignBreakerPermits {
            return (.veto(.breakerOpen), "campaign breaker \(input.campaignBreaker.rawValue)")
        }
        return (.approve, nil)
    }

    // MARK: Invariants

    /// What no input may break. Checked on every decision in debug builds and by the
    /// property tests in every build.
    package static func postconditionViolations(_ d: Decision) -> [String] {
        var out: [String] = []
        let input = d.input
        let current = d.currentBudgetMicros
        let final = d.finalBudgetMicros
        if d.action == .hold && final != current { out.append("a veto changed the budget") }
        if d.action == .apply && !input.mayWrite { out.append("a write where the mode or halt flag forbids one") }
        if d.action == .apply || d.action == .wouldApply {
            if final < .zero { out.append("negative budget") }
            if !input.campaign.currency.isRepresentable(final) { out.append("budget not whole minor units") }
            let ctx = GuardContext(input)
            if final > current && final > ctx.hardCeiling { out.append("an increase above a hard cap") }
            if final > max(current, ctx.hardCeiling) { out.append("above the hard ceiling \(ctx.hardCeiling)") }
            let b = ctx.bounds
            if final < b.minMicros || final > b.maxMicros {
                out.append("outside the bounds \(b.minMicros)..\(b.maxMicros)")
            }
        }
        return out
    }

    static func assertPostconditions(_ d: Decision) {
        assert(postconditionViolations(d).isEmpty, "decision broke an invariant: \(postconditionViolations(d))")
    }
}

/// The running record of layer verdicts for one decision.
struct Trail {
    private(set) var verdicts: [LayerVerdict] = {
        var v: [LayerVerdict] = []
        v.reserveCapacity(Layer.allCases.count)  // one allocation per decision, not five
        return v
    }()
    /// The amount so far; nil once a layer vetoed.
    private(set) var amount: Micros? = nil
    private(set) var vetoReason: ReasonCode? = nil
    private(set) var lastAdjustReason: ReasonCode? = nil

    mutating func approve(_ layer: Layer, _ inMicros: Micros?, _ out: Micros, _ detail: String?) {
        verdicts.append(
            LayerVerdict(
                layer: layer, verdict: .approve, reason: nil, inMicros: inMicros, outMicros: out, detail: detail))
        amount = out
    }

    mutating func veto(_ layer: Layer, _ inMicros: Micros?, _ reason: ReasonCode, _ detail: String?) {
        verdicts.append(
            LayerVerdict(
                layer: layer, verdict: .veto, reason: reason, inMicros: inMicros, outMicros: nil, detail: detail))
        amount = nil
        vetoReason = reason
    }

    mutating func run(_ layer: Layer, _ evaluate: (Micros) -> (Verdict, String?)) {
        guard let current = amount, vetoReason == nil else {
            verdicts.append(
                LayerVerdict(layer: layer, verdict: .skipped, reason: nil, inMicros: nil, outMicros: nil, detail: nil))
            return
        }
        switch evaluate(current) {
        case (.approve, let detail):
            approve(layer, current, current, detail)
        case (.adjust(let to, let reason), let detail):
            verdicts.append(
                LayerVerdict(
                    layer: layer, verdict: .adjust, reason: reason, inMicros: current, outMicros: to, detail: detail))
            amount = to
            lastAdjustReason = reason
        case (.veto(let reason), let detail):
            veto(layer, current, reason, detail)
        }
    }
}
