/// What every guardrail may look at. Built once per decision by the pipeline.
package struct GuardContext: Sendable {
    package let config: CampaignConfig
    package let account: AccountLimits
    package let observation: Observation
    package let now: Instant
    package let local: LocalTime
    /// True when a canary candidate controls this campaign (tighter steps, exposure cap).
    package let canaryControlled: Bool
    package let lastChangeAt: Instant?
    package let accountOthersMicros: Micros
    package let canaryOthersMicros: Micros

    package init(
        config: CampaignConfig, account: AccountLimits, observation: Observation, now: Instant,
        canaryControlled: Bool, lastChangeAt: Instant?, accountOthersMicros: Micros, canaryOthersMicros: Micros
    ) {
        self.config = config
        self.account = account
        self.observation = observation
        self.now = now
        self.local = LocalTime(now, utcOffsetSeconds: account.utcOffsetSeconds)
        self.canaryControlled = canaryControlled
        self.lastChangeAt = lastChangeAt
        self.accountOthersMicros = accountOthersMicros
        self.canaryOthersMicros = canaryOthersMicros
    }

    /// The context a decision's guardrails saw.
    package init(_ input: DecisionInput) {
        self.init(
            config: input.campaign, account: input.account, observation: input.observation, now: input.now,
            canaryControlled: input.canaryControlled, lastChangeAt: input.lastChangeAt,
            accountOthersMicros: input.accountOthersMicros, canaryOthersMicros: input.canaryOthersMicros)
    }

    package var current: Micros { observation.currentBudgetMicros }
    var currency: Currency { config.currency }

    /// Largest budget the campaign's own daily cap allows.
    package var dailyCapCeiling: Micros {
        currency.floor(account.budgetCeiling(room: config.guardrails.dailyCapMicros))
    }

    /// Largest budget the account cap allows, given every other campaign's projection.
    package var accountCeiling: Micros {
        currency.floor(account.budgetCeiling(room: account.dailyCapMicros.saturatingSubtracting(accountOthersMicros)))
    }

    /// Largest budget the canary exposure cap allows (only when canary-controlled).
    package var canaryCeiling: Micros? {
        guard canaryControlled else { return nil }
        return currency.floor(
            account.budgetCeiling(room: account.maxSpendAtRiskMicros.saturatingSubtracting(canaryOthersMicros)))
    }

    /// The tightest hard spending ceiling. A budget above it must come down, cooldown or not.
    package var hardCeiling: Micros { min(dailyCapCeiling, accountCeiling, canaryCeiling ?? Micros(.max)) }

    /// The configured minimum and maximum for this local hour. No layer produces an amount
    /// outside them (docs/decision-pipeline.md, "Bounds").
    package var bounds: BudgetBounds { config.guardrails.bounds(atHour: local.hourOfDay) }

    /// A hard cap's verdict on `amount` (nil when it fits). A ceiling below the minimum
    /// cannot be met by any valid budget: the budget comes down to the minimum if it is
    /// above it, and holds otherwise (an increase would break the cap).
    func capVerdict(_ amount: Micros, ceiling: Micros, _ reason: ReasonCode) -> Verdict? {
        guard amount > ceiling else { return nil }
        let minimum = bounds.minMicros
        guard ceiling < minimum else { return .adjust(ceiling, reason) }
        return current > minimum ? .adjust(minimum, reason) : .veto(reason)
    }
}

/// One guardrail: a small pure check over a proposed (already valid, representable) budget.
package protocol Guardrail: Sendable {
    var layer: Layer { get }
    func evaluate(_ amount: Micros, _ ctx: GuardContext) -> (Verdict, String?)
}

/// Minimum and maximum budget for the current local hour.
package struct BoundsGuard: Guardrail {
    package var layer: Layer { .bounds }
    package func evaluate(_ amount: Micros, _ ctx: GuardContext) -> (Verdict, String?) {
        let b = ctx.bounds
        func detail() -> String { "hour \(ctx.local.hourOfDay) bounds \(b.minMicros)..\(b.maxMicros)" }
        if amount < b.minMicros { return (.adjust(b.minMicros, .belowMin), detail()) }
        if amount > b.maxMicros { return (.adjust(b.maxMicros, .aboveMax), detail()) }
        return (.approve, nil)
    }
}

/// Largest change per step: a fraction of the current budget (tighter under canary),
/// never less than a floor so a zero budget can move.
package struct StepGuard: Guardrail {
    package var layer: Layer { .step }
    /// The largest step from the current budget, and how far up and down it reaches. A
    /// budget outside the bounds may come back to them in one step, however far.
    static func reach(_ ctx: GuardContext) -> (fraction: Double, step: Micros, up: Micros, down: Micros) {
        let g = ctx.config.guardrails
        let fraction = ctx.canaryControlled ? g.canaryMaxStepFraction : g.maxStepFraction
        let step = max(g.maxStepFloorMicros, ctx.current.scaled(by: fraction))
        let b = ctx.bounds
        let up = max(ctx.currency.floor(ctx.current.saturatingAdding(step)), b.minMicros)
        let down = min(ctx.currency.ceil(max(.zero, ctx.current.saturatingSubtracting(step))), b.maxMicros)
        return (fraction, step, up, down)
    }

    package func evaluate(_ amount: Micros, _ ctx: GuardContext) -> (Verdict, String?) {
        let (fraction, step, up, down) = StepGuard.reach(ctx)
        func detail() -> String {
            "current \(ctx.current), max step \(step) (\(fraction)\(ctx.canaryControlled ? ", canary" : ""))"
        }
        if amount > up { return (.adjust(up, .stepIncrease), detail()) }
        if amount < down { return (.adjust(down, .stepDecrease), detail()) }
        return (.approve, nil)
    }
}

