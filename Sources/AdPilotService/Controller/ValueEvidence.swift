import AdPilotCore
import AdPilotJournal
import AdPilotSystem
import Foundation

/// The evidence behind the value gates (docs/evaluation.md, docs/state-machine.md): in
/// shadow, the candidate's off-policy value against the live policy's from the settled
/// explored hours; in canary, each settled hour of both cohorts for the confidence sequence.
extension Controller {
    /// What an explored hour needs for off-policy evaluation besides its reward: the action
    /// taken, the writer's own (unexplored) action, the behaviour density, and the
    /// candidate's action in the same tick (nil without a shadow candidate).
    struct ExploredHour {
        var hour: Int64
        var seq: UInt64
        var action: Double
        var reference: Double
        var density: Double
        var scale: Double
        var candidate: PolicyID?
        var target: Double?
    }

    /// The shadow candidate's sample: settled explored hours with the candidate's action,
    /// for the candidate and evidence they were gathered for.
    struct ValueSample {
        var candidate: PolicyID?
        var since: Instant
        var periods: [OffPolicy.Period] = []
        var reference: [Double] = []
        var numbering = OffPolicy.CampaignDays()
        var scale = 0.0
        /// Periods added since the estimate was last computed.
        var fresh = 0
    }

    /// The shadow sample being read back after a restart (tick thread only, but `done`,
    /// which the reading thread fills).
    struct ValueRestore {
        var running = false
        var queued: [(hour: ExploredHour, campaign: CampaignID, profit: Double, evidence: Evidence)] = []
        let done = Guarded<ValueSample?>(nil)
    }

    /// Bootstrap replicates in the daemon's estimate (`adpilotctl evidence` draws 500).
    static let valueReplicates = 200

    /// The explored hour `d` (a writer's decision) begins, with the candidate's action for
    /// the same campaign in the same tick.
    static func exploredHour(
        _ d: Decision, seq: UInt64, exploration e: Exploration, candidate: Decision?
    ) -> ExploredHour? {
        let hourMicros = Instant.secondsPerHour * Instant.microsPerSecond
        let recommended = d.pacer.recommendedBudgetMicros.statistic
        guard let action = EvidenceLog.logAction(d.proposal, d.pacer.recommendedBudgetMicros), recommended > 0 else {
            return nil
        }
        return ExploredHour(
            hour: d.input.now.microsSinceEpoch.floorDiv(hourMicros), seq: seq, action: action,
            reference: log(e.unexploredMicros / recommended), density: e.density, scale: e.scale,
            candidate: candidate?.input.policy,
            target: candidate.flatMap { EvidenceLog.logAction($0.proposal, $0.pacer.recommendedBudgetMicros) })
    }

    /// A settled explored hour joins the shadow sample when it was gathered for the
    /// evidence's candidate (`e`, read once per tick), in shadow, after the evidence began.
    func addToValueSample(_ h: ExploredHour, campaign: CampaignID, profitMicros: Double, evidence e: Evidence) {
        guard takeRestoredValueSample() else {
            valueRestore.queued.append((h, campaign, profitMicros, e))
            return
        }
        let hourStart = Instant(microsSinceEpoch: h.hour * Instant.secondsPerHour * Instant.microsPerSecond)
        guard e.mode == .shadow, let candidate = e.candidate, h.candidate == candidate, let target = h.target,
            hourStart >= e.since
        else { return }
        if valueSample.candidate != candidate || valueSample.since != e.since {
            valueSample = ValueSample(candidate: candidate, since: e.since)
        }
        valueSample.periods.append(
            valueSample.numbering.period(
                campaign: campaign, hourStart: hourStart, action: h.action, behaviourAction: h.reference,
                behaviourDensity: h.density, target: target, reward: profitMicros))
        valueSample.reference.append(h.reference)
        valueSample.scale = h.scale
        valueSample.fresh += 1
    }

