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
        var snapshot = snapshot
        snapshot.campaigns = Dictionary(
            memory.map {
                let c = $0.value.control
                return (
                    $0.key.rawValue,
                    Controller.CampaignCore(
                        pacer: c.pacer, shadowPacer: c.shadowPacer, lastChangeAt: c.lastChangeAt, breaker: c.breaker)
                )
            },
            uniquingKeysWith: { a, _ in a })
        do {
            if anomaly {
                let a = Controller.AnomalySnapshot(
                    journalSeq: snapshot.journalSeq,
                    campaigns: Dictionary(
                        memory.map {
                            (
                                $0.key.rawValue,
                                Controller.AnomalyMemory(
                                    anomaly: $0.value.control.anomaly, lastIngestedHour: $0.value.lastIngestedHour)
                            )
                        }, uniquingKeysWith: { a, _ in a }))
                try stateDir.writeAtomically(stateDir.anomalySnapshot, try RecordEncoder(forRecords: false).encode(a))
            }
            try stateDir.writeAtomically(stateDir.snapshot, try RecordEncoder(forRecords: false).encode(snapshot))
        } catch {
            log.error(
                "cannot write the controller state in \(stateDir.path): \(error); the journal remains the record", [:])
        }
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
