/// One promotion gate's evaluation, printed as `name  required  measured  PASS|FAIL`.
package struct GateCheck: Hashable, Sendable, Codable {
    package let name: String
    package let required: String
    package let measured: String
    package let passed: Bool

    package init(name: String, required: String, measured: String, passed: Bool) {
        self.name = name
        self.required = required
        self.measured = measured
        self.passed = passed
    }
}

/// The operator verbs of docs/state-machine.md, plus the evidence a promotion carries.
package enum Command: Hashable, Sendable {
    case stage(PolicyID)
    /// `gates` are the checks for the step being attempted, evaluated by the caller.
    case promote(gates: [GateCheck], overrideGates: Bool)
    case rollback
    case halt
    case resume

    package var verb: Verb {
        switch self {
        case .stage: return .stage
        case .promote: return .promote
        case .rollback: return .rollback
        case .halt: return .halt
        case .resume: return .resume
        }
    }
}

package enum Verb: String, Hashable, Sendable, Codable, CaseIterable {
    case stage, promote, rollback, halt, resume
}

/// Why the state machine said no. `code` is stable (scripts match on it); `message` says
/// why in words; `allowed` lists the verbs that would be accepted in the current state.
package struct Refusal: Error, Hashable, Sendable, Codable, CustomStringConvertible {
    package let code: String
    package let message: String
    package let allowed: [Verb]
    package let failedGates: [GateCheck]

    package init(code: String, message: String, allowed: [Verb], failedGates: [GateCheck]) {
        self.code = code
        self.message = message
        self.allowed = allowed
        self.failedGates = failedGates
    }

    package var description: String {
        let options = allowed.map(\.rawValue).joined(separator: ", ")
        return "\(message) (allowed now: \(options.isEmpty ? "none" : options))"
    }
}

/// A transition that took place (or a no-op, such as halting while halted).
package struct Transition: Hashable, Sendable, Codable {
    package let verb: Verb
    package let actor: Actor
    package let at: Instant
    package let reason: String
    package let before: ControlState
    package let after: ControlState
    /// Set when gates failed and the operator overrode them.
    package let override: GateOverride?

    package var changed: Bool { before != after }
}

