package import AdPilotControl
import AdPilotCore
import AdPilotJournal
import AdPilotPlatforms
import AdPilotPolicy
import AdPilotSystem
import Foundation
import Synchronization

/// The tick: observe, decide, journal, act on what halts everything, apply, record.
extension Controller {
    /// One pass over every campaign (docs/decision-pipeline.md). Never throws: anything that goes wrong is
    /// journaled where possible, logged, and leaves budgets as they are.
    @discardableResult
    package func tick(log: Log) -> TickReport {
        let started = SystemClock().now()
        tickCount += 1
        ticksThisRun += 1
        // Decided as of the tick's slot on the grid (`TickSchedule`): exact, whatever the jitter.
        var report = TickReport(tick: tickCount, at: TickSchedule.slot(clock.now(), tickSeconds: config.tickSeconds))
        runTick(&report, log: log)
        report.durationMicros = SystemClock().now().microsSinceEpoch - started.microsSinceEpoch
        totals.tickDurations.observe(micros: report.durationMicros)
        refreshStatus(report: report)
        return report
    }

    func runTick(_ report: inout TickReport, log: Log) {
        var phases = TickPhases()
        defer { lastTickPhases = phases.marks }
        guard let (state, epoch) = checkJournalAndFlag(&report, log: log) else { return }
        loadPolicies(log: log)
        guard let observed = observe(state, &report, log: log) else { return }
        report.campaigns = observed.campaigns.count
        var states = observed.campaigns.map { memory[$0.config.id]?.control ?? CampaignControl() }
        // Operators' releases, applied to the campaigns read this tick; the rest wait.
        let observedIDs = Set(observed.campaigns.map(\.config.id))
        let released = releases.with { r in
            defer { r.subtract(observedIDs) }
            return r.intersection(observedIDs)
        }
        for (i, c) in observed.campaigns.enumerated() where released.contains(c.config.id) {
            states[i].anomaly.release()
            states[i].quarantinedSince = nil
        }
        let before = Before(states: states, platformBreaker: platformBreaker.state)
        phases.mark("observe")
        let (decisions, explored) = decide(state, observed, &states, now: report.at)
        phases.mark("decide")
        // Durable before anything is applied.
        guard let refs = journalOrHalt(&report, log: log, { () throws(JournalError) in
            try appendDecisions(decisions, explored: explored)
        }) else { return }
        report.decisions = decisions.count
        phases.mark("journal decisions")
        notePeriods(decisions, refs: refs, explored: explored)
        onDecisions?(decisions)
        actOnSafety(decisions, observed, state: state, epoch: epoch, log: log)
        let results = applyWrites(decisions, refs: refs, observed, &states, &report, epoch: epoch)
        phases.mark("apply")
        let outcomes = results + notes(observed, states, before) + settledRewards(observed, now: report.at)
        guard
            journalOrHalt(&report, log: log, unsettledOnFailure: true, { () throws(JournalError) in
                try appendInBatches(outcomes)
            }) != nil
        else { return }
        phases.mark("journal outcomes")
        updateEvidence(
            state, decisions, observed, states: states, breakersBefore: before.breakers, epoch: epoch, log: log)
        count(report)
        updateLastDecisions(decisions, refs: refs, observed: observed)
        phases.mark("evidence")
        if snapshotAfterEveryTick { persist(anomaly: observed.campaigns.contains { !$0.newHours.isEmpty }, log: log) }
        phases.mark("snapshot")
    }

    /// Where a tick's time went, phase by phase (`adpilot-bench daemon` prints them).
    struct TickPhases {
        private var last = DispatchTime.now().uptimeNanoseconds
        private(set) var marks: [(phase: String, micros: Int64)] = []

        mutating func mark(_ phase: String) {
            let now = DispatchTime.now().uptimeNanoseconds
            marks.append((phase, Int64((now - last) / 1_000)))
            last = now
        }
    }

    /// Breaker and anomaly levels as the tick found them, to journal what it changed.
    struct Before {
        let breakers: [BreakerState]
        let anomaly: [Severity]
        let quarantined: [Bool]
        let platformBreaker: BreakerState

