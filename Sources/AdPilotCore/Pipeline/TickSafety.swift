/// What a tick's journaled decisions demand before the first platform write: conditions
/// that halt everything (docs/state-machine.md, automatic transitions), and a live policy
/// that must leave its scope. Pure: the controller acts on the answer.
package enum TickSafety {
    package enum Action: Equatable, Sendable {
        /// Halt the controller (actor `system`) with this reason.
        case halt(reason: String)
        /// Roll the live slot back to the previous policy; when the rollback cannot be
        /// applied, halt with `otherwise`.
        case rollbackLive(reason: String, otherwise: String)
    }

    /// In order of precedence: enough campaigns quarantined at once (an account-level
    /// anomaly; one campaign's anomaly holds that campaign alone), spend past the account's
    /// hard daily cap, then a live policy that errored or returned no usable number.
    package static func check(
        _ decisions: [Decision], spendTodayMicros: [Micros], dailyCapMicros: Micros,
        state: ControlState, anomaly: AnomalyConfig = .standard
    ) -> Action? {
        let decided = Set(decisions.map(\.campaign))
        let quarantined = Set(decisions.filter(\.quarantined).map(\.campaign))
        if anomaly.haltsAccount(quarantined: quarantined.count, of: decided.count) {
            return .halt(
                reason: "\(quarantined.count) of \(decided.count) campaigns quarantined at once (first "
                    + "\(quarantined.min()!)): an account-level anomaly")
        }
        if let breach = capBreach(spendTodayMicros: spendTodayMicros, dailyCapMicros: dailyCapMicros) {
            return .halt(reason: breach)
        }
        guard let fault = decisions.first(where: { $0.input.slot == .live && $0.policyFault }) else { return nil }
        let why =
            "live policy \(fault.input.policy) failed on \(fault.campaign): "
            + (fault.layers.first?.detail ?? "no usable number")
        if state.mode == .live && state.previous != nil {
            return .rollbackLive(reason: why, otherwise: "\(why); the rollback could not be applied")
        }
        let detail =
            state.mode != .live
            ? "a rollback in \(state.mode.rawValue) would not remove it"
            : "no previous policy to roll back to"
        return .halt(reason: "\(why); \(detail)")
    }

    /// Spend already past the hard cap: summed without overflow, compared exactly.
    package static func capBreach(spendTodayMicros: [Micros], dailyCapMicros: Micros) -> String? {
        let spent = spendTodayMicros.reduce(Int128(0)) { $0 + Int128($1.rawValue) }
        guard spent > Int128(dailyCapMicros.rawValue) else { return nil }
        return
            "account spend today \(Micros(Int64(min(spent, Int128(Int64.max))))) exceeds the hard cap \(dailyCapMicros)"
    }
}
