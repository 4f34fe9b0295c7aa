import AdPilotControl
import AdPilotCore
import AdPilotJournal
import AdPilotPlatforms
import AdPilotService
import AdPilotSystem
import AdPilotTestSupport
import Foundation
import Synchronization
import Testing

/// Issue 15: a whole simulated day (26 hours of 5-minute ticks, across a UTC midnight) of
/// the real controller (journal, every layer) with the real adapters against the TikTok and
/// Meta doubles on loopback, which live on the same manual clock, with their documented
/// quirks on (see each double for the sources). It checks what a day in production needs:
///
/// - every budget write that reaches the wire is already a decision in the journal on disk,
///   and what the platform applied is exactly what the journal confirmed, in order;
/// - the journal verifies; nothing is decided for what the platform says is not controlled;
/// - reads stay within the platform's limits (TikTok: one day per hourly request) and, in
///   steady state, about two report rows per campaign per tick: one row (today's totals) on
///   most ticks, the day's hours on an hour's first tick.
@Suite struct SimulatedDayTests {
    static let log = Log(identifier: "test", toJournald: false)
    static let ticks = 26 * 12
    /// 2026-11-23T21:00:00Z: the day crosses a UTC midnight three hours in.
    static let start = Instant(rfc3339: "2026-11-23T21:00:00Z")!

    struct Day {
        var reportRows: [Int] = []
        /// Ticks that could not run, with why (a throttle hold is one).
        var errors: [(at: Instant, error: String)] = []
        var decided = Set<String>()
        var confirmed: [String: [Int64]] = [:]
        var journal = ""
    }

    /// Runs the day in `dir`: `platform` on a manual clock that `setNow` shares with the
    /// double; `rows` reads the double's count of report rows served.
    static func runDay(
        _ dir: TempDir, platform: any AdPlatform, clock: ManualClock, setNow: (Instant) -> Void, rows: () -> Int,
        minimumMicros: Int64
    ) throws -> Day {
        setNow(clock.now())
        let overlay = """
            {"tick_seconds": 300, "slots": {"live": "pace@1"}, "campaign_defaults": {"guardrails": \
            {"bounds": {"min_micros": \(minimumMicros), "max_micros": 500000000}}}}
            """
        let config = try DefaultConfig.demo(
            campaigns: 4, extraPolicyDirs: [DaemonUnderTest.policies],
            overlay: overlay)
        let controller = try Controller.start(
            config: config, stateDir: StateDirectory(dir.path), platform: platform, clock: clock, sealKey: nil,
            log: log)
        var day = Day()
        for _ in 0..<ticks {
            clock.advance(seconds: 300)
            setNow(clock.now())
            let before = rows()
            let report = controller.tick(log: log)
            if let error = report.error { day.errors.append((clock.now(), error)) }
            day.reportRows.append(rows() - before)
        }
        controller.shutdown(reason: "test", log: log)
        var outcome: [UInt64: String] = [:]
        var asked: [UInt64: (String, Int64)] = [:]
        try JournalReader(directory: dir.path + "/journal").records(
            from: 1, matching: RecordFilter(kinds: ["decision", "apply_result"])
        ) { r in
            let data = try JSONSerialization.jsonObject(with: Data(r.dataBytes)) as! [String: Any]
            if r.kind == "decision" {
                day.decided.insert(data["campaign"] as! String)
                if data["action"] as? String == "apply" {
                    asked[r.seq] = (data["campaign"] as! String, (data["budget_after_micros"] as! NSNumber).int64Value)
                }
            } else {
                outcome[(data["decision_seq"] as! NSNumber).uint64Value] = data["status"] as? String
            }
            return true
        }
        for seq in asked.keys.sorted() where outcome[seq] == "confirmed" {
            day.confirmed[asked[seq]!.0, default: []].append(asked[seq]!.1)
        }
        let verified = JournalVerifier.verify(directory: dir.path + "/journal")
        #expect((try? verified.get()) != nil, "\(verified)")
        return day
    }

