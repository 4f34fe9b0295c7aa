import AdPilotControl
import AdPilotCore
import AdPilotJournal
import AdPilotPlatforms
import AdPilotService
import AdPilotSystem
import AdPilotTestSupport
import Foundation
import Testing

/// Issue 17, the data behind off-policy evaluation (docs/evaluation.md): a whole controller
/// on the simulator (manual clock, the demo's configuration with `pace@1` writing and
/// `qlearn@1` in shadow, exploration at the shipped scale) for ten hours; then the journal
/// and `adpilotctl evidence` as a user reads them.
@Suite struct EvidenceTests {
    static let log = Log(identifier: "test", toJournald: false, silent: true)

    static func run(_ dir: TempDir, hours: Int, overlay: String) throws {
        let config = try DefaultConfig.demo(
            campaigns: 6, extraPolicyDirs: [DaemonUnderTest.policies],
            overlays: [#"{"slots": {"live": "pace@1", "candidate": "qlearn@1"}}"#, overlay])
        let start = Instant(rfc3339: "2026-06-01T00:00:00Z")!
        let clock = ManualClock(start)
        let market = MarketSimulator(config: SimulatorConfig(seed: 4, campaigns: 6, start: start), clock: clock)
        let stateDir = StateDirectory(dir.path)
        let journal = try Controller.openJournal(config: config, stateDir: stateDir, sealKey: nil, log: log)
        let controller = try Controller.start(
            config: config, stateDir: stateDir, journal: journal, platform: market, clock: clock, log: log)
        for _ in 0..<(hours * 3_600 / Int(config.tickSeconds)) {
            controller.tick(log: log)
            clock.advance(seconds: config.tickSeconds)
        }
        controller.shutdown(reason: "test", log: log)
    }

    @Test func explorationRewardsAndTheEvidenceCommand() throws {
        let dir = TempDir("evidence")
        try Self.run(dir, hours: 10, overlay: "{}")
        let decoder = RecordCoding.decoder()
        var explored: [UInt64: DecisionRecord] = [:]
        var rewards: [RewardRecord] = []
        try JournalReader(directory: dir.journal).records(
            from: 1, matching: RecordFilter(kinds: [RecordKind.decision, RecordKind.reward])
        ) { r in
            if r.kind == RecordKind.reward {
                rewards.append(try decoder.decode(RewardRecord.self, from: Data(r.dataBytes)))
                return true
            }
            let d = try decoder.decode(DecisionRecord.self, from: Data(r.dataBytes))
            guard let e = d.exploration else { return true }
            explored[r.seq] = d
            // Only the writer explores, only at the first tick of an hour, as recorded.
            #expect(d.slot == .live && d.at.microsSinceEpoch % 3_600_000_000 == 0, "seq \(r.seq)")
            guard case .budget(let v) = d.proposal else { Issue.record("seq \(r.seq)"); return true }
            #expect(abs(v.value - e.unexploredMicros * exp(e.shift)) <= 1e-6 * v.value)
            return true
        }
        // Six campaigns, hours 1..9 (the first hour's tick came before any delivery data).
        #expect(explored.count >= 6 * 8, "\(explored.count) explored decisions")
        // Every settled hour of an explored decision is credited once, with value - spend.
        let credited = Set(rewards.map(\.decisionSeq))
        #expect(credited.count == rewards.count && credited.isSubset(of: Set(explored.keys)))
        #expect(rewards.count >= 6 * 6, "\(rewards.count) rewards: hours settle 2 h after they end")
        for r in rewards {
            #expect(r.profitMicros == r.valueMicros.saturatingSubtracting(r.spendMicros))
            #expect(r.hourStart == explored[r.decisionSeq]!.at)
        }
        #expect(rewards.contains { $0.spendMicros > .zero })

        let json = try runProcess(
            DaemonUnderTest.binDir.appendingPathComponent("adpilotctl").path,
            ["evidence", "--json", "--state-dir", dir.path])
        #expect(json.status == 0, "\(json.err)")
        let summary = try #require(
            try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [String: Any], "\(json.out)")
        #expect(summary["periods"] as? Int == rewards.count, "\(summary)")
        #expect(summary["candidate"] as? String == "qlearn@1" && summary["writer"] as? String == "pace@1")
        let report = try #require(summary["report"] as? [String: Any], "\(summary)")
        let comparisons = try #require(report["comparisons"] as? [[String: Any]])
        #expect(comparisons.map { $0["estimator"] as? String } == ["dm", "ips", "snips", "dr"])
        for c in comparisons {
            let d = c["difference"] as! [String: Double]
            #expect(d["low"]! <= d["estimate"]! + 1e-9 && d["estimate"]! <= d["high"]! + 1e-9, "\(c)")
        }
        let text = try runProcess(
            DaemonUnderTest.binDir.appendingPathComponent("adpilotctl").path, ["evidence", "--state-dir", dir.path])
        #expect(text.out.contains("candidate qlearn@1 against pace@1") && text.out.contains("\ndr "), "\(text.out)")
        print(text.out)
    }

    /// Without exploration nothing can be estimated, and the command says so plainly.
    @Test func withoutExplorationTheEstimatorsAreUnavailable() throws {
        let dir = TempDir("evidence-off")
        try Self.run(dir, hours: 4, overlay: #"{"exploration": null}"#)
        let r = try runProcess(
            DaemonUnderTest.binDir.appendingPathComponent("adpilotctl").path, ["evidence", "--state-dir", dir.path])
        #expect(r.status == 0)
        #expect(r.out.contains("no explored decision") && r.out.contains("unavailable"), "\(r.out)")
    }
}
