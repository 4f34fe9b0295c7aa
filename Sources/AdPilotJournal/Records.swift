package import AdPilotCore
import AdPilotSystem
package import Foundation

/// The journal's record kinds written by the daemon and the CLI (docs/journal-format.md).
package enum RecordKind {
    package static let startup = "startup", shutdown = "shutdown", config = "config", policyLoaded = "policy_loaded"
    package static let decision = "decision", applyResult = "apply_result", transition = "transition"
    package static let halt = "halt", resume = "resume", breaker = "breaker", anomaly = "anomaly"
    package static let reconcile = "reconcile", tickFailed = "tick_failed", unreadable = "unreadable"
    package static let quarantine = "quarantine", reward = "reward"
    /// Records whose `state` member is the control state after them.
    package static let stateBearing: Set<String> = [transition, halt, resume]
}

/// JSON for journal records: one line, sorted keys, snake_case, no escaped slashes.
package enum RecordCoding {
    package static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.keyEncodingStrategy = .convertToSnakeCase
        return e
    }

    package static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }

    /// Encodes a record body (`RecordEncoder`: what `encoder()` writes, faster). Our own types
    /// always encode; a failure is a programming error.
    package static func bytes<T: Encodable>(_ value: T, _ encoder: RecordEncoder = RecordEncoder()) -> [UInt8] {
        do {
            return try encoder.encode(value)
        } catch {
            preconditionFailure("record does not encode: \(error)")
        }
    }

    /// Encodes with a `JSONEncoder` of other settings (pretty-printed output).
    package static func bytes<T: Encodable>(_ value: T, _ encoder: JSONEncoder) -> [UInt8] {
        do {
            return Array(try encoder.encode(value))
        } catch {
            preconditionFailure("record does not encode: \(error)")
        }
    }
}

/// A transition of the state machine as journaled (kinds transition, halt, resume).
package struct TransitionRecord: Codable, Sendable {
    /// When it happened, on the controller's clock (absent in older records): where the
    /// evidence for the state after it began, restored from here without a snapshot.
    package var at: Instant?
    package var verb: String
    package var actor: Actor
    package var actorName: String
    package var reason: String
    package var modeBefore: Mode?
    package var mode: Mode
    package var state: ControlState
    package var override: GateOverride?
    package var changed: Bool
    /// The gate checks behind a promotion or an automatic rollback, as measured.
    package var gates: [GateCheck]?

    package init(_ t: Transition, gates: [GateCheck]? = nil) {
        self.gates = gates
        at = t.at
        verb = t.verb.rawValue
        actor = t.actor
        actorName = t.actor.description
        reason = t.reason
        modeBefore = t.before.mode
        mode = t.after.mode
        state = t.after
        override = t.override
        changed = t.changed
    }

    /// The first control state, from the config's slots, on an empty journal.
    package init(initial state: ControlState) {
        gates = nil
        at = state.modeSince
        verb = "initialize"
        actor = .system
        actorName = "system"
        reason = "first start: slots from the config file"
        modeBefore = nil
        mode = state.mode
        self.state = state
        override = nil
        changed = true
    }

    package static func kind(for verb: String) -> String {
        verb == Verb.halt.rawValue
            ? RecordKind.halt : verb == Verb.resume.rawValue ? RecordKind.resume : RecordKind.transition
    }
}

/// What happened when a decision was applied (kind apply_result).
package struct ApplyResultRecord: Codable, Sendable {
    package enum Status: String, Codable, Sendable {
        /// The platform reports the requested budget.
        case confirmed
        /// The write "succeeded" but the platform reports another budget.
        case unconfirmed
        /// The platform refused or failed the write.
        case failed
        /// Not attempted: the halt flag or a halt arrived after the decision was journaled.
        case skipped
    }

    package var campaign: CampaignID
    package var decisionSeq: UInt64
    package var status: Status
    package var budgetBeforeMicros: Micros
    package var budgetAfterMicros: Micros
    package var reportedMicros: Micros?
    package var error: String?
    /// For the human tail: the action is the apply's status.
    package var action: String { status.rawValue }

    package init(
        campaign: CampaignID, decisionSeq: UInt64, status: Status, budgetBeforeMicros: Micros,
        budgetAfterMicros: Micros, reportedMicros: Micros? = nil, error: String? = nil
    ) {
        self.campaign = campaign
        self.decisionSeq = decisionSeq
        self.status = status
        self.budgetBeforeMicros = budgetBeforeMicros
        self.budgetAfterMicros = budgetAfterMicros
        self.reportedMicros = reportedMicros
        self.error = error
    }
}