    /// The decisions on disk that ask for a write, read as they come: the doubles' write
    /// hook asks it, so a write the journal does not hold yet is caught as it arrives.
    final class Journaled: Sendable {
        let journal: String
        private let seen = Mutex((next: UInt64(1), asks: Set<String>(), unjournaled: [String]()))

        init(_ dir: TempDir) { journal = dir.path + "/journal" }

        /// Records `campaign`'s write of `micros` as it reaches the wire.
        func write(_ campaign: String, _ micros: Int64) {
            seen.withLock { s in
                try? JournalReader(directory: journal).records(
                    from: s.next, matching: RecordFilter(kinds: ["decision"])
                ) { r in
                    let data = try JSONSerialization.jsonObject(with: Data(r.dataBytes)) as! [String: Any]
                    if data["action"] as? String == "apply", let c = data["campaign"] as? String,
                        let b = (data["budget_after_micros"] as? NSNumber)?.int64Value
                    {
                        s.asks.insert("\(c) \(b)")
                    }
                    s.next = r.seq + 1
                    return true
                }
                if !s.asks.contains("\(campaign) \(micros)") { s.unjournaled.append("\(campaign) \(micros)") }
            }
        }

        var unjournaled: [String] { seen.withLock { $0.unjournaled } }
    }

    /// Mean report rows per campaign per tick after the first hour (steady state).
    static func steadyRows(_ day: Day, campaigns: Int) -> Double {
        let steady = day.reportRows.dropFirst(12)
        return Double(steady.reduce(0, +)) / Double(steady.count * campaigns)
    }

    /// The adapter's HTTP client on the day's clock: backoff does not sleep, and throttle
    /// holds run on simulated time.
    static func onClock(_ http: HTTPClient, _ clock: ManualClock) {
        http.sleep = { _ in }
        http.monotonicMillis = { clock.now().microsSinceEpoch / 1_000 }
    }

    @Test func aDayOnTikTok() throws {
        let dir = TempDir("tiktok-day")
        let fake = try FakeTikTok(adGroups: 6, budget: "100.00")
        defer { fake.server.stop() }
        let journaled = Journaled(dir)
        fake.state.withLock {
            $0.live = true
            $0.throttleEvery = 13
            $0.sysTimeoutEvery = 17
            $0.minimumBudget = 20
            $0.secondary["ag1"] = "ADGROUP_STATUS_CAMPAIGN_DISABLE"
            $0.budgetMode["ag2"] = "BUDGET_MODE_INFINITE"
            $0.onWrite = { id, text in journaled.write(id, (try? Micros(decimal: text))?.rawValue ?? -1) }
        }
        var config = TikTokConfig(advertiserID: "7000001", currency: .usd)
        config.baseURL = fake.server.baseURL + "/open_api/v1.3"
        let adapter = TikTokAdapter(config: config, token: fake.token)
        let clock = ManualClock(Self.start)
        Self.onClock(adapter.http, clock)
        let day = try Self.runDay(
            dir, platform: adapter, clock: clock,
            setNow: { now in
                fake.state.withLock { $0.now = Double(now.microsSinceEpoch) / 1e6 }
            },
            rows: { fake.state.withLock { $0.rowsServed } }, minimumMicros: 20_000_000)
        #expect(journaled.unjournaled.isEmpty, "written before journaled: \(journaled.unjournaled)")
        #expect(day.errors.isEmpty, "\(day.errors)")
        #expect(!day.decided.contains("ag1") && !day.decided.contains("ag2"), "decided for what it does not control")
        #expect(day.decided == ["ag3", "ag4", "ag5", "ag6"], "\(day.decided)")
        var applied: [String: [Int64]] = [:]
        for (id, text) in fake.state.withLock({ $0.applied }) {
            applied[id, default: []].append((try? Micros(decimal: text))?.rawValue ?? -1)
        }
        #expect(applied == day.confirmed, "applied \(applied) vs journaled and confirmed \(day.confirmed)")
        #expect(!applied.isEmpty, "no budget was written in a day")
        let reports = fake.server.requests.filter { $0.path.hasSuffix("/report/integrated/get/") }
        #expect(reports.allSatisfy { $0.query["start_date"] == $0.query["end_date"] }, "a report over two days")
        let rows = Self.steadyRows(day, campaigns: 6)
        #expect(rows <= 2.5, "\(rows) report rows per campaign per tick")
        print(String(format: "tiktok day: %d report requests, %.2f rows per ad group per tick in steady state, "
            + "%d budget writes", reports.count, rows, applied.values.joined().count))
    }

