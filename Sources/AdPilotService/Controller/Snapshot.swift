import AdPilotControl
import AdPilotCore
import AdPilotJournal
import AdPilotPlatforms
import AdPilotPolicy
package import AdPilotSystem
import Foundation
import Synchronization

/// The controller snapshot: pacers, breakers and anomaly history, never ahead of the journal.
extension Controller {
    struct Snapshot: Codable {
        static let format = 1
        var format: Int
        var journalSeq: UInt64
        var tickCount: UInt64
        var control: ControlState
        var platformBreaker: CircuitBreaker
        var evidence: Evidence?
        var campaigns: [String: CampaignCore]
    }

    /// Pacers, cooldown clock and breaker: small, written after every tick.
    struct CampaignCore: Codable {
        var pacer: PacerState
        var shadowPacer: PacerState
        var lastChangeAt: Instant?
        var breaker: CircuitBreaker
    }

    /// The anomaly detector's history (about 6 KB per campaign): written only after a
    /// tick that fed it new hours. Restored older than the main snapshot, its
    /// `lastIngestedHour` makes the next tick feed the missing hours again.
    struct AnomalySnapshot: Codable {
        var journalSeq: UInt64
        var campaigns: [String: AnomalyMemory]
    }

    struct AnomalyMemory: Codable {
        var anomaly: AnomalyState
        var lastIngestedHour: Int64?
    }

    /// Takes the snapshot after the tick's records (it is never ahead of the journal) and
    /// hands it to `snapshots`, which writes it on its own thread. `wait`: return once it is
    /// written (shutdown).
    func persist(anomaly: Bool, log: Log, wait: Bool = false) {
        let seq = journal.head.seq
        // A clean stop right after a tick finds that tick's snapshot (anomaly history
        // included) already at the head: written twice, 100,000 campaigns' history would
        // double the stop's time.
        let covered = snapshots.lastSubmitted.current.map { $0.seq == seq && ($0.anomaly || !anomaly) } ?? false
        // Decisions without journaled outcomes sit before the head: a snapshot stamped with
        // the head would hide them from the next start's reconciliation.
        if !unsettled && !journal.isPoisoned && !covered {
            snapshots.submit(
                SnapshotJob(
                    snapshot: Snapshot(
                        format: Snapshot.format, journalSeq: seq, tickCount: tickCount, control: control.current,
                        platformBreaker: platformBreaker, evidence: evidence.current, campaigns: [:]),
                    memory: memory, anomaly: anomaly, stateDir: stateDir, log: log))
        }
        if wait { snapshots.drain() }
    }
}

/// One snapshot as of a journal seq, its campaigns still to be taken from the controller's
/// memory as it was then (a copy, so the next tick goes on while it is written).
struct SnapshotJob: Sendable {
    var snapshot: Controller.Snapshot
    let memory: [CampaignID: CampaignMemory]
    /// Also write the anomaly history (it changed: the tick fed it new hours).
    var anomaly: Bool
    let stateDir: StateDirectory
    let log: Log

    func write() {
        // Campaigns in order of id: the same state writes the same bytes.
        let campaigns = memory.sorted { $0.key.rawValue < $1.key.rawValue }
        do {
            if anomaly {
                let out = try Self.anomalyJSON(journalSeq: snapshot.journalSeq, campaigns)
                try out.withBytes { (b) throws(SystemError) in
                    try stateDir.writeAtomically(stateDir.anomalySnapshot, raw: b)
                }
            }
            let out = try Self.coreJSON(snapshot, campaigns)
            try out.withBytes { (b) throws(SystemError) in try stateDir.writeAtomically(stateDir.snapshot, raw: b) }
        } catch {
            log.error(
                "cannot write the controller state in \(stateDir.path): \(error); the journal remains the record", [:])
        }
    }

