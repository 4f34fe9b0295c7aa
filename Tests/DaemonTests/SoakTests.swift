import AdPilotCore
import AdPilotJournal
import AdPilotPlatforms
import AdPilotTestSupport
import Foundation
import Testing

/// `make soak`: SIGKILL a live demo daemon at random moments, N times (ADPILOT_SOAK_KILLS,
/// default 10,000 through make), and after every kill check that the journal verifies and
/// that every platform write has an earlier decision asking for exactly it. Not part of
/// `make test` (it runs for hours); the seed is printed and ADPILOT_SOAK_SEED replays it.
@Suite struct SoakTests {
    static let kills = Int(ProcessInfo.processInfo.environment["ADPILOT_SOAK_KILLS"] ?? "")

    @Test(.enabled(if: kills != nil, "set ADPILOT_SOAK_KILLS (make soak)"))
    func sigkillAtRandomMomentsNeverWritesWhatWasNotJournaled() throws {
        let kills = try #require(Self.kills)
        let seed = UInt64(ProcessInfo.processInfo.environment["ADPILOT_SOAK_SEED"] ?? "") ?? 0x50A4_0001
        print("soak: \(kills) SIGKILLs, seed \(seed) (ADPILOT_SOAK_SEED=\(seed) replays it)")
        var rng = SplitMix64(seed: seed)
        // The demo's own anomaly settings: a critical anomaly quarantines one campaign; only
        // a share of them at once halts the account (and the no-write guard below notices).
        let d = try DaemonUnderTest("soak", campaigns: 8)
        var ledger = WriteAheadLedger()
        var writesBefore = 0
        let started = Date()
        for round in 0..<kills {
            let notify = NotifyListener(path: d.dir.path + "/notify.sock")
            try d.start(env: ["ADPILOT_TEST_FAULTS": "apply_delay_ms=4", "NOTIFY_SOCKET": notify.path])
            try #require(
                notify.wait(for: "READY=1", seconds: 60) != nil,
                "seed \(seed), round \(round): no READY\n\(d.stderr.suffix(2_000))")
            usleep(UInt32(50_000 + rng.next() % 450_000))
            d.kill(SIGKILL)
            try #require(d.waitForExit() != nil, "seed \(seed), round \(round): the daemon did not die")
            try? FileManager.default.removeItem(atPath: notify.path)

            let verified = JournalVerifier.verify(directory: d.stateDir + "/journal")
            try #require((try? verified.get()) != nil, "seed \(seed), round \(round): \(verified)")
            let problem = try ledger.advance(journal: d.stateDir + "/journal", market: d.marketDir)
            try #require(problem == nil, "seed \(seed), round \(round): \(problem ?? "")")
            if (round + 1) % 100 == 0 || round + 1 == kills {
                // A soak that stopped writing proves nothing about writes: say so and stop.
                try #require(
                    ledger.writes > writesBefore,
                    "seed \(seed), round \(round): no platform write in the last 100 kills\n\(d.stderr.suffix(2_000))")
                writesBefore = ledger.writes
                print(
                    "soak: \(round + 1) kills, \(ledger.writes) platform writes, \(ledger.decisions) write decisions, "
                        + "\(ledger.reconciled) reconciled, \(Int(Date().timeIntervalSince(started))) s")
            }
        }
        #expect(ledger.writes > kills, "too few writes (\(ledger.writes)) to prove anything")
        #expect(ledger.reconciled > 0, "no kill landed between a decision and its outcome")
    }
}

/// The write-ahead rule, checked incrementally: the journal's decisions that ask for a
/// write, with their outcomes, against what the simulated platform received, per campaign
/// and in order. With the daemon dead, every write received must be a decision journaled
/// with a confirmed (or reconciled "applied") outcome, except that a campaign's last
/// decision may still have no outcome (the kill came between the write and its record): it
/// may or may not have reached the platform, and the next start reconciles it.
struct WriteAheadLedger {
    private var nextSeq: UInt64 = 1
    /// Decisions asking for a write that have no outcome yet.
    private var open: [UInt64: (campaign: String, budget: Int64)] = [:]
    /// Per campaign, the budgets of decisions whose outcome says they reached the platform.
    private var expected: [String: [Int64]] = [:]
    private(set) var writes = 0
    private(set) var decisions = 0
    private(set) var reconciled = 0

