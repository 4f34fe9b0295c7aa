internal import CSystemd

/// sd_notify(3) through libsystemd. Without `NOTIFY_SOCKET` (not under systemd) every
/// call is a no-op that reports `.notSupervised`.
package enum SystemdNotify {
    package enum Outcome: Equatable, Sendable {
        case sent
        case notSupervised
        case failed(errno: Int32)
    }

    @discardableResult
    package static func send(_ state: String) -> Outcome {
        let rc = sd_notify(0, state)
        if rc > 0 { return .sent }
        if rc == 0 { return .notSupervised }
        return .failed(errno: -rc)
    }
}
