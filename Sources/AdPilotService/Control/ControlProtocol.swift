public import AdPilotCore
import Foundation

/// The control socket's protocol, version 1: the client sends one JSON object on one line,
/// the daemon answers with one JSON object on one line, and closes.
///
///     -> {"v":1,"verb":"halt","reason":"bad creative"}
///     <- {"v":1,"exit":0,"message":"halted ...","status":{...}}
///
/// `exit` is the code the CLI exits with (SPEC §8): 0 done, 2 usage, 3 refused,
/// 5 permission denied.
public enum ControlProtocol {
    public static let version = 1
    public static let requestBytesMax = 64 << 10
    public static let responseBytesMax = 256 << 20
}

public struct ControlRequest: Codable, Sendable {
    public var v: Int
    public var verb: String
    public var reason: String?
    /// `stage`: NAME@VERSION.
    public var policy: String?
    /// `promote`: go ahead although gates fail (journaled as an override).
    public var overrideGates: Bool?

    public init(verb: String, reason: String? = nil, policy: String? = nil, overrideGates: Bool? = nil) {
        v = ControlProtocol.version
        self.verb = verb
        self.reason = reason
        self.policy = policy
        self.overrideGates = overrideGates
    }
}

public struct ControlResponse: Codable, Sendable {
    public var v: Int
    public var exit: Int32
    public var message: String
    public var status: StatusReport?
    public var refusal: Refusal?
    /// The promotion gates as evaluated for this request.
    public var gates: [GateCheck]?

    public init(exit: ExitCode, message: String, status: StatusReport? = nil, refusal: Refusal? = nil, gates: [GateCheck]? = nil) {
        v = ControlProtocol.version
        self.exit = exit.rawValue
        self.message = message
        self.status = status
        self.refusal = refusal
        self.gates = gates
    }
}
