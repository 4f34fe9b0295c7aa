package import AdPilotCore
import AdPilotSystem
import Foundation

/// The control socket's protocol, version 1: the client sends one JSON object on one line,
/// the daemon answers with one JSON object on one line, and closes.
///
///     -> {"v":1,"verb":"halt","reason":"bad creative"}
///     <- {"v":1,"exit":0,"message":"halted ...","status":{...}}
///
/// `exit` is the code the CLI exits with (docs/operations.md): 0 done, 2 usage, 3 refused,
/// 5 permission denied.
package enum ControlProtocol {
    package static let version = 1
    package static let requestBytesMax = 64 << 10
    package static let responseBytesMax = 256 << 20
}

package struct ControlRequest: Codable, Sendable {
    package var v: Int
    package var verb: String
    package var reason: String?
    /// `stage`: NAME@VERSION.
    package var policy: String?
    /// `promote`: go ahead although gates fail (journaled as an override).
    package var overrideGates: Bool?
    /// The state directory the caller means (canonical path). A daemon serving another one
    /// refuses the request (exit 3) and does nothing: a socket path shared by two daemons
    /// (a hand-started demo on the production socket) must not halt the wrong one.
    package var stateDir: String?
    /// `release`: the quarantined campaign.
    package var campaign: String?

    package init(
        verb: String, reason: String? = nil, policy: String? = nil, overrideGates: Bool? = nil,
        stateDir: String? = nil, campaign: String? = nil
    ) {
        self.campaign = campaign
        v = ControlProtocol.version
        self.verb = verb
        self.reason = reason
        self.policy = policy
        self.overrideGates = overrideGates
        self.stateDir = stateDir.map(canonicalPath)
    }
}

package struct ControlResponse: Codable, Sendable {
    package var v: Int
    package var exit: Int32
    package var message: String
    package var status: StatusReport?
    package var refusal: Refusal?
    /// The promotion gates as evaluated for this request.
    package var gates: [GateCheck]?

    package init(
        exit: ExitCode, message: String, status: StatusReport? = nil, refusal: Refusal? = nil, gates: [GateCheck]? = nil
    ) {
        v = ControlProtocol.version
        self.exit = exit.rawValue
        self.message = message
        self.status = status
        self.refusal = refusal
        self.gates = gates
    }
}
