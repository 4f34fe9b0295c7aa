import AdPilotControl
package import AdPilotCore
import AdPilotJournal
import AdPilotPlatforms
import AdPilotPolicy
import AdPilotSystem
import Foundation
import Synchronization

/// Operator and system verbs: every transition journaled first, then in effect.
extension Controller {
    /// Applies a state machine verb: journaled first, then in effect. Halt goes through
    /// `halt` instead (it must stop writes even when the journal cannot be written).
    /// `unless` runs under the control lock first: a caller that decided on an earlier
    /// view of the state (gates measured, a tick's evidence) refuses if it has moved.
    @discardableResult
    package func transition(
        _ command: Command, actor: Actor, reason: String, log: Log, gates: [GateCheck]? = nil,
        unless stale: (ControlState) -> Refusal? = { _ in nil },
        prepare: Preparation? = nil,
        then effect: (Transition) throws -> Void = { _ in }
    ) throws -> Result<Transition, Refusal> {
        try control.with { state throws -> Result<Transition, Refusal> in
            if let refusal = stale(state) { return .failure(refusal) }
            let result = StateMachine.apply(command, to: state, actor: actor, reason: reason, at: clock.now())
            guard case .success(let t) = result else { return result }
            if let refusal = prepare?.run() { return .failure(refusal) }
            let ref: RecordRef
            do {
                // A fresh encoder: this runs on the socket's threads as well as the tick's.
                ref = try journal.append(
                    kind: TransitionRecord.kind(for: t.verb.rawValue),
                    data: RecordCoding.bytes(TransitionRecord(t, gates: gates)))
            } catch {
                prepare?.undo()
                throw error
            }
            state = t.after
            controlEpoch.wrappingAdd(1, ordering: .acquiringAndReleasing)
            resetEvidence(for: t.after, at: t.at, seq: ref.seq)
            try effect(t)
            log.notice(
                "\(t.verb.rawValue) by \(actor): \(t.before.mode.rawValue) -> \(t.after.mode.rawValue) (\(reason))",
                ["ADPILOT_SEQ": "\(ref.seq)", "ADPILOT_MODE": t.after.mode.rawValue])
            return result
        }
    }

    /// Returns to shadow (docs/state-machine.md): journaled, then the flag is cleared.
    /// The flag goes inside the same critical section as the transition, so a tick never
    /// sees "shadow, flag present" and mistakes the resume for a new halt.
    package func resume(actor: Actor, reason: String, log: Log) throws -> Result<Transition, Refusal> {
        // Without a reserve, a halt forced by a full disk would not outlive a restart.
        do { try stateDir.prepareHaltReserve() } catch {
            return .failure(
                Refusal(
                    code: "no_halt_reserve",
                    message: "cannot write \(stateDir.haltReserve) (\(error)): "
                        + "free space in \(stateDir.path) first; the halt stays in force", allowed: [.halt],
                    failedGates: []))
        }
        // The flag goes before the record: a resume that cannot remove it changes nothing
        // and journals nothing. The control lock is held throughout, so no tick sees the
        // gap; if the record then cannot be written, the flag is raised again.
        let flag = Preparation(
            run: { [stateDir] in
                do {
                    try stateDir.clearHaltFlag()
                    return nil
                } catch {
                    return Refusal(
                        code: "halt_flag_stuck",
                        message: "cannot remove \(stateDir.haltFlag) (\(error)): remove it by hand (whatever it "
                            + "is: file, directory or link) and resume again; the halt stays in force",
                        allowed: [.halt, .resume], failedGates: [])
                }
            },
            undo: { [stateDir] in try? stateDir.raiseHaltFlag(note: "halted: a resume could not be journaled") })
        return try transition(
            .resume, actor: actor, reason: reason, log: log, prepare: flag,
            then: { _ in haltRequested.store(false, ordering: .releasing) })
    }

    /// A step a verb must take before it is journaled, refusing the verb when it cannot,
    /// and its undo should the journal then refuse the record.
    package struct Preparation {
        let run: () -> Refusal?
        let undo: () -> Void
    }

    package var controlState: ControlState { control.current }

