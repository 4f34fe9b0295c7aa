package import AdPilotControl
import AdPilotCore
import AdPilotJournal
import AdPilotPlatforms
import AdPilotPolicy
package import AdPilotSystem
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
/// together under docs/state-machine.md and docs/decision-pipeline.md. The tick runs on
/// one thread; the control socket calls `halt`, `resume` and `status` from others. One
/// file per responsibility: Startup, Recovery, Snapshot, Tick, WriteGate, Commands,
/// Evidence, Reload, ControllerStatus.
///
/// Safety rules kept here:
/// - every decision is durable in the journal before any write it asks for (Tick);
/// - the halt flag (in memory and `<state>/HALT`) is checked under `gate` right before
///   every platform write starts, and `halt` raises it under the same lock, so no write
///   starts after a halt is acknowledged; no lock is held across network I/O, so a hung
///   platform never delays a halt (WriteGate owns this, with the epoch);
/// - a journal that cannot be written halts the controller (fail closed).
package final class Controller: @unchecked Sendable {
    package internal(set) var config: ServiceConfig
    package let stateDir: StateDirectory
    let platform: any AdPlatform
    let clock: any TimeSource
    let journal: JournalSink
    let control: Guarded<ControlState>
    let haltRequested = Atomic<Bool>(false)
    /// Bumped by every transition, under the control lock. A tick's writes carry the
    /// epoch it decided under and are skipped once it has moved: a halt followed by a
    /// resume (or any other transition) during a tick never lets the old decisions through.
    let controlEpoch = Atomic<UInt64>(0)
    /// What the candidate has shown in the current mode (the promotion gates' input).
    let evidence: Guarded<Evidence>
    /// Decisions were journaled whose outcomes could not be: no snapshot may be written
    /// past them, so the next start reconciles them.
    var unsettled = false
    /// The write the tick has on the wire; its lock orders "halt raised" against "write
    /// started" (WriteGate).
    let gate = Guarded<WriteInFlight?>(nil)
    var policies: [PolicyID: LoadedPolicy] = [:]
    var memory: [CampaignID: CampaignMemory] = [:]
    /// Quarantined campaigns an operator released (journaled already); the next tick
    /// clears their detectors before it decides.
    let releases = Guarded<Set<CampaignID>>([])
    /// Completed hours already read (the tick thread's only).
    var hourCache = HourCache()
    /// Hours that explored decisions govern, not yet settled, with the decisions' seqs
    /// (`Rewards.swift`; in memory: a restart forgets them).
    var pendingPeriods: [CampaignID: [ExploredHour]] = [:]
    /// The shadow candidate's settled explored hours (`ValueEvidence.swift`; the tick
    /// thread's only; read back from the journal at start-up).
    var valueSample = ValueSample(candidate: nil, since: Instant(microsSinceEpoch: 0))
    var valueRestore = ValueRestore()
    /// An estimate of `valueSample` is running on its own thread (`estimateValue`), and the
    /// last one finished, with the sample (candidate, evidence start) it was made from.
    let valueEstimating = Atomic<Bool>(false)
    let valueEstimate = Guarded<(candidate: PolicyID?, since: Instant, value: ValueEvidence)?>(nil)
    var platformBreaker = CircuitBreaker()
    var tickCount: UInt64 = 0
    /// Per campaign and slot, the last decision whose record carried its delivery profile
    /// (`DecisionJournal.swift`).
    var deliveryCarriers: [DeliveryCarrier.Key: DeliveryCarrier] = [:]
    let statusView: Guarded<StatusView>
    var totals = DecisionTotals()
    let encoder = RecordEncoder()
    /// Test-only (ADPILOT_TEST_FAULTS): real time spent before each platform write, to
    /// widen the window between a decision and its outcome for crash tests.
    package var applyDelayMillis = 0
    /// Sees every tick's decisions once they are journaled (`adpilotctl simulate` reads the
    /// pacer's plan from them); nil in the daemon.
    var onDecisions: (([Decision]) -> Void)? = nil
    /// False: the snapshot is written at shutdown only, not after every tick. For
    /// `adpilotctl simulate`, whose controllers nothing restarts; the daemon always writes it.
    var snapshotAfterEveryTick = true
    package let snapshots = SnapshotWriter()
    /// Decisions encoded together, journaled while the next block encodes (`appendDecisions`).
    package var decisionBlock = 4_096
    /// One per core: they encode the next block while the tick thread writes this one.
    package var blockEncoders = (0..<max(1, ProcessInfo.processInfo.activeProcessorCount)).map { _ in
        BackgroundWorker(name: "adpilot-encode")
    }
    /// The last tick's phases and their durations, in order (observe, decide, ...).
    package internal(set) var lastTickPhases: [(phase: String, micros: Int64)] = []
    /// Ticks run by this process.
    package internal(set) var ticksThisRun: UInt64 = 0

    init(
        config: ServiceConfig, stateDir: StateDirectory, platform: any AdPlatform, clock: any TimeSource,
        journal: JournalSink, control: ControlState
    ) {
        self.config = config
        self.stateDir = stateDir
        self.platform = platform
        self.clock = clock
        self.journal = journal
        self.control = Guarded(control)
        self.evidence = Guarded(Evidence(mode: control.mode, candidate: control.candidate, since: control.modeSince))
        self.statusView = Guarded(
            StatusView(
                platform: platform.name, configDigest: config.digest.hex, gateConfig: config.gates,
                policyDirs: config.policyDirs))
        platform.abandonRetries(when: { [unowned self] in haltRequested.load(ordering: .acquiring) })
    }
}