        init(states: [CampaignControl], platformBreaker: BreakerState) {
            breakers = states.map(\.breaker.state)
            anomaly = states.map(\.anomaly.assessment.level)
            quarantined = states.map { $0.quarantinedSince != nil }
            self.platformBreaker = platformBreaker
        }
    }

    /// Nothing can be decided without a journal to record it in. A tick that broke it
    /// halted already; a break outside a tick (a reload, a verb) halts here. The daemon
    /// then exits, and start-up reopens the journal. A flag that appeared halts too.
    /// Returns the control state to decide under, or nil when halted.
    func checkJournalAndFlag(_ report: inout TickReport, log: Log) -> (ControlState, UInt64)? {
        if journal.isPoisoned {
            if !isHaltInForce || !stateDir.isHalted {
                log.critical("the journal cannot be written; halting (fail closed)", [:])
                _ = halt(actor: .system, reason: "the journal cannot be written", log: log)
            }
            report.error = "the journal cannot be written; every budget holds until adpilotd restarts and reopens it"
            return nil
        }
        // A halt in this process raises the flag before it takes the control lock to
        // journal itself; the tick must not mistake that flag for a new one and journal a
        // second halt.
        if !isHaltInForce && control.with({ $0.mode != .halted && stateDir.isHalted }) {
            _ = halt(actor: .system, reason: "the halt flag \(stateDir.haltFlag) appeared", log: log)
        }
        let (state, epoch) = control.with { ($0, controlEpoch.load(ordering: .acquiring)) }
        return state.mode == .halted ? nil : (state, epoch)
    }

    /// Every campaign listed, or nil (journaled as `tick_failed`) when the list could not be
    /// read. A campaign whose metrics could not be read holds alone (`Observer.unreadable`),
    /// journaled as `unreadable`.
    func observe(_ state: ControlState, _ report: inout TickReport, log: Log) -> Observer.Observed? {
        let observed: Observer.Observed
        do {
            observed = try Observer.observe(
                platform, config: config, now: report.at, mode: state.mode, memory: memory, clock: clock,
                cache: &hourCache)
        } catch {
            report.error = "cannot list campaigns: \(error)"
            journalBestEffort(
                RecordKind.tickFailed, TickFailedRecord(tick: tickCount, problem: report.error!, campaigns: nil),
                log: log)
            log.warning("tick \(tickCount): \(report.error!); budgets hold", [:])
            return nil
        }
        report.observeFailures = observed.failures.count
        guard let first = observed.failures.first else { return observed }
        let problem =
            "\(observed.failures.count) campaign(s) unreadable, first \(first.campaign): \(first.error); each holds "
            + "alone, counted in the account cap at its whole budget"
        journalBestEffort(
            RecordKind.unreadable,
            TickFailedRecord(tick: tickCount, problem: problem, campaigns: observed.failures.map(\.campaign)), log: log)
        log.warning("tick \(tickCount): \(problem)")
        return observed
    }

    /// The pure pipeline over every campaign; the new controller state is kept in memory.
    func decide(
        _ state: ControlState, _ observed: Observer.Observed, _ states: inout [CampaignControl],
        now: Instant
    ) -> (decisions: [Decision], explored: [CampaignID: Exploration]) {
        let haltFlag = haltRequested.load(ordering: .acquiring)
        var explored: [CampaignID: Exploration] = [:]
        let decisions = Tick.run(
            control: state, haltFlag: haltFlag, settings: config.tick, now: now,
            campaigns: observed.campaigns, states: &states,
            platformBreaker: &platformBreaker
        ) { i, assignment, pacer in
            let c = observed.campaigns[i]
            let proposal = propose(assignment.policy, c, pacer: pacer, now: now)
            // Only the policy that writes explores (docs/evaluation.md).
            guard assignment.mayWrite else { return proposal }
            let (taken, exploration) = Exploration.explore(
                proposal, config.exploration, campaign: c.config.id, slot: now, tickSeconds: config.tickSeconds)
            if let exploration { explored[c.config.id] = exploration }
            return taken
        }
        for (i, c) in observed.campaigns.enumerated() {
            var m = memory[c.config.id] ?? CampaignMemory()
            m.control = states[i]
            if let last = c.newHours.last { m.lastIngestedHour = max(m.lastIngestedHour ?? last.hour, last.hour) }
            memory[c.config.id] = m
        }
        return (decisions, explored)
    }