    /// Reads what is new since the last call; nil when the rule holds, else what broke it.
    mutating func advance(journal: String, market: String) throws -> String? {
        try JournalReader(directory: journal).records(
            from: nextSeq, matching: RecordFilter(kinds: ["decision", "apply_result", "reconcile"])
        ) { r in
            let data = try JSONSerialization.jsonObject(with: Data(r.dataBytes)) as! [String: Any]
            var settled: (seq: UInt64, reached: Bool)? = nil
            switch r.kind {
            case "decision" where data["action"] as? String == "apply":
                let budget = (data["budget_after_micros"] as! NSNumber).int64Value
                open[r.seq] = (data["campaign"] as! String, budget)
                decisions += 1
            case "apply_result":
                settled = ((data["decision_seq"] as! NSNumber).uint64Value, data["status"] as? String == "confirmed")
            case "reconcile":
                reconciled += 1
                settled = ((data["decision_seq"] as! NSNumber).uint64Value, data["outcome"] as? String == "applied")
            default: break
            }
            // Outcomes come in decision order per campaign (a start reconciles before deciding).
            if let (seq, reached) = settled, let d = open.removeValue(forKey: seq), reached {
                expected[d.campaign, default: []].append(d.budget)
            }
            nextSeq = r.seq + 1
            return true
        }
        var pending: [String: Int64] = [:]
        for (_, d) in open { pending[d.campaign] = d.budget }
        guard open.count == pending.count else { return "a campaign has two decisions without an outcome: \(open)" }
        var received: [String: [Int64]] = [:]
        let all = try EmbeddedMarket.writes(directory: market)
        writes = all.count
        for w in all { received[w.campaign.rawValue, default: []].append(w.budgetMicros.rawValue) }
        for campaign in Set(received.keys).union(expected.keys) {
            let got = received[campaign] ?? [], want = expected[campaign] ?? []
            if got == want { continue }
            if let p = pending[campaign], got == want + [p] { continue }
            let maybe = pending[campaign].map { " then maybe \($0)" } ?? ""
            return "\(campaign): the platform received \(got.suffix(5)) (last 5 of \(got.count)), the journal asked "
                + "for \(want.suffix(5)) (last 5 of \(want.count))\(maybe)"
        }
        return nil
    }
}

/// The ledger itself, on a hand-made journal and write log: it must catch a write nobody
/// journaled, and accept a last write whose outcome the kill cut off.
@Suite struct WriteAheadLedgerTests {
    @Test func aWriteWithoutADecisionIsCaught() throws {
        let t = TempDir("ledger")
        let market = t.path + "/market"
        try FileManager.default.createDirectory(atPath: market, withIntermediateDirectories: true)
        var o = JournalOptions(clock: ManualClock(Instant(secondsSinceEpoch: 1_795_290_029)))
        o.holder = "test"
        let w = try JournalWriter.open(directory: t.journal, options: o)
        func decide(_ budget: Int64) throws -> UInt64 {
            try w.append(
                kind: "decision",
                data: Array(#"{"action":"apply","budget_after_micros":\#(budget),"campaign":"c1"}"#.utf8)
            ).seq
        }
        func log(_ lines: [Int64]) throws {
            try (lines.map { "0 c1 \($0)\n" }.joined()).write(
                toFile: market + "/" + EmbeddedMarket.writeLogName, atomically: false, encoding: .utf8)
        }
        var ledger = WriteAheadLedger()
        let first = try decide(100)
        _ = try w.append(kind: "apply_result", data: Array(#"{"decision_seq":\#(first),"status":"confirmed"}"#.utf8))
        try log([100])
        #expect(try ledger.advance(journal: t.journal, market: market) == nil)

        _ = try decide(200)  // the kill came after the write, before its outcome
        try log([100, 200])
        #expect(try ledger.advance(journal: t.journal, market: market) == nil)

        try log([100, 200, 300])  // nobody asked for 300
        let problem = try ledger.advance(journal: t.journal, market: market)
        #expect(problem?.contains("c1: the platform received") == true, "\(problem ?? "nil")")
        try w.close()
    }
}