/// The transition table (docs/state-machine.md) as one pure function. Every cell is in
/// `apply` (one helper per mode); nothing else changes mode or slots.
package enum StateMachine {
    package static func apply(
        _ command: Command, to state: ControlState, actor: Actor,
        reason: String, at now: Instant
    ) -> Result<Transition, Refusal> {
        precondition(state.isConsistent, "state machine entered with an inconsistent state")
        let request = Request(state: state, actor: actor, reason: reason, now: now)

        guard reason.contains(where: { !$0.isWhitespace }) else {
            return .failure(
                request.refuse(
                    "reason_required", "every verb needs a reason (--reason TEXT): it goes into the journal"))
        }

        let cell: Result<Cell, Refusal>
        switch state.mode {
        case .shadow: cell = inShadow(command, request)
        case .canary: cell = inCanary(command, request)
        case .live: cell = inLive(command, request)
        case .halted: cell = inHalted(command, request)
        }
        return cell.map { cell in
            var next = cell.next
            if next.mode != state.mode { next.modeSince = now }
            if let o = cell.override { next.overrides.append(o) }
            next.overrides.removeAll { $0.policy != next.candidate && $0.policy != next.live }
            assert(next.isConsistent, "transition \(command.verb) from \(state.mode) broke an invariant")
            return Transition(
                verb: command.verb, actor: actor, at: now, reason: reason,
                before: state, after: next, override: cell.override)
        }
    }

    /// What every cell of the table sees: the state it starts from, who asks, why, and when.
    private struct Request {
        let state: ControlState
        let actor: Actor
        let reason: String
        let now: Instant

        func refuse(_ code: String, _ message: String, gates: [GateCheck] = []) -> Refusal {
            Refusal(code: code, message: message, allowed: StateMachine.allowedVerbs(in: state), failedGates: gates)
        }

        /// Resume outside halted mode.
        func notHalted() -> Refusal {
            refuse("not_halted", "resume only applies in halted mode; the controller is \(state.mode.rawValue)")
        }
    }

    /// A cell's result: mode and slots as the verb leaves them, and the gate override a promotion recorded.
    private struct Cell {
        var next: ControlState
        var override: GateOverride? = nil
    }

    private static func inShadow(_ command: Command, _ request: Request) -> Result<Cell, Refusal> {
        let state = request.state
        var next = state
        switch command {
        case .stage(let p):
            next.candidate = p
        case .promote(let gates, let overrideGates):
            guard let candidate = state.candidate else {
                return .failure(request.refuse("no_candidate", "nothing to promote: stage a policy first"))
            }
            switch gateOutcome(
                gates, overrideGates: overrideGates, policy: candidate, from: .shadow,
                actor: request.actor, reason: request.reason, at: request.now)
            {
            case .failure(let failed):
                return .failure(
                    request.refuse(
                        "gates_failed",
                        "promotion to canary refused: \(failed.count) gate(s) failing; "
                            + "wait for evidence or use --override-gates", gates: failed.gates))
            case .success(let o):
                next.mode = .canary
                return .success(Cell(next: next, override: o))
            }
        case .rollback:
            guard state.live != nil else {
                return .failure(
                    request.refuse(
                        "no_live_policy",
                        "rollback in shadow drops the candidate and returns to live, "
                            + "but the live slot is empty"))
            }
            next.candidate = nil
            next.mode = .live
        case .halt:
            next.mode = .halted
        case .resume:
            return .failure(request.notHalted())
        }
        return .success(Cell(next: next))
    }

    private static func inCanary(_ command: Command, _ request: Request) -> Result<Cell, Refusal> {
        let state = request.state
        var next = state
        switch command {
        case .stage:
            return .failure(
                request.refuse(
                    "canary_in_progress", "cannot stage while a canary runs: promote or roll it back first"))
        case .promote(let gates, let overrideGates):
            let candidate = state.candidate!  // isConsistent: canary has a candidate
            switch gateOutcome(
                gates, overrideGates: overrideGates, policy: candidate, from: .canary,
                actor: request.actor, reason: request.reason, at: request.now)
            {
            case .failure(let failed):
                return .failure(
                    request.refuse(
                        "gates_failed",
                        "promotion to live refused: \(failed.count) gate(s) failing; "
                            + "wait for evidence or use --override-gates", gates: failed.gates))
            case .success(let o):
                next.previous = state.live ?? state.previous
                next.live = candidate
                next.candidate = nil
                next.mode = .live
                return .success(Cell(next: next, override: o))
            }
        case .rollback:
            next.mode = .shadow
        case .halt:
            next.mode = .halted
        case .resume:
            return .failure(request.notHalted())
        }
        return .success(Cell(next: next))
    }

    private static func inLive(_ command: Command, _ request: Request) -> Result<Cell, Refusal> {
        let state = request.state
        var next = state
        switch command {
        case .stage(let p):
            next.candidate = p
            next.mode = .shadow
        case .promote:
            return .failure(
                request.refuse(
                    "nothing_to_promote", "the controller is live with no candidate: stage a policy first"))
        case .rollback:
            guard let previous = state.previous else {
                return .failure(request.refuse("no_previous_policy", "no previous live policy to roll back to"))
            }
            next.live = previous
            next.previous = nil
        case .halt:
            next.mode = .halted
        case .resume:
            return .failure(request.notHalted())
        }
        return .success(Cell(next: next))
    }

    private static func inHalted(_ command: Command, _ request: Request) -> Result<Cell, Refusal> {
        let state = request.state
        var next = state
        switch command {
        case .stage, .promote, .rollback:
            return .failure(
                request.refuse("halted", "the controller is halted: resume first (it returns to shadow)"))
        case .halt:
            break  // no-op: already halted; the caller still records the request
        case .resume:
            next.candidate = state.candidate ?? state.live
            next.previous = state.live ?? state.previous
            next.live = nil
            next.mode = .shadow
        }
        return .success(Cell(next: next))
    }

    /// Nil override when every gate passed; an override record when gates failed and the
    /// operator overrode them; the failing gates otherwise.
    private static func gateOutcome(
        _ gates: [GateCheck], overrideGates: Bool, policy: PolicyID, from: Mode,
        actor: Actor, reason: String, at now: Instant
    ) -> Result<GateOverride?, GateFailure> {
        let failed = gates.filter { !$0.passed }
        if failed.isEmpty { return .success(nil) }
        guard overrideGates else { return .failure(GateFailure(gates: failed)) }
        return .success(
            GateOverride(
                policy: policy, from: from, actor: actor, at: now, reason: reason,
                failedGates: failed.map(\.name)))
    }

    private struct GateFailure: Error {
        let gates: [GateCheck]
        var count: Int { gates.count }
    }

    /// Verbs the table accepts in `state` (promote is listed when it could pass its gates).
    package static func allowedVerbs(in state: ControlState) -> [Verb] {
        switch state.mode {
        case .shadow:
            return [.stage] + (state.candidate != nil ? [.promote] : []) + (state.live != nil ? [.rollback] : []) + [
                .halt
            ]
        case .canary:
            return [.promote, .rollback, .halt]
        case .live:
            return [.stage] + (state.previous != nil ? [.rollback] : []) + [.halt]
        case .halted:
            return [.halt, .resume]
        }
    }
}