    /// `Controller.Snapshot`'s JSON as its `Codable` conformance writes it through the
    /// snapshot encoder, with `campaigns` for its campaigns; written directly, campaign by
    /// campaign, instead of building the whole tree first (`SnapshotJSONTests`).
    static func coreJSON(
        _ snapshot: Controller.Snapshot, _ campaigns: [(key: CampaignID, value: CampaignMemory)]
    ) throws -> JSONOut {
        let encoder = RecordEncoder(forRecords: false)
        var out = JSONOut(capacity: 65_536 + campaigns.count * 700)
        out.open()
        out.int("format", Int64(snapshot.format))
        out.uint("journalSeq", snapshot.journalSeq)
        out.uint("tickCount", snapshot.tickCount)
        out.key("control")
        out.raw(try encoder.encode(snapshot.control))
        out.key("platformBreaker")
        snapshot.platformBreaker.writeStateJSON(&out)
        if let evidence = snapshot.evidence {
            out.key("evidence")
            out.raw(try encoder.encode(evidence))
        }
        out.key("campaigns")
        out.open()
        for (id, memory) in campaigns {
            let c = memory.control
            out.key(id.rawValue)
            out.open()
            try CampaignStateError.naming(id) { () throws(JSONOut.NonFiniteNumber) in
                out.key("pacer")
                try c.pacer.writeStateJSON(&out)
                out.key("shadowPacer")
                try c.shadowPacer.writeStateJSON(&out)
            }
            if let lastChangeAt = c.lastChangeAt { out.int("lastChangeAt", lastChangeAt.microsSinceEpoch) }
            out.key("breaker")
            c.breaker.writeStateJSON(&out)
            out.close()
        }
        out.close()
        out.close()
        return out
    }

    /// `Controller.AnomalySnapshot`'s JSON, written the same way.
    static func anomalyJSON(
        journalSeq: UInt64, _ campaigns: [(key: CampaignID, value: CampaignMemory)]
    ) throws -> JSONOut {
        // 8 hex digits per value of history, its counters, and about 200 bytes per finding.
        let findings = campaigns.reduce(0) { $0 + $1.value.control.anomaly.assessment.findings.count }
        let perCampaign = AnomalyState.historyHours * AnomalyState.metricCount * 8 + 400
        var out = JSONOut(capacity: 4_096 + campaigns.count * perCampaign + findings * 200)
        out.open()
        out.uint("journalSeq", journalSeq)
        out.key("campaigns")
        out.open()
        for (id, memory) in campaigns {
            out.key(id.rawValue)
            out.open()
            out.key("anomaly")
            try CampaignStateError.naming(id) { () throws(JSONOut.NonFiniteNumber) in
                try memory.control.anomaly.writeStateJSON(&out)
            }
            if let hour = memory.lastIngestedHour { out.int("lastIngestedHour", hour) }
            out.close()
        }
        out.close()
        out.close()
        return out
    }
}

/// A campaign's state that JSON cannot hold (a non-finite number), named with the campaign,
/// so the log says which one to look at.
struct CampaignStateError: Error, CustomStringConvertible {
    let campaign: CampaignID
    let problem: JSONOut.NonFiniteNumber

    var description: String { "campaign \(campaign.rawValue): \(problem)" }

    static func naming(_ id: CampaignID, _ body: () throws(JSONOut.NonFiniteNumber) -> Void) throws {
        do { try body() } catch { throw CampaignStateError(campaign: id, problem: error) }
    }
}

/// Writes snapshots on a thread of lower priority: at 100,000 campaigns encoding and
/// writing one takes seconds (docs/performance.md) that the tick need not wait for. A
/// snapshot may be older than the journal's head: start-up replays the records after it.
/// Only the newest waiting snapshot is written; one it replaces that carried the anomaly
/// history passes that duty on (the newer memory holds newer history).
package final class SnapshotWriter: Sendable {
    private let worker = BackgroundWorker(name: "adpilot-snapshot")
    private let waiting = Guarded<SnapshotJob?>(nil)
    /// Test-only: real time spent before each write, to show what waits for it and what not.
    package let delayMillis = Guarded(0)

    /// The last snapshot handed over: its seq, and whether it carries the anomaly history.
    package let lastSubmitted = Guarded<(seq: UInt64, anomaly: Bool)?>(nil)
    /// How many snapshots were written (or failed to be): what the tests count.
    package let written = Guarded(0)

    func submit(_ job: SnapshotJob) {
        let schedule = waiting.with { w -> Bool in
            let idle = w == nil
            var next = job
            next.anomaly = job.anomaly || (w?.anomaly ?? false)
            w = next
            lastSubmitted.with { $0 = (next.snapshot.journalSeq, next.anomaly) }
            return idle
        }
        guard schedule else { return }
        worker.submit { [self] in
            let delay = delayMillis.current
            if delay > 0 { usleep(UInt32(delay * 1_000)) }
            if let job = waiting.with({ w in defer { w = nil }; return w }) {
                job.write()
                written.with { $0 += 1 }
            }
            releaseFreeMemory()
        }
    }

    /// Returns once every submitted snapshot is written.
    package func drain() { worker.wait() }
}
