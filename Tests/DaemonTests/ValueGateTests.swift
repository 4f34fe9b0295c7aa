import AdPilotControl
import AdPilotCore
import AdPilotSystem
import AdPilotTestSupport
import Foundation
import Testing

/// Promotion on evidence, end to end through adpilotctl against the demo market with
/// `pace@1` live and exploring (docs/evaluation.md#the-gates): a candidate not shown to be no
/// worse than live is blocked in shadow with its interval shown; a candidate within the margin
/// passes both gates.
///
/// The gates are statistics of a simulated market, and the market depends on the hour it
/// starts at (hour of day, day of week). Left to the wall clock, the same build passed on one
/// day and failed on the next; the harness pins every test's market to
/// `DaemonUnderTest.marketHour`, so every run on every machine sees the same market, and these
/// tests set margins that pass or refuse with room to spare there (figures in
/// docs/evaluation.md#how-the-gates-are-tested).
@Suite(.serialized) struct ValueGateTests {
    /// Extra policies for these tests: `surge@1` asks for 1.5 x the current budget at every
    /// tick, `shy@1` for 0.95 x (so the pacer holds it at the bottom of its band, and it
    /// spends less than the market repays); `pace@2` is `pace@1` under another name.
    static func policies(_ dir: TempDir) throws -> String {
        let root = dir.path + "/policies"
        try constant(root, "surge", multiplier: 1.5)
        try constant(root, "shy", multiplier: 0.95)
        let pace2 = root + "/pace@2"
        try FileManager.default.createDirectory(atPath: pace2, withIntermediateDirectories: true)
        let pace = try String(contentsOfFile: DaemonUnderTest.policies + "/pace@1/manifest.json", encoding: .utf8)
        try Data(pace.replacingOccurrences(of: #""version": "1""#, with: #""version": "2""#).utf8)
            .write(to: URL(fileURLWithPath: pace2 + "/manifest.json"))
        return root
    }

    /// A tabular policy `NAME@1` with one state and one action: `multiplier` x the current budget.
    static func constant(_ root: String, _ name: String, multiplier: Double) throws {
        let dir = root + "/\(name)@1"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let table: [UInt8] = withUnsafeBytes(of: Float(1).bitPattern.littleEndian) { Array($0) }
        try Data(table).write(to: URL(fileURLWithPath: dir + "/q.f32"))
        let manifest = """
            {"action": {"meaning": "\(multiplier) x the current budget, always", "type": "multipliers",
                        "values": [\(multiplier)]},
             "features": [{"mean": 0, "name": "trailing_roas", "std": 1}],
             "files": {"q.f32": "\(Crypto.sha256(table).hex)"}, "format": 1, "kind": "tabular", "name": "\(name)",
             "provenance": {"algorithm": "constant", "data": "none", "library": "test", "metrics": {}},
             "tabular": {"edges": [[]], "table": "q.f32"}, "version": "1"}
            """
        try Data(manifest.utf8).write(to: URL(fileURLWithPath: dir + "/manifest.json"))
    }

    /// The daemon, and the directory of the extra policies (removed when released).
    static func daemon(
        _ tag: String, live: String = "pace@1", candidate: String, scale: Double = 0.05, valueMargin: Double? = nil
    ) throws -> (DaemonUnderTest, TempDir) {
        let extra = TempDir(tag + "-policies")
        let dir = try policies(extra)
        let d = try DaemonUnderTest(tag) { c in
            c["policy_dirs"] = [DaemonUnderTest.policies, dir]
            c["slots"] = ["live": live, "candidate": candidate]
            c["exploration"] = ["scale": scale, "seed": 3]
            if let valueMargin {
                var gates = c["gates"] as! [String: Any]
                var shadow = gates["shadow_to_canary"] as! [String: Any]
                shadow["value_margin"] = valueMargin
                gates["shadow_to_canary"] = shadow
                c["gates"] = gates
            }
        }
        return (d, extra)
    }

    static func gate(_ s: StatusReport?, _ name: String) -> GateCheck? { s?.gates.first { $0.name == name } }

    /// `shy@1` underspends what `pace@1` (live, exploring at 0.1) spends and earns about what
    /// it earns (`-0.42 [-3.00, 2.06]` per campaign-hour at n=200, live 37.31). With a margin
    /// of 0 the gate asks for evidence that it is no worse than live (the lower bound at least
    /// 0), which a few hundred hours cannot give: it is refused, with its interval on the
    /// `value_vs_live` line. (What refuses it is the missing evidence, not a proven loss.)
    @Test func aWorseCandidateIsBlockedInShadowWithItsInterval() throws {
        let (d, policies) = try Self.daemon("value-worse", candidate: "shy@1", scale: 0.1, valueMargin: 0)
        defer { withExtendedLifetime(policies) {} }
        try d.start()
        #expect(d.waitUntilServing() != nil, "\(d.stderr.suffix(1_000))")
        // Enough settled explored hours for an estimate: every other gate passes by then. About
        // 30 s alone; 150-180 s when the whole suite shares two cores (the debug daemon falls
        // behind its accelerated clock).
        #expect(
            WorkflowTests.wait(300) { (d.status()?.evidence.value?.periods ?? 0) >= 200 },
            "no estimate: \(Self.gate(d.status(), "value_vs_live").map(\.measured) ?? "no status")")
        let refused = try d.ctl(["promote", "--reason", "shy looks thrifty"])
        #expect(refused.status == 3, "\(refused)")
        let line = refused.out.split(separator: "\n").first { $0.contains("value_vs_live") } ?? ""
        print("shy@1 against pace@1:\n" + refused.out.split(separator: "\n").filter {
            $0.contains("value_vs_live") || $0.contains("effective_sample_size")
        }.joined(separator: "\n"))
        #expect(line.contains("FAIL") && line.contains("[") && line.contains("n="), "\(refused.out)")
        let status = d.status()
        #expect(
            Self.gate(status, "value_vs_live")?.passed == false, "\(status?.gates ?? [])")
        // The same evidence, per estimator, from the journal.
        let evidence = try d.ctl(["evidence"])
        #expect(evidence.status == 0 && evidence.out.contains("shy@1") && evidence.out.contains("dr"), "\(evidence)")
        #expect(d.stop() == 0)
        try backtests(d, policies: policies.path + "/policies")
    }