    /// Appends durably, or halts (fail closed) and returns nil. `unsettledOnFailure`: the
    /// entries are outcomes of journaled decisions, so no snapshot may be written past them.
    func journalOrHalt(
        _ report: inout TickReport, log: Log, unsettledOnFailure: Bool = false,
        _ append: () throws(JournalError) -> [RecordRef]
    ) -> [RecordRef]? {
        do {
            return try append()
        } catch {
            report.error = "journal write failed: \(error)"
            if unsettledOnFailure { unsettled = true }
            let what = unsettledOnFailure ? "apply results" : "decisions"
            log.critical("cannot journal \(what): \(error); halting (fail closed)", [:])
            _ = halt(actor: .system, reason: "the journal cannot be written: \(error)", log: log)
            return nil
        }
    }

    /// Conditions that halt everything are acted on before the first write (`TickSafety`).
    func actOnSafety(
        _ decisions: [Decision], _ observed: Observer.Observed, state: ControlState, epoch: UInt64,
        log: Log
    ) {
        let spend = observed.campaigns.map(\.observation.spendTodayMicros)
        switch TickSafety.check(
            decisions, spendTodayMicros: spend, dailyCapMicros: config.account.dailyCapMicros,
            state: state, anomaly: config.anomaly)
        {
        case nil:
            return
        case .halt(let reason):
            _ = halt(actor: .system, reason: reason, log: log)
        case .rollbackLive(let reason, let otherwise):
            // A live policy that errors or returns NaN leaves its scope: back to the
            // previous live policy, otherwise nothing writes.
            let result = try? transition(.rollback, actor: .system, reason: reason, log: log, unless: staleSince(epoch))
            if case .success = result { return }
            _ = halt(actor: .system, reason: otherwise, log: log)
        }
    }

    /// Every decision that writes goes through the write gate; returns the outcome records.
    func applyWrites(
        _ decisions: [Decision], refs: [RecordRef], _ observed: Observer.Observed,
        _ states: inout [CampaignControl], _ report: inout TickReport, epoch: UInt64
    ) -> [JournalEntry] {
        var results: [JournalEntry] = []
        let index = Dictionary(
            observed.campaigns.enumerated().map { ($0.element.config.id, $0.offset) },
            uniquingKeysWith: { a, _ in a })
        var writing: [(decision: Decision, seq: UInt64)] = []
        for (d, ref) in zip(decisions, refs) {
            if d.action == .hold, let r = d.reason { report.vetoes[r.rawValue, default: 0] += 1 }
            if d.action == .hold { report.holds += 1 }
            guard d.writes, index[d.campaign] != nil else { continue }
            writing.append((d, ref.seq))
        }
        func record(_ result: ApplyResultRecord, _ i: Int) {
            report.applies += 1
            switch result.status {
            case .confirmed: report.confirmed += 1
            case .skipped: report.skippedByHalt += 1
            case .failed, .unconfirmed: report.writeFailures += 1
            }
            memory[result.campaign]?.control.breaker = states[i].breaker
            results.append(JournalEntry(kind: RecordKind.applyResult, data: RecordCoding.bytes(result, encoder)))
        }
        // One at a time, or in the platform's batches (halt and epoch checked per batch).
        let batchMax = max(1, platform.budgetBatchMax)
        var next = 0
        while next < writing.count {
            let chunk = Array(writing[next..<min(writing.count, next + batchMax)])
            next += chunk.count
            if chunk.count == 1 {
                let (d, seq) = chunk[0]
                let i = index[d.campaign]!
                record(apply(d, seq: seq, now: report.at, epoch: epoch, campaignBreaker: &states[i].breaker), i)
                continue
            }
            for (result, scope) in applyBatch(chunk, now: report.at, epoch: epoch) {
                let i = index[result.campaign]!
                if scope != .platform && result.status != .skipped {
                    states[i].breaker.record(failure: scope == .campaign, config.breaker, at: report.at)
                }
                record(result, i)
            }
        }
        return results
    }

