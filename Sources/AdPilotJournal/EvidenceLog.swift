package import AdPilotCore
import Foundation

/// The periods off-policy evaluation needs, read from a journal (docs/evaluation.md): each
/// hour governed by an explored decision of the policy that wrote, with its settled
/// reward and the candidate's shadow proposal in the same tick.
package struct EvidenceLog: Sendable {
    /// A period, with what identifies it in the journal.
    package struct Logged: Sendable {
        package var period: OffPolicy.Period
        package var reference: Double
        package var decisionSeq: UInt64
        package var campaign: CampaignID
        /// The start of the hour the period covers (the explored decision's tick).
        package var hourStart: Instant
    }

    package var periods: [Logged] = []
    /// How `periods` numbered their campaigns (a sample that goes on from them keeps it).
    package var numbering = OffPolicy.CampaignDays()
    /// Explored decisions read, rewards read, and explored decisions that had both a reward
    /// and a candidate proposal (the periods).
    package var explored = 0
    package var rewards = 0
    /// The exploration scale of the periods (the kernel's bandwidth), the last one seen.
    package var scale: Double? = nil
    /// The policy that wrote (the reference), as last seen, and the candidate evaluated:
    /// the one asked for, else the last candidate-slot policy in the journal.
    package var writer: PolicyID? = nil
    package var candidate: PolicyID? = nil

    package init() {}

    struct Pending {
        var campaign: CampaignID
        var at: Instant
        var action: Double
        var reference: Double
        var density: Double
    }

    /// Reads the decisions and rewards from `fromSeq` through `throughSeq`, keeping the
    /// candidate's proposals from `candidate` (nil: any candidate-slot decision).
    package static func read(
        _ reader: JournalReader, fromSeq: UInt64 = 1, throughSeq: UInt64 = .max, candidate: PolicyID?
    ) throws -> EvidenceLog {
        var log = EvidenceLog()
        var pending: [UInt64: Pending] = [:]
        // (slot, campaign) -> a candidate's action. The slot, not the tick number: a start
        // without a snapshot numbers ticks from 1 again, a slot never repeats.
        var targets: [PolicyID: [String: Double]] = [:]
        var rewards: [UInt64: Double] = [:]
        let decoder = RecordCoding.decoder()
        try reader.records(
            from: fromSeq, matching: RecordFilter(kinds: [RecordKind.decision, RecordKind.reward])
        ) { r in
            guard r.seq <= throughSeq else { return false }
            if r.kind == RecordKind.reward {
                let reward = try decoder.decode(RewardRecord.self, from: Data(r.dataBytes))
                rewards[reward.decisionSeq] = Double(reward.profitMicros.rawValue) / 1e6
                log.rewards += 1
                return true
            }
            let d = try decoder.decode(EvidenceDecision.self, from: Data(r.dataBytes))
            guard let action = logAction(d.proposal, d.pacer.recommendedBudgetMicros) else { return true }
            if d.slot == .candidate {
                targets[d.policy, default: [:]]["\(d.at.microsSinceEpoch) \(d.campaign.rawValue)"] = action
                log.candidate = candidate ?? d.policy
            } else if let e = d.exploration {
                let recommended = Double(d.pacer.recommendedBudgetMicros.rawValue)
                pending[r.seq] = Pending(
                    campaign: d.campaign, at: d.at, action: action,
                    reference: Foundation.log(e.unexploredMicros / recommended), density: e.density)
                log.explored += 1
                log.scale = e.scale
                log.writer = d.policy
            }
            return true
        }
        let wanted = log.candidate.flatMap { targets[$0] } ?? [:]
        for seq in pending.keys.sorted() {
            let p = pending[seq]!
            guard let reward = rewards[seq], let target = wanted["\(p.at.microsSinceEpoch) \(p.campaign.rawValue)"]
            else { continue }
            let period = log.numbering.period(
                campaign: p.campaign, hourStart: p.at, action: p.action, behaviourAction: p.reference,
                behaviourDensity: p.density, target: target, reward: reward)
            log.periods.append(
                Logged(period: period, reference: p.reference, decisionSeq: seq, campaign: p.campaign, hourStart: p.at))
        }
        return log
    }

    /// The fields of a decision record this reads, and only those: the decoder then skips the
    /// record's observation, layers and controller state, most of its bytes (a shadow's
    /// read-back after a restart reads every decision since the shadow began).
    struct EvidenceDecision: Decodable {
        struct Pacer: Decodable {
            let recommendedBudgetMicros: Micros
        }

        let at: Instant
        let campaign: CampaignID
        let slot: Slot
        let policy: PolicyID
        let proposal: Proposal
        let pacer: Pacer
        let exploration: Exploration?
    }

    /// A decision's action: the log of its proposal over the pacer's recommendation (how
    /// far the policy asked to move from the pacer); nil without a usable proposal.
    package static func logAction(_ proposal: Proposal, _ recommended: Micros) -> Double? {
        guard case .budget(let v) = proposal, v.value.isFinite, v.value > 0, recommended.rawValue > 0 else {
            return nil
        }
        return Foundation.log(v.value / Double(recommended.rawValue))
    }
}
