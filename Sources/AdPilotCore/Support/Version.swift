/// The product version, printed by `--version` on both executables.
package enum AdPilotVersion {
    package static let string = "0.2.0"
}

/// The exit codes (docs/operations.md), shared by `adpilotd` and `adpilotctl`.
package enum ExitCode: Int32, Sendable {
    case ok = 0
    /// Verification failed or a check found a problem.
    case checkFailed = 1
    /// Bad flags or bad config.
    case usage = 2
    /// Refused by the state machine or a gate.
    case refused = 3
    /// The daemon is unreachable (for verbs that need it).
    case unreachable = 4
    case permissionDenied = 5
}
