package import AdPilotControl
package import AdPilotCore
import AdPilotJournal
package import AdPilotPlatforms
import AdPilotPolicy
import AdPilotSystem
import Foundation
import Synchronization

/// What went wrong starting the controller: the daemon prints it and exits non-zero.
package struct StartupError: Error, CustomStringConvertible {
    package let message: String
    package init(_ message: String) { self.message = message }
    package var description: String { message }
}

/// A frozen policy ready to propose.
struct LoadedPolicy {
    let runtime: PolicyRuntime
    let digest: String
}

/// The controller: the decision core, the journal, the platform and the policies, put
/// together under docs/state-machine.md and docs/decision-pipeline.md. The tick runs on one thread; the control socket calls
/// `halt`, `resume` and `status` from others.
///
/// Safety rules kept here:
/// - every decision is durable in the journal before any write it asks for;
/// - the halt flag (in memory and `<state>/HALT`) is checked under `applyLock` right
///   before every platform write, and `halt` takes that lock before it returns, so no
///   write starts after a halt is acknowledged;
/// - a journal that cannot be written halts the controller (fail closed).
package final class Controller: @unchecked Sendable {
    package private(set) var config: ServiceConfig
    package let stateDir: StateDirectory
    let platform: any AdPlatform
    let clock: any TimeSource
    let journal: JournalSink
    private let control: Guarded<ControlState>
    private let haltRequested = Atomic<Bool>(false)
    /// Bumped by every transition, under the control lock. A tick's writes carry the
    /// epoch it decided under and are skipped once it has moved: a halt followed by a
    /// resume (or any other transition) during a tick never lets the old decisions through.
    private let controlEpoch = Atomic<UInt64>(0)
    /// What the candidate has shown in the current mode (the promotion gates' input).
    private let evidence: Guarded<Evidence>
    /// Decisions were journaled whose outcomes could not be: no snapshot may be written
    /// past them, so the next start reconciles them.
    private var unsettled = false
    private let applyLock = NSLock()
    private var policies: [PolicyID: LoadedPolicy] = [:]
    private var memory: [CampaignID: CampaignMemory] = [:]
    private var platformBreaker = CircuitBreaker()
    private var tickCount: UInt64 = 0
    private let statusView: Guarded<StatusView>
    private var totals = DecisionTotals()
    let encoder = RecordCoding.encoder()
    /// Test-only (ADPILOT_TEST_FAULTS): real time spent before each platform write, to
    /// widen the window between a decision and its outcome for crash tests.
    package var applyDelayMillis = 0
    /// Ticks run by this process.
    package private(set) var ticksThisRun: UInt64 = 0

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

    private init(config: ServiceConfig, stateDir: StateDirectory, platform: any AdPlatform, clock: any TimeSource,
                 journal: JournalSink, control: ControlState) {
        self.config = config
        self.stateDir = stateDir
        self.platform = platform
        self.clock = clock
        self.journal = journal
        self.control = Guarded(control)
        self.evidence = Guarded(Evidence(mode: control.mode, candidate: control.candidate, since: control.modeSince))
        self.statusView = Guarded(StatusView(platform: platform.name, configDigest: config.digest.hex, gateConfig: config.gates,
                                             policyDirs: config.policyDirs))
    }

    // MARK: Start-up

    /// Opens the journal, records the start, restores state (the journal wins), reconciles
    /// every decision without an outcome, and honours the halt flag. Only then may the
    /// caller announce readiness.
    package static func start(config: ServiceConfig, stateDir: StateDirectory, platform: any AdPlatform,
                             clock: any TimeSource, sealKey: [UInt8]?, log: Log) throws -> Controller {
        do { try stateDir.prepare() } catch { throw StartupError("cannot create the state directory: \(error)") }
        do { try stateDir.prepareHaltReserve() } catch {
            log.warning("cannot write \(stateDir.haltReserve): \(error); a halt forced by a full disk would not survive a restart", [:])
        }
        // Records carry the wall time they were written; decisions carry the controller's
        // clock (simulated in a demo) inside their data.
        var options = JournalOptions(clock: SystemClock())
        options.segmentBytesMax = config.journalSegmentBytesMax
        options.sealInterval = config.journalSealInterval
        options.sealKey = sealKey
        options.holder = "adpilotd pid \(getpid())"
        options.io = stateDir.io
        let writer: JournalWriter
        do {
            writer = try JournalWriter.open(directory: stateDir.journal, options: options)
        } catch {
            throw StartupError("cannot open the journal in \(stateDir.journal): \(error)")
        }
        if let torn = writer.tornTail {
            log.warning("journal: moved a torn tail aside (\(torn.bytes) bytes at \(torn.segment):\(torn.offset)) to \(torn.movedTo)",
                        ["ADPILOT_SEQ": "\(writer.head.seq)"])
        }
        let journal = JournalSink(writer)
        let encoder = RecordCoding.encoder()
        let startup = try journal.append(kind: RecordKind.startup, data: RecordCoding.bytes(StartupRecord(
            version: AdPilotVersion.string, pid: Int(getpid()), platform: platform.name, configDigest: config.digest.hex), encoder))
        _ = try journal.append(kind: RecordKind.config, data: ConfigRecord.accepted(config).bytes)

        let restored = try restore(stateDir: stateDir, reader: JournalReader(directory: stateDir.journal), headSeq: startup.seq, log: log)
        var controlState: ControlState
        let initial: Bool
        if let c = restored.control {
            controlState = c
            initial = false
        } else {
            controlState = ControlState(mode: .shadow, live: config.initialLive, candidate: config.initialCandidate, modeSince: clock.now())
            initial = true
        }
        let controller = Controller(config: config, stateDir: stateDir, platform: platform, clock: clock, journal: journal, control: controlState)
        if initial {
            _ = try journal.append(kind: RecordKind.transition, data: RecordCoding.bytes(TransitionRecord(initial: controlState), encoder))
        }
        controller.memory = restored.memory
        controller.platformBreaker = restored.platformBreaker
        controller.tickCount = restored.tickCount
        if let e = restored.evidence, e.mode == controlState.mode, e.candidate == controlState.candidate {
            controller.evidence.with { $0 = e }
        }
        controller.loadPolicies(log: log)
        controller.reconcile(restored.pending, log: log)
        try controller.honourHaltFlag(log: log)
        if journal.isPoisoned {
            throw StartupError("the journal in \(stateDir.journal) cannot be written (see the lines above); nothing was decided "
                + "or written: free space or repair the disk, then start again")
        }
        controller.refreshStatus(report: nil)
        return controller
    }

    struct Restored {
        var control: ControlState?
        var memory: [CampaignID: CampaignMemory] = [:]
        var platformBreaker = CircuitBreaker()
        var tickCount: UInt64 = 0
        var evidence: Evidence? = nil
        var pending: [(seq: UInt64, at: Instant, decision: DecisionSummary)] = []
    }

    /// The snapshot gives pacers, breakers and anomaly history as of its journal seq; the
    /// journal after it gives the control state, cooldown clocks and any decision whose
    /// outcome was never recorded.
    static func restore(stateDir: StateDirectory, reader: JournalReader, headSeq: UInt64, log: Log) throws -> Restored {
        var out = Restored()
        var fromSeq: UInt64 = 1
        func load<T: Decodable>(_ type: T.Type, _ path: String) throws -> T? {
            guard stateDir.io.exists(path) else { return nil }
            do {
                return try JSONDecoder().decode(T.self, from: Data(try stateDir.io.readFile(path, limit: 1 << 31)))
            } catch {
                throw StartupError("\(path): unreadable controller state (\(error)); move it aside to start from the journal alone "
                    + "(pacers, breakers and anomaly baselines then start fresh), see Runbooks/journal-recovery.md")
            }
        }
        if let snapshot = try load(Snapshot.self, stateDir.snapshot) {
            guard snapshot.format == Snapshot.format else {
                throw StartupError("\(stateDir.snapshot): controller state format \(snapshot.format), this adpilotd reads "
                    + "\(Snapshot.format); move it aside to start from the journal alone, see Runbooks/journal-recovery.md")
            }
            if snapshot.journalSeq < headSeq {
                fromSeq = snapshot.journalSeq + 1
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
            } else {
                log.warning("\(stateDir.snapshot) is ahead of the journal (seq \(snapshot.journalSeq) >= \(headSeq)); the journal wins: "
                    + "controller state rebuilt from the journal alone", [:])
            }
        }
        // A long journal is mostly decisions and their outcomes: scan their bytes for the
        // few fields recovery needs, and decode in full only what is still pending at the end.
        let decoder = RecordCoding.decoder()
        var pending: [UInt64: Instant] = [:]
        let kinds: Set<String> = RecordKind.stateBearing.union([RecordKind.decision, RecordKind.applyResult, RecordKind.reconcile])
        try reader.records(from: fromSeq, matching: RecordFilter(kinds: kinds)) { r in
            let bytes = r.dataBytes
            switch r.kind {
            case RecordKind.decision:
                if bytes.contains(subsequence: RecordScan.applyMarker) {
                    pending[r.seq] = RecordScan.unsigned("at", in: bytes).map { Instant(microsSinceEpoch: Int64(clamping: $0)) }
                        ?? r.instant ?? Instant(microsSinceEpoch: 0)
                }
            case RecordKind.applyResult, RecordKind.reconcile:
                guard let decisionSeq = RecordScan.unsigned("decision_seq", in: bytes),
                      let at = pending.removeValue(forKey: decisionSeq),
                      bytes.contains(subsequence: RecordScan.confirmedMarker) || bytes.contains(subsequence: RecordScan.appliedMarker)
                        || bytes.contains(subsequence: RecordScan.unknownMarker) else { return true }
                let campaign = try RecordScan.campaign(in: bytes) ?? decoder.decode(OutcomeSummary.self, from: Data(bytes)).campaign
                out.memory[campaign, default: CampaignMemory()].control.lastChangeAt = at
            default:
                out.control = try decoder.decode(TransitionRecord.self, from: Data(bytes)).state
                // The snapshot's evidence belongs to a state the journal has since left.
                out.evidence = nil
            }
            return true
        }
        // One more pass from the oldest pending decision picks up their bodies.
        if let first = pending.keys.min() {
            try reader.records(from: first, matching: RecordFilter(kinds: [RecordKind.decision])) { r in
                if let at = pending[r.seq] {
                    out.pending.append((r.seq, at, try decoder.decode(DecisionSummary.self, from: Data(r.dataBytes))))
                }
                return true
            }
        }
        return out
    }

    /// A decision journaled as `apply` with no outcome: the daemon died between the two.
    /// The platform's budget says whether the write happened; it is never re-sent.
    private func reconcile(_ pending: [(seq: UInt64, at: Instant, decision: DecisionSummary)], log: Log) {
        for p in pending {
            let d = p.decision
            var record = ReconcileRecord(campaign: d.campaign, decisionSeq: p.seq, budgetBeforeMicros: d.budgetBeforeMicros,
                                         budgetAfterMicros: d.budgetAfterMicros, reportedMicros: nil, outcome: .unknown, error: nil)
            do {
                let reported = try platform.campaign(d.campaign).dailyBudgetMicros
                record.reportedMicros = reported
                record.outcome = reported == d.budgetAfterMicros ? .applied : reported == d.budgetBeforeMicros ? .notApplied : .unknown
            } catch {
                record.error = error.description
            }
            // `unknown` may have been applied: the cooldown counts from the decision either way.
            if record.outcome != .notApplied { memory[d.campaign, default: CampaignMemory()].control.lastChangeAt = p.at }
            do {
                let ref = try journal.append(kind: RecordKind.reconcile, data: RecordCoding.bytes(record, encoder))
                log.notice("reconciled decision \(p.seq) for \(d.campaign): \(record.outcome.rawValue)",
                           ["ADPILOT_SEQ": "\(ref.seq)", "ADPILOT_CAMPAIGN": d.campaign.rawValue])
            } catch {
                log.error("cannot journal the reconciliation of decision \(p.seq): \(error)", [:])
            }
        }
    }

    private func loadPolicies(log: Log) {
        let dirs = config.policyDirs + [stateDir.policies]
        let state = control.current
        for id in [state.live, state.candidate, state.previous].compactMap({ $0 }) where policies[id] == nil {
            guard let path = PolicyStore.find(id, in: dirs) else {
                log.error("policy \(id) is in a slot but not in \(dirs.joined(separator: ", ")); its decisions hold every budget", [:])
                continue
            }
            do {
                let p = try FrozenPolicy.load(directory: path)
                policies[id] = LoadedPolicy(runtime: PolicyRuntime(p), digest: p.digest.hex)
                statusView.with { $0.policyDigests[id] = p.digest.hex }
                _ = try? journal.append(kind: RecordKind.policyLoaded, data: RecordCoding.bytes(
                    PolicyLoadedRecord(policy: id, digest: p.digest.hex, path: path), encoder))
                log.info("loaded policy \(id) (\(p.digest.hex.prefix(12))) from \(path)", [:])
            } catch {
                log.error("policy \(id) refused: \(error); its decisions hold every budget", [:])
            }
        }
    }

    /// Halted in the state machine exactly when the flag exists: a flag found at start-up
    /// (or appearing later) halts; a halted journal state re-creates a missing flag.
    private func honourHaltFlag(log: Log) throws {
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

    // MARK: Commands

    /// Applies a state machine verb: journaled first, then in effect. Halt goes through
    /// `halt` instead (it must stop writes even when the journal cannot be written).
    @discardableResult
    /// `unless` runs under the control lock first: a caller that decided on an earlier
    /// view of the state (gates measured, a tick's evidence) refuses if it has moved.
    package func transition(_ command: Command, actor: Actor, reason: String, log: Log, gates: [GateCheck]? = nil,
                           unless stale: (ControlState) -> Refusal? = { _ in nil },
                           then effect: (Transition) throws -> Void = { _ in }) throws -> Result<Transition, Refusal> {
        try control.with { state throws -> Result<Transition, Refusal> in
            if let refusal = stale(state) { return .failure(refusal) }
            let result = StateMachine.apply(command, to: state, actor: actor, reason: reason, at: clock.now())
            guard case .success(let t) = result else { return result }
            // A fresh encoder: this runs on the socket's threads as well as the tick's.
            let ref = try journal.append(kind: TransitionRecord.kind(for: t.verb.rawValue),
                                         data: RecordCoding.bytes(TransitionRecord(t, gates: gates)))
            state = t.after
            controlEpoch.wrappingAdd(1, ordering: .acquiringAndReleasing)
            resetEvidence(for: t.after, at: t.at)
            try effect(t)
            log.notice("\(t.verb.rawValue) by \(actor): \(t.before.mode.rawValue) -> \(t.after.mode.rawValue) (\(reason))",
                       ["ADPILOT_SEQ": "\(ref.seq)", "ADPILOT_MODE": t.after.mode.rawValue])
            return result
        }
    }

    /// Stops every platform write, then records why. When this returns, no write starts
    /// again until `resume`: the flag is raised in memory and on disk, and any write in
    /// flight has finished (it held `applyLock`).
    package func halt(actor: Actor, reason: String, log: Log) -> (transition: Transition?, problems: [String]) {
        haltRequested.store(true, ordering: .releasing)
        applyLock.lock()
        applyLock.unlock()
        var problems: [String] = []
        do {
            try stateDir.raiseHaltFlag(note: "halted by \(actor): \(reason)")
        } catch {
            problems.append("could not create \(stateDir.haltFlag): \(error) (the in-memory halt is in force)")
        }
        do {
            // Raised again inside the transition: a resume that got the control lock first
            // may have cleared both, and this halt must still be what is in force.
            let result = try transition(.halt, actor: actor, reason: reason, log: log, then: { _ in
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

    /// Returns to shadow (docs/state-machine.md): journaled, then the flag is cleared.
    /// The flag goes inside the same critical section as the transition, so a tick never
    /// sees "shadow, flag present" and mistakes the resume for a new halt.
    package func resume(actor: Actor, reason: String, log: Log) throws -> Result<Transition, Refusal> {
        // Without a reserve, a halt forced by a full disk would not outlive a restart.
        do { try stateDir.prepareHaltReserve() } catch {
            return .failure(Refusal(code: "no_halt_reserve", message: "cannot write \(stateDir.haltReserve) (\(error)): "
                + "free space in \(stateDir.path) first; the halt stays in force", allowed: [.halt], failedGates: []))
        }
        return try transition(.resume, actor: actor, reason: reason, log: log, then: { _ in
            try stateDir.clearHaltFlag()
            haltRequested.store(false, ordering: .releasing)
        })
    }

    package var controlState: ControlState { control.current }
    package var isHaltInForce: Bool { haltRequested.load(ordering: .acquiring) }

    // MARK: The tick

    /// One pass over every campaign (docs/decision-pipeline.md). Never throws: anything that goes wrong is
    /// journaled where possible, logged, and leaves budgets as they are.
    @discardableResult
    package func tick(log: Log) -> TickReport {
        let started = SystemClock().now()
        tickCount += 1
        ticksThisRun += 1
        var report = TickReport(tick: tickCount, at: clock.now())
        runTick(&report, log: log)
        report.durationMicros = SystemClock().now().microsSinceEpoch - started.microsSinceEpoch
        refreshStatus(report: report)
        return report
    }

    private func runTick(_ report: inout TickReport, log: Log) {
        let now = report.at
        // Nothing can be decided without a journal to record it in. A tick that broke it
        // halted already; a break outside a tick (a reload, a verb) halts here. The daemon
        // then exits, and start-up reopens the journal.
        if journal.isPoisoned {
            if !isHaltInForce || !stateDir.isHalted {
                log.critical("the journal cannot be written; halting (fail closed)", [:])
                _ = halt(actor: .system, reason: "the journal cannot be written", log: log)
            }
            report.error = "the journal cannot be written; every budget holds until adpilotd restarts and reopens it"
            return
        }
        if control.with({ $0.mode != .halted && stateDir.isHalted }) {
            _ = halt(actor: .system, reason: "the halt flag \(stateDir.haltFlag) appeared", log: log)
        }
        let (state, epoch) = control.with { ($0, controlEpoch.load(ordering: .acquiring)) }
        guard state.mode != .halted else { return }
        loadPolicies(log: log)

        let observed: Observer.Observed
        do {
            observed = try Observer.observe(platform, config: config, now: now, mode: state.mode, memory: memory)
        } catch {
            report.error = "cannot list campaigns: \(error)"
            journalBestEffort(RecordKind.tickFailed, TickFailedRecord(tick: tickCount, problem: report.error!, campaigns: nil), log: log)
            log.warning("tick \(tickCount): \(report.error!); budgets hold", [:])
            return
        }
        report.observeFailures = observed.failures.count
        // A campaign that cannot be read would drop out of the account-wide projection and
        // let the others grow into its room: with any campaign unreadable, everything holds.
        if let first = observed.failures.first {
            report.error = "\(observed.failures.count) campaign(s) unreadable, first \(first.campaign): \(first.error); every budget holds"
            journalBestEffort(RecordKind.tickFailed, TickFailedRecord(tick: tickCount, problem: report.error!,
                                                                    campaigns: observed.failures.map(\.campaign)), log: log)
            log.warning("tick \(tickCount): \(report.error!)")
            return
        }
        report.campaigns = observed.campaigns.count

        var states = observed.campaigns.map { memory[$0.config.id]?.control ?? CampaignControl() }
        let breakersBefore = states.map(\.breaker.state)
        let anomalyBefore = states.map(\.anomaly.assessment.level)
        let platformBreakerBefore = platformBreaker.state
        let haltFlag = haltRequested.load(ordering: .acquiring)
        let decisions = Tick.run(control: state, haltFlag: haltFlag, settings: config.tick, now: now,
                                 campaigns: observed.campaigns, states: &states, platformBreaker: &platformBreaker) { i, assignment, pacer in
            propose(assignment.policy, observed.campaigns[i], pacer: pacer, now: now)
        }
        for (i, c) in observed.campaigns.enumerated() {
            var m = memory[c.config.id] ?? CampaignMemory()
            m.control = states[i]
            if let last = c.newHours.last { m.lastIngestedHour = max(m.lastIngestedHour ?? last.hour, last.hour) }
            memory[c.config.id] = m
        }

        // Durable before anything is applied.
        let entries = encode(decisions)
        let refs: [RecordRef]
        do {
            refs = try appendInBatches(entries)
        } catch {
            report.error = "journal write failed: \(error)"
            log.critical("cannot journal decisions: \(error); halting (fail closed)", [:])
            _ = halt(actor: .system, reason: "the journal cannot be written: \(error)", log: log)
            return
        }
        report.decisions = decisions.count
        // Conditions that halt everything are acted on before the first write.
        if let critical = decisions.first(where: \.haltRequested) {
            _ = halt(actor: .system, reason: "critical anomaly on campaign \(critical.campaign)", log: log)
        } else if let breach = capBreach(observed) {
            _ = halt(actor: .system, reason: breach, log: log)
        } else if let fault = decisions.first(where: { $0.input.slot == .live && $0.policyFault }) {
            // A live policy that errors or returns NaN leaves its scope (docs/state-machine.md): back to
            // the previous live policy when there is one, otherwise nothing writes.
            let why = "live policy \(fault.input.policy) failed on \(fault.campaign): \(fault.layers.first?.detail ?? "no usable number")"
            var rolledBack = false
            if state.mode == .live && state.previous != nil {
                if case .success = try? transition(.rollback, actor: .system, reason: why, log: log, unless: staleSince(epoch)) {
                    rolledBack = true
                }
            }
            if !rolledBack {
                let detail = state.mode != .live ? "a rollback in \(state.mode.rawValue) would not remove it"
                    : state.previous == nil ? "no previous policy to roll back to" : "the rollback could not be applied"
                _ = halt(actor: .system, reason: "\(why); \(detail)", log: log)
            }
        }

        var results: [JournalEntry] = []
        let index = Dictionary(observed.campaigns.enumerated().map { ($0.element.config.id, $0.offset) }, uniquingKeysWith: { a, _ in a })
        for (d, ref) in zip(decisions, refs) {
            if d.action == .hold, let r = d.reason { report.vetoes[r.rawValue, default: 0] += 1 }
            if d.action == .hold { report.holds += 1 }
            guard d.writes, let i = index[d.campaign] else { continue }
            report.applies += 1
            let result = apply(d, seq: ref.seq, now: now, epoch: epoch, campaignBreaker: &states[i].breaker)
            switch result.status {
            case .confirmed: report.confirmed += 1
            case .skipped: report.skippedByHalt += 1
            case .failed, .unconfirmed: report.writeFailures += 1
            }
            memory[d.campaign]?.control.breaker = states[i].breaker
            results.append(JournalEntry(kind: RecordKind.applyResult, data: RecordCoding.bytes(result, encoder)))
        }
        var notes: [JournalEntry] = []
        for (i, c) in observed.campaigns.enumerated() {
            if states[i].breaker.state != breakersBefore[i] {
                notes.append(JournalEntry(kind: RecordKind.breaker, data: RecordCoding.bytes(BreakerRecord(
                    scope: "campaign", campaign: c.config.id, from: breakersBefore[i], to: states[i].breaker.state), encoder)))
            }
            let level = states[i].anomaly.assessment.level
            if level != anomalyBefore[i] {
                notes.append(JournalEntry(kind: RecordKind.anomaly, data: RecordCoding.bytes(AnomalyRecord(
                    campaign: c.config.id, level: level.name, from: anomalyBefore[i].name,
                    findings: states[i].anomaly.assessment.findings), encoder)))
            }
        }
        if platformBreaker.state != platformBreakerBefore {
            notes.append(JournalEntry(kind: RecordKind.breaker, data: RecordCoding.bytes(BreakerRecord(
                scope: "platform", campaign: nil, from: platformBreakerBefore, to: platformBreaker.state), encoder)))
        }
        do {
            _ = try appendInBatches(results + notes)
        } catch {
            report.error = "journal write failed: \(error)"
            unsettled = true
            log.critical("cannot journal apply results: \(error); halting (fail closed)", [:])
            _ = halt(actor: .system, reason: "the journal cannot be written: \(error)", log: log)
            return
        }
        updateEvidence(state, decisions, observed, states: states, breakersBefore: breakersBefore, epoch: epoch, log: log)
        totals.decisions += UInt64(report.decisions)
        totals.applies += UInt64(report.confirmed)
        totals.writeFailures += UInt64(report.writeFailures)
        for (k, v) in report.vetoes { totals.vetoes[k, default: 0] += UInt64(v) }
        updateLastDecisions(decisions, refs: refs, observed: observed)

        persist(anomaly: observed.campaigns.contains { !$0.newHours.isEmpty }, log: log)
    }

    /// Decision records, encoded on every core: at 10,000 campaigns JSON encoding is most of
    /// a tick's CPU.
    private func encode(_ decisions: [Decision]) -> [JournalEntry] {
        let digests = policies.mapValues(\.digest)
        let tick = tickCount, configDigest = config.digest.hex
        let chunks = decisions.count < 512 ? 1 : max(1, ProcessInfo.processInfo.activeProcessorCount)
        let size = (decisions.count + chunks - 1) / max(1, chunks)
        let parts = Guarded([[JournalEntry]](repeating: [], count: chunks))
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let encoder = RecordCoding.encoder()
            let part = decisions[min(decisions.count, c * size)..<min(decisions.count, (c + 1) * size)].map { d in
                JournalEntry(kind: RecordKind.decision, data: RecordCoding.bytes(DecisionRecord(
                    d, tick: tick, policyDigest: digests[d.input.policy] ?? "unloaded", configDigest: configDigest), encoder))
            }
            parts.with { $0[c] = part }
        }
        return parts.current.flatMap { $0 }
    }

    // MARK: Promotion evidence

    /// A new mode or candidate starts a new body of evidence. Called under the control lock.
    /// Starts at the transition, not at `modeSince`: staging a new candidate in shadow keeps
    /// the mode (and its clock) but must not inherit the old candidate's shadow hours.
    private func resetEvidence(for state: ControlState, at now: Instant) {
        evidence.with { e in
            if e.mode != state.mode || e.candidate != state.candidate {
                e = Evidence(mode: state.mode, candidate: state.candidate, since: now)
            }
        }
    }

    /// Refuses when any transition happened since `epoch` (the caller's view is stale).
    private func staleSince(_ epoch: UInt64) -> (ControlState) -> Refusal? {
        { [unowned self] state in
            self.controlEpoch.load(ordering: .acquiring) == epoch ? nil
                : Refusal(code: "state_changed", message: "the control state changed while this was being decided; nothing done",
                          allowed: StateMachine.allowedVerbs(in: state), failedGates: [])
        }
    }

    /// Folds one tick into the evidence; in canary, runs the health checks and rolls the
    /// canary back (actor `system`) after `failure_limit` consecutive failures, or at once
    /// when the candidate's policy faults.
    private func updateEvidence(_ state: ControlState, _ decisions: [Decision], _ observed: Observer.Observed,
                                states: [CampaignControl], breakersBefore: [BreakerState], epoch: UInt64, log: Log) {
        let gates = config.gates
        var rollback: (reason: String, checks: [GateCheck])? = nil
        evidence.with { e in
            guard e.mode == state.mode, e.candidate == state.candidate else { return }
            var pacing: [Double] = []
            for d in decisions where d.input.slot == .candidate {
                e.candidateDecisions += 1
                if d.policyFault { e.candidatePolicyFaults += 1 }
                if d.action == .hold { e.candidateVetoes += 1 }
                // Off pace by how much of the day's target: early in the day both numbers are
                // small, and a ratio to the target-to-date would be noise.
                let daily = d.input.campaign.dailyTargetMicros
                if d.input.canaryControlled && daily > .zero {
                    pacing.append(abs(d.pacer.spendTodayMicros.statistic - d.pacer.targetSpendToDateMicros.statistic) / daily.statistic)
                }
            }
            if decisions.contains(where: \.haltRequested) { e.criticalAnomalies += 1 }
            guard state.mode == .canary else { return }
            // Each baseline is taken once, at the first tick that can: never again from hours
            // the candidate already shaped.
            func roas(_ inScope: Bool) -> Double? {
                let t = observed.campaigns.filter { $0.inCanaryScope == inScope }.map(\.observation.trailing)
                let spend = t.reduce(0.0) { $0 + $1.spendMicros.statistic }
                return spend > 0 ? t.reduce(0.0) { $0 + $1.conversionValueMicros.statistic } / spend : nil
            }
            if e.canaryBaselineRoas == nil && e.canaryHours == 0 { e.canaryBaselineRoas = roas(true) }
            if e.controlBaselineRoas == nil && e.controlHours == 0 { e.controlBaselineRoas = roas(false) }
            for (i, c) in observed.campaigns.enumerated() where i < observed.fresh.count {
                let f = observed.fresh[i]
                if c.inCanaryScope {
                    e.canaryHours += f.hours
                    e.canarySpendMicros = e.canarySpendMicros.addingReportingOverflow(f.spendMicros).partialValue
                    e.canaryValueMicros = e.canaryValueMicros.addingReportingOverflow(f.valueMicros).partialValue
                    if states[i].breaker.state == .open && breakersBefore[i] != .open { e.canaryBreakerTrips += 1 }
                } else {
                    e.controlHours += f.hours
                    e.controlSpendMicros = e.controlSpendMicros.addingReportingOverflow(f.spendMicros).partialValue
                    e.controlValueMicros = e.controlValueMicros.addingReportingOverflow(f.valueMicros).partialValue
                }
            }
            if !pacing.isEmpty { e.pacingError = pacing.reduce(0, +) / Double(pacing.count) }
            let health = Gates.health(gates, e)
            e.consecutiveFailedChecks = health.contains(where: \.failing) ? e.consecutiveFailedChecks + 1 : 0
            let checks = Gates.checks(gates, e, now: decisions.first?.input.now ?? clock.now())
            if let fault = decisions.first(where: { $0.input.slot == .candidate && $0.policyFault }) {
                rollback = ("the candidate's policy failed on \(fault.campaign): \(fault.layers.first?.detail ?? "no usable number")", checks)
            } else if e.consecutiveFailedChecks >= gates.failureLimit {
                let failing = health.filter(\.failing).map(\.check.name).joined(separator: ", ")
                rollback = ("canary analysis failed \(e.consecutiveFailedChecks) consecutive times (\(failing))", checks)
            }
        }
        if let r = rollback {
            do {
                if case .failure(let refusal) = try transition(.rollback, actor: .system, reason: r.reason, log: log, gates: r.checks,
                                                               unless: staleSince(epoch)) {
                    log.warning("automatic rollback not applied (\(refusal.message)): \(r.reason)")
                }
            } catch {
                log.critical("automatic rollback could not be journaled: \(error); halting (fail closed)")
                _ = halt(actor: .system, reason: "the journal cannot be written: \(error)", log: log)
            }
        }
    }

    /// The gate checks for the next promotion from the current mode, as of now.
    package func currentGates() -> [GateCheck] {
        Gates.checks(statusView.current.gateConfig, evidence.current, now: clock.now())
    }

    // MARK: Operator verbs

    /// `stage NAME@VERSION`: the policy must be found and load with every check first.
    package func stage(_ id: PolicyID, actor: Actor, reason: String, log: Log) throws -> Result<Transition, Refusal> {
        let dirs = statusView.current.policyDirs + [stateDir.policies]  // this runs on a socket thread
        guard let path = PolicyStore.find(id, in: dirs) else {
            return .failure(Refusal(code: "no_such_policy", message: "no policy \(id) in \(dirs.joined(separator: ", ")); "
                + "adpilotctl policy list shows what is installed", allowed: StateMachine.allowedVerbs(in: controlState), failedGates: []))
        }
        do {
            _ = try FrozenPolicy.load(directory: path)
        } catch {
            return .failure(Refusal(code: "policy_refused", message: "\(id) does not load: \(error)",
                                    allowed: StateMachine.allowedVerbs(in: controlState), failedGates: []))
        }
        return try transition(.stage(id), actor: actor, reason: reason, log: log)
    }

    /// `promote [--override-gates]`: the gates are evaluated now and journaled with the step.
    package func promote(overrideGates: Bool, actor: Actor, reason: String, log: Log) throws -> (Result<Transition, Refusal>, [GateCheck]) {
        let epoch = controlEpoch.load(ordering: .acquiring)
        let gates = currentGates()  // measured for the state of `epoch`; refused below if it moved
        return (try transition(.promote(gates: gates, overrideGates: overrideGates), actor: actor, reason: reason, log: log, gates: gates,
                               unless: staleSince(epoch)), gates)
    }

    package func rollback(actor: Actor, reason: String, log: Log) throws -> Result<Transition, Refusal> {
        try transition(.rollback, actor: actor, reason: reason, log: log)
    }

    /// Records per journal append: large enough for group commit to pay, small enough that
    /// a halt from the socket never waits long for the journal lock.
    static let journalBatchRecords = 256

    private func appendInBatches(_ entries: [JournalEntry]) throws(JournalError) -> [RecordRef] {
        var refs: [RecordRef] = []
        refs.reserveCapacity(entries.count)
        var start = 0
        while start < entries.count {
            let end = min(entries.count, start + Controller.journalBatchRecords)
            refs += try journal.append(Array(entries[start..<end]))
            start = end
        }
        return refs
    }

    private func propose(_ id: PolicyID, _ c: TickCampaign, pacer: PacerReport, now: Instant) -> Proposal {
        guard let p = policies[id] else { return .failed("policy \(id) is not loaded") }
        let ctx = PolicyContext(observation: c.observation, pacer: pacer,
                                local: LocalTime(now, utcOffsetSeconds: config.account.utcOffsetSeconds), campaign: c.config)
        return p.runtime.propose(ctx)
    }

    /// One write, read back. The halt check and the write happen under `applyLock`.
    private func apply(_ d: Decision, seq: UInt64, now: Instant, epoch: UInt64, campaignBreaker: inout CircuitBreaker) -> ApplyResultRecord {
        var result = ApplyResultRecord(campaign: d.campaign, decisionSeq: seq, status: .skipped,
                                       budgetBeforeMicros: d.currentBudgetMicros, budgetAfterMicros: d.finalBudgetMicros)
        if applyDelayMillis > 0 && !haltRequested.load(ordering: .acquiring) { usleep(UInt32(applyDelayMillis) * 1_000) }
        applyLock.lock()
        defer { applyLock.unlock() }
        guard !haltRequested.load(ordering: .acquiring), !stateDir.isHalted else {
            result.error = "halted after the decision was journaled"
            return result
        }
        guard controlEpoch.load(ordering: .acquiring) == epoch else {
            result.error = "the control state changed after the decision was journaled"
            return result
        }
        let failure: Bool
        do {
            switch try BudgetWrite.apply(platform, campaign: d.campaign, budgetMicros: d.finalBudgetMicros) {
            case .confirmed(let m):
                result.status = .confirmed
                result.reportedMicros = m
                failure = false
            case .unconfirmed(_, let reported):
                result.status = .unconfirmed
                result.reportedMicros = reported
                result.error = "the platform reports \(reported) after the write"
                failure = true
            }
        } catch {
            result.status = .failed
            result.error = error.description
            failure = true
        }
        platformBreaker.record(failure: failure, config.breaker, at: now)
        campaignBreaker.record(failure: failure, config.breaker, at: now)
        return result
    }

    /// Spend already past the account's hard daily cap halts everything (docs/state-machine.md).
    private func capBreach(_ observed: Observer.Observed) -> String? {
        let spent = observed.campaigns.reduce(Int128(0)) { $0 + Int128($1.observation.spendTodayMicros.rawValue) }
        guard spent > Int128(config.account.dailyCapMicros.rawValue) else { return nil }
        return "account spend today \(Micros(Int64(min(spent, Int128(Int64.max))))) exceeds the hard cap \(config.account.dailyCapMicros)"
    }

    private func journalBestEffort<T: Encodable>(_ kind: String, _ record: T, log: Log) {
        do {
            _ = try journal.append(kind: kind, data: RecordCoding.bytes(record, encoder))
        } catch {
            log.critical("cannot journal \(kind): \(error); halting (fail closed)", [:])
            _ = halt(actor: .system, reason: "the journal cannot be written: \(error)", log: log)
        }
    }

    /// Writes the snapshot after the tick's records: it is never ahead of the journal.
    private func persist(anomaly: Bool, log: Log) {
        // Decisions without journaled outcomes sit before the head: a snapshot stamped with
        // the head would hide them from the next start's reconciliation.
        guard !unsettled && !journal.isPoisoned else { return }
        let seq = journal.head.seq
        let snapshot = Snapshot(format: Snapshot.format, journalSeq: seq, tickCount: tickCount,
                                control: control.current, platformBreaker: platformBreaker, evidence: evidence.current,
                                campaigns: Dictionary(memory.map { ($0.key.rawValue, CampaignCore(
                                    pacer: $0.value.control.pacer, shadowPacer: $0.value.control.shadowPacer,
                                    lastChangeAt: $0.value.control.lastChangeAt, breaker: $0.value.control.breaker)) },
                                                      uniquingKeysWith: { a, _ in a }))
        do {
            if anomaly {
                let a = AnomalySnapshot(journalSeq: seq, campaigns: Dictionary(memory.map { ($0.key.rawValue, AnomalyMemory(
                    anomaly: $0.value.control.anomaly, lastIngestedHour: $0.value.lastIngestedHour)) }, uniquingKeysWith: { a, _ in a }))
                try stateDir.writeAtomically(stateDir.anomalySnapshot, Array(try JSONEncoder().encode(a)))
            }
            try stateDir.writeAtomically(stateDir.snapshot, Array(try JSONEncoder().encode(snapshot)))
        } catch {
            log.error("cannot write the controller state in \(stateDir.path): \(error); the journal remains the record", [:])
        }
    }

    // MARK: Configuration

    /// SIGHUP: a valid config replaces the running one from the next tick; an invalid one
    /// (or one changing what needs a restart) is refused and the old one kept. Journaled
    /// either way.
    package func reload(_ candidate: Result<ServiceConfig, ConfigProblem>, source: String, log: Log) -> String? {
        var refusal: String? = nil
        switch candidate {
        case .failure(let p):
            refusal = "\(source): \(p)"
        case .success(let c):
            if c.platform != config.platform || c.clock != config.clock || c.operatorsGroup != config.operatorsGroup
                || c.journalKeyCredential != config.journalKeyCredential || c.journalSegmentBytesMax != config.journalSegmentBytesMax
                || c.journalSealInterval != config.journalSealInterval {
                refusal = "\(source): platform, clock, operators_group and journal changes need a restart (systemctl restart adpilotd)"
            } else {
                do {
                    // Journaled first: decisions must never cite a digest the journal lacks.
                    _ = try journal.append(kind: RecordKind.config, data: ConfigRecord.accepted(c).bytes)
                } catch {
                    log.error("configuration reload refused: it cannot be journaled (\(error)); keeping \(config.digest.hex.prefix(12))", [:])
                    return "\(source): cannot be journaled: \(error)"
                }
                config = c
                statusView.with {
                    $0.configDigest = c.digest.hex
                    $0.gateConfig = c.gates
                    $0.policyDirs = c.policyDirs
                }
                log.notice("configuration reloaded from \(source) (\(c.digest.hex.prefix(12)))", [:])
                return nil
            }
        }
        let message = refusal!
        _ = try? journal.append(kind: RecordKind.config, data: ConfigRecord.refused(message, keeping: config).bytes)
        log.error("configuration reload refused, keeping \(config.digest.hex.prefix(12)): \(message)", [:])
        return message
    }

    /// SIGTERM: the last record, then the journal is closed.
    package func shutdown(reason: String, log: Log) {
        persist(anomaly: true, log: log)
        _ = try? journal.append(kind: RecordKind.shutdown, data: RecordCoding.bytes(["reason": reason], encoder))
        do { try journal.close() } catch { log.error("closing the journal: \(error)", [:]) }
    }

    // MARK: Status

    private func updateLastDecisions(_ decisions: [Decision], refs: [RecordRef], observed: Observer.Observed) {
        statusView.with { v in
            for (d, ref) in zip(decisions, refs) where d.input.mayWrite || v.lastDecisions[d.campaign] == nil || d.input.slot == .candidate {
                v.lastDecisions[d.campaign] = LastDecision(seq: ref.seq, at: d.input.now, slot: d.input.slot, policy: d.input.policy,
                                                           action: d.action, reason: d.reason, budgetAfterMicros: d.finalBudgetMicros)
            }
            v.observations = observed.campaigns.map(\.observation)
            v.inCanary = Set(observed.campaigns.filter(\.inCanaryScope).map(\.config.id))
        }
    }

    private func refreshStatus(report: TickReport?) {
        let head = journal.head.seq
        let totals = self.totals
        let platformState = platformBreaker.state
        let ticks = tickCount
        statusView.with { v in
            if let report { v.lastTick = report }
            v.platformBreaker = platformState
            v.headSeq = head
            v.totals = totals
            v.ticks = ticks
            for (id, m) in memory { v.campaignBreaker[id] = m.control.breaker.state; v.anomaly[id] = m.control.anomaly.assessment.level.name }
        }
    }

    /// The status a `status` request returns.
    package func status() -> StatusReport {
        let state = control.current
        let view = statusView.current
        let halt = stateDir.isHalted
        let now = clock.now()
        let e = evidence.current
        return StatusReport(state: state, haltFlag: halt, haltInForce: halt || isHaltInForce, configDigest: view.configDigest,
                            policyDigests: view.policyDigests, view: view, now: now,
                            gates: Gates.checks(view.gateConfig, e, now: now), evidence: e)
    }

    /// Prometheus text exposition of the current status.
    package func metricsText() -> String { Metrics.render(status(), totals: statusView.current.totals) }
}