    /// `adpilotctl backtest` on the journal just written: the live policy itself reproduces
    /// every decision it did not explore, exactly; surge@1 is held back by the pacer's band.
    func backtests(_ d: DaemonUnderTest, policies: String) throws {
        let explored = try d.records(kinds: ["decision"]).filter { d.data($0)["exploration"] != nil }.count
        let same = try d.ctl(["backtest", "pace@1", "--json"])
        let s = try #require(try JSONSerialization.jsonObject(with: Data(same.out.utf8)) as? [String: Any], "\(same)")
        let decisions = s["decisions"] as? Int ?? 0, exact = s["same_as_logged"] as? Int ?? 0
        #expect(s["unreplayable"] as? Int == 0, "a whole journal holds everything its decisions cite: \(same.out)")
        #expect(
            decisions > 0 && decisions - exact <= explored,
            "\(decisions) replayed, \(exact) exact, \(explored) explored")
        #expect(s["reference"] as? String == "pace@1" && s["evaluation"] is [String: Any], "\(same.out.prefix(500))")
        let surge = try d.ctl(["backtest", "surge@1", "--policy-dir", policies])
        #expect(surge.status == 0, "\(surge)")
        let pacer = surge.out.split(separator: "\n").first { $0.hasPrefix("pacer ") }.map(String.init) ?? ""
        #expect((Int(pacer.split(separator: " ").dropFirst().first ?? "") ?? 0) > 0, "\(surge.out)")
        #expect(surge.out.contains("off-policy estimates against pace@1"), "\(surge.out)")
        let none = try d.ctl(["backtest", "pace@1", "--since", "2100-01-01"])
        #expect(none.status == 0 && none.out.contains("nothing to replay"), "\(none)")
        let unknown = try d.ctl(["backtest", "nope@1"])
        #expect(unknown.status == 2 && unknown.err.contains("no policy nope@1"), "\(unknown)")
    }

    /// The daemon's shadow sample is read back from the journal at a restart, with its
    /// snapshot and without one (the journal alone: the read-back starts at the transition
    /// into the state): the estimate does not start over.
    @Test func theShadowValueSampleSurvivesARestart() throws {
        let (d, policies) = try Self.daemon("value-restart", candidate: "pace@2")
        defer { withExtendedLifetime(policies) {} }
        try d.start()
        #expect(d.waitUntilServing() != nil, "\(d.stderr.suffix(1_000))")
        #expect(WorkflowTests.wait(120) { (d.status()?.evidence.value?.periods ?? 0) >= 40 })
        #expect(d.stop() == 0)
        for snapshot in [true, false] {
            if !snapshot { try FileManager.default.removeItem(atPath: d.stateDir + "/controller-state.json") }
            let before = try d.records(kinds: ["reward"]).count
            try d.start()
            // The first estimate after the restart (computed off the tick thread) already rests
            // on the hours before it; one started over would rest on an hour or two of new ones.
            var periods = 0
            #expect(WorkflowTests.wait(60) {
                periods = d.status()?.evidence.value?.periods ?? 0
                return periods > 0
            })
            #expect(
                periods >= 40 && periods <= before + 20,
                "snapshot \(snapshot): \(periods) periods after the restart, \(before) rewards")
            #expect(d.stop() == 0)
        }
    }

    /// A candidate staged while already in shadow starts its own evidence at the stage, not at
    /// the mode's start; a restart without a snapshot keeps it there (the transition record's
    /// `at`), instead of crediting it with the shadow's earlier hours.
    @Test func aStagedCandidatesHoursSurviveARestartWithoutASnapshot() throws {
        let (d, policies) = try Self.daemon("value-stage", candidate: "pace@2")
        defer { withExtendedLifetime(policies) {} }
        func hours() -> Double { Double(Self.gate(d.status(), "shadow_hours")?.measured ?? "") ?? -1 }
        try d.start()
        #expect(d.waitUntilServing() != nil, "\(d.stderr.suffix(1_000))")
        #expect(WorkflowTests.wait(120) { hours() >= 30 }, "the shadow's hours: \(hours())")
        #expect(try d.ctl(["stage", "shy@1", "--reason", "another candidate"]).status == 0)
        #expect(WorkflowTests.wait(60) { hours() >= 1 && hours() < 20 }, "shy@1's hours: \(hours())")
        let staged = hours()
        #expect(d.stop() == 0)
        try FileManager.default.removeItem(atPath: d.stateDir + "/controller-state.json")
        try d.start()
        #expect(d.waitUntilServing() != nil, "\(d.stderr.suffix(1_000))")
        let after = hours()  // the simulated clock ran on while the daemon was down: an hour a second
        #expect(after >= staged && after < staged + 20, "\(staged) hours before the restart, \(after) after")
        #expect(d.stop() == 0)
    }

    /// `shy@1` live underspends; `pace@1` spends what the pacer plans. In this market the two
    /// earn about the same (the estimate of the difference wandered between -2.8 and +6.7 per
    /// campaign-hour against 30 to 40 for live, its interval +-5 after a few hundred hours), so
    /// the shadow gate here is a non-inferiority test with a 25% margin: an operator's choice
    /// to promote on a few hours of the demo. With exploration at 0.1 the log covers
    /// `pace@1`'s proposals (about 1.6 bandwidths from `shy@1`'s); it passes both gates.
    @Test func aCandidateWithinTheMarginPassesBothGates() throws {
        let (d, policies) = try Self.daemon(
            "value-better", live: "shy@1", candidate: "pace@1", scale: 0.1, valueMargin: 0.25)
        defer { withExtendedLifetime(policies) {} }
        try d.start()
        #expect(d.waitUntilServing() != nil, "\(d.stderr.suffix(1_000))")
        #expect(
            WorkflowTests.wait(300) { d.status()?.gates.allSatisfy(\.passed) == true },
            "shadow gates never passed: \(d.status()?.gates ?? [])")
        let value = Self.gate(d.status(), "value_vs_live")
        print("pace@1 against shy@1: value_vs_live \(value?.measured ?? "none")")
        let toCanary = try d.ctl(["promote", "--reason", "pace earns more than shy"])
        #expect(toCanary.status == 0 && toCanary.out.contains("shadow -> canary"), "\(toCanary)")
        #expect(
            WorkflowTests.wait(240) { d.status()?.gates.allSatisfy(\.passed) == true },
            "canary gates never passed: \(d.status()?.gates ?? [])")
        let line = try d.ctl(["status"]).out.split(separator: "\n").first { $0.contains("profit_vs_control") } ?? ""
        print("pace@1 in canary against shy@1: \(line)")
        #expect(line.contains("PASS") && line.contains("["), "\(line)")
        let toLive = try d.ctl(["promote", "--reason", "canary earns more than control"])
        #expect(toLive.status == 0 && toLive.out.contains("canary -> live"), "\(toLive)")
        #expect(d.stop() == 0)
    }
}
