package import AdPilotControl
package import AdPilotCore
package import AdPilotJournal
package import AdPilotPlatforms
import AdPilotPolicy
import AdPilotSystem
import Foundation
import Synchronization

/// Start-up: open the journal, restore, reconcile, load policies, honour the halt flag; and the last record at
/// shutdown.
extension Controller {
    /// Opens the journal, records the start, restores state (the journal wins), reconciles
    /// every decision without an outcome, and honours the halt flag. Only then may the
    /// caller announce readiness.
    package static func start(
        config: ServiceConfig, stateDir: StateDirectory, platform: any AdPlatform,
        clock: any TimeSource, sealKey: [UInt8]?, log: Log
    ) throws -> Controller {
        let journal = try openJournal(config: config, stateDir: stateDir, sealKey: sealKey, log: log)
        return try start(config: config, stateDir: stateDir, journal: journal, platform: platform, clock: clock,
                         log: log)
    }

    /// The same with the journal already open: the daemon takes the journal's writer lock
    /// before it opens the platform, so a second daemon on the same state directory is
    /// refused before it touches anything.
    package static func start(
        config: ServiceConfig, stateDir: StateDirectory, journal: JournalSink, platform: any AdPlatform,
        clock: any TimeSource, log: Log
    ) throws -> Controller {
        let startup = try journal.append(
            kind: RecordKind.startup,
            data: RecordCoding.bytes(
                StartupRecord(
                    version: AdPilotVersion.string, pid: Int(getpid()), platform: platform.name,
                    configDigest: config.digest.hex)))
        _ = try journal.append(kind: RecordKind.config, data: ConfigRecord.accepted(config).bytes)

        let restored = try restore(
            stateDir: stateDir, reader: JournalReader(directory: stateDir.journal), headSeq: startup.seq, log: log)
        let controller = try make(config: config, stateDir: stateDir, platform: platform, clock: clock,
                                  journal: journal, restored: restored, log: log)
        controller.loadPolicies(log: log)
        controller.reconcile(restored.pending, log: log)
        try controller.honourHaltFlag(log: log)
        if journal.isPoisoned {
            throw StartupError(
                "the journal in \(stateDir.journal) cannot be written (see the lines above); nothing was decided "
                    + "or written: free space or repair the disk, then start again")
        }
        controller.refreshStatus(report: nil)
        return controller
    }

    /// Prepares the state directory and opens the journal writer (taking its lock), with a
    /// torn tail (if the last run died mid-write) moved aside. Records carry the wall time
    /// they were written; decisions carry the controller's clock (simulated in a demo)
    /// inside their data.
    package static func openJournal(config: ServiceConfig, stateDir: StateDirectory, sealKey: [UInt8]?, log: Log)
        throws -> JournalSink
    {
        do { try stateDir.prepare() } catch { throw StartupError("cannot create the state directory: \(error)") }
        do { try stateDir.prepareHaltReserve() } catch {
            log.warning(
                "cannot write \(stateDir.haltReserve): \(error); a halt forced by a full disk would not survive a "
                    + "restart", [:])
        }
        try refuseToStartOver(stateDir)
        var options = JournalOptions(clock: SystemClock())
        options.segmentBytesMax = config.journalSegmentBytesMax
        options.sealInterval = config.journalSealInterval
        options.sealKey = sealKey
        options.holder = "adpilotd pid \(getpid())"
        // Every seal's head goes to journald too: an anchor outside the journal's files that
        // `adpilotctl journal verify --expect-head` checks against (truncation, rewrites).
        options.onSeal = { ref in
            log.info(
                "journal sealed through seq \(ref.seq)",
                ["ADPILOT_EVENT": "journal_seal", "ADPILOT_HEAD": "\(ref.seq):\(ref.hash.hex)"])
        }
        options.io = stateDir.io
        let writer: JournalWriter
        do {
            writer = try JournalWriter.open(directory: stateDir.journal, options: options)
        } catch {
            throw StartupError("cannot open the journal in \(stateDir.journal): \(error)")
        }
        if let torn = writer.tornTail {
            log.warning(
                "journal: moved a torn tail aside (\(torn.bytes) bytes at \(torn.segment):\(torn.offset)) to "
                    + "\(torn.movedTo)",
                ["ADPILOT_SEQ": "\(writer.head.seq)"])
        }
        return JournalSink(writer)
    }

