import AdPilotControl
import AdPilotJournal
import AdPilotCore
import AdPilotPlatforms

/// A config problem: the key path (`account.daily_cap_micros`, `campaigns[2].id`) and
/// what is wrong with it. Printed as `FILE: KEY: PROBLEM`.
package struct ConfigProblem: Error, Equatable, Sendable, CustomStringConvertible {
    package let key: String
    package let problem: String

    package init(key: String, problem: String) {
        self.key = key
        self.problem = problem
    }

    package var description: String { key.isEmpty ? problem : "\(key): \(problem)" }
}

/// Reads one JSON object of the config. Every key read is remembered (present or not),
/// so `finish()` can reject the keys nobody asked for, with their full path.
struct ObjectReader {
    let path: String
    private let members: [(String, JSON)]
    private var known: [String] = []

    init(_ json: JSON, path: String) throws(ConfigProblem) {
        guard case .object(let members) = json else {
            throw ConfigProblem(key: path, problem: "must be an object")
        }
        var seen = Set<String>()
        for (k, _) in members where !seen.insert(k).inserted {
            throw ConfigProblem(key: ObjectReader.join(path, k), problem: "duplicate key")
        }
        self.path = path
        self.members = members
    }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
    func key(_ k: String) -> String { ObjectReader.join(path, k) }

    /// The value, or nil when absent or null.
    mutating func optional(_ k: String) -> JSON? {
        known.append(k)
        guard let v = members.first(where: { $0.0 == k })?.1 else { return nil }
        if case .null = v { return nil }
        return v
    }

    mutating func required(_ k: String) throws(ConfigProblem) -> JSON {
        guard let v = optional(k) else { throw ConfigProblem(key: key(k), problem: "required") }
        return v
    }

    mutating func object(_ k: String) throws(ConfigProblem) -> ObjectReader {
        try ObjectReader(try required(k), path: key(k))
    }

    mutating func string(_ k: String) throws(ConfigProblem) -> String {
        guard let s = try required(k).string else { throw ConfigProblem(key: key(k), problem: "must be a string") }
        return s
    }

    mutating func optionalString(_ k: String) throws(ConfigProblem) -> String? {
        guard let v = optional(k) else { return nil }
        guard let s = v.string, !s.isEmpty else {
            throw ConfigProblem(key: key(k), problem: "must be a non-empty string or null")
        }
        return s
    }

    mutating func int(_ k: String, in range: ClosedRange<Int64>) throws(ConfigProblem) -> Int64 {
        let v = try required(k)
        guard case .number(let text) = v, let n = Int64(text) else {
            throw ConfigProblem(key: key(k), problem: "must be a whole number")
        }
        guard range.contains(n) else {
            throw ConfigProblem(key: key(k), problem: "must be in \(range.lowerBound)...\(range.upperBound)")
        }
        return n
    }

    mutating func optionalInt(_ k: String, in range: ClosedRange<Int64>) throws(ConfigProblem) -> Int64? {
        guard optional(k) != nil else { return nil }
        return try int(k, in: range)
    }

    mutating func double(_ k: String, in range: ClosedRange<Double>) throws(ConfigProblem) -> Double {
        let v = try required(k)
        guard case .number = v, let d = v.double, d.isFinite else {
            throw ConfigProblem(key: key(k), problem: "must be a number")
        }
        guard range.contains(d) else {
            throw ConfigProblem(key: key(k), problem: "must be in \(range.lowerBound)...\(range.upperBound)")
        }
        return d
    }

    mutating func optionalDouble(_ k: String, in range: ClosedRange<Double>) throws(ConfigProblem) -> Double? {
        guard optional(k) != nil else { return nil }
        return try double(k, in: range)
    }

    /// Money: an integer count of micros, never a fraction.
    mutating func micros(_ k: String) throws(ConfigProblem) -> Micros {
        let v = try required(k)
        guard case .number(let text) = v, let n = Int64(text) else {
            throw ConfigProblem(
                key: key(k), problem: "must be a whole number of micros (1/1,000,000 of the currency unit)")
        }
        guard n >= 0 else { throw ConfigProblem(key: key(k), problem: "must not be negative") }
        return Micros(n)
    }

    mutating func policy(_ k: String) throws(ConfigProblem) -> PolicyID? {
        guard let v = optional(k) else { return nil }
        guard let s = v.string, let id = PolicyID(s) else {
            throw ConfigProblem(key: key(k), problem: "must be NAME@VERSION or null")
        }
        return id
    }

    mutating func array(_ k: String) throws(ConfigProblem) -> [JSON] {
        guard let a = try required(k).array else { throw ConfigProblem(key: key(k), problem: "must be an array") }
        return a
    }

    /// Rejects keys that were never read.
    func finish() throws(ConfigProblem) {
        for (k, _) in members where !known.contains(k) {
            let allowed = known.sorted().joined(separator: ", ")
            throw ConfigProblem(key: key(k), problem: "unknown key (allowed here: \(allowed))")
        }
    }
}

extension JSON {
    /// Keys whose value is one choice among alternatives: an overlay replaces it whole
    /// (merging `{"roas": 2}` with `{"cpa_micros": N}` would name both).
    static let replacedWhole: Set<String> = ["efficiency_target", "window"]

    /// `overlay`'s members replace this object's, recursively for nested objects.
    func merged(with overlay: JSON) -> JSON {
        guard case .object(var base) = self, case .object(let top) = overlay else { return overlay }
        for (k, v) in top {
            if let i = base.firstIndex(where: { $0.0 == k }) {
                base[i].1 = JSON.replacedWhole.contains(k) ? v : base[i].1.merged(with: v)
            } else {
                base.append((k, v))
            }
        }
        return .object(base)
    }
}
