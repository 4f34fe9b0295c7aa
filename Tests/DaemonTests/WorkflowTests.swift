import AdPilotCore
import AdPilotJournal
import AdPilotService
import AdPilotControl
import AdPilotPlatforms
import AdPilotTestSupport
import Foundation
import Testing

/// The promotion story (docs/state-machine.md) through adpilotctl against real daemons: promotion gated by evidence,
/// canary writes only in scope, live everywhere, overrides, rollback, halt, resume, and a
/// canary the market turns against, rolled back by the controller itself.
@Suite(.serialized) struct WorkflowTests {
    static func wait(_ seconds: Double, _ what: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try what() { return true }
            usleep(50_000)
        }
        return false
    }

    @Test func shadowCanaryLiveRollbackHaltResumeThroughTheCLI() throws {
        let d = try DaemonUnderTest("workflow")
        // The demo's own market (its seed), pinned like every other test's.
        var demo = try #require(try JSONSerialization.jsonObject(with: Data(DefaultConfig.text.utf8)) as? [String: Any])
        demo["platform"] = ["seed": (demo["platform"] as? [String: Any])?["seed"] ?? 0, "campaigns": 10]
        demo["clock"] = ["speed": 3600.0]
        try d.pinMarket(at: DaemonUnderTest.marketHour, config: demo)
        // No --policy-dir: the demo finds the shipped policies beside the built binary.
        try d.start(arguments: [
            "--demo", "--campaigns", "10", "--speed", "3600", "--state-dir", d.stateDir, "--socket", d.socket,
        ])
        let first = try #require(d.waitUntilServing(), "\(d.stderr.suffix(1_000))")
        #expect(first.mode == .shadow && first.live == nil && first.candidate?.description == "qlearn@1")

        // Refused while the gates fail, with every gate printed.
        let early = try d.ctl(["promote", "--reason", "too early"])
        #expect(early.status == 3, "\(early)")
        #expect(
            early.out.contains("shadow_hours") && early.out.contains("FAIL") && early.err.contains("allowed now:"),
            "\(early)")

        // Allowed once they pass.
        #expect(
            Self.wait(60) { d.status()?.gates.allSatisfy(\.passed) == true },
            "gates never passed: \(d.status()?.gates ?? [])")
        let toCanary = try d.ctl(["promote", "--reason", "shadow evidence is in"])
        #expect(toCanary.status == 0 && toCanary.out.contains("shadow -> canary"), "\(toCanary)")
        let canary = try #require(d.status())
        #expect(canary.mode == .canary && !canary.canaryScope.isEmpty && canary.canaryScope.count < 10)
        let scope = Set(canary.canaryScope.map(\.rawValue))
        #expect(
            Self.wait(60) { (try? d.platformWrites().contains { $0.at >= canary.modeSince }) == true },
            "no canary write")

        // Live, overriding whatever gate still fails: journaled and shown in status.
        let toLive = try d.ctl(["promote", "--override-gates", "--reason", "ship it"])
        #expect(toLive.status == 0 && toLive.out.contains("canary -> live"), "\(toLive)")
        let live = try #require(d.status())
        #expect(live.mode == .live && live.live?.description == "qlearn@1")
        let canaryWrites = try d.platformWrites().filter { $0.at >= canary.modeSince && $0.at < live.modeSince }
        #expect(
            !canaryWrites.isEmpty && canaryWrites.allSatisfy { scope.contains($0.campaign.rawValue) },
            Comment(rawValue: "canary wrote outside its scope \(scope.sorted()): "
                + "\(canaryWrites.map { "\($0.campaign)@\($0.at)" }); "
                + "canary since \(canary.modeSince), live since \(live.modeSince)")
        )
        #expect(
            Self.wait(60) {
                (try? d.platformWrites().contains { $0.at >= live.modeSince && !scope.contains($0.campaign.rawValue) })
                    == true
            },
            "live never wrote outside the former canary scope")

        // Roll back to the previous live policy: stage, promote twice (overriding), roll back.
        #expect(try d.ctl(["stage", "pace@1", "--reason", "next candidate"]).status == 0)
        #expect(try d.ctl(["promote", "--override-gates", "--reason", "to canary"]).status == 0)
        #expect(try d.ctl(["promote", "--override-gates", "--reason", "to live"]).status == 0)
        let overridden = try #require(d.status())
        #expect(overridden.live?.description == "pace@1" && overridden.previous?.description == "qlearn@1")
        #expect(overridden.overrides.contains { $0.policy.description == "pace@1" }, "override not in status")
        let human = try d.ctl(["status"])
        #expect(human.out.contains("override     pace@1 promoted from canary by root (uid 0)"), "\(human.out)")
        let rollback = try d.ctl(["rollback", "--reason", "pace@1 misbehaves"])
        #expect(rollback.status == 0, "\(rollback)")
        #expect(d.status()?.live?.description == "qlearn@1")
        let again = try d.ctl(["rollback", "--reason", "nothing left"])
        #expect(
            again.status == 3 && again.err.contains("no previous live policy")
                && again.err.contains("allowed now: stage, halt"), "\(again)")

        // Halt stops writes; resume returns to shadow with the live slot empty.
        #expect(try d.ctl(["halt", "--reason", "incident"]).status == 0)
        let atHalt = try d.platformWrites().count
        usleep(1_000_000)
        #expect(try d.platformWrites().count == atHalt)
        #expect(try d.ctl(["promote", "--reason", "while halted"]).status == 3)
        #expect(try d.ctl(["resume", "--reason", "incident over"]).status == 0)
        let resumed = try #require(d.status())
        #expect(resumed.mode == .shadow && resumed.live == nil && resumed.candidate?.description == "qlearn@1")

        // The journal tells it all, and verifies.
        let transitions = try d.records(kinds: ["transition", "halt", "resume"]).map { d.data($0) }
        #expect(
            transitions.map { $0["verb"] as? String ?? "" }
                == ["initialize", "promote", "promote", "stage", "promote", "promote", "rollback", "halt", "resume"],
            "\(transitions.map { $0["verb"] ?? "" })")
        #expect(
            transitions.contains {
                ($0["override"] as? [String: Any]) != nil && ($0["gates"] as? [Any])?.isEmpty == false
            })
        let verified = JournalVerifier.verify(directory: d.stateDir + "/journal", key: nil)
        #expect((try? verified.get()) != nil, "the journal does not verify: \(verified)")

        // A new candidate starts its own evidence, although the mode (shadow) stays.
        let unknown = try d.ctl(["stage", "nope@9", "--reason", "typo"])
        #expect(unknown.status == 2 && unknown.err.contains("no policy nope@9"), "\(unknown)")
        #expect(try d.ctl(["stage", "hold@1", "--reason", "another candidate"]).status == 0)
        let fresh = try #require(d.status())
        #expect(fresh.candidate?.description == "hold@1" && fresh.evidence.candidateDecisions < 50)
        #expect(fresh.gates.first { $0.name == "shadow_hours" }?.passed == false, "\(fresh.gates)")
        #expect(d.stop() == 0)
    }

    @Test func aCanaryTheMarketTurnsAgainstIsRolledBackAutomatically() throws {
        let scope = ["sim-00001", "sim-00002", "sim-00003"]
        let d = try DaemonUnderTest("auto-rollback") { c in
            c["slots"] = ["live": NSNull(), "candidate": "qlearn@1"]
            c["canary"] = ["campaigns": scope]
            // Only the cohort comparison may fail here: the market turns on conversions.
            var gates = c["gates"] as! [String: Any]
            var live = gates["canary_to_live"] as! [String: Any]
            live["pacing_error_max"] = 10
            live["profit_margin"] = 0.5  // the demo's 1.5 is sized for its walkthrough, not for harm
            gates["canary_to_live"] = live
            c["gates"] = gates
        }
        try d.start(env: ["ADPILOT_TEST_FAULTS": "degrade=" + scope.joined(separator: "+")])
        #expect(d.waitForTicks(3) != nil, "\(d.stderr.suffix(1_000))")
        #expect(try d.ctl(["promote", "--override-gates", "--reason", "try it early"]).status == 0)
        #expect(d.status()?.mode == .canary)
        let rolledBack = Self.wait(90) { d.status()?.mode == .shadow }
        #expect(rolledBack, "never rolled back: \(d.status().map { "\($0.gates) \($0.evidence)" } ?? "no status")")
        let rollback = try #require(try d.records(kinds: ["transition"]).map { d.data($0) }.last)
        #expect(rollback["verb"] as? String == "rollback" && rollback["actor_name"] as? String == "system")
        let reason = rollback["reason"] as? String ?? ""
        #expect(reason.contains("profit_vs_control") && reason.contains("confident harm"), "\(reason)")
        let gates = rollback["gates"] as? [[String: Any]] ?? []
        #expect(
            gates.contains { $0["name"] as? String == "profit_vs_control" && $0["passed"] as? Bool == false },
            "\(gates)")
        #expect(d.stop() == 0)
    }
}
