import AdPilotControl
import AdPilotCore
import AdPilotJournal
import AdPilotPlatforms
import AdPilotPolicy
import AdPilotSystem
import Foundation
import Synchronization

/// Recovery: what the snapshot and the journal after it say, and decisions whose outcome was never recorded.
extension Controller {
    struct Restored {
        var control: ControlState?
        var memory: [CampaignID: CampaignMemory] = [:]
        var platformBreaker = CircuitBreaker()
        var tickCount: UInt64 = 0
        var evidence: Evidence? = nil
        /// The seq of the last record in the replayed journal that moved the mode or the
        /// candidate: where the evidence for the state now began (a new body of evidence
        /// starts there, `resetEvidence`). Nil when nothing replayed moved them.
        var evidenceSinceSeq: UInt64? = nil
        /// That record's time on the controller's clock (its `at`; the mode's start in records
        /// written before they carried one).
        var evidenceSince: Instant? = nil
        var pending: [Pending] = []
    }

    /// A decision journaled as `apply` whose outcome the journal lacks.
    struct Pending {
        var seq: UInt64
        var at: Instant
        var decision: DecisionRecord
    }

    /// The snapshot gives pacers, breakers and anomaly history as of its journal seq; the
    /// journal after it gives the control state, cooldown clocks and any decision whose
    /// outcome was never recorded.
    static func restore(stateDir: StateDirectory, reader: JournalReader, headSeq: UInt64, log: Log) throws -> Restored {
        var out = Restored()
        let fromSeq = try restoreSnapshot(&out, stateDir: stateDir, headSeq: headSeq, log: log)
        let pending = try replayJournal(&out, reader: reader, from: fromSeq)
        // One more pass from the oldest pending decision picks up their bodies.
        if let first = pending.keys.min() {
            let decoder = RecordCoding.decoder()
            try reader.records(from: first, matching: RecordFilter(kinds: [RecordKind.decision])) { r in
                if let at = pending[r.seq] {
                    let decision = try decoder.decode(DecisionRecord.self, from: Data(r.dataBytes))
                    out.pending.append(Pending(seq: r.seq, at: at, decision: decision))
                }
                return true
            }
        }
        return out
    }

    /// Restores from the snapshot files when they are behind the journal's head; returns
    /// the first journal seq they do not cover.
    static func restoreSnapshot(_ out: inout Restored, stateDir: StateDirectory, headSeq: UInt64, log: Log) throws
        -> UInt64
    {
        func load<T: Decodable>(_ type: T.Type, _ path: String) throws -> T? {
            guard stateDir.io.exists(path) else { return nil }
            do {
                return try JSONDecoder().decode(T.self, from: Data(try stateDir.io.readFile(path, limit: 1 << 31)))
            } catch {
                throw StartupError(
                    "\(path): unreadable controller state (\(error)); move it aside to start from the journal alone "
                        + "(pacers, breakers and anomaly baselines then start fresh), see Runbooks/journal-recovery.md")
            }
        }
        guard let snapshot = try load(Snapshot.self, stateDir.snapshot) else { return 1 }
        guard snapshot.format == Snapshot.format else {
            throw StartupError(
                "\(stateDir.snapshot): controller state format \(snapshot.format), this adpilotd reads "
                    + "\(Snapshot.format); move it aside to start from the journal alone, see "
                    + "Runbooks/journal-recovery.md")
        }
        guard snapshot.journalSeq < headSeq else {
            log.warning(
                "\(stateDir.snapshot) is ahead of the journal (seq \(snapshot.journalSeq) >= \(headSeq)); the "
                    + "journal wins: controller state rebuilt from the journal alone", [:])
            return 1
        }
        out.platformBreaker = snapshot.platformBreaker
        out.tickCount = snapshot.tickCount
        out.control = snapshot.control
        out.evidence = snapshot.evidence
        for (k, v) in snapshot.campaigns {
            var m = CampaignMemory()
            m.control.pacer = v.pacer
            m.control.shadowPacer = v.shadowPacer
            m.control.lastChangeAt = v.lastChangeAt
            m.control.breaker = v.breaker
            out.memory[CampaignID(k)] = m
        }
        if let a = try load(AnomalySnapshot.self, stateDir.anomalySnapshot), a.journalSeq < headSeq {
            for (k, v) in a.campaigns where out.memory[CampaignID(k)] != nil {
                out.memory[CampaignID(k)]!.control.anomaly = v.anomaly
                out.memory[CampaignID(k)]!.lastIngestedHour = v.lastIngestedHour
            }
        }
        return snapshot.journalSeq + 1
    }

