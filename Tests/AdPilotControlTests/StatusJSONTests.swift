import AdPilotControl
import AdPilotCore
import AdPilotJournal
import Foundation
import Testing

/// `status --json` carries every key, `null` when empty: an empty report and a full one
/// have the same keys at every level, so a script can test `.live == null`.
@Suite struct StatusJSONTests {
    let now = Instant(microsSinceEpoch: 1_795_046_400_000_000)
    let gates = GateConfig(
        shadowHoursMin: 1, shadowDecisionsMin: 1, shadowVetoRateMax: 0.5, canaryHoursMin: 1,
        cohortHoursMin: 2, pacingErrorMax: 0.5, failureLimit: 3)

    func report(full: Bool) -> StatusReport {
        let p = PolicyID("pace@1")!
        var view = StatusView(platform: "simulator", configDigest: "c0", gateConfig: gates, policyDirs: [])
        var evidence = Evidence(mode: .shadow, candidate: full ? p : nil, since: now)
        let state = ControlState(mode: .shadow, live: full ? p : nil, candidate: full ? p : nil,
                                 previous: full ? p : nil, modeSince: now)
        view.observations = [
            Observation(campaign: CampaignID("c1"), currency: .usd, currentBudgetMicros: Micros(1),
                        spendTodayMicros: .zero,
                        trailing: TrailingStats(spendMicros: .zero, conversions: 0, conversionValueMicros: .zero),
                        hoursWithoutConversion: 0, dataAgeSeconds: 0)
        ]
        if full {
            var tick = TickReport(tick: 1, at: now)
            tick.error = "a problem"
            view.lastTick = tick
            view.lastDecisions[CampaignID("c1")] = LastDecision(
                seq: 9, at: now, slot: .live, policy: p, action: .hold, reason: ReasonCode.breakerOpen,
                budgetAfterMicros: Micros(1))
            evidence.canaryBaseline = CohortBaseline(
                profitByHourOfDayMicros: Array(repeating: 1, count: 24), spendPerHourMicros: 2)
            evidence.controlBaseline = evidence.canaryBaseline
            evidence.lastPairedHour = 480_000
            evidence.value = ValueEvidence(
                live: p, unavailable: nil, liveValue: OffPolicy.Interval(estimate: 1, low: 0, high: 2),
                difference: OffPolicy.Interval(estimate: 1, low: 0, high: 2))
            evidence.pacingError = 0.1
        }
        return StatusReport(state: state, haltFlag: false, haltInForce: false, configDigest: "c0",
                            policyDigests: [:], view: view, now: now, gates: [], evidence: evidence)
    }

    /// Key paths of a JSON value ("campaigns[].last_decision.reason"), nulls included.
    func keyPaths(_ value: Any, _ prefix: String = "") -> Set<String> {
        if let o = value as? [String: Any] {
            var out = Set<String>()
            for (k, v) in o where !(prefix.isEmpty && k == "policy_digests") {
                let path = prefix.isEmpty ? k : "\(prefix).\(k)"
                out.insert(path)
                out.formUnion(keyPaths(v, path))
            }
            return out
        }
        if let a = value as? [Any] {
            return a.reduce(into: Set<String>()) { $0.formUnion(keyPaths($1, prefix + "[]")) }
        }
        return []
    }

    func json(_ r: StatusReport) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(RecordCoding.bytes(r))) as? [String: Any])
    }

    @Test func emptyValuesAreNullNotMissing() throws {
        let empty = try json(report(full: false))
        for key in ["live", "candidate", "previous", "last_tick"] {
            #expect(empty.keys.contains(key), "status --json lacks \(key) when it is empty")
            #expect(empty[key] is NSNull, "\(key) must be null when empty")
        }
        let campaign = try #require((empty["campaigns"] as? [[String: Any]])?.first)
        #expect(campaign["last_decision"] is NSNull)
    }

    /// Paths whose value is null.
    func nullPaths(_ value: Any, _ prefix: String = "") -> Set<String> {
        if let o = value as? [String: Any] {
            return o.reduce(into: Set<String>()) { out, kv in
                let path = prefix.isEmpty ? kv.key : "\(prefix).\(kv.key)"
                if kv.value is NSNull { out.insert(path) } else { out.formUnion(nullPaths(kv.value, path)) }
            }
        }
        if let a = value as? [Any] {
            return a.reduce(into: Set<String>()) { $0.formUnion(nullPaths($1, prefix + "[]")) }
        }
        return []
    }

    @Test func anEmptyAndAFullReportHaveTheSameKeys() throws {
        let emptyJSON = try json(report(full: false))
        let empty = keyPaths(emptyJSON), nulls = nullPaths(emptyJSON)
        let full = keyPaths(try json(report(full: true)))
        #expect(!nulls.isEmpty && empty.isSubset(of: full), "only in the empty report: \(empty.subtracting(full))")
        // Below a value that is null in the empty report, nothing can be; everything else must be there.
        let missing = full.subtracting(empty).filter { path in !nulls.contains { path.hasPrefix($0 + ".") } }
        #expect(missing.isEmpty, "keys missing from an empty report: \(missing.sorted())")
    }
}