/// A decision without an outcome, settled at start-up by reading the platform (kind reconcile).
package struct ReconcileRecord: Codable, Sendable {
    package enum Outcome: String, Codable, Sendable {
        /// The platform reports the decided budget: the write went through before the crash.
        case applied
        /// The platform still reports the budget from before: the write never happened.
        case notApplied = "not_applied"
        /// Neither: someone else changed it, or the platform could not be read.
        case unknown
    }

    package var campaign: CampaignID
    package var decisionSeq: UInt64
    package var budgetBeforeMicros: Micros
    package var budgetAfterMicros: Micros
    package var reportedMicros: Micros?
    package var outcome: Outcome
    package var error: String?

    package init(
        campaign: CampaignID, decisionSeq: UInt64, budgetBeforeMicros: Micros, budgetAfterMicros: Micros,
        reportedMicros: Micros? = nil, outcome: Outcome, error: String? = nil
    ) {
        self.campaign = campaign
        self.decisionSeq = decisionSeq
        self.budgetBeforeMicros = budgetBeforeMicros
        self.budgetAfterMicros = budgetAfterMicros
        self.reportedMicros = reportedMicros
        self.outcome = outcome
        self.error = error
    }
}

/// The control state as the journal last recorded it (the journal wins on disagreement).
package enum ControlLog {
    package static func lastState(_ reader: JournalReader) throws -> (seq: UInt64, state: ControlState)? {
        guard let r = try reader.last(1, matching: RecordFilter(kinds: RecordKind.stateBearing)).last else {
            return nil
        }
        let t = try RecordCoding.decoder().decode(TransitionRecord.self, from: Data(r.dataBytes))
        return (r.seq, t.state)
    }
}

/// Byte-level reads of the sorted-key, unescaped fields recovery needs from our own records.
package enum RecordScan {
    package static let applyMarker = Array(#""action":"apply""#.utf8)
    package static let confirmedMarker = Array(#""status":"confirmed""#.utf8)
    package static let appliedMarker = Array(#""outcome":"applied""#.utf8)
    package static let unknownMarker = Array(#""outcome":"unknown""#.utf8)

    /// `"name":123` at the top level of a flat record.
    package static func unsigned(_ name: String, in bytes: ArraySlice<UInt8>) -> UInt64? {
        guard let start = bytes.end(of: Array("\"\(name)\":".utf8)) else { return nil }
        var v: UInt64 = 0
        var i = start
        while i < bytes.endIndex, bytes[i] >= 0x30, bytes[i] <= 0x39 {
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(bytes[i] - 0x30))
            guard !o1 && !o2 else { return nil }
            v = a
            i += 1
        }
        return i == start ? nil : v
    }

    /// `"campaign":"ID"` when ID has no escapes; nil otherwise (the caller decodes).
    package static func campaign(in bytes: ArraySlice<UInt8>) -> CampaignID? {
        guard let start = bytes.end(of: Array(#""campaign":""#.utf8)),
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "\""))
        else { return nil }
        let value = bytes[start..<end]
        guard !value.contains(UInt8(ascii: "\\")) else { return nil }
        return CampaignID(String(decoding: value, as: UTF8.self))
    }
}

extension ArraySlice where Element == UInt8 {
    /// Index just past the first occurrence of `needle` (memchr + memcmp: recovery runs
    /// this over every record of a long journal).
    package func end(of needle: [UInt8]) -> Int? {
        guard !needle.isEmpty, count >= needle.count else { return nil }
        return withUnsafeBytes { hay -> Int? in
            needle.withUnsafeBytes { n -> Int? in
                let base = hay.baseAddress!
                let last = base + (hay.count - n.count)
                var p = base
                while p <= last {
                    guard let q = memchr(p, Int32(n[0]), last - p + 1) else { return nil }
                    if memcmp(q, n.baseAddress!, n.count) == 0 {
                        return startIndex + (UnsafeRawPointer(q) - base) + n.count
                    }
                    p = UnsafeRawPointer(q) + 1
                }
                return nil
            }
        }
    }

    package func contains(subsequence needle: [UInt8]) -> Bool { end(of: needle) != nil }
}

package struct StartupRecord: Encodable {
    package let version: String
    package let pid: Int
    package let platform: String
    package let configDigest: String

    package init(version: String, pid: Int, platform: String, configDigest: String) {
        self.version = version
        self.pid = pid
        self.platform = platform
        self.configDigest = configDigest
    }
}

package struct PolicyLoadedRecord: Encodable {
    package let policy: PolicyID
    package let digest: String
    package let path: String

    package init(policy: PolicyID, digest: String, path: String) {
        self.policy = policy
        self.digest = digest
        self.path = path
    }
}

package struct TickFailedRecord: Encodable {
    package let tick: UInt64
    package let problem: String
    package let campaigns: [CampaignID]?

    package init(tick: UInt64, problem: String, campaigns: [CampaignID]? = nil) {
        self.tick = tick
        self.problem = problem
        self.campaigns = campaigns
    }
}

package struct BreakerRecord: Encodable {
    package let scope: String
    package let campaign: CampaignID?
    package let from: BreakerState
    package let to: BreakerState

    package init(scope: String, campaign: CampaignID? = nil, from: BreakerState, to: BreakerState) {
        self.scope = scope
        self.campaign = campaign
        self.from = from
        self.to = to
    }
}

package struct AnomalyRecord: Encodable {
    package let campaign: CampaignID
    package let level: String
    package let from: String
    package let findings: [Finding]

    package init(campaign: CampaignID, level: String, from: String, findings: [Finding]) {
        self.campaign = campaign
        self.level = level
        self.from = from
        self.findings = findings
    }
}
