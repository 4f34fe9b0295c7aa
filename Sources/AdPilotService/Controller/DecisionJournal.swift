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
        let cited = citedDelivery(decisions)
        do {
            let refs = try appendDecisions(decisions, explored: explored, deliveryAsOf: cited.asOf)
            for (d, fingerprint) in zip(decisions, cited.fingerprints) {
                guard let fingerprint else { continue }
                let key = DeliveryCarrier.Key(campaign: d.campaign, slot: d.input.slot)
                deliveryCarriers[key] = DeliveryCarrier(at: d.input.now, fingerprint: fingerprint)
            }
            return refs
        } catch {
            deliveryCarriers.removeAll()  // what did land is not known: every profile again
            throw error
        }
    }

    /// For each decision, the instant of the decision of its campaign and slot whose record
    /// carries the same delivery profile (nil: its record carries its own; then the profile's
    /// fingerprint). A cited record is durable (the carriers are forgotten when journaling
    /// fails) and less than an hour older than the citing one, whatever the journal's size:
    /// shipping old segments away strands at most an hour of citations.
    private func citedDelivery(
        _ decisions: [Decision]
    ) -> (asOf: [Instant?], fingerprints: [DeliveryFingerprint?]) {
        var asOf = [Instant?](repeating: nil, count: decisions.count)
        var fingerprints = [DeliveryFingerprint?](repeating: nil, count: decisions.count)
        // Hashed once per run of equal profiles (with `fixed` profiles, once a tick), not once
        // per decision: equal meaning bit for bit, as the fingerprint is.
        var last: (rates: [Double], fingerprint: DeliveryFingerprint)? = nil
        for (k, d) in decisions.enumerated() {
            let rates = d.input.delivery.rates
            let fingerprint: DeliveryFingerprint
            if let last, last.rates.elementsEqual(rates, by: { $0.bitPattern == $1.bitPattern }) {
                fingerprint = last.fingerprint
            } else {
                fingerprint = DeliveryFingerprint(d.input.delivery)
                last = (rates, fingerprint)
            }
            let key = DeliveryCarrier.Key(campaign: d.campaign, slot: d.input.slot)
            if let c = deliveryCarriers[key], c.fingerprint == fingerprint,
                d.input.now.microsSinceEpoch - c.at.microsSinceEpoch < DeliveryCarrier.citableMicros
            {
                asOf[k] = c.at
            } else {
                fingerprints[k] = fingerprint
            }
        }
        return (asOf, fingerprints)
    }

    private func appendDecisions(
        _ decisions: [Decision], explored: [CampaignID: Exploration], deliveryAsOf: [Instant?]
    ) throws(JournalError) -> [RecordRef] {
        let encode = DecisionEncoding(
            digests: policies.mapValues(\.digest), tick: tickCount, configDigest: config.digest.hex, explored: explored,
            deliveryAsOf: deliveryAsOf)
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
    /// By the decisions' index in the tick (`Controller.citedDelivery`).
    let deliveryAsOf: [Instant?]

    func callAsFunction(_ decisions: ArraySlice<Decision>) -> [JournalEntry] {
        let encoder = RecordEncoder()
        return decisions.indices.map { k in
            let d = decisions[k]
            return JournalEntry(
                kind: RecordKind.decision,
                data: RecordCoding.bytes(
                    DecisionRecord(
                        d, tick: tick, policyDigest: digests[d.input.policy] ?? "unloaded",
                        configDigest: configDigest, exploration: d.input.mayWrite ? explored[d.campaign] : nil,
                        deliveryAsOf: deliveryAsOf[k]),
                    encoder))
        }
    }
}

/// The last decision of a campaign and slot whose record carried its delivery profile.
struct DeliveryCarrier {
    typealias Key = DeliveryResolver.Key

    let at: Instant
    let fingerprint: DeliveryFingerprint

    /// How far back a decision may cite: one hour on the controller's clock.
    static let citableMicros = Instant.secondsPerHour * Instant.microsPerSecond
}

/// A profile's 24 rates, bit for bit, as the first 128 bits of their SHA-256: two decisions
/// cite one record only when they planned with the same profile.
struct DeliveryFingerprint: Hashable {
    let high: UInt64, low: UInt64

    init(_ profile: DeliveryProfile) {
        let digest = profile.rates.withUnsafeBytes { Crypto.sha256($0) }.bytes
        high = digest[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
        low = digest[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
    }
}
