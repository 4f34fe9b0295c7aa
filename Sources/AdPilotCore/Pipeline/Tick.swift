/// What the controller remembers about one campaign between ticks. Plain values: the
/// daemon persists them, and the journal can rebuild them.
package struct CampaignControl: Hashable, Sendable, Codable {
    /// Pacer of the slot that may write to this campaign.
    package var pacer = PacerState()
    /// Pacer of the shadow (would-apply) decision, kept apart so evidence never moves
    /// the real controller.
    package var shadowPacer = PacerState()
    package var lastChangeAt: Instant? = nil
    package var breaker = CircuitBreaker()
    package var anomaly = AnomalyState()
    /// When the anomaly detector's level last became critical: the campaign is quarantined
    /// (held) until it clears or an operator releases it.
    package var quarantinedSince: Instant? = nil
    /// The campaign's delivery by local hour from its own history (refreshed as hours arrive).
    package var learned = LearnedDelivery()

    package init() {}
}

extension CampaignControl {
    enum CodingKeys: String, CodingKey {
        case pacer, shadowPacer, lastChangeAt, breaker, anomaly, quarantinedSince, learned
    }

    /// Snapshots written before quarantine and learned delivery existed load without them.
    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        pacer = try c.decode(PacerState.self, forKey: .pacer)
        shadowPacer = try c.decode(PacerState.self, forKey: .shadowPacer)
        lastChangeAt = try c.decodeIfPresent(Instant.self, forKey: .lastChangeAt)
        breaker = try c.decode(CircuitBreaker.self, forKey: .breaker)
        anomaly = try c.decode(AnomalyState.self, forKey: .anomaly)
        quarantinedSince = try c.decodeIfPresent(Instant.self, forKey: .quarantinedSince)
        learned = try c.decodeIfPresent(LearnedDelivery.self, forKey: .learned) ?? LearnedDelivery()
    }
}

/// Settings that hold for a whole tick.
package struct TickSettings: Hashable, Sendable, Codable {
    package var account: AccountLimits
    package var pacer: PacerConfig
    package var breaker: BreakerConfig
    package var anomaly: AnomalyConfig

    package init(account: AccountLimits, pacer: PacerConfig, breaker: BreakerConfig, anomaly: AnomalyConfig) {
        self.account = account
        self.pacer = pacer
        self.breaker = breaker
        self.anomaly = anomaly
    }
}

/// One campaign's part of a tick.
package struct TickCampaign: Sendable {
    package var config: CampaignConfig
    package var observation: Observation
    /// Completed hours not yet shown to the anomaly detector, oldest first.
    package var newHours: [HourlyMetrics]
    package var inCanaryScope: Bool
    /// Paused on the platform: nothing decides for it, but what it spent today still
    /// counts toward the account-wide projections (it can spend no more today).
    package var paused: Bool
    /// Not controllable (why): nothing decides for it, and it counts toward the account-wide
    /// projections at the budget it reports, as any delivering campaign does.
    package var notControllable: String?

    package init(
        config: CampaignConfig, observation: Observation, newHours: [HourlyMetrics], inCanaryScope: Bool,
        paused: Bool = false, notControllable: String? = nil
    ) {
        self.config = config
        self.observation = observation
        self.newHours = newHours
        self.inCanaryScope = inCanaryScope
        self.paused = paused
        self.notControllable = notControllable
    }
}