    @Test func aDayOnMeta() throws {
        let dir = TempDir("meta-day")
        let fake = try FakeMeta(adSets: 6, minorUnits: 10_000)
        defer { fake.server.stop() }
        let journaled = Journaled(dir)
        fake.state.withLock {
            $0.live = true
            $0.minimumMinor = 2_000
            $0.campaignBudget = ["23856"]
            $0.parent = ["23851": "c1", "23852": "c1"]
            $0.onWrite = { id, minor in journaled.write(id, minor * 10_000) }
        }
        var config = MetaConfig(adAccountID: "1234", currency: .usd)
        config.baseURL = fake.server.baseURL + "/v21.0"
        let adapter = MetaAdapter(config: config, token: fake.token)
        let clock = ManualClock(Self.start)
        Self.onClock(adapter.http, clock)
        var ticks = 0
        var requestsBefore: [Int] = []  // the double's request count as each tick begins
        let day = try Self.runDay(
            dir, platform: adapter, clock: clock,
            setNow: { now in
                ticks += 1
                let n = ticks
                requestsBefore.append(fake.server.requests.count)
                fake.state.withLock {
                    $0.now = Double(now.microsSinceEpoch) / 1e6
                    // Once, mid-day: code 613 with 12 minutes to regain access (rate-limiting).
                    if n == 150 { $0.throttleCode = 613; $0.regainMinutes = 12; $0.throttleNext = 1 }
                }
            },
            rows: { fake.state.withLock { $0.rowsServed } }, minimumMicros: 20_000_000)
        #expect(journaled.unjournaled.isEmpty, "written before journaled: \(journaled.unjournaled)")
        // The throttled tick and the two after it (inside the 12 minutes) hold, saying why, and
        // the platform hears nothing from AdPilot until the 12 minutes have passed.
        #expect(day.errors.count == 3 && day.errors.allSatisfy { $0.error.contains("613") }, "\(day.errors)")
        let heard = (150..<153).map { requestsBefore[$0 + 1] - requestsBefore[$0] }
        #expect(heard == [0, 0, requestsBefore[153] - requestsBefore[152]] && heard[2] > 0, "\(heard)")
        #expect(!day.decided.contains("23856"), "decided for an ad set under a campaign budget")
        var applied: [String: [Int64]] = [:]
        for (id, minor) in fake.state.withLock({ $0.applied }) { applied[id, default: []].append(minor * 10_000) }
        #expect(applied == day.confirmed, "applied \(applied) vs journaled and confirmed \(day.confirmed)")
        #expect(!applied.isEmpty, "no budget was written in a day")
        let insights = fake.server.requests.filter { $0.path.hasSuffix("/insights") }
        #expect(insights.allSatisfy { $0.path == "/v21.0/act_1234/insights" }, "insights per ad set")
        let rows = Self.steadyRows(day, campaigns: 6)
        #expect(rows <= 2.5, "\(rows) insights rows per ad set per tick")
        print(String(format: "meta day: %d insights requests, %.2f rows per ad set per tick in steady state, "
            + "%d budget writes", insights.count, rows, applied.values.joined().count))
    }
}
