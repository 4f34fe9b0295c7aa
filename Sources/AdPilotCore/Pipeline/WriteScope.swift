/// Which policy slot a decision was made for.
package enum Slot: String, Hashable, Sendable, Codable {
    case live, candidate
}

/// The mode table (docs/state-machine.md) from one campaign's point of view: which slots decide for it, and
/// whether each may write. Outside every scope nothing runs and budgets stay as they are.
package enum WriteScope {
    package struct Assignment: Hashable, Sendable {
        package let slot: Slot
        package let policy: PolicyID
        package let mayWrite: Bool
    }

    /// May a decision by `slot` write to this campaign in `mode`? Halted never writes.
    package static func mayWrite(mode: Mode, slot: Slot, inCanaryScope: Bool) -> Bool {
        switch (mode, slot) {
        case (.shadow, .live): return true
        case (.shadow, .candidate): return false
        case (.canary, .candidate): return inCanaryScope
        case (.canary, .live): return !inCanaryScope
        case (.live, .live): return true
        case (.live, .candidate): return false
        case (.halted, _): return false
        }
    }

    /// The decisions to make for one campaign this tick: the writer first, then any
    /// shadow (would-apply) decision.
    package static func assignments(_ state: ControlState, inCanaryScope: Bool) -> [Assignment] {
        switch state.mode {
        case .halted:
            return []
        case .shadow:
            return [state.live.map { Assignment(slot: .live, policy: $0, mayWrite: true) },
                    state.candidate.map { Assignment(slot: .candidate, policy: $0, mayWrite: false) }].compactMap { $0 }
        case .canary:
            if inCanaryScope {
                return state.candidate.map { [Assignment(slot: .candidate, policy: $0, mayWrite: true)] } ?? []
            }
            return state.live.map { [Assignment(slot: .live, policy: $0, mayWrite: true)] } ?? []
        case .live:
            return state.live.map { [Assignment(slot: .live, policy: $0, mayWrite: true)] } ?? []
        }
    }
}
