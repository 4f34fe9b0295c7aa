import AdPilotCore
import AdPilotJournal
import AdPilotSystem
import Foundation

/// Decisions into the journal, durably, before anything is applied (Tick).
extension Controller {
    /// Journals the decisions durably in blocks, encoding the next block (on threads of
    /// lower priority, `blockEncoders`) while this one is written and synced: at 100,000
    /// campaigns encoding and syncing each take seconds, and no more than two blocks of
    /// records are held at once.
    func appendDecisions(
        _ decisions: [Decision], explored: [CampaignID: Exploration]
    ) throws(JournalError) -> [RecordRef] {
        let encode = DecisionEncoding(
            digests: policies.mapValues(\.digest), tick: tickCount, configDigest: config.digest.hex, explored: explored)
        let block = max(1, decisionBlock)
        var refs: [RecordRef] = []
        refs.reserveCapacity(decisions.count)
        var next = encode(decisions[0..<min(block, decisions.count)])
        var start = 0
        while start < decisions.count {
            let current = next
            let following = min(decisions.count, start + block)..<min(decisions.count, start + 2 * block)
            // The next block, in one part per encoder thread.
            let parts = Guarded([[JournalEntry]](repeating: [], count: blockEncoders.count))
            let size = (following.count + blockEncoders.count - 1) / blockEncoders.count
            for (k, worker) in blockEncoders.enumerated() {
                // With more encoders than decisions left, the last parts are empty.
                let lower = min(following.upperBound, following.lowerBound + k * size)
                let part = lower..<min(following.upperBound, lower + size)
                guard !part.isEmpty else { continue }
                worker.submit { parts.with { $0[k] = encode(decisions[part]) } }
            }
            let appended = Result { () throws(JournalError) in try appendInBatches(current) }
            // Also when the append failed: no encoding may outlive the tick.
            for worker in blockEncoders { worker.wait() }
            refs += try appended.get()
            next = parts.current.flatMap { $0 }
            start += block
        }
        return refs
    }
}

/// Decision records: at 100,000 campaigns JSON encoding is seconds of a tick's CPU. Holds
/// what it needs, so it runs beside the tick thread.
struct DecisionEncoding: Sendable {
    let digests: [PolicyID: String]
    let tick: UInt64
    let configDigest: String
    let explored: [CampaignID: Exploration]

    func callAsFunction(_ decisions: ArraySlice<Decision>) -> [JournalEntry] {
        let encoder = RecordEncoder()
        return decisions.map { d in
            JournalEntry(
                kind: RecordKind.decision,
                data: RecordCoding.bytes(
                    DecisionRecord(
                        d, tick: tick, policyDigest: digests[d.input.policy] ?? "unloaded",
                        configDigest: configDigest, exploration: d.input.mayWrite ? explored[d.campaign] : nil),
                    encoder))
        }
    }
}