    /// A state directory that has run before (its snapshot is there) but has no journal
    /// lost it: starting a new one at seq 1 would hide that. Refused, saying what to do.
    static func refuseToStartOver(_ stateDir: StateDirectory) throws {
        let io = stateDir.io
        let segments = ((try? io.listDirectory(stateDir.journal)) ?? []).compactMap(SegmentName.init(fileName:))
        guard segments.isEmpty, io.probe(stateDir.snapshot) == 0 else { return }
        throw StartupError(
            "\(stateDir.journal) holds no journal, but \(stateDir.snapshot) shows this state directory ran before: "
                + "the journal was removed or moved. Restore it (Runbooks/journal-recovery.md); to start a new journal "
                + "on purpose, move \(stateDir.snapshot) aside first")
    }

    /// The controller with what recovery restored; on an empty journal, the first control
    /// state comes from the config's slots and is journaled.
    static func make(config: ServiceConfig, stateDir: StateDirectory, platform: any AdPlatform, clock: any TimeSource,
                     journal: JournalSink, restored: Restored, log: Log) throws -> Controller {
        let controlState = restored.control ?? ControlState(
            mode: .shadow, live: config.initialLive, candidate: config.initialCandidate, modeSince: clock.now())
        let controller = Controller(
            config: config, stateDir: stateDir, platform: platform, clock: clock, journal: journal,
            control: controlState)
        if restored.control == nil {
            _ = try journal.append(
                kind: RecordKind.transition, data: RecordCoding.bytes(TransitionRecord(initial: controlState)))
        }
        controller.memory = restored.memory
        controller.platformBreaker = restored.platformBreaker
        controller.tickCount = restored.tickCount
        if let e = restored.evidence, e.mode == controlState.mode, e.candidate == controlState.candidate {
            controller.evidence.with { $0 = e }
            controller.restoreValueSample(controlState, log: log)
        } else if let seq = restored.evidenceSinceSeq {
            // No snapshot evidence for this state (no snapshot, or one from before the
            // transition into it): the counts start over, but the evidence still begins at
            // that transition (its hours, and the shadow sample read back from there).
            controller.evidence.with { e in
                e.sinceSeq = seq
                if let since = restored.evidenceSince { e.since = since }
            }
            controller.restoreValueSample(controlState, log: log)
        }
        return controller
    }

    func loadPolicies(log: Log) {
        let dirs = config.policyDirs + [stateDir.policies]
        let state = control.current
        for id in [state.live, state.candidate, state.previous].compactMap({ $0 }) where policies[id] == nil {
            guard let path = PolicyStore.find(id, in: dirs) else {
                log.error(
                    "policy \(id) is in a slot but not in \(dirs.joined(separator: ", ")); its decisions hold every "
                        + "budget",
                    [:])
                continue
            }
            do {
                let p = try FrozenPolicy.load(directory: path)
                policies[id] = LoadedPolicy(runtime: PolicyRuntime(p), digest: p.digest.hex)
                statusView.with { $0.policyDigests[id] = p.digest.hex }
                _ = try? journal.append(
                    kind: RecordKind.policyLoaded,
                    data: RecordCoding.bytes(
                        PolicyLoadedRecord(policy: id, digest: p.digest.hex, path: path), encoder))
                log.info("loaded policy \(id) (\(p.digest.hex.prefix(12))) from \(path)", [:])
            } catch {
                log.error("policy \(id) refused: \(error); its decisions hold every budget", [:])
            }
        }
    }

    /// Halted in the state machine exactly when the flag exists: a flag found at start-up
    /// (or appearing later) halts; a halted journal state re-creates a missing flag.
    func honourHaltFlag(log: Log) throws {
        if stateDir.isHalted || haltRequested.load(ordering: .acquiring) {
            haltRequested.store(true, ordering: .releasing)
            if control.mode != .halted {
                _ = try? transition(.halt, actor: .system, reason: "halt flag \(stateDir.haltFlag) present", log: log)
            }
        } else if control.mode == .halted {
            haltRequested.store(true, ordering: .releasing)
            try stateDir.raiseHaltFlag(note: "halted (restored from the journal)")
        }
    }

    /// SIGTERM: the last record, then the journal is closed.
    package func shutdown(reason: String, log: Log) {
        persist(anomaly: true, log: log, wait: true)
        _ = try? journal.append(kind: RecordKind.shutdown, data: RecordCoding.bytes(["reason": reason], encoder))
        do { try journal.close() } catch { log.error("closing the journal: \(error)", [:]) }
    }
}