    /// The journal from `from` on: the control state, cooldown clocks from outcomes, and the
    /// decisions still pending (seq -> decided at). A long journal is mostly decisions and
    /// their outcomes: their bytes are scanned for the few fields recovery needs, and only
    /// what is still pending at the end is decoded in full.
    static func replayJournal(_ out: inout Restored, reader: JournalReader, from: UInt64) throws -> [UInt64: Instant] {
        let decoder = RecordCoding.decoder()
        var pending: [UInt64: Instant] = [:]
        let kinds: Set<String> = RecordKind.stateBearing.union([
            RecordKind.decision, RecordKind.applyResult, RecordKind.reconcile,
        ])
        try reader.records(from: from, matching: RecordFilter(kinds: kinds)) { r in
            let bytes = r.dataBytes
            switch r.kind {
            case RecordKind.decision:
                if bytes.contains(subsequence: RecordScan.applyMarker) {
                    pending[r.seq] =
                        RecordScan.unsigned("at", in: bytes).map { Instant(microsSinceEpoch: Int64(clamping: $0)) }
                        ?? r.instant ?? Instant(microsSinceEpoch: 0)
                }
            case RecordKind.applyResult, RecordKind.reconcile:
                guard let decisionSeq = RecordScan.unsigned("decision_seq", in: bytes),
                    let at = pending.removeValue(forKey: decisionSeq),
                    bytes.contains(subsequence: RecordScan.confirmedMarker)
                        || bytes.contains(subsequence: RecordScan.appliedMarker)
                        || bytes.contains(subsequence: RecordScan.unknownMarker)
                else { return true }
                let campaign = try RecordScan.campaign(in: bytes) ?? outcomeCampaign(r.kind, bytes, decoder)
                out.memory[campaign, default: CampaignMemory()].control.lastChangeAt = at
            default:
                let record = try decoder.decode(TransitionRecord.self, from: Data(bytes))
                let state = record.state
                if out.control?.mode != state.mode || out.control?.candidate != state.candidate {
                    out.evidenceSinceSeq = r.seq
                    out.evidenceSince = record.at ?? state.modeSince
                    // The snapshot's evidence belongs to a state the journal has since left.
                    out.evidence = nil
                }
                out.control = state
            }
            return true
        }
        return pending
    }

    /// The campaign of an outcome record whose id a byte scan cannot read (it has escapes).
    static func outcomeCampaign(_ kind: String, _ bytes: ArraySlice<UInt8>, _ decoder: JSONDecoder) throws
        -> CampaignID
    {
        kind == RecordKind.applyResult
            ? try decoder.decode(ApplyResultRecord.self, from: Data(bytes)).campaign
            : try decoder.decode(ReconcileRecord.self, from: Data(bytes)).campaign
    }

    /// A decision journaled as `apply` with no outcome: the daemon died between the two.
    /// The platform's budget says whether the write happened; it is never re-sent.
    func reconcile(_ pending: [Pending], log: Log) {
        for p in pending {
            let d = p.decision
            var record = ReconcileRecord(
                campaign: d.campaign, decisionSeq: p.seq, budgetBeforeMicros: d.budgetBeforeMicros,
                budgetAfterMicros: d.budgetAfterMicros, reportedMicros: nil, outcome: .unknown, error: nil)
            do {
                let reported = try platform.campaign(d.campaign).dailyBudgetMicros
                record.reportedMicros = reported
                record.outcome =
                    reported == d.budgetAfterMicros
                    ? .applied : reported == d.budgetBeforeMicros ? .notApplied : .unknown
            } catch {
                record.error = error.description
            }
            // `unknown` may have been applied: the cooldown counts from the decision either way.
            if record.outcome != .notApplied {
                memory[d.campaign, default: CampaignMemory()].control.lastChangeAt = p.at
            }
            do {
                let ref = try journal.append(kind: RecordKind.reconcile, data: RecordCoding.bytes(record, encoder))
                log.notice(
                    "reconciled decision \(p.seq) for \(d.campaign): \(record.outcome.rawValue)",
                    ["ADPILOT_SEQ": "\(ref.seq)", "ADPILOT_CAMPAIGN": d.campaign.rawValue])
            } catch {
                log.error("cannot journal the reconciliation of decision \(p.seq): \(error)", [:])
            }
        }
    }
}