    /// Refuses when any transition happened since `epoch` (the caller's view is stale).
    func staleSince(_ epoch: UInt64) -> (ControlState) -> Refusal? {
        { [unowned self] state in
            self.controlEpoch.load(ordering: .acquiring) == epoch
                ? nil
                : Refusal(
                    code: "state_changed",
                    message: "the control state changed while this was being decided; nothing done",
                    allowed: StateMachine.allowedVerbs(in: state), failedGates: [])
        }
    }

    /// `stage NAME@VERSION`: the policy must be found and load with every check first.
    package func stage(_ id: PolicyID, actor: Actor, reason: String, log: Log) throws -> Result<Transition, Refusal> {
        let dirs = statusView.current.policyDirs + [stateDir.policies]  // this runs on a socket thread
        guard let path = PolicyStore.find(id, in: dirs) else {
            return .failure(
                Refusal(
                    code: "no_such_policy",
                    message: "no policy \(id) in \(dirs.joined(separator: ", ")); "
                        + "adpilotctl policy list shows what is installed",
                    allowed: StateMachine.allowedVerbs(in: controlState), failedGates: []))
        }
        do {
            _ = try FrozenPolicy.load(directory: path)
        } catch {
            return .failure(
                Refusal(
                    code: "policy_refused", message: "\(id) does not load: \(error)",
                    allowed: StateMachine.allowedVerbs(in: controlState), failedGates: []))
        }
        return try transition(.stage(id), actor: actor, reason: reason, log: log)
    }

    /// `promote [--override-gates]`: the gates are evaluated now and journaled with the step.
    package func promote(
        overrideGates: Bool, actor: Actor, reason: String, log: Log
    ) throws -> (Result<Transition, Refusal>, [GateCheck]) {
        let epoch = controlEpoch.load(ordering: .acquiring)
        let gates = currentGates()  // measured for the state of `epoch`; refused below if it moved
        return (
            try transition(
                .promote(gates: gates, overrideGates: overrideGates), actor: actor, reason: reason, log: log,
                gates: gates,
                unless: staleSince(epoch)), gates
        )
    }

    package func rollback(actor: Actor, reason: String, log: Log) throws -> Result<Transition, Refusal> {
        try transition(.rollback, actor: actor, reason: reason, log: log)
    }

    /// `release CAMPAIGN`: an operator ends a quarantine. Journaled at once; the next tick
    /// clears the campaign's detector before it decides. If the anomaly persists, the
    /// detector quarantines it again after `raise_after_hours`.
    package func release(
        _ campaign: CampaignID, actor: Actor, reason: String, log: Log
    ) throws -> Result<String, Refusal> {
        let allowed = StateMachine.allowedVerbs(in: controlState)
        guard reason.contains(where: { !$0.isWhitespace }) else {
            return .failure(
                Refusal(
                    code: "reason_required", message: "release needs --reason TEXT: it goes into the journal",
                    allowed: allowed, failedGates: []))
        }
        let quarantined = statusView.current.quarantined
        guard quarantined[campaign] != nil else {
            let held = quarantined.keys.sorted().map(\.rawValue)
            return .failure(
                Refusal(
                    code: "not_quarantined",
                    message: "\(campaign) is not quarantined (quarantined now: "
                        + "\(held.isEmpty ? "none" : held.joined(separator: ", "))); adpilotctl status lists them",
                    allowed: allowed, failedGates: []))
        }
        let record = QuarantineRecord(campaign: campaign, action: .release, actor: actor, reason: reason)
        let ref = try journal.append(kind: RecordKind.quarantine, data: RecordCoding.bytes(record))
        releases.with { _ = $0.insert(campaign) }
        statusView.with { _ = $0.quarantined.removeValue(forKey: campaign) }
        log.notice(
            "release of \(campaign) by \(actor) (\(reason)): it follows the pipeline again from the next tick",
            ["ADPILOT_SEQ": "\(ref.seq)", "ADPILOT_CAMPAIGN": campaign.rawValue])
        return .success(
            "released \(campaign) (journal seq \(ref.seq)); it follows the pipeline again from the next tick")
    }
}
