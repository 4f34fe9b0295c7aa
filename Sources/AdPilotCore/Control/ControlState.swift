/// A frozen policy's identity: `NAME@VERSION`. The digest that pins its bytes travels
/// alongside in the policy module; the state machine only needs the name.
public struct PolicyID: Hashable, Sendable, Codable, CustomStringConvertible {
    public static let lengthMax = 128

    public let name: String
    public let version: String

    public init(name: String, version: String) {
        self.name = name
        self.version = version
    }

    /// Parses `NAME@VERSION`; names and versions are `[A-Za-z0-9._-]+`.
    public init?(_ text: String) {
        guard text.utf8.count <= PolicyID.lengthMax else { return nil }
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, PolicyID.isToken(parts[0]), PolicyID.isToken(parts[1]) else { return nil }
        self.init(name: String(parts[0]), version: String(parts[1]))
    }

    private static func isToken(_ s: Substring) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)
                || c == UInt8(ascii: ".") || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
        }
    }

    public var description: String { "\(name)@\(version)" }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let id = PolicyID(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "not a NAME@VERSION policy id: \(text.prefix(PolicyID.lengthMax))"))
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// The controller's mode (SPEC §5). A closed set: these four are the whole contract.
public enum Mode: String, Sendable, Codable, CaseIterable {
    case shadow, canary, live, halted
}

/// Who asked for a transition: an operator (from the control socket's peer credentials)
/// or the controller itself.
public enum Actor: Hashable, Sendable, Codable, CustomStringConvertible {
    case system
    case `operator`(uid: UInt32, name: String)

    public var description: String {
        switch self {
        case .system: return "system"
        case .operator(let uid, let name): return "\(name) (uid \(uid))"
        }
    }
}

/// A promotion that went ahead although its gates failed. It stays visible in `status`
/// for as long as the policy it promoted sits in the candidate or live slot.
public struct GateOverride: Hashable, Sendable, Codable {
    public let policy: PolicyID
    public let from: Mode
    public let actor: Actor
    public let at: Instant
    public let reason: String
    /// Names of the gates that were failing when the override was used.
    public let failedGates: [String]
}

/// Everything the state machine decides over. A value: transitions return a new one.
public struct ControlState: Hashable, Sendable, Codable {
    public var mode: Mode
    /// The policy controlling budgets, or nil.
    public var live: PolicyID?
    /// The policy being promoted, or nil.
    public var candidate: PolicyID?
    /// The last live policy, for rollback.
    public var previous: PolicyID?
    public var modeSince: Instant
    public var overrides: [GateOverride]

    public init(mode: Mode = .shadow, live: PolicyID? = nil, candidate: PolicyID? = nil,
                previous: PolicyID? = nil, modeSince: Instant, overrides: [GateOverride] = []) {
        self.mode = mode
        self.live = live
        self.candidate = candidate
        self.previous = previous
        self.modeSince = modeSince
        self.overrides = overrides
    }

    enum CodingKeys: String, CodingKey { case mode, live, candidate, previous, modeSince, overrides }

    /// Restored state must be one the state machine could have produced.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        mode = try c.decode(Mode.self, forKey: .mode)
        live = try c.decodeIfPresent(PolicyID.self, forKey: .live)
        candidate = try c.decodeIfPresent(PolicyID.self, forKey: .candidate)
        previous = try c.decodeIfPresent(PolicyID.self, forKey: .previous)
        modeSince = try c.decode(Instant.self, forKey: .modeSince)
        overrides = try c.decode([GateOverride].self, forKey: .overrides)
        guard isConsistent else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                debugDescription: "inconsistent control state (mode \(mode.rawValue), live \(live?.description ?? "none"), candidate \(candidate?.description ?? "none"))"))
        }
    }

    /// Invariants every reachable state keeps; checked after every transition.
    public var isConsistent: Bool {
        switch mode {
        case .canary: if candidate == nil { return false }
        case .live: if live == nil || candidate != nil { return false }
        case .shadow, .halted: break
        }
        return overrides.allSatisfy { $0.policy == candidate || $0.policy == live }
    }
}