/// One tick over every campaign, as a pure fold: anomaly detection, breaker permission,
/// the decision pipeline for each assigned slot, and the running account-wide and canary
/// projections that the cap guardrails read. Campaigns are decided in the order given;
/// each applied change updates the projections the next campaign sees.
package enum Tick {
    /// `propose` is called once per decision. `states` and `platformBreaker` are updated
    /// in place (pacers, cooldown clocks, half-open permits, anomaly history).
    package static func run(
        control: ControlState, haltFlag: Bool, settings: TickSettings, now: Instant,
        campaigns: [TickCampaign], states: inout [CampaignControl],
        platformBreaker: inout CircuitBreaker,
        propose: (Int, WriteScope.Assignment, PacerReport) -> Proposal
    ) -> [Decision] {
        precondition(states.count == campaigns.count, "one CampaignControl per campaign")
        let account = settings.account
        let projected = projections(campaigns, control: control, account: account)
        // Int128: a sum of Int64 projections cannot overflow, so no edge case can
        // under-count what other campaigns may spend.
        var accountTotal = projected.accountTotal
        var canaryTotal = projected.canaryTotal
        for (i, c) in campaigns.enumerated() where !c.newHours.isEmpty {
            ingest(c, &states[i], settings: settings, now: now)
        }
        let profiles = deliveryProfiles(states, settings.pacer)

        var decisions: [Decision] = []
        decisions.reserveCapacity(campaigns.count)
        for (i, c) in campaigns.enumerated() {
            let assignments = prepare(c, &states[i], control: control, settings: settings, now: now)
            // This campaign's share of the running totals (moves when its writer applies).
            var own = Int128(projected.perCampaign[i].rawValue)
            // Every slot decides on the same pre-tick state: a shadow decision must not see
            // the writer's change from this very tick as its cooldown.
            let lastChangeAt = states[i].lastChangeAt
            for a in assignments {
                let platformPermits = platformBreaker.permission(settings.breaker, at: now) == .permitted
                let campaignPermits = states[i].breaker.permission(settings.breaker, at: now) == .permitted
                let inCanary = control.mode == .canary && c.inCanaryScope
                let input = DecisionInput(
                    campaign: c.config, account: account, pacerConfig: settings.pacer, observation: c.observation,
                    now: now,
                    mode: control.mode, slot: a.slot, policy: a.policy, inCanaryScope: c.inCanaryScope,
                    haltFlag: haltFlag,
                    pacer: a.mayWrite ? states[i].pacer : states[i].shadowPacer, lastChangeAt: lastChangeAt,
                    platformBreaker: platformBreaker.state, platformBreakerPermits: platformPermits,
                    campaignBreaker: states[i].breaker.state, campaignBreakerPermits: campaignPermits,
                    anomaly: states[i].anomaly.assessment,
                    accountOthersMicros: saturating(accountTotal - own),
                    canaryOthersMicros: inCanary ? saturating(canaryTotal - own) : .zero, delivery: profiles(i))
                let (decision, pacer) = DecisionPipeline.decide(input) { propose(i, a, $0) }
                if a.mayWrite { states[i].pacer = pacer } else { states[i].shadowPacer = pacer }
                if decision.writes {
                    let acquiredPlatform = platformBreaker.acquire(settings.breaker, at: now)
                    let acquiredCampaign = states[i].breaker.acquire(settings.breaker, at: now)
                    assert(acquiredPlatform && acquiredCampaign, "permission was checked just before")
                    states[i].lastChangeAt = now
                    let after = Int128(
                        account.projectedDaySpend(
                            budget: decision.finalBudgetMicros,
                            spendToday: c.observation.spendTodayMicros
                        ).rawValue)
                    accountTotal += after - own
                    if inCanary { canaryTotal += after - own }
                    own = after
                }
                decisions.append(decision)
            }
        }
        return decisions
    }

    /// Each campaign's projected day spend before the tick (nothing more for a paused one),
    /// and their sums over the account and over the canary scope.
    private static func projections(
        _ campaigns: [TickCampaign], control: ControlState, account: AccountLimits
    ) -> (perCampaign: [Micros], accountTotal: Int128, canaryTotal: Int128) {
        var accountTotal: Int128 = 0
        var canaryTotal: Int128 = 0
        var projected = [Micros](repeating: .zero, count: campaigns.count)
        for (i, c) in campaigns.enumerated() {
            projected[i] = account.projectedDaySpend(
                budget: c.paused ? .zero : c.observation.currentBudgetMicros,
                spendToday: c.observation.spendTodayMicros)
            accountTotal += Int128(projected[i].rawValue)
            if control.mode == .canary && c.inCanaryScope { canaryTotal += Int128(projected[i].rawValue) }
        }
        return (projected, accountTotal, canaryTotal)
    }

    /// Readies one campaign for its decisions: feeds its new hours to the anomaly detector,
    /// disengages the pacer of any slot that will not decide, and returns its slots.
    private static func prepare(
        _ c: TickCampaign, _ state: inout CampaignControl, control: ControlState, settings: TickSettings,
        now: Instant
    ) -> [WriteScope.Assignment] {
        let quarantined = state.anomaly.assessment.level == .critical
        if quarantined && state.quarantinedSince == nil { state.quarantinedSince = now }
        if !quarantined { state.quarantinedSince = nil }
        let decided = !c.paused && c.notControllable == nil
        let assignments = decided ? WriteScope.assignments(control, inCanaryScope: c.inCanaryScope) : []
        if !assignments.contains(where: \.mayWrite) { state.pacer = Pacer.disengage(state.pacer) }
        if assignments.isEmpty { state.shadowPacer = Pacer.disengage(state.shadowPacer) }
        return assignments
    }

    /// Feeds a campaign's new hours to its anomaly detector and relearns its delivery. The
    /// budget read this tick was in force through the hours just completed: every write
    /// since the previous tick landed before them.
    private static func ingest(
        _ c: TickCampaign, _ state: inout CampaignControl, settings: TickSettings, now: Instant
    ) {
        let offset = settings.account.utcOffsetSeconds
        for hour in c.newHours.suffix(AnomalyState.historyHours) {
            AnomalyDetector.ingest(
                hour, budget: c.observation.currentBudgetMicros, config: settings.anomaly, into: &state.anomaly,
                utcOffsetSeconds: offset)
        }
        state.learned.refresh(from: state.anomaly, utcOffsetSeconds: offset)
    }

    /// Each campaign's delivery profile: its own shrunk toward the account's, the account's
    /// shrunk toward the configured prior; or the configured profile for all (`fixed`).
    private static func deliveryProfiles(
        _ states: [CampaignControl], _ pacer: PacerConfig
    ) -> (Int) -> DeliveryProfile {
        let prior = DeliveryProfile(pacer.profile)
        guard pacer.profileMode == .learned else { return { _ in prior } }
        let account = LearnedDelivery.pooled(states.map(\.learned), prior: prior, priorDays: pacer.profilePriorDays)
        return { states[$0].learned.shrunk(toward: account, priorDays: pacer.profilePriorDays) }
    }

    static func saturating(_ v: Int128) -> Micros {
        v > Int128(Int64.max) ? Micros(.max) : v < 0 ? .zero : Micros(Int64(v))
    }
}