    /// `breaker`, `anomaly` and `quarantine` records for every level the tick changed.
    func notes(_ observed: Observer.Observed, _ states: [CampaignControl], _ before: Before) -> [JournalEntry] {
        var notes: [JournalEntry] = []
        for (i, c) in observed.campaigns.enumerated() {
            if states[i].breaker.state != before.breakers[i] {
                notes.append(
                    JournalEntry(
                        kind: RecordKind.breaker,
                        data: RecordCoding.bytes(
                            BreakerRecord(
                                scope: "campaign", campaign: c.config.id, from: before.breakers[i],
                                to: states[i].breaker.state), encoder)))
            }
            let level = states[i].anomaly.assessment.level
            if level != before.anomaly[i] {
                notes.append(
                    JournalEntry(
                        kind: RecordKind.anomaly,
                        data: RecordCoding.bytes(
                            AnomalyRecord(
                                campaign: c.config.id, level: level.name, from: before.anomaly[i].name,
                                findings: states[i].anomaly.assessment.findings), encoder)))
            }
            if let q = quarantineChange(c.config.id, states[i], wasQuarantined: before.quarantined[i]) {
                notes.append(JournalEntry(kind: RecordKind.quarantine, data: RecordCoding.bytes(q, encoder)))
            }
        }
        if platformBreaker.state != before.platformBreaker {
            notes.append(
                JournalEntry(
                    kind: RecordKind.breaker,
                    data: RecordCoding.bytes(
                        BreakerRecord(
                            scope: "platform", campaign: nil, from: before.platformBreaker, to: platformBreaker.state),
                        encoder)))
        }
        return notes
    }

    func quarantineChange(_ id: CampaignID, _ state: CampaignControl, wasQuarantined: Bool) -> QuarantineRecord? {
        let findings = state.anomaly.assessment.findings
        switch (wasQuarantined, state.quarantinedSince != nil) {
        case (false, true):
            return QuarantineRecord(
                campaign: id, action: .enter, actor: .system,
                reason: "critical anomaly: " + findings.map(\.check).joined(separator: ", ")
                    + "; this campaign holds its budget, the others go on", findings: findings)
        case (true, false):
            return QuarantineRecord(
                campaign: id, action: .release, actor: .system,
                reason: "the anomaly cleared after \(config.anomaly.clearAfterHours) quiet hour(s)")
        default:
            return nil
        }
    }

    func count(_ report: TickReport) {
        totals.decisions += UInt64(report.decisions)
        totals.applies += UInt64(report.confirmed)
        totals.writeFailures += UInt64(report.writeFailures)
        for (k, v) in report.vetoes { totals.vetoes[k, default: 0] += UInt64(v) }
    }

    /// Records per journal append: large enough for group commit to pay, small enough that
    /// a halt from the socket never waits long for the journal lock.
    static let journalBatchRecords = 256

    func appendInBatches(_ entries: [JournalEntry]) throws(JournalError) -> [RecordRef] {
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

    func propose(_ id: PolicyID, _ c: TickCampaign, pacer: PacerReport, now: Instant) -> Proposal {
        guard let p = policies[id] else { return .failed("policy \(id) is not loaded") }
        let ctx = PolicyContext(
            observation: c.observation, pacer: pacer,
            local: LocalTime(now, utcOffsetSeconds: config.account.utcOffsetSeconds), campaign: c.config)
        return p.runtime.propose(ctx)
    }

    func journalBestEffort<T: Encodable>(_ kind: String, _ record: T, log: Log) {
        do {
            _ = try journal.append(kind: kind, data: RecordCoding.bytes(record, encoder))
        } catch {
            log.critical("cannot journal \(kind): \(error); halting (fail closed)", [:])
            _ = halt(actor: .system, reason: "the journal cannot be written: \(error)", log: log)
        }
    }
}
