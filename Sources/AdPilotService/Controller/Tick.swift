package import AdPilotControl
package import AdPilotCore
import AdPilotJournal
package import AdPilotPlatforms
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
        var report = TickReport(tick: tickCount, at: clock.now())
        runTick(&report, log: log)
        report.durationMicros = SystemClock().now().microsSinceEpoch - started.microsSinceEpoch
        refreshStatus(report: report)
        return report
    }

    func runTick(_ report: inout TickReport, log: Log) {
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
    func encode(_ decisions: [Decision]) -> [JournalEntry] {
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
        let ctx = PolicyContext(observation: c.observation, pacer: pacer,
                                local: LocalTime(now, utcOffsetSeconds: config.account.utcOffsetSeconds), campaign: c.config)
        return p.runtime.propose(ctx)
    }

    /// Spend already past the account's hard daily cap halts everything (docs/state-machine.md).
    func capBreach(_ observed: Observer.Observed) -> String? {
        let spent = observed.campaigns.reduce(Int128(0)) { $0 + Int128($1.observation.spendTodayMicros.rawValue) }
        guard spent > Int128(config.account.dailyCapMicros.rawValue) else { return nil }
        return "account spend today \(Micros(Int64(min(spent, Int128(Int64.max))))) exceeds the hard cap \(config.account.dailyCapMicros)"
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
