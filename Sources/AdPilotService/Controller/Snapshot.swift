import AdPilotControl
import AdPilotCore
import AdPilotJournal
import AdPilotPlatforms
import AdPilotPolicy
import AdPilotSystem
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

    /// Writes the snapshot after the tick's records: it is never ahead of the journal.
    func persist(anomaly: Bool, log: Log) {
        // Decisions without journaled outcomes sit before the head: a snapshot stamped with
        // the head would hide them from the next start's reconciliation.
        guard !unsettled && !journal.isPoisoned else { return }
        let seq = journal.head.seq
        let snapshot = Snapshot(
            format: Snapshot.format, journalSeq: seq, tickCount: tickCount,
            control: control.current, platformBreaker: platformBreaker, evidence: evidence.current,
            campaigns: Dictionary(
                memory.map {
                    (
                        $0.key.rawValue,
                        CampaignCore(
                            pacer: $0.value.control.pacer, shadowPacer: $0.value.control.shadowPacer,
                            lastChangeAt: $0.value.control.lastChangeAt, breaker: $0.value.control.breaker)
                    )
                },
                uniquingKeysWith: { a, _ in a }))
        do {
            if anomaly {
                let a = AnomalySnapshot(
                    journalSeq: seq,
                    campaigns: Dictionary(
                        memory.map {
                            (
                                $0.key.rawValue,
                                AnomalyMemory(
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
