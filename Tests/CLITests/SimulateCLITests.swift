import Foundation
import Testing

/// `adpilotctl simulate` (docs/simulate.md): whole controllers on the simulator, scored from
/// the market's own records. Deterministic: the same seeds give the same report, byte for
/// byte. A change to the pipeline, the pacer or the simulator changes the golden report:
/// regenerate it with the command in `golden` and review the difference.
@Suite struct SimulateCLITests {
    static let golden = [
        "simulate", "pace@1", "hold@1", "--policy-dir", PolicyCLITests.policies, "--campaigns", "4", "--days", "2",
        "--warmup-days", "1", "--seeds", "5", "--state-dir", "/nonexistent",
    ]
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fixtures/simulate-golden.txt").path

    @Test func aSmallRunMatchesItsGoldenReport() throws {
        let r = try CLITests.run("adpilotctl", Self.golden)
        #expect(r.status == 0, "\(r)")
        let expected = try String(contentsOfFile: Self.fixture, encoding: .utf8)
        #expect(r.out == expected, "simulate report changed:\n\(r.out)")
    }

    @Test func jsonAndTheIntradayFigure() throws {
        let dir = NSTemporaryDirectory() + "adpilot-sim-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CLITests.run("adpilotctl", Self.golden + ["--json", "--svg", dir + "/day.svg"])
        #expect(r.status == 0, "\(r)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        let policies = try #require(json["policies"] as? [[String: Any]])
        #expect(policies.map { $0["policy"] as? String } == ["pace@1", "hold@1"])
        for key in [
            "reachable", "unreachable", "cap_breaches", "account_cap_breaches", "halts", "quarantines", "spend_micros",
            "value_micros", "profit_micros", "roas", "daily_profit_mean", "daily_profit_sd", "sharpe", "max_drawdown",
            "intraday", "plan",
        ] {
            #expect(policies[0][key] != nil, "missing \(key)")
        }
        // The same run as the golden report, whose pace@1 line says 83.3% (5 of 6 days).
        let pace = try #require(policies[0]["reachable"] as? [String: Any])
        #expect((pace["within3"] as? Double) == 5.0 / 6.0, "\(pace)")
        #expect((policies[0]["intraday"] as? [Double])?.count == 25)
        let svg = try String(contentsOfFile: dir + "/day.svg", encoding: .utf8)
        #expect(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>\n"))
        #expect(svg.components(separatedBy: "<polyline").count == 4, "the plan and one line per policy")
    }

    @Test(arguments: [
        ([String](), "needs at least one policy"),
        (["pace@1", "--seeds", "3..1"], "--seeds takes A..B"),
        (["pace@1", "--days", "0"], "--days takes a whole number in 1...60"),
        (["pace"], "is not NAME@VERSION"),
        (["pace@1", "--overlay", #"{"tick_seconds": 700}"#], "tick_seconds: must divide a day"),
        (["pace@1", "--overlay", #"{"pacer": {"policy_authority": "wide"}}"#], "pacer.policy_authority"),
    ])
    func usageErrorsExitTwo(args: [String], message: String) throws {
        let r = try CLITests.run("adpilotctl", ["simulate"] + args + ["--policy-dir", PolicyCLITests.policies])
        #expect(r.status == 2 && r.err.contains(message), "\(r)")
    }

    @Test func aPolicyThatIsNotInstalledExitsOne() throws {
        let r = try CLITests.run(
            "adpilotctl", ["simulate", "nope@1", "--campaigns", "2", "--days", "1", "--seeds", "1", "--state-dir",
                "/nonexistent"])
        #expect(r.status == 1 && r.err.contains("nope@1"), "\(r)")
    }
}