/// The campaign's daily cap, projected to the end of the day: at budget B the platform may
/// deliver up to B * (1 + overdelivery) today, so B may not exceed cap / (1 + overdelivery).
/// What is already spent counts inside B (a daily budget bounds the whole day).
package struct DailyCapGuard: Guardrail {
    package var layer: Layer { .dailyCap }
    package func evaluate(_ amount: Micros, _ ctx: GuardContext) -> (Verdict, String?) {
        let ceiling = ctx.dailyCapCeiling
        guard let verdict = ctx.capVerdict(amount, ceiling: ceiling, .dailyCap) else { return (.approve, nil) }
        return (
            verdict,
            "cap \(ctx.config.guardrails.dailyCapMicros), spent today "
                + "\(ctx.observation.spendTodayMicros), overdelivery \(ctx.account.overdeliveryBasisPoints) bp: "
                + "ceiling \(ceiling)"
        )
    }
}

/// The account-wide daily cap across campaigns.
package struct AccountCapGuard: Guardrail {
    package var layer: Layer { .accountCap }
    package func evaluate(_ amount: Micros, _ ctx: GuardContext) -> (Verdict, String?) {
        let ceiling = ctx.accountCeiling
        guard let verdict = ctx.capVerdict(amount, ceiling: ceiling, .accountCap) else { return (.approve, nil) }
        return (
            verdict,
            "account cap \(ctx.account.dailyCapMicros), other campaigns "
                + "projected \(ctx.accountOthersMicros): ceiling \(ceiling)"
        )
    }
}

/// No increase after N hours of spend without a conversion.
package struct NoConversionGuard: Guardrail {
    package var layer: Layer { .noConversions }
    package func evaluate(_ amount: Micros, _ ctx: GuardContext) -> (Verdict, String?) {
        let window = ctx.config.guardrails.noConversionWindowHours
        guard amount > ctx.current, ctx.observation.hoursWithoutConversion >= window else { return (.approve, nil) }
        return (
            .adjust(ctx.current, .noConversions),
            "\(ctx.observation.hoursWithoutConversion) h without a conversion (window \(window) h)"
        )
    }
}

/// Trailing ROAS below the floor (once trailing spend is enough to judge): no increase, and
/// the budget steps down, one step (as the step layer allows) per change, toward the
/// minimum bound, until the ROAS recovers. Later layers (the cooldown) still apply.
package struct RoasFloorGuard: Guardrail {
    package var layer: Layer { .roasFloor }
    package func evaluate(_ amount: Micros, _ ctx: GuardContext) -> (Verdict, String?) {
        let g = ctx.config.guardrails
        guard let floor = g.roasFloor, ctx.observation.trailing.spendMicros >= g.roasFloorSpendMinMicros,
            let roas = ctx.observation.trailing.roas, roas < floor
        else { return (.approve, nil) }
        // One step down (as the step layer allows it), never below the minimum bound.
        let down = max(StepGuard.reach(ctx).down, min(ctx.bounds.minMicros, ctx.current))
        guard amount > down else { return (.approve, nil) }
        return (
            .adjust(down, .roasFloor),
            "trailing ROAS \(roas) below floor \(floor) on \(ctx.observation.trailing.spendMicros) spent: stepping down"
        )
    }
}

/// Minimum time between changes. A decrease forced by a hard cap is never held back.
package struct CooldownGuard: Guardrail {
    package var layer: Layer { .cooldown }
    package func evaluate(_ amount: Micros, _ ctx: GuardContext) -> (Verdict, String?) {
        let cooldown = ctx.config.guardrails.cooldownSeconds
        guard amount != ctx.current, let last = ctx.lastChangeAt,
            ctx.now < last.adding(seconds: cooldown)
        else { return (.approve, nil) }
        // What must come down even now: a budget above a hard cap or above the maximum
        // bound. Only that decrease, not any decrease, and never below the minimum.
        let forced = max(min(ctx.hardCeiling, ctx.bounds.maxMicros), ctx.bounds.minMicros)
        if ctx.current > forced {
            return amount < forced
                ? (.adjust(forced, .cooldown), "within cooldown: only the decrease to \(forced) (hard cap or maximum) "
                    + "is allowed")
                : (.approve, "within cooldown, but the current budget is above a hard cap or the maximum: decrease "
                    + "allowed")
        }
        return (.veto(.cooldown), "last change \(last), cooldown \(cooldown) s")
    }
}

/// Canary exposure: the campaigns a canary candidate controls may together spend at most
/// `max_spend_at_risk` per day (projected).
package struct CanaryExposureGuard: Guardrail {
    package var layer: Layer { .canaryExposure }
    package func evaluate(_ amount: Micros, _ ctx: GuardContext) -> (Verdict, String?) {
        guard let ceiling = ctx.canaryCeiling, let verdict = ctx.capVerdict(amount, ceiling: ceiling, .canaryExposure)
        else { return (.approve, nil) }
        return (
            verdict,
            "max spend at risk \(ctx.account.maxSpendAtRiskMicros), "
                + "other canary campaigns projected \(ctx.canaryOthersMicros): ceiling \(ceiling)"
        )
    }
}

package enum Guardrails {
    /// The guardrail layers in the order they run.
    package static let ordered: [any Guardrail] = [
        BoundsGuard(), StepGuard(), DailyCapGuard(), AccountCapGuard(), NoConversionGuard(),
        RoasFloorGuard(), CooldownGuard(), CanaryExposureGuard(),
    ]
}
