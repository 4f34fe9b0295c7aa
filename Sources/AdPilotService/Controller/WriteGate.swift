import AdPilotControl
package import AdPilotCore
import AdPilotJournal
import AdPilotPlatforms
import AdPilotPolicy
import AdPilotSystem
import Foundation
import Synchronization

/// The write gate: the one place that owns "no platform write after a halt is acknowledged".
extension Controller {
    /// Stops every platform write, then records why. When this returns, no write starts
    /// again until `resume`: the flag is raised in memory (under `gate`, which every
    /// write takes to start) and on disk. It never waits for the network: a write already
    /// on the wire finishes on its own and the tick journals its real outcome; the answer
    /// names it.
    package func halt(actor: Actor, reason: String, log: Log) -> (transition: Transition?, problems: [String]) {
        let onTheWire = gate.with { g -> WriteInFlight? in
            haltRequested.store(true, ordering: .releasing)
            return g
        }
        var problems: [String] = []
        if let w = onTheWire {
            let what = w.count == 1 ? "a write" : "a batch of \(w.count) writes"
            problems.append(
                "\(what) already on the wire (campaign \(w.campaign), decision seq \(w.decisionSeq)) will finish "
                    + "and its outcome will be journaled; nothing new starts")
        }
        do {
            try stateDir.raiseHaltFlag(note: "halted by \(actor): \(reason)")
        } catch {
            problems.append("could not create \(stateDir.haltFlag): \(error) (the in-memory halt is in force)")
        }
        do {
            // Raised again inside the transition: a resume that got the control lock first
            // may have cleared both, and this halt must still be what is in force.
            let result = try transition(
                .halt, actor: actor, reason: reason, log: log,
                then: { _ in
                    haltRequested.store(true, ordering: .releasing)
                    if !stateDir.isHalted { try? stateDir.raiseHaltFlag(note: "halted by \(actor): \(reason)") }
                })
            switch result {
            case .success(let t): return (t, problems)
            case .failure(let r): problems.append(r.description)
            }
        } catch {
            problems.append("halted, but the journal could not record it: \(error)")
        }
        return (nil, problems)
    }

    package var isHaltInForce: Bool { haltRequested.load(ordering: .acquiring) }

    /// One write, read back. The halt and epoch checks and the mark "on the wire" happen
    /// under `gate`; the network call does not hold it.
    func apply(
        _ d: Decision, seq: UInt64, now: Instant, epoch: UInt64, campaignBreaker: inout CircuitBreaker
    ) -> ApplyResultRecord {
        var result = ApplyResultRecord(
            campaign: d.campaign, decisionSeq: seq, status: .skipped,
            budgetBeforeMicros: d.currentBudgetMicros, budgetAfterMicros: d.finalBudgetMicros)
        if applyDelayMillis > 0 && !haltRequested.load(ordering: .acquiring) {
            usleep(UInt32(applyDelayMillis) * 1_000)
        }
        if let refusal = startWrite(WriteInFlight(campaign: d.campaign, decisionSeq: seq, count: 1), epoch: epoch) {
            result.error = refusal
            return result
        }
        defer { gate.with { $0 = nil } }
        // Whose failure it is: a campaign's own rejection or silent no-op counts against
        // that campaign's breaker alone; only the platform failing (transport, 5xx,
        // throttling, auth) counts against the platform's, which holds every campaign.
        let failure: PlatformError.Scope?
        do {
            switch try BudgetWrite.apply(platform, campaign: d.campaign, budgetMicros: d.finalBudgetMicros) {
            case .confirmed(let m):
                result.status = .confirmed
                result.reportedMicros = m
                failure = nil
            case .unconfirmed(_, let reported):
                result.status = .unconfirmed
                result.reportedMicros = reported
                result.error = "the platform reports \(reported) after the write"
                failure = .campaign
            }
        } catch {
            result.status = .failed
            result.error = error.description
            failure = error.scope
        }
        // The platform answered unless it failed itself; the campaign's own record is left
        // alone by a platform failure (it says nothing about the campaign).
        platformBreaker.record(failure: failure == .platform, config.breaker, at: now)
        if failure != .platform { campaignBreaker.record(failure: failure == .campaign, config.breaker, at: now) }
        return result
    }
}

/// The write the tick has started and not yet finished (at most one request at a time:
/// writes are serial), or the first of a batch of `count`.
struct WriteInFlight: Sendable {
    let campaign: CampaignID
    let decisionSeq: UInt64
    let count: Int
}

extension Controller {
    /// Under `gate`: refuses (why) when a halt is in force or the control state moved since
    /// the decisions; otherwise marks `w` on the wire.
    func startWrite(_ w: WriteInFlight, epoch: UInt64) -> String? {
        gate.with { inFlight -> String? in
            if haltRequested.load(ordering: .acquiring) || stateDir.isHalted {
                return "halted after the decision was journaled"
            }
            if controlEpoch.load(ordering: .acquiring) != epoch {
                return "the control state changed after the decision was journaled"
            }
            inFlight = w
            return nil
        }
    }

    /// Several writes in one platform request (Meta's batch), through the same gate as
    /// `apply`: all start or none does. Returns each outcome and whose failure it was (the
    /// caller records the campaign breakers; the platform's is recorded here).
    func applyBatch(
        _ batch: [(decision: Decision, seq: UInt64)], now: Instant, epoch: UInt64
    ) -> [(ApplyResultRecord, PlatformError.Scope?)] {
        var results = batch.map {
            ApplyResultRecord(
                campaign: $0.decision.campaign, decisionSeq: $0.seq, status: .skipped,
                budgetBeforeMicros: $0.decision.currentBudgetMicros, budgetAfterMicros: $0.decision.finalBudgetMicros)
        }
        let first = WriteInFlight(campaign: batch[0].decision.campaign, decisionSeq: batch[0].seq, count: batch.count)
        if let refusal = startWrite(first, epoch: epoch) {
            for i in results.indices { results[i].error = refusal }
            return results.map { ($0, nil) }
        }
        defer { gate.with { $0 = nil } }
        let outcomes = BudgetWrite.applyBatch(
            platform, batch.map { ($0.decision.campaign, $0.decision.finalBudgetMicros) })
        return results.map { r in
            var r = r
            let scope: PlatformError.Scope?
            switch outcomes[r.campaign] ?? .failure(.malformed(detail: "no outcome")) {
            case .success(.confirmed(let m)):
                (r.status, r.reportedMicros, scope) = (.confirmed, m, nil)
            case .success(.unconfirmed(_, let reported)):
                (r.status, r.reportedMicros, scope) = (.unconfirmed, reported, .campaign)
                r.error = "the platform reports \(reported) after the write"
            case .failure(.held(_, let why)):
                r.error = why  // not sent: skipped, and nobody's failure
                return (r, nil)
            case .failure(let e):
                (r.status, r.error, scope) = (.failed, e.description, e.scope)
            }
            platformBreaker.record(failure: scope == .platform, config.breaker, at: now)
            return (r, scope)
        }
    }
}