    /// After a restart in shadow: the sample read back from the journal, from the transition
    /// that began the evidence through the head at the start (the hours pending at the stop
    /// were never credited, as always). On its own thread: a long shadow's journal takes
    /// seconds to read, and start-up, ticks and halts never wait for it. Hours credited
    /// meanwhile wait in `valueRestore.queued` and join the sample after it. A journal that
    /// cannot be read back is logged, and the sample starts from the hours settled from now.
    func restoreValueSample(_ state: ControlState, log: Log) {
        let e = evidence.current
        guard e.mode == .shadow, let candidate = e.candidate, state.live != nil, config.exploration.scale > 0
        else { return }
        let reader = JournalReader(directory: stateDir.journal)
        let through = journal.head.seq
        valueRestore.running = true
        let done = valueRestore.done
        Thread {
            var sample = ValueSample(candidate: candidate, since: e.since)
            do {
                let read = try EvidenceLog.read(
                    reader, fromSeq: e.sinceSeq ?? 1, throughSeq: through, candidate: candidate)
                sample.numbering = read.numbering
                for p in read.periods where p.hourStart >= e.since {
                    var period = p.period
                    period.reward *= 1e6  // the log's rewards are in currency units, the daemon's in micros
                    sample.periods.append(period)
                    sample.reference.append(p.reference)
                }
                sample.scale = read.scale ?? 0
                sample.fresh = sample.periods.count
            } catch {
                log.error(
                    "the shadow sample for \(candidate) could not be read back from the journal (\(error)); the "
                        + "value gate starts from the hours settled from now on")
            }
            done.with { $0 = sample }
        }.start()
    }

    /// Whether the read-back of the shadow sample has finished, or never started. The bench
    /// starts controllers one after another on one large journal: it waits for this, so that
    /// a start is not measured beside the last one's reading.
    package var valueRestoreFinished: Bool { !valueRestore.running || valueRestore.done.with { $0 != nil } }

    /// On the tick: the read-back sample, once its thread has finished, with the hours
    /// credited meanwhile added after it. False while it is still being read.
    func takeRestoredValueSample() -> Bool {
        guard valueRestore.running else { return true }
        guard let sample = valueRestore.done.with({ s -> ValueSample? in
            defer { s = nil }
            return s
        }) else { return false }
        valueRestore.running = false
        valueSample = sample
        for q in valueRestore.queued {
            addToValueSample(q.hour, campaign: q.campaign, profitMicros: q.profit, evidence: q.evidence)
        }
        valueRestore.queued = []
        return true
    }

    /// What the shadow value evidence says now (nil outside shadow with a candidate). The
    /// estimate itself (a bootstrap over every settled explored hour, which grows with the
    /// account and the shadow's length) is computed off the tick thread (`estimateValue`):
    /// a tick, a halt's reply or a stop never waits for it.
    func currentValueEvidence(_ state: ControlState) -> ValueEvidence? {
        guard state.mode == .shadow, state.candidate != nil else { return nil }
        guard let live = state.live else { return ValueEvidence(live: nil, unavailable: nil) }
        guard config.exploration.scale > 0 else {
            return ValueEvidence(
                live: live,
                unavailable: "exploration is off (exploration.scale 0): IPS, SNIPS and DR need the behaviour "
                    + "density of explored decisions; no estimate")
        }
        guard takeRestoredValueSample() else {
            return ValueEvidence(live: live, unavailable: "reading the shadow sample back from the journal")
        }
        guard valueSample.candidate == state.candidate, !valueSample.periods.isEmpty else {
            return ValueEvidence(
                live: live, unavailable: "no settled explored hour yet (an hour settles \(Observing.settleHours) h "
                    + "after it ends)")
        }
        if valueSample.fresh > 0 && estimateValue(live: live) { valueSample.fresh = 0 }
        if let done = valueEstimate.current, done.candidate == valueSample.candidate,
            done.since == valueSample.since, done.value.live == live
        {
            return done.value
        }
        return ValueEvidence(
            live: live, unavailable: "first estimate being computed from \(valueSample.periods.count) settled hours")
    }

