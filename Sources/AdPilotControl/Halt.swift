import AdPilotCore
package import AdPilotSystem

/// `adpilotctl halt`: through the daemon when it confirms the halt; on any other outcome
/// (unreachable, silent, busy, refusing, answering with an error) the CLI raises the flag
/// and journals the halt itself (`OfflineHalt`). Only a socket the caller may not use at
/// all ends here: the state directory would refuse that caller too.
package enum Halt {
    /// How long the daemon has to confirm before the CLI halts without it.
    package static let daemonTimeoutSeconds = 3

    package enum Outcome: Sendable {
        /// The daemon halted and answered (exit 0).
        case confirmed(ControlResponse)
        /// Permission denied on the socket (exit 5).
        case denied(String)
        /// Halted without the daemon: why the daemon's answer was not enough, then the
        /// offline halt's report.
        case offline(why: String, OfflineHalt.Report)
    }

    package static func run(
        socket: String, stateDir: StateDirectory, reason: String, createIfMissing: Bool,
        sockets: any SocketIO = PosixSockets(), identity: any Identity = PosixIdentity()
    ) -> Outcome {
        let why: String
        switch ControlClient.call(
            ControlRequest(verb: "halt", reason: reason, stateDir: stateDir.path), socket: socket,
            timeoutSeconds: daemonTimeoutSeconds,
            sockets: sockets)
        {
        case .success(let r) where r.exit == ExitCode.ok.rawValue:
            return .confirmed(r)
        case .success(let r):
            why = "the daemon did not confirm the halt (exit \(r.exit): \(r.message)); halting without it"
        case .failure(.permissionDenied(let m)):
            return .denied(m)
        case .failure(.unreachable(let m)):
            why = "\(m); halting without the daemon"
        }
        return .offline(
            why: why,
            OfflineHalt.run(stateDir: stateDir, reason: reason, identity: identity, createIfMissing: createIfMissing))
    }
}
