import AdPilotCore
import AdPilotJournal

/// Rewards for off-policy evaluation (docs/evaluation.md): each hour whose first decision
/// explored is credited, once settled, with the hour's profit, journaled as a `reward`.
extension Controller {
    /// Remembers the hours that explored decisions govern, with their journal seqs and
    /// what off-policy evaluation needs of them (`ExploredHour`).
    func notePeriods(_ decisions: [Decision], refs: [RecordRef], explored: [CampaignID: Exploration]) {
        guard !explored.isEmpty else { return }
        var candidates: [CampaignID: Decision] = [:]
        for d in decisions where d.input.slot == .candidate && explored[d.campaign] != nil {
            candidates[d.campaign] = d
        }
        for (d, ref) in zip(decisions, refs) where d.input.mayWrite {
            guard let e = explored[d.campaign],
                let h = Self.exploredHour(d, seq: ref.seq, exploration: e, candidate: candidates[d.campaign])
            else { continue }
            pendingPeriods[d.campaign, default: []].append(h)
        }
    }

    /// The `reward` records of the pending hours that have settled by `now`, from the hours
    /// as last read (`HourCache`). A campaign not read this tick waits; an hour the platform
    /// reports nothing for earned nothing; hours that left the trailing window are forgotten.
    func settledRewards(_ observed: Observer.Observed, now: Instant) -> [JournalEntry] {
        guard !pendingPeriods.isEmpty else { return [] }
        let hourMicros = Instant.secondsPerHour * Instant.microsPerSecond
        let settledBefore = now.microsSinceEpoch.floorDiv(hourMicros) - Observing.settleHours
        let oldest = settledBefore - Observing.trailingHours
        var out: [JournalEntry] = []
        let e = evidence.current
        for (i, c) in observed.campaigns.enumerated() {
            guard let pending = pendingPeriods[c.config.id], observed.readable[i] else { continue }
            var left: [ExploredHour] = []
            for p in pending {
                if p.hour >= settledBefore {
                    left.append(p)
                    continue
                }
                guard p.hour >= oldest else { continue }
                let h = hourCache.completedHour(c.config.id, hour: p.hour)
                let record = RewardRecord(
                    campaign: c.config.id, hourStart: Instant(microsSinceEpoch: p.hour * hourMicros),
                    decisionSeq: p.seq, spendMicros: h?.spendMicros ?? .zero,
                    valueMicros: h?.conversionValueMicros ?? .zero)
                out.append(JournalEntry(kind: RecordKind.reward, data: RecordCoding.bytes(record, encoder)))
                addToValueSample(
                    p, campaign: c.config.id, profitMicros: Double(record.profitMicros.rawValue), evidence: e)
            }
            pendingPeriods[c.config.id] = left.isEmpty ? nil : left
        }
        return out
    }
}
