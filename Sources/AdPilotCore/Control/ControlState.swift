/// A frozen policy's identity: `NAME@VERSION`. The digest that pins its bytes travels
/// alongside in the policy module; the state machine only needs the name.
package struct PolicyID: Hashable, Sendable, Codable, CustomStringConvertible {
    package static let lengthMax = 128

    package let name: String
    package let version: String

    package init(name: String, version: String) {
        self.name = name
        self.version = version
    }

    /// Parses `NAME@VERSION`; names and versions are `[A-Za-z0-9._-]+`.
    package init?(_ text: String) {
        guard text.utf8.count <= PolicyID.lengthMax else { return nil }
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, PolicyID.isToken(parts[0]), PolicyID.isToken(parts[1]) else { return nil }
        self.init(name: String(parts[0]), version: String(parts[1]))
    }

    private static func isToken(_ s: Substring) -> Bool {
        !s.isEmpty
            && s.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)
                    || c == UInt8(ascii: ".") || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
            }
    }

    package var description: String { "\(name)@\(version)" }

    package init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let id = PolicyID(text) else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath,
                    debugDescription: "not a NAME@VERSION policy id: \(text.prefix(PolicyID.lengthMax))"))
        }
        self = id
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// The controller's mode (docs/state-machine.md). A closed set: these four are the whole contract.
package enum Mode: String, Sendable, Codable, CaseIterable {
    case shadow, canary, live, halted
}

/// Who asked for a transition: an operator (from the control socket's peer credentials)
/// or the controller itself.
package enum Actor: Hashable, Sendable, Codable, CustomStringConvertible {
    case system
    case `operator`(uid: UInt32, name: String)

    package var description: String {
        switch self {
        case .system: return "system"
        case .operator(let uid, let name): return "\(name) (uid \(uid))"
        }
    }
}

/// A promotion that went ahead although its gates failed. It stays visible in `status`
/// for as long as the policy it promoted sits in the candidate or live slot.
package struct GateOverride: Hashable, Sendable, Codable {
    package let policy: PolicyID
    package let from: Mode
    package let actor: Actor
    package let at: Instant
    package let reason: String
    /// Names of the gates that were failing when the override was used.
    package let failedGates: [String]
}

/// Everything the state machine decides over. A value: transitions return a new one.
package struct ControlState: Hashable, Sendable, Codable {
    package var mode: Mode
    /// The policy controlling budgets, or nil.
    package var live: PolicyID?
    /// The policy being promoted, or nil.
    package var candidate: PolicyID?
    /// The last live policy, for rollback.
    package var previous: PolicyID?
    package var modeSince: Instant
    package var overrides: [GateOverride]

    package init(
        mode: Mode = .shadow, live: PolicyID? = nil, candidate: PolicyID? = nil,
        previous: PolicyID? = nil, modeSince: Instant, overrides: [GateOverride] = []
    ) {
        self.mode = mode
        self.live = live
        self.candidate = candidate
        self.previous = previous
        self.modeSince = modeSince
        self.overrides = overrides
    }

    enum CodingKeys: String, CodingKey { case mode, live, candidate, previous, modeSince, overrides }

    /// Restored state must be one the state machine could have produced.
    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        mode = try c.decode(Mode.self, forKey: .mode)
        live = try c.decodeIfPresent(PolicyID.self, forKey: .live)
        candidate = try c.decodeIfPresent(PolicyID.self, forKey: .candidate)
        previous = try c.decodeIfPresent(PolicyID.self, forKey: .previous)
        modeSince = try c.decode(Instant.self, forKey: .modeSince)
        overrides = try c.decode([GateOverride].self, forKey: .overrides)
        guard isConsistent else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath,
                    debugDescription:
                        "inconsistent control state (mode \(mode.rawValue), live \(live?.description ?? "none"), "
                            + "candidate \(candidate?.description ?? "none"))"
                ))
        }
    }

    /// Invariants every reachable state keeps; checked after every transition.
    package var isConsistent: Bool {
        switch mode {
        case .canary: if candidate == nil { return false }
        case .live: if live == nil || candidate != nil { return false }
        case .shadow, .halted: break
        }
        return overrides.allSatisfy { $0.policy == candidate || $0.policy == live }
    }
}
