package import AdPilotCore
package import AdPilotJournal
package import AdPilotPolicy
import Foundation

/// `adpilotctl backtest` (docs/evaluation.md#backtest): every decision that governed a
/// budget in the journal (the writing slot's), decided again through the full pipeline
/// with another policy proposing, from the inputs the journal recorded and the
/// configuration its `config_digest` cites. Open loop: the observations are what happened
/// under the policy that wrote, so the would-be budgets say what the policy would have
/// asked for and what each layer would have let through, not what the market would then
/// have done; the off-policy estimates (from the explored hours) answer that.
package struct BacktestReport: Sendable, Encodable {
    package struct LayerActivity: Sendable, Encodable {
        package var layer: String
        package var adjusted = 0
        package var vetoed = 0
    }

    package struct CampaignSummary: Sendable, Encodable {
        package var campaign: CampaignID
        package var decisions = 0
        package var wouldApply = 0
        /// The last decision's budget as logged and as the backtested policy would have set it.
        package var loggedBudgetMicros = Micros.zero
        package var wouldBeBudgetMicros = Micros.zero
        /// Mean of (would-be - logged) / logged over the campaign's decisions.
        package var meanChange = 0.0
    }

    package var policy: PolicyID
    /// The policy that wrote (the last seen), the reference of the estimates.
    package var reference: PolicyID?
    package var since: Instant?
    package var until: Instant?
    package var decisions = 0
    /// Writing decisions in the window that could not be decided again: the configuration
    /// or the delivery profile they cite is not in the journal (older segments removed).
    package var unreplayable = 0
    package var wouldApply = 0
    package var wouldHold = 0
    package var policyFaults = 0
    /// Decisions whose would-be budget and action are the logged ones.
    package var sameAsLogged = 0
    package var layers: [LayerActivity] = Layer.allCases.map { LayerActivity(layer: $0.rawValue) }
    package var campaigns: [CampaignSummary] = []
    /// Why there are no estimates, plainly; nil with them.
    package var unavailable: String? = nil
    package var evaluation: OffPolicy.Report? = nil

    enum CodingKeys: String, CodingKey {
        case policy, reference, since, until, decisions, unreplayable, wouldApply, wouldHold, policyFaults
        case sameAsLogged, layers
        case campaigns
        case unavailable, evaluation
    }

    /// Every key, `null` when empty.
    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(policy, forKey: .policy)
        try c.encode(reference, forKey: .reference)
        try c.encode(since, forKey: .since)
        try c.encode(until, forKey: .until)
        try c.encode(decisions, forKey: .decisions)
        try c.encode(unreplayable, forKey: .unreplayable)
        try c.encode(wouldApply, forKey: .wouldApply)
        try c.encode(wouldHold, forKey: .wouldHold)
        try c.encode(policyFaults, forKey: .policyFaults)
        try c.encode(sameAsLogged, forKey: .sameAsLogged)
        try c.encode(layers, forKey: .layers)
        try c.encode(campaigns, forKey: .campaigns)
        try c.encode(unavailable, forKey: .unavailable)
        try c.encode(evaluation, forKey: .evaluation)
    }
}