    /// Starts the estimate of the current sample on its own thread, unless one is running
    /// (false: try again next tick). The result goes to `valueEstimate`, labelled with the
    /// sample it came from; the tick takes it while the sample is still that one.
    func estimateValue(live: PolicyID) -> Bool {
        let started = valueEstimating.compareExchange(
            expected: false, desired: true, ordering: .acquiringAndReleasing)
        guard started.exchanged else { return false }
        let sample = valueSample
        let thread = Thread { [self] in
            defer { valueEstimating.store(false, ordering: .releasing) }
            let report = OffPolicy.evaluate(
                sample.periods, reference: sample.reference, bandwidth: sample.scale,
                ridge: OffPolicy.ridge(scale: sample.scale), weightMax: OffPolicy.weightMax,
                replicates: Self.valueReplicates, seed: 1)
            let dr = report.comparison(.dr)
            let value = ValueEvidence(
                live: live, unavailable: nil, periods: report.periods, effectiveSampleSize: report.effectiveSampleSize,
                support: report.support, liveValue: dr?.reference, difference: dr?.difference)
            valueEstimate.with { $0 = (sample.candidate, sample.since, value) }
        }
        thread.start()
        return true
    }

    /// Hours of history each cohort's baseline averages: two days, each hour of the day
    /// twice, all settled before the canary began and all within the hour cache.
    static let baselineHours: Int64 = 48

    /// Each cohort's baseline, from the settled hours before the canary began, while the
    /// canary's evidence has none and every campaign was read this tick.
    func cohortBaselines(_ observed: Observer.Observed) -> (canary: CohortBaseline?, control: CohortBaseline?) {
        let e = evidence.current
        guard e.mode == .canary, e.canaryBaseline == nil || e.controlBaseline == nil,
            observed.readable.allSatisfy({ $0 })
        else { return (nil, nil) }
        // The hour in progress when the canary began, less the settling time.
        let to = EvidenceFold.firstCanaryHour(e) - 1 - Observing.settleHours
        var canary: [CohortBaseline.Hour] = [], control: [CohortBaseline.Hour] = []
        for c in observed.campaigns {
            for h in hourCache.completedHours(c.config.id) where h.hour >= to - Self.baselineHours && h.hour < to {
                let hour = CohortBaseline.Hour(
                    hour: h.hour, profitMicros: h.conversionValueMicros.statistic - h.spendMicros.statistic,
                    spendMicros: h.spendMicros.statistic)
                if c.inCanaryScope { canary.append(hour) } else { control.append(hour) }
            }
        }
        let offset = config.account.utcOffsetSeconds
        return (
            CohortBaseline.measure(canary, from: to - Self.baselineHours, to: to, utcOffsetSeconds: offset),
            CohortBaseline.measure(control, from: to - Self.baselineHours, to: to, utcOffsetSeconds: offset)
        )
    }

    /// The hours that settled since the canary's last folded hour, each cohort's profit
    /// summed from the hour cache; none until every campaign was read this tick (a
    /// campaign missing from an hour would read as one that earned nothing).
    func settledPairedHours(_ observed: Observer.Observed, now: Instant) -> [PairedHour] {
        let e = evidence.current
        guard e.mode == .canary, observed.readable.allSatisfy({ $0 }) else { return [] }
        let hourMicros = Instant.secondsPerHour * Instant.microsPerSecond
        let settledBefore = now.microsSinceEpoch.floorDiv(hourMicros) - Observing.settleHours
        let first = max(
            EvidenceFold.firstCanaryHour(e), (e.lastPairedHour ?? .min) &+ 1, settledBefore - Observing.trailingHours)
        guard first < settledBefore else { return [] }
        return (first..<settledBefore).map { hour in
            var canary = 0.0, control = 0.0
            for c in observed.campaigns {
                guard let h = hourCache.completedHour(c.config.id, hour: hour) else { continue }
                let profit = h.conversionValueMicros.statistic - h.spendMicros.statistic
                if c.inCanaryScope { canary += profit } else { control += profit }
            }
            let hourOfDay = CohortBaseline.hourOfDay(hour, utcOffsetSeconds: config.account.utcOffsetSeconds)
            return PairedHour(
                hour: hour, hourOfDay: hourOfDay, canaryProfitMicros: canary, controlProfitMicros: control)
        }
    }
}