package enum Backtest {
    /// What a replayed explored decision contributes to the estimates once its reward is read.
    struct Explored {
        var campaign: CampaignID
        var at: Instant
        var action: Double
        var reference: Double
        var density: Double
        var scale: Double
        var target: Double
    }

    /// Replays the writing decisions in [since, until) with `policy` proposing.
    package static func run(
        _ reader: JournalReader, policy id: PolicyID, runtime: PolicyRuntime, since: Instant?, until: Instant?,
        replicates: Int, seed: UInt64
    ) throws -> BacktestReport {
        var report = BacktestReport(policy: id, since: since, until: until)
        var configs: [String: ServiceConfig] = [:]
        var explored: [UInt64: Explored] = [:]
        var rewards: [UInt64: Double] = [:]
        var byCampaign: [CampaignID: (summary: BacktestReport.CampaignSummary, change: Double)] = [:]
        let decoder = RecordCoding.decoder()
        var deliveries = DeliveryResolver()
        try reader.records(
            from: 1, matching: RecordFilter(kinds: [RecordKind.config, RecordKind.decision, RecordKind.reward])
        ) { r in
            switch r.kind {
            case RecordKind.config:
                if let (digest, config) = ConfigRecord.accepted(r.dataBytes) { configs[digest] = config }
            case RecordKind.reward:
                let reward = try decoder.decode(RewardRecord.self, from: Data(r.dataBytes))
                rewards[reward.decisionSeq] = Double(reward.profitMicros.rawValue)
            default:
                let stored = try decoder.decode(DecisionRecord.self, from: Data(r.dataBytes))
                let resolved = deliveries.resolve(stored)  // every decision: it keeps the profiles written
                guard WriteScope.mayWrite(mode: stored.mode, slot: stored.slot, inCanaryScope: stored.inCanaryScope),
                    since.map({ stored.at >= $0 }) ?? true, until.map({ stored.at < $0 }) ?? true
                else { return true }
                // Citing a configuration or a delivery profile the journal no longer holds.
                guard let d = resolved, let config = configs[d.configDigest] else {
                    report.unreplayable += 1
                    return true
                }
                let decision = replay(d, config: config, runtime: runtime)
                count(decision, logged: d, into: &report, &byCampaign)
                if let e = d.exploration, let x = exploredPeriod(d, e, decision) { explored[r.seq] = x }
            }
            return true
        }
        report.campaigns = byCampaign.keys.sorted().map { k in
            var s = byCampaign[k]!.summary
            s.meanChange = s.decisions > 0 ? byCampaign[k]!.change / Double(s.decisions) : 0
            return s
        }
        estimate(&report, explored: explored, rewards: rewards, replicates: replicates, seed: seed)
        return report
    }

    /// The policy directories of the last configuration the journal accepted.
    package static func configuredPolicyDirs(_ reader: JournalReader) -> [String] {
        var dirs: [String] = []
        try? reader.records(from: 1, matching: RecordFilter(kinds: [RecordKind.config])) { r in
            if let (_, c) = ConfigRecord.accepted(r.dataBytes) { dirs = c.policyDirs }
            return true
        }
        return dirs
    }

    /// The logged decision's inputs through the pipeline, `runtime` proposing.
    static func replay(_ d: DecisionRecord, config: ServiceConfig, runtime: PolicyRuntime) -> Decision {
        let campaign = config.campaign(d.campaign, currency: d.observation.currency)
        let input = d.replayInput(campaign: campaign, account: config.tick.account, pacerConfig: config.tick.pacer)
        let local = LocalTime(d.at, utcOffsetSeconds: config.tick.account.utcOffsetSeconds)
        return DecisionPipeline.decide(input) { pacer in
            runtime.propose(PolicyContext(observation: d.observation, pacer: pacer, local: local, campaign: campaign))
        }.decision
    }

    static func count(
        _ decision: Decision, logged d: DecisionRecord, into report: inout BacktestReport,
        _ byCampaign: inout [CampaignID: (summary: BacktestReport.CampaignSummary, change: Double)]
    ) {
        report.decisions += 1
        if decision.policyFault { report.policyFaults += 1 }
        if decision.action == .hold { report.wouldHold += 1 } else { report.wouldApply += 1 }
        if decision.action == d.action && decision.finalBudgetMicros == d.budgetAfterMicros { report.sameAsLogged += 1 }
        for v in decision.layers {
            guard let i = Layer.allCases.firstIndex(of: v.layer) else { continue }
            if v.verdict == .adjust { report.layers[i].adjusted += 1 }
            if v.verdict == .veto { report.layers[i].vetoed += 1 }
        }
        report.reference = d.policy
        var entry = byCampaign[d.campaign] ?? (BacktestReport.CampaignSummary(campaign: d.campaign), 0)
        entry.summary.decisions += 1
        if decision.action != .hold { entry.summary.wouldApply += 1 }
        entry.summary.loggedBudgetMicros = d.budgetAfterMicros
        entry.summary.wouldBeBudgetMicros = decision.finalBudgetMicros
        if d.budgetAfterMicros > .zero {
            entry.change += (decision.finalBudgetMicros.statistic - d.budgetAfterMicros.statistic)
                / d.budgetAfterMicros.statistic
        }
        byCampaign[d.campaign] = entry
    }

    /// An explored decision as a period: the action taken, the writer's own, and the
    /// backtested policy's, each as ln(proposal / the pacer's recommendation).
    static func exploredPeriod(_ d: DecisionRecord, _ e: Exploration, _ decision: Decision) -> Explored? {
        let recommended = d.pacer.recommendedBudgetMicros.statistic
        guard recommended > 0, let action = EvidenceLog.logAction(d.proposal, d.pacer.recommendedBudgetMicros),
            let target = EvidenceLog.logAction(decision.proposal, decision.pacer.recommendedBudgetMicros)
        else { return nil }
        return Explored(
            campaign: d.campaign, at: d.at, action: action, reference: log(e.unexploredMicros / recommended),
            density: e.density, scale: e.scale, target: target)
    }

    static func estimate(
        _ report: inout BacktestReport, explored: [UInt64: Explored], rewards: [UInt64: Double], replicates: Int,
        seed: UInt64
    ) {
        var periods: [OffPolicy.Period] = [], reference: [Double] = [], numbering = OffPolicy.CampaignDays()
        var scale = 0.0
        for seq in explored.keys.sorted() {
            guard let x = explored[seq], let reward = rewards[seq] else { continue }
            periods.append(
                numbering.period(
                    campaign: x.campaign, hourStart: x.at, action: x.action, behaviourAction: x.reference,
                    behaviourDensity: x.density, target: x.target, reward: reward / 1e6))
            reference.append(x.reference)
            scale = x.scale
        }
        guard !periods.isEmpty, scale > 0 else {
            report.unavailable =
                explored.isEmpty
                ? "no explored decision in the window (exploration.scale 0, or nothing wrote): the direct method, "
                    + "IPS, SNIPS and doubly robust estimates are all unavailable"
                : "\(explored.count) explored decisions, but none of their hours has settled yet"
            return
        }
        report.evaluation = OffPolicy.evaluate(
            periods, reference: reference, bandwidth: scale, ridge: OffPolicy.ridge(scale: scale),
            weightMax: OffPolicy.weightMax, replicates: replicates, seed: seed)
    }
}
